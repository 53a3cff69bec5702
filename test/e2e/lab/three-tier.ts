/**
 * The thesis's three-tier set-up as network namespaces: frontend, backend and database each in
 * a subnet of their own, two routers between them, and a collector namespace.
 *
 *   front 198.18.1.2 ─┐                                   ┌─ db 198.18.3.2
 *   fd00:1::2     a-front                               b-db   fd00:3::2
 *                    router-a ── a-tr ═══ b-tr ── router-b
 *   back 198.18.2.2 ─ a-back     198.18.10.1/.2
 *   fd00:2::2         a-coll
 *                       └─ coll 198.18.4.2 (netspan)
 *
 * frontend → backend crosses router-a; backend → database crosses router-a then router-b (and
 * back the other way), so a connection sees two routers in path order. Every namespace routes
 * only 198.18.0.0/16 and fd00::/16 (no default route, no link to the host).
 */
import type { Lab } from './netns.js';
import { run } from './proc.js';

export interface TierHost {
  role: string;
  ns: string;
  ifname: string;
  ipv4: string;
  ipv6: string;
}

export interface LabRouter {
  ns: string;
  /** Interface name → its IPv4 and IPv6 address. */
  interfaces: Record<string, { ipv4: string; ipv6: string }>;
  /** The address its flow exports leave from towards the collector (the exporter address netspan sees). */
  exporterAddress: string;
}

export interface ThreeTier {
  front: TierHost;
  back: TierHost;
  db: TierHost;
  collector: TierHost;
  routerA: LabRouter;
  routerB: LabRouter;
  /** The transit link's interfaces: a-tr (router-a), b-tr (router-b). */
  transit: { a: string; b: string };
}

async function host(lab: Lab, role: string, router: string, routerIf: string, subnet: number): Promise<TierHost> {
  const ns = await lab.addNamespace(role);
  const h: TierHost = { role, ns, ifname: 'eth0', ipv4: `198.18.${subnet}.2`, ipv6: `fd00:${subnet.toString(16)}::2` };
  await lab.veth(router, routerIf, ns, h.ifname);
  await lab.address(router, routerIf, `198.18.${subnet}.1/24`);
  await lab.address(router, routerIf, `fd00:${subnet.toString(16)}::1/64`);
  await lab.address(ns, h.ifname, `${h.ipv4}/24`);
  await lab.address(ns, h.ifname, `${h.ipv6}/64`);
  await lab.route(ns, '198.18.0.0/16', `198.18.${subnet}.1`);
  await lab.route(ns, 'fd00::/16', `fd00:${subnet.toString(16)}::1`);
  return h;
}

/** Builds the topology in `lab` (namespaces `router-a`, `router-b`, `front`, `back`, `db`, `coll`). */
export async function threeTier(lab: Lab): Promise<ThreeTier> {
  const ra = await lab.addNamespace('router-a');
  const rb = await lab.addNamespace('router-b');
  for (const r of [ra, rb]) await lab.sysctl(r, { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
  const front = await host(lab, 'front', ra, 'a-front', 1);
  const back = await host(lab, 'back', ra, 'a-back', 2);
  const collector = await host(lab, 'coll', ra, 'a-coll', 4);
  const db = await host(lab, 'db', rb, 'b-db', 3);
  // Transit 198.18.10.0/24, fd00:10::/64.
  await lab.veth(ra, 'a-tr', rb, 'b-tr');
  await lab.address(ra, 'a-tr', '198.18.10.1/24');
  await lab.address(ra, 'a-tr', 'fd00:10::1/64');
  await lab.address(rb, 'b-tr', '198.18.10.2/24');
  await lab.address(rb, 'b-tr', 'fd00:10::2/64');
  await lab.route(ra, '198.18.3.0/24', '198.18.10.2');
  await lab.route(ra, 'fd00:3::/64', 'fd00:10::2');
  await lab.route(rb, '198.18.0.0/16', '198.18.10.1');
  await lab.route(rb, 'fd00::/16', 'fd00:10::1');
  const routerA: LabRouter = {
    ns: ra,
    interfaces: {
      'a-front': { ipv4: '198.18.1.1', ipv6: 'fd00:1::1' },
      'a-back': { ipv4: '198.18.2.1', ipv6: 'fd00:2::1' },
      'a-coll': { ipv4: '198.18.4.1', ipv6: 'fd00:4::1' },
      'a-tr': { ipv4: '198.18.10.1', ipv6: 'fd00:10::1' },
    },
    exporterAddress: '198.18.4.1',
  };
  const routerB: LabRouter = {
    ns: rb,
    interfaces: {
      'b-tr': { ipv4: '198.18.10.2', ipv6: 'fd00:10::2' },
      'b-db': { ipv4: '198.18.3.1', ipv6: 'fd00:3::1' },
    },
    exporterAddress: '198.18.10.2',
  };
  return { front, back, db, collector, routerA, routerB, transit: { a: 'a-tr', b: 'b-tr' } };
}

/** Every address of a router (for the correlate inventory's `addresses`), exporter address first. */
export function routerAddresses(r: LabRouter): string[] {
  const all = Object.values(r.interfaces).flatMap((i) => [i.ipv4, i.ipv6]);
  return [r.exporterAddress, ...all.filter((a) => a !== r.exporterAddress)];
}

/** GET `url` from inside namespace `ns` (the test process cannot reach lab addresses): status and body. */
export async function fetchIn(lab: Lab, ns: string, url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const script =
    'fetch(process.argv[1], { signal: AbortSignal.timeout(Number(process.argv[2])) })' +
    '.then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))' +
    '.catch((e) => { process.stderr.write(String(e)); process.exit(1); })';
  const r = await lab.exec(ns, [process.execPath, '-e', script, url, String(timeoutMs)], { timeoutMs: timeoutMs + 5_000 });
  return JSON.parse(r.stdout) as { status: number; body: string };
}

/** Sets sysctls in `ns` that exist on this kernel; returns the ones it could not set. */
export async function sysctlIfPresent(lab: Lab, ns: string, values: Record<string, string | number>): Promise<string[]> {
  const missing: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const r = await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `${k}=${v}`], { timeoutMs: 10_000, check: false });
    if (r.code !== 0) missing.push(k);
  }
  return missing;
}
