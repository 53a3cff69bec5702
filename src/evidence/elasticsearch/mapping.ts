/**
 * From `_msearch` hits to flow matches: each flow document (as Elastic Agent's NetFlow
 * integration writes it: ECS fields plus `netflow.*`) becomes one FlowRecord (two for an
 * RFC 5103 biflow), and the records are matched to their query with exactly the rules of
 * store.ts (direction, protocol, time with each flow's resolution, order, limit), so that an
 * Elasticsearch source answers like the in-memory store. Pure functions, no I/O.
 *
 * Field by field (the first present wins):
 *  - quartet: the configured lookup fields (default source.ip, source.port, destination.ip,
 *    destination.port); a document without an address or with a malformed one is skipped and
 *    counted as unusable;
 *  - exporting device: the device_identifier field (default observer.ip, an array after the
 *    integration's pipeline: its first element), else the address part of netflow.exporter.address;
 *  - protocol: the protocol field (network.iana_number, "6"), netflow.protocol_identifier,
 *    network.transport by name; 0 when none;
 *  - times: see query.ts (event.start/end at 1 s; netflow.flow_start_milliseconds/... at their
 *    unit; else @timestamp at 1 s); the resolution travels with the record;
 *  - bytes, packets: source.bytes / source.packets (the initiator's side of a biflow), then
 *    network.bytes / network.packets, then netflow.octet_delta_count / packet_delta_count;
 *  - the rest: netflow.tcp_control_bits, ingress_interface, egress_interface,
 *    ip_next_hop_ipv4/ipv6_address (else bgp_next_hop_*), sampling_interval (else
 *    sampling_packet_interval, sampler_random_interval), flow_direction,
 *    exporter.source_id (observation domain), exporter.timestamp (export time, else
 *    @timestamp), exporter.version (5 → netflow_v5, 9 → netflow_v9, 10 → ipfix; older
 *    versions, which the input maps onto v9 fields, count as netflow_v5; none: ipfix).
 *  - biflows (netflow.biflow_direction set, destination.bytes or .packets > 0): a second
 *    record destination → source with destination.bytes / .packets, the same times.
 *  - the configured extra fields (span_attribute_fields) are kept in FlowRecord.fields.
 */
import type { FieldValue, FlowRecord, FlowType } from '../../model/flow.js';
import { parseAddress, formatAddress, type AddressFamily } from '../address.js';
import { nanoToMicros, resolutionMicros, type ConnectionDirection, type FlowMatch, type FlowQuery } from '../store.js';
import type { LookupFields } from './config.js';
import { FALLBACK_RESOLUTION_NS, FALLBACK_TIME_FIELD, TIME_SOURCES } from './query.js';

export interface MappingSettings {
  deviceIdentifier: string;
  fields: LookupFields;
  protocolField: string;
  extraFields: readonly string[];
}

/** What mapping a response met, for counters and logs. */
export interface MappingStats {
  /** Hits in the responses. */
  hits: number;
  /** Hits without a usable quartet or time (skipped). */
  unusable: number;
  /** Records dropped by the exact rules after the widened query (outside the window, other protocol, other quartet). */
  filtered: number;
}

export function newMappingStats(): MappingStats {
  return { hits: 0, unusable: 0, filtered: 0 };
}

type Doc = Record<string, unknown>;

/** Dotted paths split once (paths come from config and constants: few). */
const PARTS = new Map<string, string[]>();

/**
 * A field by its dotted path, whether the document nests objects (`{source: {ip}}`, as Elastic
 * Agent writes) or holds dotted keys (`{"source.ip": ...}`), or mixes both.
 */
export function getField(doc: unknown, path: string): unknown {
  if (doc === null || typeof doc !== 'object') return undefined;
  let parts = PARTS.get(path);
  if (!parts) {
    parts = path.split('.');
    if (PARTS.size < 4096) PARTS.set(path, parts);
  }
  // The usual case: nested objects all the way down.
  let cur: unknown = doc;
  for (let i = 0; i < parts.length && cur !== undefined; i++)
    cur = cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Doc)[parts[i]!] : undefined;
  if (cur !== undefined) return typeof cur === 'function' ? undefined : cur;
  return dottedField(doc as Doc, path);
}

