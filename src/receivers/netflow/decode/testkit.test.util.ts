/**
 * Test support for the NetFlow/IPFIX decoder tests (not a test file itself). Three independent readings
 * of the same captures are compared with ours: logstash-codec-netflow's golden events (its field names
 * mapped to FlowRecord fields or `fields` entries through logstash's own netflow.yaml/ipfix.yaml),
 * TShark's decode, and goflow2's asserted values. Packet builders write synthetic datagrams field by
 * field, so a decoder mistake cannot cancel itself out.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { FieldValue, FlowRecord } from '../../../model/flow.js';
import { SHARED_DIR } from '../../../testutil/index.js';
import { decodeNetflow } from './decode.js';
import { IeType } from './ie-types.js';
import { ipfixElement, netflowV9Field } from './registry.js';
import { TemplateState } from './templates.js';
import type { DecodeContext, DecodeIssue, OptionsRecord } from './types.js';
import { mulberry32 } from '../../../testutil/prng.js';

export const LOGSTASH_DIR = join(SHARED_DIR, 'data', 'netflow', 'logstash-codec-netflow');
export const GOFLOW_DIR = join(SHARED_DIR, 'data', 'netflow', 'goflow2');
export const EXPORTER = '192.0.2.1';
export const CTX: DecodeContext = { exporter: EXPORTER, keepAllFields: true };

export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export const datFile = (name: string): Uint8Array => readBytes(join(LOGSTASH_DIR, 'dat', name));
export const goflowVector = (name: string): string => join(GOFLOW_DIR, 'vectors', name);
export const GOFLOW_V5 = goflowVector('decoders_netflowlegacy_netflow_test_00_TestDecodeNetFlowV5_data.bin');
export const GOFLOW_V9_TEMPLATE = goflowVector('decoders_netflow_netflow_test_00_TestDecodeNetFlowV9_template.bin');
export const GOFLOW_V9_DATA = goflowVector('decoders_netflow_netflow_test_01_TestDecodeNetFlowV9_data.bin');

// ---------------------------------------------------------------------------------------------
// Decoding a sequence of datagrams, events in wire order

export type DecodedEvent = { kind: 'flow'; record: FlowRecord; file: string } | { kind: 'options'; record: OptionsRecord; file: string };

export interface DecodedSequence {
  state: TemplateState;
  /** Flow records (biflow reverse records excluded) and options records, interleaved as on the wire. */
  events: DecodedEvent[];
  records: FlowRecord[];
  issues: (DecodeIssue & { file: string })[];
  /** Per datagram: flows + options records, as TShark counts "Flow N". */
  perDatagram: number[];
}

/** Decodes files in order with one state: logstash .dat names, or absolute paths. */
export function decodeSequence(files: string[], state = new TemplateState(), ctx: DecodeContext = CTX): DecodedSequence {
  const events: DecodedEvent[] = [];
  const records: FlowRecord[] = [];
  const issues: DecodedSequence['issues'] = [];
  const perDatagram: number[] = [];
  for (const file of files) {
    const out = decodeNetflow(isAbsolute(file) ? readBytes(file) : datFile(file), ctx, state);
    records.push(...out.records);
    issues.push(...out.issues.map((i) => ({ ...i, file })));
    const options = out.options ?? [];
    let o = 0;
    let n = 0;
    for (let i = 0; i <= out.records.length; i++) {
      while (o < options.length && (options[o] as OptionsRecord).flowIndex === i) {
        events.push({ kind: 'options', record: options[o++] as OptionsRecord, file });
        n++;
      }
      const r = out.records[i];
      if (r && r.biflowDirection !== 'reverse') {
        events.push({ kind: 'flow', record: r, file });
        n++;
      }
    }
    perDatagram.push(n);
  }
  return { state, events, records, issues, perDatagram };
}

// ---------------------------------------------------------------------------------------------
// logstash expectations

export interface LogstashIndexEntry {
  test: string;
  file: string;
  dat_files: string[];
  expected_event_count: number | null;
}

export interface LogstashExpected {
  name: string;
  files: string[];
  template_files?: string[];
  config?: Record<string, unknown> | null;
  expected_event_count?: number | null;
  json_event_to_decoded_index?: Record<string, number> | null;
  assertions?: { event_index: number; path: string; value: unknown }[];
  expected_events_logstash8?: { '@timestamp': string; netflow: Record<string, unknown> }[];
}

