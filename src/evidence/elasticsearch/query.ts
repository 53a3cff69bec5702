/**
 * The Elasticsearch query of a flow lookup: one search per connection, all of a batch in one
 * `_msearch` request (never one request per span). Pure functions, no I/O.
 *
 * A search finds the documents of a connection's quartet in both directions (one bool/should
 * over the two term sets), of its protocol, in its time window, ANDed with `base_query`:
 *
 *   bool.filter: [
 *     bool.should: [ quartet as written, quartet reversed ],          (the reversed one with bothDirections)
 *     term: { network.iana_number: "6" },                              (when the query names a protocol)
 *     bool.should: [ time window on each time source, see below ],
 *     base_query                                                       (when configured)
 *   ]
 *
 * Time. Elastic Agent's NetFlow input writes `event.start` / `event.end` only for flows timed
 * by the exporter's uptime (NetFlow v5/v9, IPFIX flowStartSysUpTime); IPFIX exporters that send
 * absolute times leave them out, and those times stay in `netflow.flow_start_milliseconds` (or
 * micro-, nano-, seconds), mapped as dates. A document is timed by the first source it has,
 * in TIME_SOURCES order, else by `@timestamp` (the export time: later than the flow, by up to
 * the exporter's timeouts). The window is widened by 1 s, the coarsest resolution of any
 * source; the exact rule of store.ts (resolution per flow) is applied to the hits afterwards
 * (mapping.ts), so the query may return a little more than is used, never less.
 */
import { transportName } from '../../model/flow.js';
import type { FlowQuery } from '../store.js';
import { MAX_HITS_PER_SEARCH, type LookupFields } from './config.js';

/** A pair of document fields timing a flow, and the resolution its values carry. */
export interface TimeSource {
  start: string;
  end: string;
  /**
   * Resolution of the values in ns. `event.start`/`event.end` are computed from the export
   * header's clock, which counts whole seconds (NetFlow v9, IPFIX): 1 s.
   */
  resolutionNs: number;
}

export const TIME_SOURCES: readonly TimeSource[] = [
  { start: 'event.start', end: 'event.end', resolutionNs: 1e9 },
  { start: 'netflow.flow_start_milliseconds', end: 'netflow.flow_end_milliseconds', resolutionNs: 1e6 },
  { start: 'netflow.flow_start_microseconds', end: 'netflow.flow_end_microseconds', resolutionNs: 1e3 },
  { start: 'netflow.flow_start_nanoseconds', end: 'netflow.flow_end_nanoseconds', resolutionNs: 1 },
  { start: 'netflow.flow_start_seconds', end: 'netflow.flow_end_seconds', resolutionNs: 1e9 },
];
/** Times a document that has none of TIME_SOURCES: its export time, at the header clock's 1 s. */
export const FALLBACK_TIME_FIELD = '@timestamp';
export const FALLBACK_RESOLUTION_NS = 1e9;
/** How far the query window is widened: the coarsest resolution above, in ms. */
export const QUERY_WIDENING_MS = 1_000;

/** Fields a hit must carry for mapping.ts, besides the configured ones. */
export const MAPPED_FIELDS = [
  '@timestamp',
  ...TIME_SOURCES.flatMap((t) => [t.start, t.end]),
  'network.iana_number',
  'network.transport',
  'network.bytes',
  'network.packets',
  'source.bytes',
  'source.packets',
  'destination.bytes',
  'destination.packets',
  'netflow.exporter.address',
  'netflow.exporter.version',
  'netflow.exporter.source_id',
  'netflow.exporter.timestamp',
  'netflow.protocol_identifier',
  'netflow.octet_delta_count',
  'netflow.packet_delta_count',
  'netflow.tcp_control_bits',
  'netflow.ingress_interface',
  'netflow.egress_interface',
  'netflow.ip_next_hop_ipv4_address',
  'netflow.ip_next_hop_ipv6_address',
  'netflow.bgp_next_hop_ipv4_address',
  'netflow.bgp_next_hop_ipv6_address',
  'netflow.sampling_interval',
  'netflow.sampling_packet_interval',
  'netflow.sampler_random_interval',
  'netflow.flow_direction',
  'netflow.biflow_direction',
];

export interface QuerySettings {
  deviceIdentifier: string;
  fields: LookupFields;
  /** "" leaves the protocol out of the query. */
  protocolField: string;
  baseQuery: Record<string, unknown> | undefined;
  /** Further document fields to fetch (copied onto spans: span_attribute_fields). */
  extraFields: readonly string[];
  /** Hits per search when the query has no limit. */
  defaultLimit: number;
}

