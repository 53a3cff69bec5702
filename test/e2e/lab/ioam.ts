/**
 * An IPv6 IOAM lab: client ── router ── server (routedStar), IOAM enabled on the router's
 * client-facing interface and on the server's interface (the ingress interfaces of
 * client-to-server packets), both nodes in IOAM namespace `namespaceId`. What each node writes
 * (node id, interface ids) is fixed here so tests can check it.
 */
import { nativeAvailable } from '../../../src/native/index.js';
import { missingCommands, namespaceSupport, routedStar, type Lab, type Leg } from './netns.js';
import type { LabProcess } from './proc.js';

export interface IoamNodeConfig {
  ns: string;
  /** net.ipv6.ioam6_id of the namespace. */
  nodeId: number;
  /** Interface receiving client-to-server packets, and its ioam6_id. */
  ingress: string;
  ingressId: number;
  /** Interface sending them on (the server has none: 65535, unavailable), and its ioam6_id. */
  egress?: string;
  egressId?: number;
}

export interface IoamLab {
  namespaceId: number;
  client: Leg;
  server: Leg;
  router: IoamNodeConfig;
  serverNode: IoamNodeConfig;
}

/** The namespace data (IOAM bit 5) and wide namespace data (bit 9) every node of the lab writes. */
export interface IoamNamespaceData {
  data: number;
  /** 64 bits, as hex digits (`ip ioam namespace add ... wide 0x...`). */
  wideHex: string;
}

async function ioamNode(lab: Lab, node: IoamNodeConfig, namespaceId: number, namespaceData?: IoamNamespaceData): Promise<void> {
  const values: Record<string, number> = {
    'net.ipv6.ioam6_id': node.nodeId,
    [`net.ipv6.conf.${node.ingress}.ioam6_enabled`]: 1,
    [`net.ipv6.conf.${node.ingress}.ioam6_id`]: node.ingressId,
  };
  if (node.egress !== undefined) values[`net.ipv6.conf.${node.egress}.ioam6_id`] = node.egressId ?? 0;
  await lab.sysctl(node.ns, values);
  const data = namespaceData ? ['data', String(namespaceData.data), 'wide', `0x${namespaceData.wideHex}`] : [];
  await lab.ip(node.ns, ['ioam', 'namespace', 'add', String(namespaceId), ...data]);
}

/**
 * Builds the lab in `lab` (which the caller destroys). Without `namespaceData` the nodes write
 * "unavailable" (all ones) for the namespace data fields.
 */
export async function ioamLab(lab: Lab, namespaceId = 123, namespaceData?: IoamNamespaceData): Promise<IoamLab> {
  const star = await routedStar(lab, ['client', 'server']);
  const client = star.legs.client!;
  const server = star.legs.server!;
  const router: IoamNodeConfig = {
    ns: star.router,
    nodeId: 1001,
    ingress: client.routerIfname,
    ingressId: 11,
    egress: server.routerIfname,
    egressId: 12,
  };
  const serverNode: IoamNodeConfig = { ns: server.ns, nodeId: 1002, ingress: server.ifname, ingressId: 21 };
  await ioamNode(lab, router, namespaceId, namespaceData);
  await ioamNode(lab, serverNode, namespaceId, namespaceData);
  return { namespaceId, client, server, router, serverNode };
}

/**
 * Why an IOAM lab with CLT cannot run here (no namespaces or root, no native addon, one of
 * `commands` missing), or undefined.
 */
export async function ioamLabUnavailable(commands: readonly string[]): Promise<string | undefined> {
  const ns = await namespaceSupport();
  if (ns) return ns;
  const native = nativeAvailable();
  if (!native.ok) return `native addon: ${native.reason}`;
  const missing = await missingCommands(commands);
  return missing.length ? `missing commands: ${missing.join(', ')}` : undefined;
}

/**
 * tcpdump of the IPv6 packets on `ifname` in `ns` into the pcap `file` (all of them: BPF port
 * filters miss packets with extension headers, so callers filter after decoding), at most
 * `count` packets when given; resolves once it listens.
 */
export async function captureIpv6(lab: Lab, ns: string, ifname: string, file: string, count?: number): Promise<LabProcess> {
  const argv = ['tcpdump', '-i', ifname, '-n', '-U', '--immediate-mode', '-Z', 'root'];
  if (count !== undefined) argv.push('-c', String(count));
  const proc = lab.spawn(ns, [...argv, '-w', file, 'ip6']);
  await proc.waitForLine(/listening on/, 20_000);
  return proc;
}