export function logstashIndex(): LogstashIndexEntry[] {
  return JSON.parse(readFileSync(join(LOGSTASH_DIR, 'expected', 'INDEX.json'), 'utf8')) as LogstashIndexEntry[];
}

export function logstashExpected(file: string): LogstashExpected {
  return JSON.parse(readFileSync(join(LOGSTASH_DIR, 'expected', file), 'utf8')) as LogstashExpected;
}

interface LogstashField {
  /** (pen, id) for IPFIX, (0, type) for v9. */
  pen: number;
  id: number;
  /** logstash's BinData type, which decides its value formatting. */
  lsType: string;
}

let fieldMaps: { v9: Map<string, LogstashField[]>; ipfix: Map<string, LogstashField[]> } | undefined;

/** logstash field name → the elements it names, from logstash's own netflow.yaml and ipfix.yaml. */
function logstashFieldMaps(): { v9: Map<string, LogstashField[]>; ipfix: Map<string, LogstashField[]> } {
  if (fieldMaps) return fieldMaps;
  const add = (m: Map<string, LogstashField[]>, name: string, f: LogstashField): void => {
    const list = m.get(name) ?? [];
    list.push(f);
    m.set(name, list);
  };
  const strip = (s: unknown): string => String(s).replace(/^:/, '');
  const v9 = new Map<string, LogstashField[]>();
  const nf = parseYaml(readFileSync(join(LOGSTASH_DIR, 'fielddefs', 'netflow.yaml'), 'utf8'), { uniqueKeys: false }) as Record<
    string,
    unknown[]
  >;
  for (const [type, def] of Object.entries(nf)) {
    if (Array.isArray(def) && def.length === 2) add(v9, strip(def[1]), { pen: 0, id: Number(type), lsType: strip(def[0]) });
  }
  const ipfix = new Map<string, LogstashField[]>();
  const ix = parseYaml(readFileSync(join(LOGSTASH_DIR, 'fielddefs', 'ipfix.yaml'), 'utf8'), { uniqueKeys: false }) as Record<
    string,
    Record<string, unknown[]>
  >;
  for (const [pen, elements] of Object.entries(ix)) {
    for (const [id, def] of Object.entries(elements)) {
      if (Array.isArray(def) && def.length === 2) add(ipfix, strip(def[1]), { pen: Number(pen), id: Number(id), lsType: strip(def[0]) });
    }
  }
  fieldMaps = { v9, ipfix };
  return fieldMaps;
}

