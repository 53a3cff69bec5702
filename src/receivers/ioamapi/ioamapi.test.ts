import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { IoamApiReceiver, IOAM_API_REPORT_PATH, peerAddress } from './receiver.js';
import { ioamApiReceiverConfigSchema } from './config.js';
import { decodeIoamTrace, emptyNode, encodeIoamTrace, type IoamApiNode, type IoamApiTraceInit } from './codec.js';
import { firstNodeTime, nodeFromApi, observationFromTrace, traceTypeFromBitField } from './convert.js';
import { decodeIoamOptions, type IoamNode } from '../../capture/ioam/decode.js';
import { RecordingConsumer, RecordingEvidence, recordingSettings, repoPath, testSettings } from '../../testutil/index.js';
import { observationFromLogRecord } from '../../model/observation-logs.js';
import { DecodeError } from '../../core/errors.js';
import type { CreateSettings } from '../../core/component.js';
import { ioamNodeJson, type IoamObservation } from '../../model/observation.js';

const TESTDATA = repoPath('src', 'receivers', 'ioamapi', 'testdata');
const PROTO_DIR = repoPath('proto', 'ioam_api');

// ---------------------------------------------------------------------------------------------
// IOAM trace data as the kernel's netlink event (and the packet) carries it: nodes last hop first.

/** Bits 0-11 and 22: every field the API can carry. */
const FULL_TYPE = 0xfff002;
/** FULL_TYPE as the trace header's 32-bit word (the Go agent's BitField). */
const FULL_TYPE_WORD = (FULL_TYPE << 8) >>> 0;
/** Node length of FULL_TYPE in 4-octet units: bits 0-7 one each, 8-10 two each, 11 one. */
const FULL_NODE_LEN = 15;

interface RawNode {
  hopLimit: number;
  id: number;
  ingress: number;
  egress: number;
  secs: number;
  frac: number;
  delay: number;
  nsData: number;
  queue: number;
  csum: number;
  idWide: bigint;
  ingressWide: number;
  egressWide: number;
  nsDataWide: bigint;
  buffer: number;
  ossSchema: number;
  ossData: Buffer;
}

/** Path order: the first hop first. The second hop has unavailable (all-ones) values. */
const PATH: RawNode[] = [
  {
    hopLimit: 64,
    id: 1,
    ingress: 10,
    egress: 11,
    secs: 1_763_000_000,
    frac: 123_456,
    delay: 20,
    nsData: 0xdeadbeef,
    queue: 3,
    csum: 0x1234,
    idWide: 0x0102030405060708n & ((1n << 56n) - 1n),
    ingressWide: 100,
    egressWide: 101,
    nsDataWide: 0x1122334455667788n,
    buffer: 9,
    ossSchema: 7,
    ossData: Buffer.from('0011223344556677', 'hex'),
  },
  {
    hopLimit: 0xff,
    id: 0xffffff,
    ingress: 0xffff,
    egress: 21,
    secs: 0xffffffff,
    frac: 0xffffffff,
    delay: 0xffffffff,
    nsData: 0xffffffff,
    queue: 0xffffffff,
    csum: 0xffffffff,
    idWide: (1n << 56n) - 1n,
    ingressWide: 0xffffffff,
    egressWide: 201,
    nsDataWide: (1n << 64n) - 1n,
    buffer: 0xffffffff,
    ossSchema: 0xffffff,
    ossData: Buffer.from('aabbccdd', 'hex'),
  },
  {
    hopLimit: 62,
    id: 3,
    ingress: 30,
    egress: 31,
    secs: 1_763_000_001,
    frac: 5,
    delay: 0,
    nsData: 0,
    queue: 0,
    csum: 0,
    idWide: 3n,
    ingressWide: 300,
    egressWide: 301,
    nsDataWide: 0n,
    buffer: 0,
    ossSchema: 0,
    ossData: Buffer.alloc(0),
  },
];