/** getField where some level holds a dotted key. */
function dottedField(obj: Doc, path: string): unknown {
  if (Object.hasOwn(obj, path)) return obj[path];
  let dot = path.indexOf('.');
  while (dot > 0) {
    const head = path.slice(0, dot);
    if (Object.hasOwn(obj, head)) {
      const next = obj[head];
      if (next !== null && typeof next === 'object' && !Array.isArray(next)) {
        const v = dottedField(next as Doc, path.slice(dot + 1));
        if (v !== undefined) return v;
      }
    }
    dot = path.indexOf('.', dot + 1);
  }
  return undefined;
}

/** Arrays of one value (observer.ip after the integration pipeline) count as that value. */
function scalar(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function num(v: unknown): number | undefined {
  const s = scalar(v);
  if (typeof s === 'number' && Number.isFinite(s)) return s;
  if (typeof s === 'string' && /^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return undefined;
}

function text(v: unknown): string | undefined {
  const s = scalar(v);
  if (typeof s === 'string' && s !== '') return s;
  if (typeof s === 'number') return String(s);
  return undefined;
}

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A date value as Unix nanoseconds: ISO 8601 text (fractions down to nanoseconds kept; no zone
 * means UTC, as Elasticsearch reads it), or epoch milliseconds (number or digits).
 */
export function parseTimeNs(v: unknown): bigint | undefined {
  const s = scalar(v);
  if (typeof s === 'number' && Number.isFinite(s)) {
    const whole = Math.trunc(s);
    return BigInt(whole) * 1_000_000n + BigInt(Math.round((s - whole) * 1e6));
  }
  if (typeof s !== 'string') return undefined;
  if (/^\d{1,16}$/.test(s)) return BigInt(s) * 1_000_000n;
  const m = ISO.exec(s.trim());
  if (!m) return undefined;
  let zone = m[4] ?? 'Z';
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone.toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  const fraction = BigInt((m[3] ?? '').padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + fraction;
}

const TRANSPORTS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, 'ipv6-icmp': 58, icmpv6: 58, sctp: 132, gre: 47, esp: 50 };

function protocolOf(doc: Doc, s: MappingSettings): number {
  const p = (s.protocolField !== '' ? num(getField(doc, s.protocolField)) : undefined) ?? num(getField(doc, 'netflow.protocol_identifier'));
  if (p !== undefined && Number.isInteger(p) && p >= 0 && p <= 255) return p;
  const name = text(getField(doc, 'network.transport'));
  return name !== undefined ? (TRANSPORTS[name.toLowerCase()] ?? 0) : 0;
}

function flowType(version: number | undefined): FlowType {
  if (version === 9) return 'netflow_v9';
  if (version === 10 || version === undefined) return 'ipfix';
  return 'netflow_v5';
}

/** Address text of an "ip:port" / "[v6]:port" exporter address. */
function hostOf(address: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (m) return m[1]!;
  const colons = address.split(':').length - 1;
  return colons === 1 ? address.slice(0, address.indexOf(':')) : address;
}

const words = new Uint32Array(4);

/** Canonical text and family of an address, or undefined. */
function address(v: unknown): { text: string; family: AddressFamily } | undefined {
  const t = text(v);
  if (t === undefined) return undefined;
  const family = parseAddress(t, words, 0);
  if (family === 0) return undefined;
  return { text: formatAddress(words, 0, family), family };
}

function port(v: unknown): number | undefined {
  const p = num(v);
  return p !== undefined && Number.isInteger(p) && p >= 0 && p <= 65535 ? p : undefined;
}

function fieldValue(v: unknown): FieldValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v) && v.length === 1) return fieldValue(v[0]);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

/** The flow's times and their resolution, from the first time source the document has. */
function timesOf(doc: Doc): { start: bigint; end: bigint; resolutionNs: number } | undefined {
  for (const t of TIME_SOURCES) {
    const start = parseTimeNs(getField(doc, t.start));
    if (start === undefined) continue;
    const end = parseTimeNs(getField(doc, t.end)) ?? start;
    return { start, end: end < start ? start : end, resolutionNs: t.resolutionNs };
  }
  const at = parseTimeNs(getField(doc, FALLBACK_TIME_FIELD));
  return at === undefined ? undefined : { start: at, end: at, resolutionNs: FALLBACK_RESOLUTION_NS };
}