/** v9 option scopes as logstash names them → our registry names. */
const V9_SCOPE_NAMES: Record<string, string> = {
  scope_system: 'scopeSystem',
  scope_interface: 'scopeInterface',
  scope_linecard: 'scopeLineCard',
  scope_netflow_cache: 'scopeCache',
  scope_template: 'scopeTemplate',
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function bytesToNumber(b: Uint8Array): number {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

/** Unix ns of an ISO-8601 time with up to 9 fraction digits. */
export function isoToNanos(iso: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (!m) throw new Error(`not an ISO time: ${iso}`);
  const seconds = BigInt(Date.parse(`${m[1]}Z`) / 1000);
  return seconds * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * Our value in logstash's formatting for one field type, so the two can be compared with deepEqual.
 * The conversions are logstash's presentation choices (application ids as "engine..selector", ASA ACL
 * ids as hex groups, octet arrays as hex), not different decodings.
 */
function asLogstash(ours: FieldValue, lsType: string, expected: unknown, ieType: number): unknown {
  if (ours instanceof Uint8Array) {
    switch (lsType) {
      case 'application_id': {
        // logstash: 1-byte engine id, then the selector id; engine 20 (PEN-based) splits PEN and id
        const engine = ours[0] ?? 0;
        if (engine === 20 && ours.length >= 9) return `20..${bytesToNumber(ours.subarray(1, 5))}..${bytesToNumber(ours.subarray(5))}`;
        return `${engine}..${bytesToNumber(ours.subarray(1))}`;
      }
      case 'acl_id_asa':
        return [0, 4, 8].map((o) => hex(ours.subarray(o, o + 4))).join('-');
      default:
        return typeof expected === 'number' ? bytesToNumber(ours) : hex(ours);
    }
  }
  if (typeof ours === 'bigint') return Number(ours);
  if (lsType === 'forwarding_status' && typeof ours === 'number') return { reason: ours & 0x3f, status: ours >> 6 };
  if (typeof ours === 'string' && typeof expected === 'number' && /^\d{4}-\d\d-\d\dT/.test(ours)) {
    // logstash types some v9 times as plain integers (flowStartSeconds, flow_start_msec)
    return ieType === IeType.dateTimeSeconds ? Date.parse(ours) / 1000 : Date.parse(ours);
  }
  if (typeof ours === 'string' && typeof expected === 'string' && /^\d{4}-\d\d-\d\dT/.test(ours) && /^\d{4}-\d\d-\d\dT/.test(expected)) {
    // logstash 8 prints what the type holds to the ns; before 8 to the ms: compare at the expected precision
    const digits = /\.(\d+)Z$/.exec(expected)?.[1]?.length ?? 0;
    const unit = 10n ** BigInt(9 - digits);
    const o = (isoToNanos(ours) / unit) * unit;
    return o === isoToNanos(expected) ? expected : ours;
  }
  return ours;
}

/** Time of a FlowRecord field as logstash prints it (to the precision logstash printed). */
function nanosAsIso(ns: bigint, expected: string): string {
  const digits = /\.(\d+)Z$/.exec(expected)?.[1]?.length ?? 0;
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = String(ns % 1_000_000_000n)
    .padStart(9, '0')
    .slice(0, digits);
  return digits ? `${base}.${frac}Z` : `${base}Z`;
}

/** logstash names of header/meta data, and what they correspond to. */
export type FieldCheck = { kind: 'ok' } | { kind: 'mismatch'; ours: unknown } | { kind: 'unmapped' };

/**
 * Compares one logstash field of one event with our decoding of it: FlowRecord fields where a
 * counterpart exists (quartet, counters, interfaces, times, header), and always the `fields` entry.
 */
export function checkLogstashField(event: DecodedEvent, version: number, name: string, expected: unknown): FieldCheck {
  const rec = event.record;
  const same = (ours: unknown): FieldCheck => (isDeepStrictEqual(ours, expected) ? { kind: 'ok' } : { kind: 'mismatch', ours });
  // header data
  if (name === 'version') return same(rec.type === 'netflow_v5' ? 5 : rec.type === 'netflow_v9' ? 9 : 10);
  if (name === 'flow_seq_num') return same(rec.sequenceNumber);
  if (name === 'flowset_id' && event.kind === 'options') return same(event.record.templateId);
  if (name === '@timestamp') return same(nanosAsIso(rec.exportTimeUnixNano, String(expected)));
  if (event.kind === 'flow') {
    const r = event.record;
    if (name === 'first_switched' || name === 'last_switched') {
      return same(nanosAsIso(name === 'first_switched' ? r.startUnixNano : r.endUnixNano, String(expected)));
    }
    if (version === 5) {
      const v5: Record<string, unknown> = {
        engine_type: r.fields?.engineType,
        engine_id: r.fields?.engineId,
        sampling_interval: r.samplingRate,
        sampling_algorithm: r.fields?.samplingAlgorithm,
      };
      if (name in v5) return same(v5[name]);
    }
    const flowField = FLOW_RECORD_COUNTERPART[name];
    if (flowField) {
      const check = flowField(r, expected);
      if (check.kind !== 'ok') return check;
    }
  }
  // the element itself, in fields (flows) or scope/fields (options)
  const values: Record<string, FieldValue> =
    event.kind === 'options' ? { ...event.record.scope, ...event.record.fields } : (event.record.fields ?? {});
  const scopeName = version === 9 ? V9_SCOPE_NAMES[name] : undefined;
  if (scopeName) return scopeName in values ? same(values[scopeName]) : { kind: 'unmapped' };
  const maps = logstashFieldMaps();
  const candidates = (version === 10 ? maps.ipfix : maps.v9).get(name) ?? [];
  for (const c of candidates) {
    const def = version === 10 ? ipfixElement(c.pen, c.id) : netflowV9Field(c.id);
    if (def.name in values) return same(asLogstash(values[def.name] as FieldValue, c.lsType, expected, def.type));
  }
  return { kind: 'unmapped' };
}

/** logstash names whose value must also appear in a FlowRecord field (counters only when they are the ones chosen). */
const FLOW_RECORD_COUNTERPART: Record<string, (r: FlowRecord, expected: unknown) => FieldCheck> = (() => {
  const eq =
    (get: (r: FlowRecord) => unknown) =>
    (r: FlowRecord, e: unknown): FieldCheck =>
      get(r) === e ? { kind: 'ok' } : { kind: 'mismatch', ours: get(r) };
  const whenNonZero =
    (get: (r: FlowRecord) => unknown) =>
    (r: FlowRecord, e: unknown): FieldCheck =>
      e === 0 || get(r) === e ? { kind: 'ok' } : { kind: 'mismatch', ours: get(r) };
  const src = eq((r) => r.sourceAddress);
  const dst = eq((r) => r.destinationAddress);
  return {
    ipv4_src_addr: src,
    sourceIPv4Address: src,
    ipv6_src_addr: src,
    sourceIPv6Address: src,
    ipv4_dst_addr: dst,
    destinationIPv4Address: dst,
    ipv6_dst_addr: dst,
    destinationIPv6Address: dst,
    l4_src_port: eq((r) => r.sourcePort),
    sourceTransportPort: eq((r) => r.sourcePort),
    l4_dst_port: eq((r) => r.destinationPort),
    destinationTransportPort: eq((r) => r.destinationPort),
    protocol: eq((r) => r.protocol),
    protocolIdentifier: eq((r) => r.protocol),
    tcp_flags: eq((r) => r.tcpFlags),
    tcpControlBits: eq((r) => r.tcpFlags),
    in_bytes: whenNonZero((r) => r.bytes),
    octetDeltaCount: whenNonZero((r) => r.bytes),
    in_pkts: whenNonZero((r) => r.packets),
    packetDeltaCount: whenNonZero((r) => r.packets),
    input_snmp: eq((r) => r.inputInterface),
    ingressInterface: eq((r) => r.inputInterface),
    output_snmp: eq((r) => r.outputInterface),
    egressInterface: eq((r) => r.outputInterface),
    ipv4_next_hop: (r, e) =>
      e === r.nextHop || (e === '0.0.0.0' && r.nextHop !== '') ? { kind: 'ok' } : { kind: 'mismatch', ours: r.nextHop },
    ipNextHopIPv4Address: eq((r) => r.nextHop),
    ipNextHopIPv6Address: eq((r) => r.nextHop),
    direction: eq((r) => r.flowDirection),
    flowDirection: eq((r) => r.flowDirection),
    flowStartMilliseconds: (r, e) => timeCheck(r.startUnixNano, e),
    flowEndMilliseconds: (r, e) => timeCheck(r.endUnixNano, e),
    flowStartSeconds: (r, e) => timeCheck(r.startUnixNano, e),
    flowEndSeconds: (r, e) => timeCheck(r.endUnixNano, e),
    flowStartMicroseconds: (r, e) => timeCheck(r.startUnixNano, e),
    flowEndMicroseconds: (r, e) => timeCheck(r.endUnixNano, e),
  };
})();

function timeCheck(ns: bigint, expected: unknown): FieldCheck {
  if (typeof expected === 'number') {
    // v9 flowStartSeconds (logstash types it uint32): seconds
    return ns === BigInt(expected) * 1_000_000_000n ? { kind: 'ok' } : { kind: 'mismatch', ours: ns };
  }
  const ours = nanosAsIso(ns, String(expected));
  return ours === expected ? { kind: 'ok' } : { kind: 'mismatch', ours };
}

// ---------------------------------------------------------------------------------------------
// TShark

export type TsharkFlow = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Packet builders

/** Big-endian byte writer. */
export class Bytes {
  private readonly parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 255);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  u64(v: bigint): this {
    return this.u32(Number(v >> 32n)).u32(Number(v & 0xffffffffn));
  }
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.u8(b[i] as number);
    return this;
  }
  ipv4(text: string): this {
    return this.bytes(text.split('.').map(Number));
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface FieldSpec {
  id: number;
  length: number;
  pen?: number;
}

/** An IPFIX template record (or options template record with `scope`). */
export function ipfixTemplateRecord(templateId: number, fields: FieldSpec[], scope?: number): Uint8Array {
  const b = new Bytes().u16(templateId).u16(fields.length);
  if (scope !== undefined) b.u16(scope);
  for (const f of fields) {
    if (f.pen !== undefined)
      b.u16(f.id | 0x8000)
        .u16(f.length)
        .u32(f.pen);
    else b.u16(f.id).u16(f.length);
  }
  return b.build();
}

/** A set: id, length, body. */
export function set(id: number, ...bodies: Uint8Array[]): Uint8Array {
  const len = 4 + bodies.reduce((n, b) => n + b.length, 0);
  const b = new Bytes().u16(id).u16(len);
  for (const body of bodies) b.bytes(body);
  return b.build();
}

export function ipfixMessage(h: { exportTime: number; sequence: number; domain: number }, ...sets: Uint8Array[]): Uint8Array {
  const len = 16 + sets.reduce((n, s) => n + s.length, 0);
  const b = new Bytes().u16(10).u16(len).u32(h.exportTime).u32(h.sequence).u32(h.domain);
  for (const s of sets) b.bytes(s);
  return b.build();
}

/** A v9 template record. */
export function v9TemplateRecord(templateId: number, fields: FieldSpec[]): Uint8Array {
  const b = new Bytes().u16(templateId).u16(fields.length);
  for (const f of fields) b.u16(f.id).u16(f.length);
  return b.build();
}

export function v9OptionsTemplateRecord(templateId: number, scope: FieldSpec[], fields: FieldSpec[]): Uint8Array {
  const b = new Bytes()
    .u16(templateId)
    .u16(scope.length * 4)
    .u16(fields.length * 4);
  for (const f of [...scope, ...fields]) b.u16(f.id).u16(f.length);
  return b.build();
}

export function v9Packet(
  h: { sysUptime: number; unixSecs: number; sequence: number; sourceId: number; count?: number },
  ...sets: Uint8Array[]
): Uint8Array {
  const b = new Bytes()
    .u16(9)
    .u16(h.count ?? sets.length)
    .u32(h.sysUptime)
    .u32(h.unixSecs)
    .u32(h.sequence)
    .u32(h.sourceId);
  for (const s of sets) b.bytes(s);
  return b.build();
}

/** JSON-safe form of decoder output (bigint as text, bytes as hex) for golden files and messages. */
export function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? `hex:${hex(v)}` : v)),
  );
}