function nodeWire(n: RawNode): Buffer {
  const b = Buffer.alloc(FULL_NODE_LEN * 4 + 4 + n.ossData.length);
  let o = 0;
  b.writeUInt32BE(((n.hopLimit << 24) | n.id) >>> 0, o);
  b.writeUInt16BE(n.ingress, (o += 4));
  b.writeUInt16BE(n.egress, o + 2);
  for (const v of [n.secs, n.frac, n.delay, n.nsData, n.queue, n.csum]) b.writeUInt32BE(v, (o += 4));
  b.writeBigUInt64BE((BigInt(n.hopLimit) << 56n) | n.idWide, (o += 4));
  b.writeUInt32BE(n.ingressWide, (o += 8));
  b.writeUInt32BE(n.egressWide, o + 4);
  b.writeBigUInt64BE(n.nsDataWide, (o += 8));
  b.writeUInt32BE(n.buffer, (o += 8));
  b.writeUInt32BE((((n.ossData.length / 4) << 24) | n.ossSchema) >>> 0, (o += 4));
  n.ossData.copy(b, o + 4);
  return b;
}

/** The trace data of the netlink event: nodes in packet order (last hop first). */
const TRACE_DATA = Buffer.concat([...PATH].reverse().map(nodeWire));

/** The same trace in an IPv6 Hop-by-Hop IOAM option, for the packet decoder. */
function hopByHopOption(data: Buffer, clt?: Buffer): Uint8Array {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x2a, 0);
  header[2] = FULL_NODE_LEN << 3;
  header[3] = 0; // no remaining space: every node is filled
  header.writeUInt32BE(FULL_TYPE_WORD, 4);
  const body = Buffer.concat([Buffer.from([0, 0]), header, clt ?? Buffer.alloc(0), data]);
  return Buffer.concat([Buffer.from([0x31, body.length]), body]);
}

const CLT_IDS = { high: 0x0af7651916cd43ddn, low: 0x8448eb211c80319cn, span: 0xb7ad6b7169203331n };
const CLT_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLT_SPAN_ID = 'b7ad6b7169203331';

/** What the packet decoder makes of the trace: the reference for "same rules as the packet decoder". */
function decoderNodes(): IoamNode[] {
  const ids = Buffer.alloc(24);
  ids.writeBigUInt64BE(CLT_IDS.high, 0);
  ids.writeBigUInt64BE(CLT_IDS.low, 8);
  ids.writeBigUInt64BE(CLT_IDS.span, 16);
  const result = decodeIoamOptions(hopByHopOption(TRACE_DATA, ids), { cltIds: true });
  assert.deepEqual(
    result.issues.map((i) => i.code),
    [],
  );
  assert.equal(result.traces[0]!.traceId, CLT_TRACE_ID);
  return result.traces[0]!.nodes;
}

/** The IOAMNode an agent sends for a raw node (the Go agent's parseNodeData, in TypeScript). */
function apiNode(n: RawNode): Partial<IoamApiNode> {
  const nsData = Buffer.alloc(4);
  nsData.writeUInt32BE(n.nsData);
  const nsWide = Buffer.alloc(8);
  nsWide.writeBigUInt64BE(n.nsDataWide);
  return {
    HopLimit: n.hopLimit,
    Id: n.id,
    IngressId: n.ingress,
    EgressId: n.egress,
    TimestampSecs: n.secs,
    TimestampFrac: n.frac,
    TransitDelay: n.delay,
    NamespaceData: nsData,
    QueueDepth: n.queue,
    CsumComp: n.csum,
    IdWide: n.idWide,
    IngressIdWide: n.ingressWide,
    EgressIdWide: n.egressWide,
    NamespaceDataWide: nsWide,
    BufferOccupancy: n.buffer,
    OSS: { SchemaId: n.ossSchema, Data: n.ossData },
  };
}

function cltTrace(bitField = FULL_TYPE_WORD): IoamApiTraceInit {
  return {
    layout: 'clt',
    TraceId_High: CLT_IDS.high,
    TraceId_Low: CLT_IDS.low,
    SpanId: CLT_IDS.span,
    NamespaceId: 0x2a,
    BitField: bitField,
    Nodes: PATH.map(apiNode),
  };
}

