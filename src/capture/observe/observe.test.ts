import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../../testutil/index.js';
import { readPcap, type CapturedPacket } from '../pcap/index.js';
import { decodePacket } from '../decode/index.js';
import { assertGolden, concat, toJson } from '../testkit.test.util.js';
import { observationAttributes, type HttpObservation, type IoamObservation, type Observation } from '../../model/observation.js';
import { kernelHopByHop, skipWithoutShared, withHopByHop } from './kernel-ioam.test.util.js';
import { PacketObserver, canonicalAddress } from './index.js';

const TESTDATA = repoPath('src', 'capture', 'observe', 'testdata');
const FILES = ['http-lo.pcap', 'http-any-sll2.pcap'];

interface Sent {
  client: string;
  method: string;
  path: string;
  traceparent: string;
  tracestate?: string;
  status: number;
  splitAt?: number;
}
const sent = (JSON.parse(readFileSync(join(TESTDATA, 'http-requests.json'), 'utf8')) as { requests: Sent[] }).requests;

const packets = (file: string): CapturedPacket[] => readPcap(new Uint8Array(readFileSync(join(TESTDATA, file)))).packets;

/** Every packet through one observer: the observations of each packet, in order. */
function observeAll(observer: PacketObserver, ps: CapturedPacket[], interfaceName = ''): Observation[][] {
  return ps.map((p) => observer.observe(p.data, p.linkType, p.timestampUnixNano, interfaceName));
}

test('golden: the observations of both HTTP captures', async () => {
  const out: Record<string, unknown> = {};
  for (const file of FILES) {
    const observer = new PacketObserver({ observer: 'lab-vm', localAddresses: ['127.0.0.2'] });
    const per = observeAll(observer, packets(file), 'lo');
    out[file] = { observations: per.flat().map((o) => ({ kind: o.kind, ...observationAttributes(o) })), stats: observer.stats };
  }
  await assertGolden(['capture', 'observe'], 'observations.golden.json', toJson(out));
});

test('each request the clients sent is observed once, with its traceparent, tracestate and host; each response names its request', () => {
  for (const file of FILES) {
    const observer = new PacketObserver();
    const http = observeAll(observer, packets(file))
      .flat()
      .filter((o): o is HttpObservation => o.kind === 'http');
    const want = sent.flatMap((s) => [
      {
        message: 'request',
        method: s.method,
        target: s.path.replace(/\?.*/, ''),
        host: s.client === 'net.Socket' ? '::1' : '127.0.0.2',
        traceparent: s.traceparent,
        tracestate: s.tracestate,
      },
      { message: 'response', status: s.status, traceparent: s.traceparent },
    ]);
    assert.deepEqual(
      http.map((o) => ({
        message: o.message,
        ...(o.message === 'request'
          ? { method: o.method, target: o.target, host: o.host, tracestate: o.tracestate }
          : { status: o.status }),
        traceparent: o.traceparent,
      })),
      want,
      file,
    );
    assert.deepEqual([observer.stats.httpRequests, observer.stats.httpResponses], [sent.length, sent.length]);
    assert.deepEqual(observer.stats.issues, { packet: {}, ioam: {}, http: {} });
    assert.equal(observer.stats.http.connections, 0);
    assert.equal(
      observer.stats.packets,
      observer.stats.packetsObserved + observer.stats.packetsUnobserved + observer.stats.packetsWithoutIp,
    );
  }
});

test('the split head: two TCP segments, one request, observed on the segment that completes it', () => {
  const split = sent.find((s) => s.splitAt !== undefined)!;
  for (const file of FILES) {
    const ps = packets(file);
    const per = observeAll(new PacketObserver(), ps);
    const at = per.findIndex((os) => os.some((o) => o.kind === 'http' && o.message === 'request' && o.traceparent === split.traceparent));
    const payload = (i: number) => decodePacket(ps[i]!.data, ps[i]!.linkType).payload;
    const sourcePort = (i: number) => decodePacket(ps[i]!.data, ps[i]!.linkType).sourcePort;
    // The request's first part came earlier from the same client, alone in its segment, and gave nothing.
    const before = per.findLastIndex((_, i) => i < at && sourcePort(i) === sourcePort(at) && payload(i).length > 0);
    assert.ok(before >= 0 && before < at, file);
    assert.equal(payload(before).length, split.splitAt, `${file}: first part`);
    assert.deepEqual(per[before], [], file);
    const head = new TextDecoder().decode(concat(payload(before), payload(at)));
    assert.ok(head.startsWith(`GET ${split.path} HTTP/1.1\r\n`) && head.endsWith('\r\n\r\n'), file);
    assert.ok(new TextDecoder().decode(payload(before)).includes('traceparent: 00-'), 'cut inside the traceparent value');
  }
});

