/**
 * The SNMP receiver against a real net-snmp snmpd, in a network-namespace lab:
 *
 *   station (poller) ── router (snmpd; r-station | r-peer) ── peer (traffic, flaps)
 *
 * snmpd runs in the router namespace on the station-side addresses only (v2c on 198.18.1.1:161,
 * v3 authPriv over IPv6 on [fd00:1::1]:161, v1 on 198.18.1.1:2161, and port 1161 for the wrong
 * credentials cases); the receiver runs in the station namespace in a child process
 * (lab-poller.test.util.ts) that the test drives poll by poll, so nothing depends on timers.
 * Needs root, `ip netns` and snmpd (Debian: apt-get install snmpd); skips with the reason
 * otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Lab, missingCommands, namespaceSupport, routedStar, type RoutedStar } from '../../../test/e2e/lab/netns.js';
import { labEnv, sleep, type LabProcess } from '../../../test/e2e/lab/proc.js';

const POLLER = fileURLToPath(new URL('./lab-poller.test.util.js', import.meta.url));
const V3 = { user: 'netspan', auth_key: 'netspan-auth-key', priv_key: 'netspan-priv-key' };
/** Polls tried at most while waiting for snmpd's cache (~5 s) to show a change; one per second. */
const MAX_WAIT_POLLS = 20;

async function unavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root for network namespaces (CI runs it as root)';
  const missing = await missingCommands(['ip', 'snmpd']);
  if (missing.length) return `missing ${missing.join(', ')} (Debian: apt-get install snmpd iproute2)`;
  return namespaceSupport();
}

const skipReason = await unavailable();
if (skipReason) console.log(`# snmpd lab test skipped: ${skipReason}`);

interface IfView {
  ifIndex: number;
  name?: string;
  inOctets?: string;
  outOctets?: string;
  operStatus?: number;
  octetBits?: number;
}
interface PollView {
  device: string;
  address: string;
  port: number;
  outcome: string;
  reason?: string;
  interfaces: IfView[];
}

/** The poller child: one command in, one JSON line out. */
class Poller {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  readonly stderr: string[] = [];
  private readonly lifetime: NodeJS.Timeout;