const LIMITS = { maxNodes: 64 };
const RECEIVED = 1_000n;

/** Nodes in the project's JSON form (bigints as decimal strings, snapshot data as hex), for deep comparison. */
const plain = (nodes: readonly IoamNode[]) => nodes.map(ioamNodeJson);

describe('ioam_api codec and mapping', () => {
  test('both IOAMTrace revisions decode, told apart by their wire types', () => {
    const clt = decodeIoamTrace(encodeIoamTrace(cltTrace()), LIMITS);
    assert.equal(clt.layout, 'clt');
    assert.equal(clt.TraceId_High, CLT_IDS.high);
    assert.equal(clt.SpanId, CLT_IDS.span);
    assert.equal(clt.NamespaceId, 0x2a);
    assert.equal(clt.Nodes.length, 3);
    assert.equal(clt.Nodes[0]!.IdWide, PATH[0]!.idWide);
    const std = decodeIoamTrace(encodeIoamTrace({ ...cltTrace(), layout: 'standard' }), LIMITS);
    assert.equal(std.layout, 'standard');
    assert.equal(std.TraceId_High, 0n);
    assert.equal(std.BitField, FULL_TYPE_WORD);
    assert.deepEqual(std.Nodes, clt.Nodes);
    assert.deepEqual(decodeIoamTrace(new Uint8Array(0), LIMITS).Nodes, []);
  });

  test('malformed messages are DecodeErrors with a reason, never crashes', () => {
    const bad: [Uint8Array, string][] = [
      // field 1 as varint (standard) and field 4 (CLT only)
      [Uint8Array.from([0x08, 0x01, 0x20, 0x02]), 'IOAM_API_MIXED_LAYOUT'],
      // field 2 as varint: neither revision
      [Uint8Array.from([0x10, 0x01]), 'IOAM_API_WIRE_TYPE'],
      // Nodes with a length past the end
      [Uint8Array.from([0x1a, 0x10, 0x08]), 'IOAM_API_MALFORMED'],
      // a node whose HopLimit is length-delimited
      [Uint8Array.from([0x1a, 0x02, 0x0a, 0x00]), 'IOAM_API_WIRE_TYPE'],
      // a varint that never ends
      [Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'IOAM_API_MALFORMED'],
    ];
    for (const [bytes, code] of bad)
      assert.throws(
        () => decodeIoamTrace(bytes, LIMITS),
        (err: unknown) => err instanceof DecodeError && err.code === code,
        `${Buffer.from(bytes).toString('hex')} → ${code}`,
      );
    const many = encodeIoamTrace({ NamespaceId: 1, BitField: 0x800000, Nodes: Array.from({ length: 5 }, () => ({ HopLimit: 1 })) });
    assert.throws(() => decodeIoamTrace(many, { maxNodes: 4 }), { code: 'IOAM_API_TOO_MANY_NODES' });
    assert.equal(decodeIoamTrace(many, { maxNodes: 5 }).Nodes.length, 5);
    // Unknown fields are skipped.
    assert.equal(decodeIoamTrace(Uint8Array.from([0x08, 0x05, 0xf8, 0x01, 0x07]), LIMITS).NamespaceId, 5);
  });

  test('BitField: the trace type in the low 24 bits (Python agent) or shifted left by 8 (Go agent)', () => {
    assert.equal(traceTypeFromBitField(0xf00000, 'auto'), 0xf00000);
    assert.equal(traceTypeFromBitField(0xf0000000, 'auto'), 0xf00000);
    assert.equal(traceTypeFromBitField(FULL_TYPE, 'low_24_bits'), FULL_TYPE);
    assert.equal(traceTypeFromBitField(FULL_TYPE_WORD, 'high_24_bits'), FULL_TYPE);
    // The one ambiguous shape: a shifted type without bits 0-7 looks like a low one; pinning the layout settles it.
    assert.equal(traceTypeFromBitField(0x00800000, 'auto'), 0x800000);
    assert.equal(traceTypeFromBitField(0x00800000, 'high_24_bits'), 0x008000);
  });

  test("nodes map to the packet decoder's RFC 9197 fields, all-ones values null", () => {
    const want = decoderNodes();
    const trace = decodeIoamTrace(encodeIoamTrace(cltTrace()), LIMITS);
    const o = observationFromTrace(trace, { bitField: 'auto', peer: '192.0.2.1:5000', receivedUnixNano: RECEIVED });
    assert.deepEqual(plain(o.nodes), plain(want));
    assert.equal(o.nodes[1]!.hop_limit, null);
    assert.equal(o.nodes[1]!.node_id_wide, null);
    assert.equal(o.nodes[1]!.namespace_data, null);
    assert.equal(o.nodes[1]!.opaque_state_snapshot!.schema_id, null);
    assert.equal(o.nodes[1]!.egress_if_id, 21);
    assert.equal(o.traceType, FULL_TYPE);
    assert.equal(o.traceId, CLT_TRACE_ID);
    assert.equal(o.spanId, CLT_SPAN_ID);
    assert.equal(o.source, 'ioam_api');
    assert.equal(o.observer, '192.0.2.1:5000');
    assert.equal(o.optionType, 0);
    assert.equal(o.overflow, false);
    assert.equal(o.sourceAddress, '');
    assert.equal(o.protocol, 0);
    // Time from the first hop's timestamp: POSIX seconds and microseconds, as Linux writes them.
    assert.equal(o.timeUnixNano, 1_763_000_000n * 1_000_000_000n + 123_456_000n);
  });

  test('only the fields of the trace type; receive time without a timestamp; no ids when zero', () => {
    const node = { ...emptyNode(), HopLimit: 5, Id: 9, TimestampSecs: 77 };
    assert.deepEqual(nodeFromApi(node, 0x800000, 0), { hop_limit: 5, node_id: 9 });
    assert.equal(firstNodeTime([nodeFromApi(node, 0x800000, 0)]), undefined);
    const o = observationFromTrace(decodeIoamTrace(encodeIoamTrace({ NamespaceId: 1, BitField: 0x800000, Nodes: [node] }), LIMITS), {
      bitField: 'auto',
      peer: '',
      receivedUnixNano: RECEIVED,
    });
    assert.equal(o.timeUnixNano, RECEIVED);
    assert.equal(o.traceId, undefined);
    assert.equal(o.spanId, undefined);
    // Bit 22 without an Opaque message (the Go agent leaves it out when empty): an empty snapshot.
    assert.deepEqual(nodeFromApi(emptyNode(), 0x000002, 0).opaque_state_snapshot, { length: 0, schema_id: null, data: new Uint8Array(0) });
  });

  test('values wider than their RFC 9197 field make the trace malformed', () => {
    const cases: [Partial<IoamApiNode>, number, string][] = [
      [{ HopLimit: 256 }, 0x800000, 'HopLimit'],
      [{ Id: 0x1000000 }, 0x800000, 'Id'],
      [{ IngressId: 0x10000 }, 0x400000, 'IngressId'],
      [{ IdWide: 1n << 56n }, 0x008000, 'IdWide'],
      [{ NamespaceData: new Uint8Array(3) }, 0x040000, 'NamespaceData'],
      [{ NamespaceDataWide: new Uint8Array(4) }, 0x002000, 'NamespaceDataWide'],
      [{ OSS: { SchemaId: 0x1000000, Data: new Uint8Array(0) } }, 0x000002, 'OSS.SchemaId'],
      [{ OSS: { SchemaId: 1, Data: new Uint8Array(1024) } }, 0x000002, 'OSS.Data'],
    ];
    for (const [fields, type, field] of cases)
      assert.throws(() => nodeFromApi({ ...emptyNode(), ...fields }, type, 2), new RegExp(`Nodes\\[2\\]\\.${field.replace('.', '\\.')}`));
    const trace = decodeIoamTrace(encodeIoamTrace({ NamespaceId: 0x10000 }), LIMITS);
    assert.throws(() => observationFromTrace(trace, { bitField: 'auto', peer: '', receivedUnixNano: 0n }), /NamespaceId/);
  });

  test('peer strings of grpc-js become host:port', () => {
    assert.equal(peerAddress('ipv4:127.0.0.1:4000'), '127.0.0.1:4000');
    assert.equal(peerAddress('ipv6:[::1]:4000'), '[::1]:4000');
    assert.equal(peerAddress('127.0.0.1:4000'), '127.0.0.1:4000');
  });

  test('config: defaults on loopback port 7123, errors name their path', () => {
    const c = ioamApiReceiverConfigSchema.parse({});
    assert.equal(c.endpoint, '127.0.0.1:7123');
    assert.equal(c.max_nodes_per_trace, 64);
    assert.equal(c.bit_field, 'auto');
    const r = ioamApiReceiverConfigSchema.safeParse({ endpoint: 'nope', bit_field: 'middle', auth: {} });
    assert.equal(r.success, false);
    const paths = r.error!.issues.map((i) => i.path.join('.')).sort();
    assert.deepEqual(paths, ['auth.token', 'bit_field', 'endpoint']);
  });
});