test('direction: Linux cooked packet type, else the local addresses, else unknown', () => {
  const directions = (file: string, localAddresses?: string[]) =>
    observeAll(new PacketObserver(localAddresses ? { localAddresses } : {}), packets(file))
      .flat()
      .map((o) => (o as HttpObservation).direction);
  // tcpdump -i any on lo: every packet has packet type 0 (to us).
  assert.ok(directions('http-any-sll2.pcap').every((d) => d === 'ingress'));
  assert.ok(directions('http-lo.pcap').every((d) => d === 'unknown'));
  // Seen from the server's address: requests come in, responses go out; ::1 is both ends, so the source decides.
  const fromServer = directions('http-lo.pcap', ['127.0.0.2', '0:0:0:0:0:0:0:1']);
  assert.deepEqual(fromServer, [...sent.slice(0, 4).flatMap(() => ['ingress', 'egress']), 'egress', 'egress', 'egress', 'egress']);
  assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalAddress('[fe80::1%eth0]'), 'fe80::1');
  assert.equal(canonicalAddress('::ffff:192.0.2.1'), '::ffff:192.0.2.1');
  assert.equal(canonicalAddress('0::ffff:c000:201'), '::ffff:192.0.2.1');
  assert.equal(canonicalAddress('192.0.2.1'), '192.0.2.1');
});

test('IOAM in TCP: each trace gets the traceparent of the request in flight on its connection', { skip: skipWithoutShared }, () => {
  const hbh = kernelHopByHop('bit0.after-hop2.pcap');
  const ps = packets('http-any-sll2.pcap').map((p) => withHopByHop(p, hbh));
  const observer = new PacketObserver();
  const per = observeAll(observer, ps);
  const [tp5, tp6] = [sent[4]!.traceparent, sent[5]!.traceparent];
  const rows = per
    .map((os, i) => ({ i, os, d: decodePacket(ps[i]!.data, ps[i]!.linkType) }))
    .filter((r) => r.d.ipVersion === 6)
    .map(({ os, d }) => {
      const ioam = os.filter((o): o is IoamObservation => o.kind === 'ioam');
      assert.equal(ioam.length, 1);
      assert.deepEqual(ioam[0]!.nodes, [
        { hop_limit: 63, node_id: 1 },
        { hop_limit: 62, node_id: 2 },
      ]);
      assert.deepEqual([ioam[0]!.sourcePort, ioam[0]!.destinationPort, ioam[0]!.protocol], [d.sourcePort, d.destinationPort, 6]);
      const http = os.filter((o) => o.kind === 'http').map((o) => (o as HttpObservation).message);
      return [d.payload.length > 0 ? 'data' : 'ack', http.join('+'), ioam[0]!.traceparent ?? '-'];
    });
  assert.deepEqual(rows, [
    ['ack', '', '-'], // SYN
    ['ack', '', '-'], // SYN-ACK
    ['ack', '', '-'],
    ['data', '', '-'], // first part of the split head: its request is not known yet
    ['ack', '', '-'],
    ['data', 'request', tp5], // the rest: the request head is complete, this packet is covered
    ['ack', '', tp5],
    ['data', 'response', tp5],
    ['ack', '', tp5],
    ['data', 'request', tp6], // the next request on the connection
    ['data', 'response', tp6],
    ['ack', '', tp6], // FIN
    ['ack', '', tp6], // FIN
    ['ack', '', tp6], // the last ACK
  ]);
  // The IPv4 connection carries no IOAM, and nothing else changed.
  assert.equal(observer.stats.ioamObservations, rows.length);
  assert.deepEqual([observer.stats.httpRequests, observer.stats.httpResponses], [sent.length, sent.length]);
  assert.equal(observer.stats.http.connections, 0);
});

test('CLT ids: the trace and span id the packet carried', { skip: skipWithoutShared }, () => {
  const hbh = kernelHopByHop('bit0.after-hop2.pcap');
  const at = 2 + 2; // after the HbH header's 2 bytes and the leading PadN(0)
  assert.equal(hbh[at], 0x31);
  const ids = Uint8Array.from(Buffer.from('0af7651916cd43dd8448eb211c80319cb7ad6b7169203331', 'hex'));
  // 24 more bytes of option: the HbH length grows by 3 units of 8.
  const clt = concat(hbh.subarray(0, at + 12), ids, hbh.subarray(at + 12));
  clt[1] = clt[1]! + 3;
  clt[at + 1] = clt[at + 1]! + 24;
  const [packet] = packets('http-any-sll2.pcap').filter((p) => p.data[20]! >> 4 === 6);
  const p = withHopByHop(packet!, clt);
  const [o] = new PacketObserver({ cltIds: true, observer: 'agent-1' }).observe(p.data, p.linkType, 5n, 'eth0') as IoamObservation[];
  assert.deepEqual(
    [o!.traceId, o!.spanId, o!.observer, o!.interfaceName, o!.timeUnixNano, o!.source],
    ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'agent-1', 'eth0', 5n, 'capture'],
  );
  // Without cltIds the same bytes are free space and nodes: no ids.
  const [plain] = new PacketObserver().observe(p.data, p.linkType, 5n, '') as IoamObservation[];
  assert.equal(plain!.traceId, undefined);
});