type Json = Record<string, unknown>;

const term = (field: string, value: string | number): Json => ({ term: { [field]: value } });
const exists = (field: string): Json => ({ exists: { field } });
const range = (field: string, bounds: { gte?: number; lte?: number }): Json => ({
  range: { [field]: { ...bounds, format: 'epoch_millis' } },
});

/** Floor of ns / 1e6 for any bigint (negative included). */
function floorMs(ns: bigint): number {
  const q = ns / 1_000_000n;
  return Number(ns < 0n && q * 1_000_000n !== ns ? q - 1n : q);
}
function ceilMs(ns: bigint): number {
  const f = floorMs(ns);
  return BigInt(f) * 1_000_000n === ns ? f : f + 1;
}

/** The fields every search fetches (`_source` includes). */
export function sourceFields(s: QuerySettings): string[] {
  const set = new Set<string>([
    s.deviceIdentifier,
    s.fields.source_ip,
    s.fields.source_port,
    s.fields.destination_ip,
    s.fields.destination_port,
  ]);
  for (const f of MAPPED_FIELDS) set.add(f);
  if (s.protocolField !== '') set.add(s.protocolField);
  for (const f of s.extraFields) set.add(f);
  return [...set];
}

/** The time clause: the window on the first time source a document has. */
export function timeClause(fromUnixNano: bigint, toUnixNano: bigint): Json {
  const from = floorMs(fromUnixNano) - QUERY_WIDENING_MS;
  const to = ceilMs(toUnixNano) + QUERY_WIDENING_MS;
  const should: Json[] = [];
  const earlier: Json[] = [];
  for (const t of TIME_SOURCES) {
    const branch: Json = { filter: [exists(t.start), range(t.end, { gte: from }), range(t.start, { lte: to })] };
    if (earlier.length > 0) branch.must_not = [...earlier];
    should.push({ bool: branch });
    earlier.push(exists(t.start));
  }
  should.push({ bool: { filter: [range(FALLBACK_TIME_FIELD, { gte: from, lte: to })], must_not: earlier } });
  return { bool: { should, minimum_should_match: 1 } };
}

/** The body of one search: the flows of one connection. */
export function searchBody(q: FlowQuery, s: QuerySettings, fields: readonly string[] = sourceFields(s)): Json {
  const f = s.fields;
  const forward = {
    bool: {
      filter: [
        term(f.source_ip, q.sourceAddress),
        term(f.source_port, q.sourcePort),
        term(f.destination_ip, q.destinationAddress),
        term(f.destination_port, q.destinationPort),
      ],
    },
  };
  const quartet: Json[] = [forward];
  if (q.bothDirections)
    quartet.push({
      bool: {
        filter: [
          term(f.source_ip, q.destinationAddress),
          term(f.source_port, q.destinationPort),
          term(f.destination_ip, q.sourceAddress),
          term(f.destination_port, q.sourcePort),
        ],
      },
    });
  const filter: Json[] = [{ bool: { should: quartet, minimum_should_match: 1 } }];
  // network.iana_number is a keyword in ECS ("6"); a term on a numeric field accepts the text too.
  if (q.protocol !== undefined && s.protocolField !== '') filter.push(term(s.protocolField, String(q.protocol)));
  filter.push(timeClause(q.fromUnixNano, q.toUnixNano));
  if (s.baseQuery) filter.push(s.baseQuery);
  return {
    size: Math.min(q.limit ?? s.defaultLimit, MAX_HITS_PER_SEARCH),
    track_total_hits: false,
    query: { bool: { filter } },
    // Start order as far as the index can sort; mapping.ts sorts the hits exactly again.
    sort: [{ 'event.start': { order: 'asc', unmapped_type: 'date' } }, { [FALLBACK_TIME_FIELD]: { order: 'asc', unmapped_type: 'date' } }],
    _source: { includes: fields },
  };
}

/** The `searches` of one _msearch: a header (empty: the index is in the path) and a body per query. */
export function msearchSearches(queries: readonly FlowQuery[], s: QuerySettings): Json[] {
  const fields = sourceFields(s);
  const out: Json[] = [];
  for (const q of queries) out.push({}, searchBody(q, s, fields));
  return out;
}

/** `network.transport` text of a protocol number, as Elastic Agent writes it. */
export function ecsTransport(protocol: number): string {
  return protocol === 58 ? 'ipv6-icmp' : transportName(protocol);
}