// ---------------------------------------------------------------------------------------------
// A real gRPC peer: grpc-js as the client.

interface Harness {
  receiver: IoamApiReceiver;
  settings: CreateSettings;
  evidence: RecordingEvidence;
  logs: RecordingConsumer<'logs'>;
  target: string;
}

async function startReceiver(extra: Record<string, unknown> = {}, settings: CreateSettings = testSettings('ioam_api')): Promise<Harness> {
  const config = ioamApiReceiverConfigSchema.parse({ endpoint: '127.0.0.1:0', ...extra });
  const logs = new RecordingConsumer<'logs'>();
  const receiver = new IoamApiReceiver(settings, config, { logs });
  await receiver.start();
  return { receiver, settings, evidence: settings.evidence as RecordingEvidence, logs, target: receiver.address! };
}

interface CallResult {
  code: grpc.status;
  details: string;
  response?: Buffer;
}

/** One Report stream carrying `messages`; resolves with the final status. */
function report(
  target: string,
  messages: Uint8Array[],
  opts: { metadata?: grpc.Metadata; credentials?: grpc.ChannelCredentials; options?: grpc.ClientOptions } = {},
): Promise<CallResult> {
  const client = new grpc.Client(target, opts.credentials ?? grpc.credentials.createInsecure(), opts.options);
  return new Promise<CallResult>((resolve) => {
    const call = client.makeClientStreamRequest(
      IOAM_API_REPORT_PATH,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      opts.metadata ?? new grpc.Metadata(),
      (err: grpc.ServiceError | null, response?: Buffer) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', response: response! });
      },
    );
    call.on('error', () => {}); // the callback has the status
    for (const m of messages) call.write(m);
    call.end();
  });
}