  constructor(ns: string, config: unknown) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, POLLER, JSON.stringify(config)], { env: labEnv() });
    this.lifetime = setTimeout(() => this.child.kill('SIGKILL'), 300_000);
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.replies.push(line);
    });
    createInterface({ input: this.child.stderr }).on('line', (line) => this.stderr.push(line));
  }

  private next(timeoutMs = 60_000): Promise<string> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`poller did not answer in ${timeoutMs} ms; stderr:\n${this.stderr.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      this.waiting = (line) => {
        clearTimeout(t);
        resolve(line);
      };
    });
  }

  async ready(): Promise<{ targets: string[] }> {
    return JSON.parse(await this.next()) as { targets: string[] };
  }

  async send<T>(command: string): Promise<T> {
    this.child.stdin.write(`${command}\n`);
    return JSON.parse(await this.next()) as T;
  }

  async poll(): Promise<Map<string, PollView>> {
    const { polls } = await this.send<{ polls: PollView[] }>('poll');
    return new Map(polls.map((p) => [p.device, p]));
  }

  logs(): { level: string; msg: string; [k: string]: unknown }[] {
    return this.stderr.flatMap((l) => {
      try {
        return [JSON.parse(l) as { level: string; msg: string }];
      } catch {
        return [];
      }
    });
  }

  async close(): Promise<void> {
    this.child.stdin.end('exit\n');
    await new Promise<void>((r) => {
      if (this.child.exitCode !== null) r();
      else this.child.once('exit', () => r());
      setTimeout(() => {
        this.child.kill('SIGKILL');
        r();
      }, 10_000).unref();
    });
    clearTimeout(this.lifetime);
  }
}

describe('snmp receiver against a real snmpd', { skip: skipReason }, () => {
  let lab: Lab;
  let topo: RoutedStar;
  let dir: string;
  let snmpd: LabProcess;
  let poller: Poller;
  let snmpdArgv: string[];

  async function startSnmpd(): Promise<LabProcess> {
    const p = lab.spawn(topo.router, snmpdArgv, { maxLifetimeMs: 300_000 });
    await p.waitForLine(/NET-SNMP version/, 15_000);
    return p;
  }

  const kernel = async (ifname: string, stat: string): Promise<bigint> =>
    BigInt((await lab.exec(topo.router, ['cat', `/sys/class/net/${ifname}/statistics/${stat}`])).stdout.trim());

  /** Polls (one a second) until `done` holds for the poll of `device`, at most MAX_WAIT_POLLS times. */
  async function pollUntil(device: string, done: (p: PollView) => boolean): Promise<PollView> {
    let last: PollView | undefined;
    for (let i = 0; i < MAX_WAIT_POLLS; i++) {
      last = (await poller.poll()).get(device);
      if (last && done(last)) return last;
      await sleep(1000);
    }
    assert.fail(`condition not met after ${MAX_WAIT_POLLS} polls; last: ${JSON.stringify(last)}`);
  }

  before(async () => {
    lab = Lab.create('snmp');
    topo = await routedStar(lab, ['station', 'peer']);
    const station = topo.legs.station!;
    dir = mkdtempSync(join(tmpdir(), 'netspan-snmpd-'));
    const conf = join(dir, 'snmpd.conf');
    writeFileSync(
      conf,
      [
        `rocommunity  public ${station.ipv4.replace(/\.\d+$/, '.0')}/24`,
        `rocommunity6 public ${station.ipv6.replace(/::\d+$/, '::')}/64`,
        `createUser ${V3.user} SHA "${V3.auth_key}" AES "${V3.priv_key}"`,
        `rouser ${V3.user} priv`,
        'sysName lab-router',
        '',
      ].join('\n'),
    );
    const r4 = station.routerIpv4;
    const r6 = station.routerIpv6;
    // -f foreground, -Lo log to stdout, -C no other config files; persistent state (the v3 user's keys) in dir.
    snmpdArgv = [
      'env',
      `SNMP_PERSISTENT_DIR=${join(dir, 'persist')}`,
      'snmpd',
      '-f',
      '-Lo',
      '-C',
      '-c',
      conf,
      `udp:${r4}:161,udp:${r4}:1161,udp:${r4}:2161,udp6:[${r6}]:161,udp6:[${r6}]:1161`,
    ];
    snmpd = await startSnmpd();
    const fast = { timeout: '500ms', retries: 0 };
    poller = new Poller(station.ns, {
      receiver: {
        community: 'public',
        timeout: '3s',
        retries: 1,
        log_interval: '1h',
        targets: [
          { address: r4, device: 'router' },
          {
            address: r6,
            device: 'router-v3',
            version: 'v3',
            v3: { ...V3, security_level: 'authPriv', auth_protocol: 'sha', priv_protocol: 'aes' },
          },
          { address: r4, port: 2161, device: 'router-v1', version: 'v1' },
          { address: r4, port: 1161, device: 'wrong-community', community: 'not-the-community', ...fast },
          { address: r6, port: 1161, device: 'wrong-v3-key', version: 'v3', v3: { ...V3, auth_key: 'not-the-auth-key' }, ...fast },
          // On the station's subnet but nobody there: no ARP answer, no SNMP answer.
          { address: station.ipv4.replace(/\.\d+$/, '.99'), device: 'unreachable', ...fast },
        ],
      },
      devices: { max_rate_gap: '10m' },
    });
    const { targets } = await poller.ready();
    assert.equal(targets.length, 6);
  });

  after(async () => {
    await poller?.close();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('v2c, v3 authPriv (over IPv6) and v1 polls read IF-MIB: ifName of every interface', async () => {
    const polls = await poller.poll();
    for (const device of ['router', 'router-v3', 'router-v1']) {
      const p = polls.get(device)!;
      assert.equal(p.outcome, 'ok', `${device}: ${p.reason}`);
      const names = p.interfaces.map((i) => i.name).sort();
      assert.deepEqual(names, ['lo', 'r-peer', 'r-station'], device);
      assert.ok(p.interfaces.every((i) => i.operStatus === 1));
    }
    // 64-bit counters with v2c/v3; v1 has no Counter64, so the 32-bit ifTable ones.
    assert.ok(polls.get('router')!.interfaces.every((i) => i.octetBits === 64));
    assert.ok(polls.get('router-v1')!.interfaces.every((i) => i.octetBits === 32));
  });

  test("IF-MIB octet counters match the kernel's after traffic (within snmpd's cache)", async () => {
    const peer = topo.legs.peer!;
    const ifname = peer.routerIfname;
    // 200 datagrams of 1000 bytes from the peer to the router's discard port (answered by ICMP port unreachable).
    const send =
      "const s=require('node:dgram').createSocket('udp4');let n=0;const b=Buffer.alloc(1000);" +
      'const go=()=>n++<200?s.send(b,9,process.argv[1],()=>setTimeout(go,2)):s.close();go();';
    await lab.exec(peer.ns, [process.execPath, '-e', send, peer.routerIpv4], { timeoutMs: 30_000 });
    const rx1 = await kernel(ifname, 'rx_bytes');
    const tx1 = await kernel(ifname, 'tx_bytes');
    assert.ok(rx1 > 200n * 1000n, `kernel rx_bytes ${rx1}`);
    // snmpd refreshes its interface table every few seconds: poll until it has caught up.
    const p = await pollUntil('router', (p) => {
      const i = p.interfaces.find((x) => x.name === ifname);
      return i !== undefined && BigInt(i.inOctets ?? '0') >= rx1 && BigInt(i.outOctets ?? '0') >= tx1;
    });
    const rx2 = await kernel(ifname, 'rx_bytes');
    const tx2 = await kernel(ifname, 'tx_bytes');
    const i = p.interfaces.find((x) => x.name === ifname)!;
    // Bracketed by the kernel's counters read before and after the poll (stray IPv6 packets may add a few bytes).
    assert.ok(BigInt(i.inOctets!) <= rx2, `ifHCInOctets ${i.inOctets} > kernel ${rx2}`);
    assert.ok(BigInt(i.outOctets!) <= tx2, `ifHCOutOctets ${i.outOctets} > kernel ${tx2}`);
    // The store computed a rate over the interval with the traffic.
    const { series } = await poller.send<{ series: { interfaces: { name?: string; points: { inBitsPerSecond?: number }[] }[] } }>(
      'series router',
    );
    const points = series.interfaces.find((s) => s.name === ifname)!.points;
    assert.ok(
      points.some((pt) => (pt.inBitsPerSecond ?? 0) > 0),
      JSON.stringify(points),
    );
  });

  test('ifOperStatus follows ip link set down/up, and the store records the flap', async () => {
    const ifname = topo.legs.peer!.routerIfname;
    await lab.ip(topo.router, ['link', 'set', ifname, 'down']);
    await pollUntil('router', (p) => p.interfaces.find((x) => x.name === ifname)?.operStatus === 2);
    await lab.ip(topo.router, ['link', 'set', ifname, 'up']);
    await pollUntil('router', (p) => p.interfaces.find((x) => x.name === ifname)?.operStatus === 1);
    const { series, state } = await poller.send<{
      series: { interfaces: { name?: string; statusChanges: { from: number; to: number }[] }[] };
      state: { anomalies: { kind: string; interfaceName?: string; detail: string }[] };
    }>('series router');
    const changes = series.interfaces.find((s) => s.name === ifname)!.statusChanges.map((c) => [c.from, c.to]);
    assert.deepEqual(changes, [
      [1, 2],
      [2, 1],
    ]);
    const flaps = state.anomalies.filter((a) => a.kind === 'flap' && a.interfaceName === ifname).map((a) => a.detail);
    assert.deepEqual(flaps, ['oper status up → down', 'oper status down → up']);
  });

  test('a wrong community and an unreachable agent time out, a wrong v3 key is an auth error: counted, logged once, no readings', async () => {
    const polls = await poller.poll();
    assert.equal(polls.get('wrong-community')!.outcome, 'timeout');
    assert.equal(polls.get('unreachable')!.outcome, 'timeout');
    assert.equal(polls.get('wrong-v3-key')!.outcome, 'auth_error');
    for (const d of ['wrong-community', 'unreachable', 'wrong-v3-key']) assert.deepEqual(polls.get(d)!.interfaces, []);
    const { metrics } = await poller.send<{ metrics: Record<string, number> }>('metrics');
    const polled = metrics['netspan_snmp_polls_total{receiver=snmp,device=router,outcome=ok}']!;
    assert.ok(polled >= 3, JSON.stringify(metrics));
    // Every poll of the failing agents failed the same way, and was counted.
    assert.equal(metrics['netspan_snmp_polls_total{receiver=snmp,device=wrong-community,outcome=timeout}'], polled);
    assert.equal(metrics['netspan_snmp_polls_total{receiver=snmp,device=unreachable,outcome=timeout}'], polled);
    assert.equal(metrics['netspan_snmp_polls_total{receiver=snmp,device=wrong-v3-key,outcome=auth_error}'], polled);
    assert.equal(metrics['netspan_snmp_polls_total{receiver=snmp,device=wrong-v3-key,outcome=ok}'], undefined);
    // Logged with the device and the reason, once per log_interval (1h here) whatever the number of polls.
    const warnings = poller.logs().filter((l) => l.msg === 'snmp poll failed');
    for (const [device, outcome] of [
      ['wrong-community', 'timeout'],
      ['unreachable', 'timeout'],
      ['wrong-v3-key', 'auth_error'],
    ] as const) {
      const mine = warnings.filter((l) => l.device === device);
      assert.equal(mine.length, 1, `${device}: ${JSON.stringify(mine)}`);
      assert.equal(mine[0]!.outcome, outcome);
      assert.equal(typeof mine[0]!.reason, 'string');
    }
    // The store has nothing from them.
    const { series } = await poller.send<{ series: unknown }>('series wrong-community');
    assert.equal(series, undefined);
  });

  test('an agent restart (sysUpTime back) is a reset in the store: no rate across it, a reboot anomaly', async () => {
    const before = await poller.poll();
    assert.equal(before.get('router')!.outcome, 'ok');
    await snmpd.stop('SIGTERM', 10_000);
    snmpd = await startSnmpd();
    await pollUntil('router', (p) => p.outcome === 'ok');
    const { series, state } = await poller.send<{
      series: { devicePoints: { sysUpTimeTicks?: number }[]; interfaces: { name?: string; points: { noRate?: string }[] }[] };
      state: { anomalies: { kind: string }[] };
    }>('series router');
    const uptimes = series.devicePoints.map((p) => p.sysUpTimeTicks!);
    assert.ok(uptimes.at(-1)! < uptimes.at(-2)!, `sysUpTime ${uptimes.join(', ')}`);
    // The kernel's counters went on: only sysUpTime says "restart", and that is enough.
    for (const s of series.interfaces) assert.equal(s.points.at(-1)!.noRate, 'reboot', s.name);
    assert.ok(state.anomalies.some((a) => a.kind === 'reboot'));
  });
});