/** Seeded PRNG (mulberry32), so fuzz failures reproduce from the seed. */
export const prng = mulberry32;

// ---------------------------------------------------------------------------------------------
// Field-by-field comparison with TShark

export interface TsharkPacket {
  header: Record<string, unknown>;
  flows: TsharkFlow[];
}

/** TShark's packets: the cflow header fields and the flows ("Flow N" / "pdu i/n") in order. */
export function tsharkPackets(file: string): TsharkPacket[] {
  const packets = JSON.parse(readFileSync(file, 'utf8')) as { _source: { layers: { cflow?: Record<string, unknown> } } }[];
  return packets.map((p) => {
    const cflow = p._source.layers.cflow ?? {};
    const flows: TsharkFlow[] = [];
    const walk = (o: unknown): void => {
      if (o === null || typeof o !== 'object') return;
      for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
        // "Flow 1", "Flow 1 (unknown)" (TShark's biflow direction label), v5 "pdu 1/30"
        if (/^(Flow \d+( \([a-z ]+\))?|pdu \d+\/\d+)$/.test(k)) flows.push(v as TsharkFlow);
        else walk(v);
      }
    };
    walk(cflow);
    const header: Record<string, unknown> = { ...(cflow['cflow.timestamp_tree'] as object) };
    header.sysuptime = cflow['cflow.sysuptime'];
    return { header, flows };
  });
}