/** Waits for a condition that follows from events already under way (bounded, so a bug fails instead of hanging). */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('condition never became true');
}

const bearer = (token: string) => {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
};

async function metric(settings: CreateSettings, name: string, labels: Record<string, string> = {}) {
  return settings.metrics.value(`netspan_ioam_api_traces_${name}_total`, labels);
}

describe('ioam_api receiver with a grpc-js client', () => {
  let h: Harness;
  before(async () => {
    h = await startReceiver({ max_recv_msg_size_mib: 0.0625, max_nodes_per_trace: 8 });
  });
  after(async () => {
    await h.receiver.shutdown();
  });

  test('a stream of traces becomes observations, log records and counts; the answer is an Empty', async () => {
    const before = h.evidence.observations.length;
    const res = await report(h.target, [
      encodeIoamTrace(cltTrace()),
      encodeIoamTrace({ ...cltTrace(), layout: 'standard', BitField: FULL_TYPE }),
    ]);
    assert.equal(res.code, grpc.status.OK);
    assert.equal(res.response!.length, 0);
    const got = h.evidence.observations.slice(before) as IoamObservation[];
    assert.equal(got.length, 2);
    assert.equal(got[0]!.traceId, CLT_TRACE_ID);
    assert.equal(got[1]!.traceId, undefined);
    assert.deepEqual(plain(got[0]!.nodes), plain(decoderNodes()));
    assert.deepEqual(plain(got[1]!.nodes), plain(decoderNodes()));
    assert.match(got[0]!.observer, /^127\.0\.0\.1:\d+$/);
    // The same observations as OTLP log records, readable back.
    await h.logs.waitFor(1);
    const records = h.logs.received.flatMap((l) => l.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)));
    const back = observationFromLogRecord(records.at(-2)!) as IoamObservation;
    assert.equal(back.traceId, CLT_TRACE_ID);
    assert.equal(Buffer.from(records.at(-2)!.traceId).toString('hex'), CLT_TRACE_ID);
    assert.deepEqual(plain(back.nodes), plain(got[0]!.nodes));
    assert.ok((await metric(h.settings, 'received')) >= 2);
    assert.ok((await metric(h.settings, 'accepted')) >= 2);
  });

  test('a malformed trace is dropped and counted; the stream goes on', async () => {
    const before = h.evidence.observations.length;
    const refusedBefore = await metric(h.settings, 'refused', { reason: 'malformed' });
    const res = await report(h.target, [Uint8Array.from([0x10, 0x01]), encodeIoamTrace(cltTrace()), Uint8Array.from([0xff])]);
    assert.equal(res.code, grpc.status.OK);
    assert.equal(h.evidence.observations.length - before, 1);
    assert.equal((await metric(h.settings, 'refused', { reason: 'malformed' })) - refusedBefore, 2);
  });

  test('a stream of nothing but malformed traces ends with INVALID_ARGUMENT and the reason', async () => {
    const res = await report(h.target, [Uint8Array.from([0x10, 0x01])]);
    assert.equal(res.code, grpc.status.INVALID_ARGUMENT);
    assert.match(res.details, /field 2 is varint/);
    const tooMany = encodeIoamTrace({ NamespaceId: 1, BitField: 0x800000, Nodes: Array.from({ length: 9 }, () => ({ HopLimit: 1 })) });
    const res2 = await report(h.target, [tooMany, tooMany]);
    assert.equal(res2.code, grpc.status.INVALID_ARGUMENT);
    assert.match(res2.details, /all 2 traces were refused: IOAMTrace has more than 8 nodes/);
    assert.equal(await metric(h.settings, 'refused', { reason: 'too_many_nodes' }), 2);
  });

  test('a message over max_recv_msg_size_mib ends the stream with RESOURCE_EXHAUSTED', async () => {
    const big = encodeIoamTrace({
      NamespaceId: 1,
      BitField: 0x000002,
      Nodes: Array.from({ length: 8 }, () => ({ OSS: { SchemaId: 1, Data: new Uint8Array(1020) } })),
    });
    assert.ok(big.length > (0.0625 * 1024 * 1024) / 8);
    const huge = Buffer.concat(Array.from({ length: 10 }, () => Buffer.from(big)));
    const res = await report(h.target, [huge]);
    assert.equal(res.code, grpc.status.RESOURCE_EXHAUSTED);
    // A stream that was not ended by a refusal before works as ever.
    assert.equal((await report(h.target, [encodeIoamTrace(cltTrace())])).code, grpc.status.OK);
  });
});