/** The flow record(s) of one document; undefined when it has no usable quartet or time. */
export function documentFlows(doc: unknown, s: MappingSettings): FlowRecord[] | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  const d = doc as Doc;
  const src = address(getField(d, s.fields.source_ip));
  const dst = address(getField(d, s.fields.destination_ip));
  const times = timesOf(d);
  if (!src || !dst || !times) return undefined;
  const sport = port(getField(d, s.fields.source_port)) ?? 0;
  const dport = port(getField(d, s.fields.destination_port)) ?? 0;
  const exporterAddress = text(getField(d, 'netflow.exporter.address'));
  const device = text(getField(d, s.deviceIdentifier)) ?? (exporterAddress !== undefined ? hostOf(exporterAddress) : 'unknown');
  const exportTime = parseTimeNs(getField(d, 'netflow.exporter.timestamp')) ?? parseTimeNs(getField(d, FALLBACK_TIME_FIELD)) ?? times.end;
  const nextHop =
    text(getField(d, 'netflow.ip_next_hop_ipv4_address')) ??
    text(getField(d, 'netflow.ip_next_hop_ipv6_address')) ??
    text(getField(d, 'netflow.bgp_next_hop_ipv4_address')) ??
    text(getField(d, 'netflow.bgp_next_hop_ipv6_address')) ??
    '';
  const flowDirection = num(getField(d, 'netflow.flow_direction'));
  const record: FlowRecord = {
    type: flowType(num(getField(d, 'netflow.exporter.version'))),
    samplerAddress: device,
    observationDomainId: num(getField(d, 'netflow.exporter.source_id')) ?? 0,
    sequenceNumber: 0,
    exportTimeUnixNano: exportTime,
    sourceAddress: src.text,
    sourcePort: sport,
    destinationAddress: dst.text,
    destinationPort: dport,
    protocol: protocolOf(d, s),
    ipVersion: src.family,
    bytes: num(getField(d, 'source.bytes')) ?? num(getField(d, 'network.bytes')) ?? num(getField(d, 'netflow.octet_delta_count')) ?? 0,
    packets:
      num(getField(d, 'source.packets')) ?? num(getField(d, 'network.packets')) ?? num(getField(d, 'netflow.packet_delta_count')) ?? 0,
    startUnixNano: times.start,
    endUnixNano: times.end,
    timeResolutionNano: times.resolutionNs,
    inputInterface: num(getField(d, 'netflow.ingress_interface')) ?? 0,
    outputInterface: num(getField(d, 'netflow.egress_interface')) ?? 0,
    nextHop,
    samplingRate:
      num(getField(d, 'netflow.sampling_interval')) ??
      num(getField(d, 'netflow.sampling_packet_interval')) ??
      num(getField(d, 'netflow.sampler_random_interval')) ??
      0,
    tcpFlags: num(getField(d, 'netflow.tcp_control_bits')) ?? 0,
  };
  if (flowDirection !== undefined) record.flowDirection = flowDirection;
  if (s.extraFields.length > 0) {
    const fields: Record<string, FieldValue> = {};
    for (const f of s.extraFields) {
      const v = fieldValue(getField(d, f));
      if (v !== undefined) fields[f] = v;
    }
    record.fields = fields;
  }
  const out = [record];
  const biflow = num(getField(d, 'netflow.biflow_direction'));
  const reverseBytes = num(getField(d, 'destination.bytes')) ?? 0;
  const reversePackets = num(getField(d, 'destination.packets')) ?? 0;
  if (biflow !== undefined && (reverseBytes > 0 || reversePackets > 0)) {
    record.biflowDirection = 'forward';
    out.push({
      ...record,
      sourceAddress: record.destinationAddress,
      sourcePort: record.destinationPort,
      destinationAddress: record.sourceAddress,
      destinationPort: record.sourcePort,
      bytes: reverseBytes,
      packets: reversePackets,
      biflowDirection: 'reverse',
    });
  }
  return out;
}

/** One query's words, parsed once. */
interface QueryKey {
  src: Uint32Array;
  dst: Uint32Array;
  fromUs: number;
  toUs: number;
}

function keyOf(q: FlowQuery): QueryKey {
  const src = new Uint32Array(4);
  const dst = new Uint32Array(4);
  parseAddress(q.sourceAddress, src, 0);
  parseAddress(q.destinationAddress, dst, 0);
  return { src, dst, fromUs: nanoToMicros(q.fromUnixNano), toUs: nanoToMicros(q.toUnixNano) };
}

const flowWords = new Uint32Array(4);

function sameAddress(text: string, key: Uint32Array): boolean {
  if (parseAddress(text, flowWords, 0) === 0) return false;
  return flowWords[0] === key[0] && flowWords[1] === key[1] && flowWords[2] === key[2] && flowWords[3] === key[3];
}

