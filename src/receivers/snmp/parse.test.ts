import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '../../testutil/index.js';
import { COLUMNS, type ColumnName } from './oids.js';
import { readingFromWalk, type SnmpValue, type WalkedColumns } from './parse.js';
import { snmpReceiverConfigSchema } from './config.js';
import { classifySnmpError } from './errors.js';
import { compareOids } from './walk.js';
import snmp from 'net-snmp';

/**
 * `snmpwalk -On` text → the columns as net-snmp gives them: numbers for integer types,
 * Buffers for strings and Counter64 (8 bytes, big-endian), dotted text for OIDs.
 */
function parseSnmpwalk(text: string): { columns: WalkedColumns; uptime?: number } {
  const columns: WalkedColumns = {};
  let uptime: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^\.([\d.]+) = (?:([\w-]+): )?(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, oid, type, raw] = m as unknown as [string, string, string | undefined, string];
    let value: SnmpValue;
    if (type === 'Counter64') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(raw));
      value = b;
    } else if (type === 'STRING') value = Buffer.from(JSON.parse(raw) as string);
    else if (type === 'Hex-STRING') value = Buffer.from(raw.replace(/\s+/g, ''), 'hex');
    else if (type === 'OID') value = raw.replace(/^\./, '');
    else if (type === 'Timeticks') value = Number(/\((\d+)\)/.exec(raw)![1]);
    else if (type === undefined) value = Buffer.from(JSON.parse(raw) as string);
    else value = Number(raw);
    if (oid === '1.3.6.1.2.1.1.3.0') uptime = value as number;
    for (const [name, column] of Object.entries(COLUMNS) as [ColumnName, string][])
      if (oid.startsWith(`${column}.`)) (columns[name] ??= new Map()).set(oid.slice(column.length + 1), value);
  }
  return uptime === undefined ? { columns } : { columns, uptime };
}

const WALK = readFileSync(repoPath('src', 'receivers', 'snmp', 'testdata', 'snmpd-5.9.3-linux.walk.txt'), 'utf8');

describe('snmp: a poll as a device reading', () => {
  test('net-snmp snmpd on Linux: interfaces, 64-bit octets, CPU per processor, RAM', () => {
    const { columns, uptime } = parseSnmpwalk(WALK);
    assert.equal(uptime, 7007);
    const r = readingFromWalk(columns, { address: '198.18.77.1', timeUnixNano: 1n, sysUpTimeTicks: uptime! });
    assert.equal(r.source, 'snmp');
    assert.equal(r.sysUpTimeTicks, 7007);
    assert.deepEqual(
      r.interfaces.map((i) => [i.ifIndex, i.name, i.octetBits, i.operStatus]),
      [
        [1, 'lo', 64, 1],
        [2, 'a0', 64, 1],
      ],
    );
    assert.equal(r.interfaces[1]!.inOctets, 796n);
    // ifHighSpeed 10000 Mb/s on a veth; lo has ifHighSpeed 10.
    assert.equal(r.interfaces[1]!.speedBps, 10_000e6);
    assert.equal(r.interfaces[0]!.speedBps, 10e6);
    assert.equal(r.interfaces[1]!.inErrors, 0);
    // hrProcessorLoad of the two processors (the capture ran on a busy machine).
    assert.deepEqual(r.cpu, { loads: [96, 99] });
    // Only hrStorageRam ("Physical memory", index 1): size 24684084 and used 2539224 units of 1024 bytes.
    assert.deepEqual(r.memory, { usedBytes: 2539224 * 1024, sizeBytes: 24684084 * 1024 });
  });

  test('without ifXTable: the 32-bit ifTable octets, ifDescr as the name, ifSpeed', () => {
    const { columns } = parseSnmpwalk(WALK);
    for (const n of ['ifName', 'ifHCInOctets', 'ifHCOutOctets', 'ifHighSpeed', 'ifAlias'] as const) delete columns[n];
    delete columns.hrProcessorLoad;
    const r = readingFromWalk(columns, { address: '198.18.77.1', device: 'r1', timeUnixNano: 1n });
    assert.equal(r.device, 'r1');
    assert.equal(r.interfaces[1]!.octetBits, 32);
    assert.equal(r.interfaces[1]!.name, 'a0');
    // ifSpeed saturates at 2^32 − 1 for fast links.
    assert.equal(r.interfaces[1]!.speedBps, 4294967295);
    // hrProcessorLoad is served only after snmpd's first minute: no CPU then, not zero.
    assert.equal(r.cpu, undefined);
  });
});

describe('snmp: config', () => {
  test('defaults and per-target overrides', () => {
    const c = snmpReceiverConfigSchema.parse({ targets: [{ address: '192.0.2.1', community: 'x', collection_interval: '10s' }] });
    assert.equal(c.collection_interval, 30_000);
    assert.equal(c.version, 'v2c');
    assert.equal(c.targets[0]!.collection_interval, 10_000);
  });

  test('problems are reported with their paths', () => {
    const r = snmpReceiverConfigSchema.safeParse({
      targets: [
        { address: 'router.example' },
        { address: '192.0.2.2', version: 'v3' },
        { address: '192.0.2.3', v3: { user: 'u', security_level: 'authPriv', auth_key: 'short' } },
      ],
    });
    assert.equal(r.success, false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    assert.ok(paths.includes('targets.0.address'), paths.join());
    assert.ok(paths.includes('targets.1.v3'), paths.join());
    assert.ok(paths.includes('targets.2.v3.auth_key'), paths.join());
    assert.ok(paths.includes('targets.2.v3.priv_key'), paths.join());
  });
});

describe('snmp: helpers', () => {
  test('errors are classified into poll outcomes', () => {
    assert.equal(classifySnmpError(new snmp.RequestTimedOutError('Request timed out')).outcome, 'timeout');
    const auth = new snmp.ResponseInvalidError('Wrong digest');
    auth.code = snmp.ResponseInvalidCode.EAuthFailure!;
    assert.equal(classifySnmpError(auth).outcome, 'auth_error');
    assert.equal(classifySnmpError(new Error('boom')).outcome, 'error');
    assert.equal(classifySnmpError(new Error('boom')).code, 'SNMP_ERROR');
  });

  test('OIDs compare numerically', () => {
    assert.ok(compareOids('1.3.6.1.2.1.2.2.1.10.9', '1.3.6.1.2.1.2.2.1.10.10') < 0);
    assert.ok(compareOids('1.3.6.1.2', '1.3.6.1.2.1') < 0);
    assert.equal(compareOids('1.3.6', '1.3.6'), 0);
  });
});