describe('ioam_api receiver: an agent stream that never ends', () => {
  test('traces are stored while the stream is open; shutdown answers it with an Empty', async () => {
    const h = await startReceiver();
    const client = new grpc.Client(h.target, grpc.credentials.createInsecure());
    try {
      const status = new Promise<grpc.status>((resolve) => {
        const call = client.makeClientStreamRequest(
          IOAM_API_REPORT_PATH,
          (b: Uint8Array) => Buffer.from(b),
          (b: Buffer) => b,
          new grpc.Metadata(),
          (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK),
        );
        call.on('error', () => {});
        call.write(encodeIoamTrace(cltTrace()));
        call.write(encodeIoamTrace(cltTrace()));
      });
      await until(() => h.evidence.observations.length >= 2);
      assert.equal(await h.settings.metrics.value('netspan_receiver_requests_total'), 0);
      await h.receiver.shutdown();
      assert.equal(await status, grpc.status.OK);
      assert.equal(await h.settings.metrics.value('netspan_receiver_requests_total', { outcome: 'shutdown' }), 1);
    } finally {
      client.close();
      await h.receiver.shutdown();
    }
  });
});

describe('ioam_api receiver: TLS and bearer token', () => {
  let h: Harness;
  const credentials = () => grpc.credentials.createSsl(readFileSync(join(TESTDATA, 'server.crt')));
  before(async () => {
    h = await startReceiver({
      tls: { cert_file: join(TESTDATA, 'server.crt'), key_file: join(TESTDATA, 'server.key') },
      auth: { token: 's3cret' },
    });
  });
  after(async () => {
    await h.receiver.shutdown();
  });

  test('no token or a wrong one: UNAUTHENTICATED, nothing stored', async () => {
    const message = [encodeIoamTrace(cltTrace())];
    for (const metadata of [new grpc.Metadata(), bearer('wrong'), bearer('s3cret-and-more')]) {
      const res = await report(h.target, message, { credentials: credentials(), metadata });
      assert.equal(res.code, grpc.status.UNAUTHENTICATED);
    }
    assert.equal(h.evidence.observations.length, 0);
    assert.equal(await h.settings.metrics.value('netspan_receiver_requests_total', { outcome: 'unauthorized' }), 3);
  });

  test('the right token over TLS: stored', async () => {
    const res = await report(h.target, [encodeIoamTrace(cltTrace())], { credentials: credentials(), metadata: bearer('s3cret') });
    assert.equal(res.code, grpc.status.OK);
    assert.equal(h.evidence.observations.length, 1);
  });

  test('plain text to a TLS endpoint fails', async () => {
    const res = await report(h.target, [encodeIoamTrace(cltTrace())], { metadata: bearer('s3cret') });
    assert.equal(res.code, grpc.status.UNAVAILABLE);
  });
});

