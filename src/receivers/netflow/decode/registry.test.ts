/** The information element registry: generated tables, derived reverse elements, v9 names, unknowns. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_DIR, repoPath } from '../../../testutil/index.js';
import { IeType } from './ie-types.js';
import { allIpfixElements, ipfixElement, netflowV9Field, netflowV9Scope } from './registry.js';

describe('IPFIX elements', () => {
  test('IANA names and abstract data types', () => {
    assert.deepEqual([ipfixElement(0, 1).name, ipfixElement(0, 1).type], ['octetDeltaCount', IeType.unsigned64]);
    assert.deepEqual([ipfixElement(0, 8).name, ipfixElement(0, 8).type], ['sourceIPv4Address', IeType.ipv4Address]);
    assert.deepEqual([ipfixElement(0, 154).name, ipfixElement(0, 154).type], ['flowStartMicroseconds', IeType.dateTimeMicroseconds]);
    assert.deepEqual([ipfixElement(0, 292).name, ipfixElement(0, 292).type], ['subTemplateList', IeType.subTemplateList]);
    // deprecated v9-compatibility ids the CSV leaves untyped come from libfds
    assert.deepEqual([ipfixElement(0, 34).name, ipfixElement(0, 34).type], ['samplingInterval', IeType.unsigned32]);
  });

  test('vendor PENs carry their vendor prefix', () => {
    assert.equal(ipfixElement(5951, 130).name, 'netscalerHttpReqUrl');
    assert.equal(ipfixElement(9, 8337).name, 'ciscoServerBytesNetwork');
    assert.equal(ipfixElement(6876, 880).name, 'vmwareTenantProtocol');
    assert.equal(ipfixElement(6871, 14).name, 'initialTCPFlags');
    assert.equal(ipfixElement(41916, 4321).name, 'viptelaVPNId');
  });

  test('RFC 5103 reverse elements (PEN 29305) and CERT bit-14 reverse elements are derived', () => {
    const rev = ipfixElement(29305, 1);
    assert.deepEqual([rev.name, rev.type, rev.ianaId, rev.reverse], ['reverseOctetDeltaCount', IeType.unsigned64, 1, true]);
    const cert = ipfixElement(6871, 14 | 0x4000);
    assert.deepEqual([cert.name, cert.reverse, cert.ianaId], ['reverseInitialTCPFlags', true, -1]);
  });

  test('unknown elements: raw bytes under <pen>.<id>, the same definition every time', () => {
    const unknown = ipfixElement(0, 999);
    assert.deepEqual([unknown.name, unknown.type, unknown.known], ['0.999', IeType.octetArray, false]);
    assert.equal(ipfixElement(9, 65000).name, '9.65000');
    assert.equal(ipfixElement(29305, 999).name, '29305.999');
    assert.equal(ipfixElement(0, 999), unknown);
  });

  test('one flat namespace: names are unique (a vendor under two PENs shares them)', () => {
    const owners = new Map<string, Set<number>>();
    for (const e of allIpfixElements()) owners.set(e.name, (owners.get(e.name) ?? new Set()).add(e.pen));
    const shared = [...owners].filter(([, pens]) => pens.size > 1).map(([name, pens]) => `${name}:${[...pens].sort().join('/')}`);
    assert.ok(
      shared.every((s) => s.endsWith(':10704/12326')),
      shared.join(', '),
    );
  });
});

describe('NetFlow v9 field types', () => {
  test('RFC 3954 names (as logstash spells them) with the IANA element they are', () => {
    const f = netflowV9Field(1);
    assert.deepEqual([f.name, f.v9Name, f.ianaId], ['octetDeltaCount', 'in_bytes', 1]);
    assert.deepEqual([netflowV9Field(22).name, netflowV9Field(22).v9Name], ['flowStartSysUpTime', 'first_switched']);
    assert.deepEqual([netflowV9Field(148).name, netflowV9Field(148).v9Name], ['flowId', 'conn_id']);
  });

  test('vendor types: Cisco ASA NSEL to their IANA equivalents, others by their own names', () => {
    assert.deepEqual([netflowV9Field(40001).name, netflowV9Field(40001).ianaId], ['postNATSourceIPv4Address', 225]);
    assert.deepEqual([netflowV9Field(40005).name, netflowV9Field(40005).ianaId], ['firewallEvent', 233]);
    assert.deepEqual([netflowV9Field(40000).name, netflowV9Field(40000).ianaId], ['userName', 371]);
    assert.equal(netflowV9Field(33002).name, 'firewallEventExtended');
    assert.equal(netflowV9Field(57590).name, 'nprobe_proto');
    assert.equal(netflowV9Field(8257).name, 'streamcore_url');
  });

  test('types not listed fall back to the IANA element of the same id, else unknown', () => {
    assert.deepEqual([netflowV9Field(200).name, netflowV9Field(200).ianaId], ['mplsTopLabelTTL', 200]);
    assert.deepEqual([netflowV9Field(9999).name, netflowV9Field(9999).known], ['0.9999', false]);
  });

  test('option scopes', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((t) => netflowV9Scope(t).name),
      ['scopeSystem', 'scopeInterface', 'scopeLineCard', 'scopeCache', 'scopeTemplate', 'scope.6'],
    );
  });
});

test(
  'the committed registry is what scripts/gen-ie-registry.mjs generates',
  { skip: !existsSync(join(SHARED_DIR, 'data', 'registries')) },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'ie-registry-'));
    try {
      const out = join(dir, 'ie-registry.gen.ts');
      execFileSync(process.execPath, [repoPath('scripts', 'gen-ie-registry.mjs'), '--shared', SHARED_DIR, '--out', out], { stdio: 'pipe' });
      assert.equal(
        readFileSync(out, 'utf8'),
        readFileSync(repoPath('src', 'receivers', 'netflow', 'decode', 'ie-registry.gen.ts'), 'utf8'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