/** "Jul 21, 2016 13:29:59.000000000 UTC" → Unix ns. */
function tsharkTime(text: string): bigint {
  const m = /^(.*\d\d:\d\d:\d\d)\.(\d{9}) UTC$/.exec(text);
  if (!m) throw new Error(`unexpected TShark time ${text}`);
  return BigInt(Date.parse(`${m[1]} UTC`)) * 1_000_000n + (BigInt(m[2] as string) % 1_000_000n);
}

/** Seconds with 9 decimals (TShark's uptimes) → integer ms. */
const tsharkMs = (text: unknown): number => Math.round(Number(text) * 1000);

/**
 * Differences between TShark's reading of one flow and ours, for the elements both decode (quartet,
 * counters, interfaces, flags, times, next hops, a few options fields). Empty when they agree.
 */
export function tsharkDifferences(event: DecodedEvent, flow: TsharkFlow, header: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const values: Record<string, FieldValue> =
    event.kind === 'options' ? { ...event.record.scope, ...event.record.fields } : (event.record.fields ?? {});
  const expect = (what: string, ours: unknown, theirs: unknown): void => {
    if (String(ours) !== String(theirs)) problems.push(`${what}: tshark ${String(theirs)}, ours ${String(ours)}`);
  };
  const field = (key: string, ours: (t: string) => unknown, normalise: (t: string) => unknown = (t) => t): void => {
    const theirs = flow[key];
    if (typeof theirs === 'string') expect(key, ours(theirs), normalise(theirs));
  };
  if (event.kind === 'flow') {
    const r = event.record;
    field('cflow.srcaddr', () => r.sourceAddress);
    field('cflow.dstaddr', () => r.destinationAddress);
    field('cflow.srcaddrv6', () => r.sourceAddress);
    field('cflow.dstaddrv6', () => r.destinationAddress);
    field('cflow.srcport', () => r.sourcePort);
    field('cflow.dstport', () => r.destinationPort);
    field('cflow.protocol', () => r.protocol);
    field('cflow.inputint', () => r.inputInterface);
    field('cflow.outputint', () => r.outputInterface);
    field(
      'cflow.tcpflags',
      () => r.tcpFlags,
      (t) => Number.parseInt(t, 16),
    );
    field('cflow.direction', () => r.flowDirection);
    // the raw counters (FlowRecord takes the first non-zero of delta/total/post counters)
    field('cflow.octets', () => (r.type === 'netflow_v5' ? r.bytes : values.octetDeltaCount));
    field('cflow.packets', () => (r.type === 'netflow_v5' ? r.packets : values.packetDeltaCount));
    field('cflow.post_octets', () => values.postOctetDeltaCount);
    field('cflow.post_packets', () => values.postPacketDeltaCount);
    field('cflow.ip_version', () => values.ipVersion);
    field('cflow.nexthopv6', () => values.ipNextHopIPv6Address);
    field('cflow.bgpnexthop', () => values.bgpNextHopIPv4Address);
    field('cflow.srcmac', () => values.sourceMacAddress);
    field('cflow.sampler_id', () => values.samplerId);
    if (typeof flow['cflow.nexthop'] === 'string')
      expect('cflow.nexthop', r.type === 'netflow_v5' ? r.nextHop : values.ipNextHopIPv4Address, flow['cflow.nexthop']);
    const times = (flow['cflow.timedelta_tree'] ?? {}) as Record<string, string>;
    // TShark prints sysUpTime-based IPFIX times it cannot anchor as 1970: nothing to compare then
    const absolute = (key: string, ours: bigint): void => {
      const text = times[key];
      if (!text || text.startsWith('Jan  1, 1970')) return;
      const theirs = tsharkTime(text);
      // dateTimeMicroseconds: TShark converts all 32 fraction bits, we drop the 11 that RFC 7011 §6.1.9 says to ignore
      if (values.flowStartMicroseconds !== undefined && theirs >= ours && theirs - ours < 477n) return;
      // TShark 4.0 prints some dateTimeMilliseconds (Ixia, ASR1001-X) without their milliseconds; logstash
      // has them and agrees with us. Compare to the second then.
      if (theirs % 1_000_000_000n === 0n && ours / 1_000_000_000n === theirs / 1_000_000_000n) return;
      expect(key, ours, theirs);
    };
    absolute('cflow.abstimestart', r.startUnixNano);
    absolute('cflow.abstimeend', r.endUnixNano);
    if (times['cflow.timestart'] && r.type !== 'ipfix') {
      // uptime-relative: start = header time - (header sysUptime - first), with the header as TShark read it
      const exportNs = BigInt(String(header['cflow.unix_secs'])) * 1_000_000_000n + BigInt(String(header['cflow.unix_nsecs'] ?? '0'));
      const uptime = tsharkMs(header.sysuptime);
      const at = (t: string): bigint => exportNs - BigInt((uptime - tsharkMs(t)) | 0) * 1_000_000n;
      expect('timestart', r.startUnixNano, at(times['cflow.timestart']));
      if (times['cflow.timeend']) expect('timeend', r.endUnixNano, at(times['cflow.timeend']));
    }
  } else {
    field('cflow.inputint', () => values.ingressInterface);
    field('cflow.if_descr', () => values.interfaceDescription);
    // TShark shows the v9 System scope as bytes (aa:bb:cc:dd); we read it as the integer it is
    field(
      'cflow.scope_system',
      () => values.scopeSystem,
      (t) => Number.parseInt(t.replaceAll(':', ''), 16),
    );
    field('cflow.sampling_interval', () => values.samplingInterval);
    field('cflow.sampling_algorithm', () => values.samplingAlgorithm);
    field('cflow.sampling_packet_interval', () => values.samplingPacketInterval);
  }
  return problems;
}