describe('ioam_api receiver: logs pipeline refusals and rate-limited warnings', () => {
  test('a full logs pipeline loses log records, not evidence; repeated problems are logged once', async () => {
    const settings = recordingSettings('ioam_api/logs');
    const h = await startReceiver({}, settings);
    try {
      h.logs.full = true;
      const res = await report(h.target, [encodeIoamTrace(cltTrace()), Uint8Array.from([0xff]), Uint8Array.from([0xff])]);
      assert.equal(res.code, grpc.status.OK);
      assert.equal(h.evidence.observations.length, 1);
      // The drop is counted once the pipeline's refusal arrives.
      await until(async () => (await settings.metrics.value('netspan_ioam_api_log_records_dropped_total')) > 0);
      assert.equal(await settings.metrics.value('netspan_ioam_api_log_records_dropped_total', { reason: 'capacity' }), 1);
      const warnings = settings.logs.filter((l) => l.level === 'warn' || (l.level as unknown) === 40);
      assert.equal(warnings.filter((l) => /malformed trace/.test(l.msg)).length, 1);
    } finally {
      await h.receiver.shutdown();
    }
  });
});

describe('ioam_api receiver: a failing evidence store', () => {
  test('is counted and logged; the receiver keeps serving', async () => {
    const settings = testSettings('ioam_api/evidence');
    settings.evidence.addObservations = () => {
      throw new Error('store closed');
    };
    const h = await startReceiver({}, settings);
    try {
      assert.equal((await report(h.target, [encodeIoamTrace(cltTrace())])).code, grpc.status.OK);
      assert.equal(await metric(settings, 'refused', { reason: 'evidence_error' }), 1);
      assert.equal((await report(h.target, [encodeIoamTrace(cltTrace())])).code, grpc.status.OK);
      assert.equal(await metric(settings, 'refused', { reason: 'evidence_error' }), 2);
    } finally {
      await h.receiver.shutdown();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// An independent implementation as the peer: Python's grpcio and protobuf, with modules compiled
// from the vendored protos by grpc_tools.protoc, building messages as the Python agent does.

function findPython(): string | undefined {
  const candidates = [process.env['NETSPAN_PYTHON'], 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  return candidates.find((py) => spawnSync(py, ['-c', 'import grpc, grpc_tools.protoc'], { stdio: 'ignore' }).status === 0);
}

function runPython(python: string, args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const PYTHON = findPython();

describe(
  'ioam_api receiver with the Python grpcio client',
  { skip: PYTHON ? false : 'python3 with grpcio and grpc_tools not found' },
  () => {
    let modules: string;
    let h: Harness;
    before(async () => {
      modules = mkdtempSync(join(tmpdir(), 'netspan-ioamapi-py-'));
      for (const proto of ['ioam_api.proto', 'ioam-clt_api.proto']) {
        const gen = spawnSync(
          PYTHON!,
          ['-m', 'grpc_tools.protoc', `-I${PROTO_DIR}`, `--python_out=${modules}`, `--grpc_python_out=${modules}`, proto],
          {
            encoding: 'utf8',
          },
        );
        assert.equal(gen.status, 0, gen.stderr);
      }
      h = await startReceiver({
        tls: { cert_file: join(TESTDATA, 'server.crt'), key_file: join(TESTDATA, 'server.key') },
        auth: { token: 'agent-token' },
      });
    });
    after(async () => {
      await h?.receiver.shutdown();
      if (modules) rmSync(modules, { recursive: true, force: true });
    });

    const event = (i: number) => ({
      namespace: 0x2a,
      nodelen: FULL_NODE_LEN,
      trace_type: FULL_TYPE,
      data: TRACE_DATA.toString('hex'),
      trace_id_high: CLT_IDS.high.toString(),
      trace_id_low: CLT_IDS.low.toString(),
      span_id: (CLT_IDS.span + BigInt(i)).toString(),
    });

    async function client(args: string[], events: unknown[]) {
      const r = await runPython(
        PYTHON!,
        [join(TESTDATA, 'ioam_agent_client.py'), '--target', `localhost:${h.target.split(':').at(-1)}`, '--modules', modules, ...args],
        JSON.stringify(events),
      );
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { code: string; details: string });
    }

    test('Go agent style: CLT revision, BitField shifted, one stream of three traces', async () => {
      const before = h.evidence.observations.length;
      const results = await client(
        ['--proto', 'clt', '--bitfield', 'high', '--mode', 'stream', '--ca', join(TESTDATA, 'server.crt'), '--token', 'agent-token'],
        [event(0), event(1), event(2)],
      );
      assert.deepEqual(results, [{ code: 'OK', details: '' }]);
      const got = h.evidence.observations.slice(before) as IoamObservation[];
      assert.equal(got.length, 3);
      const want = plain(decoderNodes());
      for (const [i, o] of got.entries()) {
        assert.equal(o.traceType, FULL_TYPE);
        assert.equal(o.namespaceId, 0x2a);
        assert.equal(o.traceId, CLT_TRACE_ID);
        assert.equal(o.spanId, (CLT_IDS.span + BigInt(i)).toString(16));
        assert.deepEqual(plain(o.nodes), want);
      }
    });

    test('Python agent style: ioam_api.proto, BitField = trace type, a unary call per trace', async () => {
      const before = h.evidence.observations.length;
      const results = await client(
        ['--proto', 'standard', '--bitfield', 'low', '--mode', 'unary', '--ca', join(TESTDATA, 'server.crt'), '--token', 'agent-token'],
        [event(0), event(1)],
      );
      assert.deepEqual(results, [
        { code: 'OK', details: '' },
        { code: 'OK', details: '' },
      ]);
      const got = h.evidence.observations.slice(before) as IoamObservation[];
      assert.equal(got.length, 2);
      for (const o of got) {
        assert.equal(o.traceType, FULL_TYPE);
        assert.equal(o.traceId, undefined);
        assert.deepEqual(plain(o.nodes), plain(decoderNodes()));
      }
    });

    test('without the token the Python client gets UNAUTHENTICATED', async () => {
      const results = await client(['--proto', 'clt', '--mode', 'stream', '--ca', join(TESTDATA, 'server.crt')], [event(0)]);
      assert.equal(results[0]!.code, 'UNAUTHENTICATED');
    });
  },
);
