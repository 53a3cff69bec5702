/**
 * CLT against the real Linux IPv6 data plane, in network namespaces of its own:
 *
 *   client ── router ── server      fd00:1::/64, fd00:2::/64; IOAM namespace 123 on the router's
 *                                   client-facing interface and on the server's interface
 *
 * A Node process in the client namespace connects to the server with enable() (the lab's
 * clt-peer program); tcpdump on the server's interface captures what arrives, and the project's
 * own decoders read it: every segment sent before disable() carries the IOAM trace with the
 * router's node filled in (as configured in the lab) and the trace context given to enable();
 * the segments sent after it carry no Hop-by-Hop header. Without CAP_NET_RAW, or over IPv4,
 * enable() warns once and the HTTP requests work as without CLT.
 *
 * Needs root, iproute2, tcpdump, setpriv and the native addon; skips saying why otherwise (in CI,
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
import type { LabProcess } from '../../test/e2e/lab/proc.js';
import { readPcap } from '../capture/pcap/index.js';
import { PacketObserver } from '../capture/observe/index.js';
import { decodePacket, type DecodedPacket } from '../capture/decode/index.js';
import { decodeIoamOptions } from '../capture/ioam/decode.js';
import { decodeTraceContextOption, type CltResult } from './index.js';

const TCP_PORT = 7101;
const HTTP_PORT = 7102;
const HTTPS_PORT = 7103;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TCP_SYN = 0x02;

const reason = await ioamLabUnavailable(['ip', 'tcpdump', 'setpriv']);
if (reason) console.log(`# CLT namespace tests skipped: ${reason}`);
const skip = reason !== undefined && !IN_CI ? reason : false;

describe('CLT over the Linux IOAM data plane', { skip }, () => {
  let lab: Lab;
  let L: IoamLab;
  let dir: string;

  before(async () => {
    if (reason) throw new Error(`CI must run the CLT namespace tests: ${reason}`);
    dir = mkdtempSync(join(tmpdir(), 'netspan-clt-'));
    lab = Lab.create('clt');
    L = await ioamLab(lab);
    const server = lab.spawn(L.server.ns, [
      process.execPath,
      CLT_PEER_PATH,
      'serve',
      '--tcp-port',
      String(TCP_PORT),
      '--http-port',
      String(HTTP_PORT),
      '--https-port',
      String(HTTPS_PORT),
    ]);
    await server.waitForLine(/"ready"/, 20_000);
  });

  after(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** tcpdump on the server's interface. */
  async function capture(name: string): Promise<{ proc: LabProcess; file: string }> {
    const file = join(dir, `${name}.pcap`);
    const proc = await captureIpv6(lab, L.server.ns, L.server.ifname, file);
    return { proc, file };
  }

  async function packetsOf(c: { proc: LabProcess; file: string }): Promise<(DecodedPacket & { time: bigint })[]> {
    await c.proc.stop('SIGINT');
    return readPcap(readFileSync(c.file)).packets.map((p) => ({ ...decodePacket(p.data, p.linkType), time: p.timestampUnixNano }));
  }

  test('segments before disable() carry the IOAM trace the router filled and the trace context; after it, no Hop-by-Hop header', async () => {
    const cap = await capture('tcp');
    const r = await lab.exec(L.client.ns, [
      process.execPath,
      CLT_PEER_PATH,
      'tcp-client',
      '--to',
      L.server.ipv6,
      '--port',
      String(TCP_PORT),
      '--trace-id',
      TRACE_ID,
      '--span-id',
      SPAN_ID,
      '--ns',
      String(L.namespaceId),
      '--nodes',
      '2',
    ]);
    const out = JSON.parse(r.stdout) as { enable: CltResult; localPort: number; answers: string[]; warnings: string[] };
    assert.deepEqual(out.answers, ['ok phase1', 'ok phase2']);
    assert.deepEqual(out.warnings, []);
    // Still connecting when enable() ran: set at the connection attempt, before the SYN.
    assert.equal(out.enable.status, 'pending');

    const sent = (await packetsOf(cap)).filter((p) => p.sourceAddress === L.client.ipv6 && p.sourcePort === out.localPort);
    const text = (p: DecodedPacket): string => Buffer.from(p.payload).toString();
    const phase1 = sent.findIndex((p) => text(p) === 'phase1\n');
    const phase2 = sent.findIndex((p) => text(p) === 'phase2\n');
    assert.ok(phase1 > 0 && phase2 > phase1, `phase1 at ${phase1}, phase2 at ${phase2} of ${sent.length} segments`);
    // A pure ACK between the two may go either way (delayed ACK vs disable()); the rest is fixed.
    const withClt = sent.slice(0, phase1 + 1);
    const withoutClt = sent.slice(phase2);
    assert.ok((withClt[0]!.tcpFlags & TCP_SYN) !== 0, 'the first segment is the SYN');
    assert.ok(withoutClt.length >= 2, 'phase2 and the FIN');

    let lastRouterTime = 0n;
    for (const p of withClt) {
      assert.ok(p.hopByHopOptions, `segment ${sent.indexOf(p)} has a Hop-by-Hop header`);
      const { traces, issues } = decodeIoamOptions(p.hopByHopOptions);
      assert.deepEqual(issues, []);
      assert.equal(traces.length, 1);
      const t = traces[0]!;
      assert.equal(t.namespaceId, L.namespaceId);
      assert.equal(t.traceType, 0xf00000);
      assert.equal(t.nodeLength, 4);
      assert.equal(t.overflow, false);
      // Room for 2 nodes (8 words), the router used 4.
      assert.equal(t.remainingLength, 4);
      assert.equal(t.nodes.length, 1);
      const node = t.nodes[0]!;
      assert.equal(node.node_id, L.router.nodeId);
      assert.equal(node.ingress_if_id, L.router.ingressId);
      assert.equal(node.egress_if_id, L.router.egressId);
      // The client sends with hop limit 64; the router writes it after the decrement.
      assert.equal(node.hop_limit, 63);
      assert.equal(p.ttl, 63);
      assert.ok(typeof node.timestamp_seconds === 'number' && typeof node.timestamp_subseconds === 'number');
      assert.ok(node.timestamp_subseconds < 1_000_000, 'microseconds');
      const routerTime = BigInt(node.timestamp_seconds) * 1_000_000_000n + BigInt(node.timestamp_subseconds) * 1000n;
      // Same clock (namespaces share it): the router stamps at its ingress, before the server's capture.
      assert.ok(routerTime <= p.time, `router time ${routerTime} after capture time ${p.time}`);
      assert.ok(routerTime >= lastRouterTime, 'router timestamps do not go back');
      lastRouterTime = routerTime;
      assert.deepEqual(decodeTraceContextOption(p.hopByHopOptions), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    }
    for (const p of withoutClt) {
      assert.equal(p.hopByHopOptions, undefined, `segment ${sent.indexOf(p)} (after disable) has no Hop-by-Hop header`);
      assert.equal(p.hopByHopOffset, -1);
    }
  });

  async function httpClient(argvPrefix: string[], to: string, requests: number) {
    const r = await lab.exec(L.client.ns, [
      ...argvPrefix,
      process.execPath,
      CLT_PEER_PATH,
      'http-client',
      '--to',
      to,
      '--port',
      String(HTTP_PORT),
      '--trace-id',
      TRACE_ID,
      '--span-id',
      SPAN_ID,
      '--ns',
      String(L.namespaceId),
      '--requests',
      String(requests),
    ]);
    return JSON.parse(r.stdout) as { results: CltResult[]; responses: { status: number; body: string }[]; warnings: string[] };
  }

  test('without CAP_NET_RAW enable() warns once and the HTTP requests work unchanged', async () => {
    const cap = await capture('nocap');
    // Root without CAP_NET_RAW in its bounding set: exec leaves the capability out.
    const out = await httpClient(['setpriv', '--bounding-set', '-net_raw'], L.server.ipv6, 2);
    assert.deepEqual(out.responses, [
      { status: 200, body: 'hello' },
      { status: 200, body: 'hello' },
    ]);
    assert.equal(out.warnings.length, 1, out.warnings.join('\n'));
    assert.match(out.warnings[0]!, /CAP_NET_RAW/);
    // The first request learns it at the connection attempt, the second is told at once.
    assert.equal(out.results[0]!.status, 'pending');
    assert.deepEqual(
      { status: out.results[1]!.status, code: out.results[1]!.status === 'off' ? out.results[1]!.code : undefined },
      { status: 'off', code: 'NO_CAP_NET_RAW' },
    );
    const fromClient = (await packetsOf(cap)).filter((p) => p.sourceAddress === L.client.ipv6 && p.destinationPort === HTTP_PORT);
    assert.ok(fromClient.length > 0);
    for (const p of fromClient) assert.equal(p.hopByHopOptions, undefined);
  });

  test('over IPv4 enable() warns once and the HTTP request works unchanged', async () => {
    const out = await httpClient([], L.server.ipv4, 2);
    assert.deepEqual(
      out.responses.map((r) => r.status),
      [200, 200],
    );
    assert.equal(out.warnings.length, 1, out.warnings.join('\n'));
    assert.match(out.warnings[0]!, /IPv6/);
  });

  async function httpClt(argvPrefix: string[], client: 'http' | 'https' | 'fetch', requests: number, concurrency: number) {
    const r = await lab.exec(
      L.client.ns,
      [
        ...argvPrefix,
        process.execPath,
        CLT_PEER_PATH,
        'http-clt',
        '--to',
        L.server.ipv6,
        '--port',
        String(client === 'https' ? HTTPS_PORT : HTTP_PORT),
        '--ns',
        String(L.namespaceId),
        '--requests',
        String(requests),
        '--concurrency',
        String(concurrency),
        '--client',
        client,
      ],
      { timeoutMs: 60_000 },
    );
    return JSON.parse(r.stdout) as { statuses: number[]; spanIds: string[]; localPorts: number[]; warnings: string[] };
  }

  /** Per request head seen at the server: the span id its traceparent names and the one its packet carried. */
  function requestPackets(file: string): { traceparentSpan: string; packetSpan: string | undefined }[] {
    const observer = new PacketObserver({ observer: 'server' });
    const out: { traceparentSpan: string; packetSpan: string | undefined }[] = [];
    for (const p of readPcap(readFileSync(file)).packets) {
      const obs = observer.observe(p.data, p.linkType, p.timestampUnixNano, '');
      for (const o of obs) {
        if (o.kind !== 'http' || o.message !== 'request' || !o.traceparent) continue;
        const ioam = obs.find((x) => x.kind === 'ioam');
        out.push({ traceparentSpan: o.traceparent.split('-')[2]!, packetSpan: ioam?.kind === 'ioam' ? ioam.spanId : undefined });
      }
    }
    return out;
  }

  for (const client of ['http', 'fetch'] as const)
    test(`enableHttpClt, ${client === 'http' ? 'node:http' : 'fetch'} on keep-alive sockets: each request's packet carries its own span id`, async () => {
      const cap = await capture(`http-clt-${client}`);
      const out = await httpClt([], client, 60, 4);
      await cap.proc.stop('SIGINT');
      assert.deepEqual(out.warnings, []);
      assert.ok(out.statuses.every((s) => s === 200));
      const seen = requestPackets(cap.file);
      assert.equal(seen.length, 60, 'every request head was seen');
      const wrong = seen.filter((r) => r.packetSpan !== r.traceparentSpan);
      assert.deepEqual(wrong, [], "packets carrying another request's span id, or none");
      assert.deepEqual(new Set(seen.map((r) => r.traceparentSpan)), new Set(out.spanIds));
    });

  // The traceparent travels encrypted: requests are known by the client port the client reports.
  test("enableHttpClt, node:https on keep-alive sockets: each socket's data segments carry the span ids of its own requests", async (t) => {
    const requests = 60;
    const cap = await capture('http-clt-https');
    const out = await httpClt([], 'https', requests, 4);
    assert.deepEqual(out.warnings, []);
    assert.ok(out.statuses.every((s) => s === 200));
    assert.equal(out.localPorts.length, requests);
    assert.ok(
      out.localPorts.every((port) => Number.isInteger(port) && port > 0),
      'every request reports its socket',
    );

    const spansOfPort = new Map<number, Set<string>>();
    out.localPorts.forEach((port, i) => spansOfPort.set(port, (spansOfPort.get(port) ?? new Set()).add(out.spanIds[i]!)));
    assert.ok(spansOfPort.size > 1, `concurrent requests used ${spansOfPort.size} socket(s)`);
    assert.ok(spansOfPort.size < requests, `keep-alive reuse: ${spansOfPort.size} sockets for ${requests} requests`);

    const dataSegments = (await packetsOf(cap)).filter(
      (p) => p.sourceAddress === L.client.ipv6 && p.destinationPort === HTTPS_PORT && p.payload.length > 0,
    );
    const carried = dataSegments.map((p) => ({
      port: p.sourcePort,
      context: p.hopByHopOptions ? decodeTraceContextOption(p.hopByHopOptions) : undefined,
    }));
    const wrong = carried.filter((c) => c.context?.traceId !== TRACE_ID || !spansOfPort.get(c.port!)?.has(c.context.spanId));
    assert.deepEqual(wrong, [], `data segments (of ${carried.length}) without the span id of a request sent on their socket`);
    const missing = out.spanIds.filter((spanId, i) => !carried.some((c) => c.port === out.localPorts[i] && c.context?.spanId === spanId));
    assert.deepEqual(missing, [], 'requests whose span id no data segment of their socket carried');
    t.diagnostic(`${requests} requests on ${spansOfPort.size} sockets; ${carried.length} data segments from the client`);
  });

  test('enableHttpClt without CAP_NET_RAW: one warning, requests unchanged, no Hop-by-Hop header', async () => {
    const cap = await capture('http-clt-nocap');
    const out = await httpClt(['setpriv', '--bounding-set', '-net_raw'], 'http', 10, 2);
    assert.ok(out.statuses.every((s) => s === 200));
    assert.equal(out.warnings.length, 1, out.warnings.join('\n'));
    assert.match(out.warnings[0]!, /CAP_NET_RAW/);
    const fromClient = (await packetsOf(cap)).filter((p) => p.sourceAddress === L.client.ipv6 && p.destinationPort === HTTP_PORT);
    assert.ok(fromClient.length > 0);
    for (const p of fromClient) assert.equal(p.hopByHopOptions, undefined);
  });
});