/** The direction in which `f` belongs to query `q`, or undefined (the store.ts rules). */
function directionOf(f: FlowRecord, q: FlowQuery, k: QueryKey): ConnectionDirection | undefined {
  if (q.protocol !== undefined && f.protocol !== q.protocol) return undefined;
  const s = nanoToMicros(f.startUnixNano);
  const e = nanoToMicros(f.endUnixNano);
  const r = resolutionMicros(f.timeResolutionNano);
  if (s - r > k.toUs || e + r < k.fromUs) return undefined;
  if (
    f.sourcePort === q.sourcePort &&
    f.destinationPort === q.destinationPort &&
    sameAddress(f.sourceAddress, k.src) &&
    sameAddress(f.destinationAddress, k.dst)
  )
    return 'request';
  if (
    q.bothDirections &&
    f.sourcePort === q.destinationPort &&
    f.destinationPort === q.sourcePort &&
    sameAddress(f.sourceAddress, k.dst) &&
    sameAddress(f.destinationAddress, k.src)
  )
    return 'response';
  return undefined;
}

const truncateToMicros = (ns: bigint) => BigInt(nanoToMicros(ns)) * 1000n;

/**
 * The matches of `q` among a search's hits (`hits.hits[]._source`), in store order (start,
 * end, request before response), at most q.limit.
 */
export function matchHits(
  q: FlowQuery,
  hits: readonly unknown[],
  s: MappingSettings,
  stats: MappingStats = newMappingStats(),
): FlowMatch[] {
  const k = keyOf(q);
  const out: FlowMatch[] = [];
  for (const hit of hits) {
    stats.hits++;
    const records = documentFlows((hit as { _source?: unknown } | null)?._source, s);
    if (!records) {
      stats.unusable++;
      continue;
    }
    for (const f of records) {
      const direction = directionOf(f, q, k);
      if (!direction) {
        stats.filtered++;
        continue;
      }
      out.push({
        direction,
        flow: { ...f, startUnixNano: truncateToMicros(f.startUnixNano), endUnixNano: truncateToMicros(f.endUnixNano) },
      });
    }
  }
  out.sort(
    (a, b) =>
      (a.flow.startUnixNano < b.flow.startUnixNano ? -1 : a.flow.startUnixNano > b.flow.startUnixNano ? 1 : 0) ||
      (a.flow.endUnixNano < b.flow.endUnixNano ? -1 : a.flow.endUnixNano > b.flow.endUnixNano ? 1 : 0) ||
      (a.direction === b.direction ? 0 : a.direction === 'request' ? -1 : 1),
  );
  if (q.limit !== undefined && out.length > q.limit) out.length = q.limit;
  return out;
}

/** One entry of an _msearch response's `responses`. */
export interface MsearchItem {
  status?: number;
  error?: unknown;
  hits?: { hits?: unknown[] };
}

/** A failed search of an _msearch, for logs. */
export interface SearchFailure {
  index: number;
  status: number | undefined;
  reason: string;
}

function errorReason(error: unknown): string {
  if (typeof error === 'string') return error;
  const e = error as { type?: unknown; reason?: unknown; root_cause?: { type?: unknown; reason?: unknown }[] } | null;
  const root = e?.root_cause?.[0];
  const type = String(root?.type ?? e?.type ?? 'error');
  const reason = String(root?.reason ?? e?.reason ?? '');
  return reason === '' ? type : `${type}: ${reason}`;
}

/**
 * The matches of each query from an _msearch response's `responses` (one per query, in order):
 * undefined for a search that failed (an error entry, or none at all), listed in `failures`.
 */
export function mapMsearchResponses(
  queries: readonly FlowQuery[],
  responses: readonly MsearchItem[] | undefined,
  s: MappingSettings,
  stats: MappingStats = newMappingStats(),
  failures: SearchFailure[] = [],
): (FlowMatch[] | undefined)[] {
  const out: (FlowMatch[] | undefined)[] = [];
  for (let i = 0; i < queries.length; i++) {
    const item = responses?.[i];
    if (!item || item.error !== undefined || !Array.isArray(item.hits?.hits)) {
      failures.push({
        index: i,
        status: item?.status,
        reason: item ? errorReason(item.error ?? 'no hits in the response') : 'no response for this search',
      });
      out.push(undefined);
      continue;
    }
    out.push(matchHits(queries[i]!, item.hits.hits, s, stats));
  }
  return out;
}
