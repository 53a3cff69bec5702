/**
 * IoamEventSource against the real kernel, in network namespaces of its own (the lab of
 * test/e2e/lab/ioam.ts: client ── router ── server, IOAM namespace 123 on the router's and the
 * server's ingress interfaces). Event sources run in the router's and the server's namespaces
 * (the kernel sends each node's events in that node's namespace); a client sends TCP segments
 * with CLT's IOAM trace; tcpdump on the server's interface captures them with the router's node
 * filled in. Every captured router node must come back as a router event (same node, decoded
 * from the event), and every server event must hold that router node and the server's own.
 *
 * Needs root, iproute2, tcpdump and the native addon; skips saying why otherwise (in CI,
 * CI=true, a missing piece fails instead).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IN_CI, Lab } from '../../test/e2e/lab/netns.js';
import { captureIpv6, ioamLab, ioamLabUnavailable, type IoamLab } from '../../test/e2e/lab/ioam.js';
import { CLT_PEER_PATH } from '../../test/e2e/lab/clt-peer.js';
import { poll, type LabProcess } from '../../test/e2e/lab/proc.js';
import { readPcap } from '../capture/pcap/index.js';
import { decodePacket } from '../capture/decode/index.js';
import { decodeIoamOptions, type IoamNode } from '../capture/ioam/decode.js';
import { ioamEventNode, ioamEventNodes, type IoamEvent } from './ioam-events.js';

const TCP_PORT = 7111;

const reason = await ioamLabUnavailable(['ip', 'tcpdump']);
if (reason) console.log(`# IOAM event namespace tests skipped: ${reason}`);
const skip = reason !== undefined && !IN_CI ? reason : false;

function eventsOf(p: LabProcess): IoamEvent[] {
  const out: IoamEvent[] = [];
  for (const line of p.lines) {
    if (!line.startsWith('{"event"')) continue;
    const e = (JSON.parse(line) as { event: Omit<IoamEvent, 'data'> & { data: string } }).event;
    out.push({ ...e, data: Buffer.from(e.data, 'hex') });
  }
  return out;
}

const sameTime = (a: IoamNode, b: IoamNode): boolean =>
  a.timestamp_seconds === b.timestamp_seconds && a.timestamp_subseconds === b.timestamp_subseconds;

describe('IoamEventSource in the kernel IOAM data plane', { skip }, () => {
  let lab: Lab;
  let L: IoamLab;
  let dir: string;

  before(async () => {
    if (reason) throw new Error(`CI must run the IOAM event namespace tests: ${reason}`);
    dir = mkdtempSync(join(tmpdir(), 'netspan-ioam-events-'));
    lab = Lab.create('ioamev');
    L = await ioamLab(lab);
  });

  after(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('each node reports the node data it filled in, as the packet carries it on', async () => {
    const server = lab.spawn(L.server.ns, [process.execPath, CLT_PEER_PATH, 'serve', '--tcp-port', String(TCP_PORT), '--http-port', '0']);
    const routerEvents = lab.spawn(L.router.ns, [process.execPath, CLT_PEER_PATH, 'events']);
    const serverEvents = lab.spawn(L.server.ns, [process.execPath, CLT_PEER_PATH, 'events']);
    const file = join(dir, 'events.pcap');
    const tcpdump = captureIpv6(lab, L.server.ns, L.server.ifname, file);
    await Promise.all([
      server.waitForLine(/"ready"/, 20_000),
      routerEvents.waitForLine(/"ready"/, 20_000),
      serverEvents.waitForLine(/"ready"/, 20_000),
      tcpdump,
    ]);

    await lab.exec(L.client.ns, [
      process.execPath,
      CLT_PEER_PATH,
      'tcp-client',
      '--to',
      L.server.ipv6,
      '--port',
      String(TCP_PORT),
      '--trace-id',
      '4bf92f3577b34da6a3ce929d0e0e4736',
      '--span-id',
      '00f067aa0ba902b7',
      '--ns',
      String(L.namespaceId),
      '--nodes',
      '2',
    ]);
    await (await tcpdump).stop('SIGINT');
    const captured: IoamNode[] = [];
    for (const p of readPcap(readFileSync(file)).packets) {
      const d = decodePacket(p.data, p.linkType);
      if (d.sourceAddress !== L.client.ipv6 || !d.hopByHopOptions) continue;
      const trace = decodeIoamOptions(d.hopByHopOptions).traces[0];
      if (trace?.nodes.length === 1) captured.push(trace.nodes[0]!);
    }
    assert.ok(captured.length >= 3, `segments with the router's node: ${captured.length}`);

    // Events come asynchronously; wait (bounded) until every captured node has its events.
    const complete: { r: IoamEvent[]; s: IoamEvent[] } | undefined = await poll(() => {
      const r = eventsOf(routerEvents);
      const s = eventsOf(serverEvents);
      const all = captured.every((n) => r.some((e) => sameTime(ioamEventNode(e), n)) && s.some((e) => sameTime(ioamEventNodes(e)[0]!, n)));
      return all ? { r, s } : undefined;
    }, 20_000);
    assert.ok(
      complete,
      `events for all ${captured.length} captured nodes: router ${eventsOf(routerEvents).length}, server ${eventsOf(serverEvents).length}`,
    );

    for (const node of captured) {
      const re: IoamEvent = complete.r.find((e) => sameTime(ioamEventNode(e), node))!;
      assert.equal(re.namespaceId, L.namespaceId);
      assert.equal(re.nodeLength, 4);
      assert.equal(re.traceType, 0xf00000);
      // The router is the first node: the event's data is its node only.
      assert.equal(re.data.length, 16);
      assert.deepEqual(ioamEventNode(re), node);
      assert.deepEqual(ioamEventNodes(re), [node]);

      const se: IoamEvent = complete.s.find((e) => sameTime(ioamEventNodes(e)[0]!, node))!;
      assert.equal(se.namespaceId, L.namespaceId);
      assert.equal(se.data.length, 32);
      const [first, own] = ioamEventNodes(se);
      assert.deepEqual(first, node);
      assert.deepEqual(ioamEventNode(se), own);
      assert.equal(own!.node_id, L.serverNode.nodeId);
      assert.equal(own!.ingress_if_id, L.serverNode.ingressId);
      // The destination forwards nowhere: egress unavailable (0xffff).
      assert.equal(own!.egress_if_id, null);
      // Each node writes the hop limit after its own decrement: 64 -> router 63 -> server 62.
      assert.equal(node.hop_limit, 63);
      assert.equal(own!.hop_limit, 62);
      const ns = (n: IoamNode): bigint => BigInt(n.timestamp_seconds!) * 1_000_000n + BigInt(n.timestamp_subseconds!);
      assert.ok(ns(own!) >= ns(node), 'the server stamps after the router');
    }
    for (const p of [routerEvents, serverEvents])
      assert.ok(!p.lines.some((l) => l.startsWith('{"lost"') || l.startsWith('{"error"')), p.output);
  });
});
