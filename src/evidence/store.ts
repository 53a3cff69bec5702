/**
 * The flow evidence store: what the correlation stage asks of any backend (memory, ClickHouse,
 * Elasticsearch/OpenSearch). Every implementation runs the same conformance suite
 * (conformance.ts), which pins down the semantics below.
 *
 * Matching, for a query (quartet, window [from, to], protocol?):
 *  - Connection: a flow is a 'request' match when its quartet equals the query's, a 'response'
 *    match when it equals the reversed quartet (only with bothDirections). A flow whose two
 *    ends are equal matches as 'request' once. Addresses compare by value (see address.ts:
 *    10.0.0.1 ≡ ::ffff:10.0.0.1); ports and protocol by number; protocol 0 in a flow is just 0.
 *  - Time, in whole microseconds (times are kept to the microsecond; the nanoseconds below it
 *    are dropped everywhere, flows and queries alike): with s, e the flow's start and end, r its
 *    time resolution rounded up to µs, the flow matches when s − r ≤ to and e + r ≥ from,
 *    bounds included. The widening by r keeps a flow with second timestamps from missing a
 *    span a few hundred milliseconds past its truncated end.
 *  - Retention: a flow whose end is older than now − retention is never returned, whether or
 *    not its storage has been reclaimed yet.
 * Results are ordered by start, then end, then 'request' before 'response'; `limit` keeps
 * the first ones of that order. Ties beyond that come in an order of the backend's choosing.
 *
 * A query with malformed input (address that is not IP text, port outside 0..65535, from after
 * to, ...) rejects with EvidenceQueryError; validateFlowQuery lets a caller sort those out
 * beforehand, since one bad query rejects a whole queryMany batch.
 */
import { NetspanError } from '../core/errors.js';
import type { FlowRecord } from '../model/flow.js';
import { parseAddress } from './address.js';

/** Flows older than this (by their end time) are neither returned nor kept. */
export const DEFAULT_FLOW_RETENTION_MS = 15 * 60_000;
/** Flows held at most; the oldest go first beyond it. */
export const DEFAULT_MAX_FLOWS = 2_000_000;

/** 'request': the flow runs the way the query is written; 'response': the reverse way. */
export type ConnectionDirection = 'request' | 'response';

export interface FlowQuery {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** IANA protocol number; any protocol when absent. */
  protocol?: number;
  /** The window, Unix nanoseconds, bounds included. */
  fromUnixNano: bigint;
  toUnixNano: bigint;
  /** Also return flows of the reversed quartet, tagged 'response'. */
  bothDirections: boolean;
  /** At most this many matches (a positive integer), the first in result order. */
  limit?: number;
}

export interface FlowMatch {
  direction: ConnectionDirection;
  /**
   * The flow as inserted, except: addresses in canonical text (address.ts), times truncated to
   * the microsecond, `fields` not kept, flowDirection/biflowDirection absent when they were.
   */
  flow: FlowRecord;
}

/** Retention and capacity of a store. */
export interface FlowStoreLimits {
  /** A flow is kept and returned until its end is this old. */
  retentionMs: number;
  /** Flows held at most; beyond it the oldest inserted are evicted first (reason "capacity"). */
  maxFlows: number;
}

export interface FlowStoreStats {
  /** Flows held, including ones past retention whose storage is not reclaimed yet. */
  flows: number;
  /** Memory (or disk) the flows take, as the backend can tell; 0 if it cannot. */
  bytes: number;
  /** bytes / flows; the per-row figure when empty. */
  bytesPerFlow: number;
  /** Records handed to insert, refused ones not included. */
  inserted: number;
  /** Flows dropped: past retention (including ones already too old on arrival), or over capacity. */
  evicted: { age: number; capacity: number };
  /** Records refused on insert (no usable quartet, a field out of range). */
  refused: number;
  /** Earliest start and latest end of the flows held; absent when empty. */
  oldestUnixNano?: bigint;
  newestUnixNano?: bigint;
  limits: FlowStoreLimits;
}

export interface FlowStore {
  readonly limits: FlowStoreLimits;
  /**
   * Adds flow records. Records without a usable quartet or with a field out of range are
   * refused and counted, not thrown; records already past retention are counted as evicted.
   * A remote store may return a promise that settles when the records are durable.
   */
  insert(records: readonly FlowRecord[]): void | Promise<void>;
  /** Flows of one connection in a time window (see the file comment for the rules). */
  query(query: FlowQuery): Promise<FlowMatch[]>;
  /** query() for each element, in one round trip where the backend allows: one call per trace. */
  queryMany(queries: readonly FlowQuery[]): Promise<FlowMatch[][]>;
  stats(): Promise<FlowStoreStats>;
  /** Releases the storage or connections; the store is not used afterwards. */
  close(): Promise<void>;
}

/** A query with malformed input; `context.problems` lists what is wrong. */
export class EvidenceQueryError extends NetspanError {
  override readonly name = 'EvidenceQueryError';
  constructor(problems: string[]) {
    super('EVIDENCE_BAD_QUERY', `bad flow query: ${problems.join('; ')}`, { context: { problems } });
  }
}

const scratch = new Uint32Array(4);

function isPort(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
}

/** What is wrong with a query, empty if nothing. */
export function validateFlowQuery(query: FlowQuery): string[] {
  const problems: string[] = [];
  if (typeof query.sourceAddress !== 'string' || parseAddress(query.sourceAddress, scratch, 0) === 0)
    problems.push(`sourceAddress ${JSON.stringify(query.sourceAddress)} is not an IP address`);
  if (typeof query.destinationAddress !== 'string' || parseAddress(query.destinationAddress, scratch, 0) === 0)
    problems.push(`destinationAddress ${JSON.stringify(query.destinationAddress)} is not an IP address`);
  if (!isPort(query.sourcePort)) problems.push(`sourcePort ${String(query.sourcePort)} is not in 0..65535`);
  if (!isPort(query.destinationPort)) problems.push(`destinationPort ${String(query.destinationPort)} is not in 0..65535`);
  if (query.protocol !== undefined && !(Number.isInteger(query.protocol) && query.protocol >= 0 && query.protocol <= 255))
    problems.push(`protocol ${String(query.protocol)} is not in 0..255`);
  if (typeof query.fromUnixNano !== 'bigint' || typeof query.toUnixNano !== 'bigint')
    problems.push('fromUnixNano and toUnixNano must be bigint');
  else if (query.fromUnixNano > query.toUnixNano)
    problems.push(`fromUnixNano ${query.fromUnixNano} is after toUnixNano ${query.toUnixNano}`);
  if (typeof query.bothDirections !== 'boolean') problems.push('bothDirections must be a boolean');
  if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit > 0))
    problems.push(`limit ${String(query.limit)} is not a positive integer`);
  return problems;
}

/** Throws EvidenceQueryError unless the query is well formed. */
export function assertValidFlowQuery(query: FlowQuery): void {
  const problems = validateFlowQuery(query);
  if (problems.length > 0) throw new EvidenceQueryError(problems);
}

/** Nanoseconds to whole microseconds (floor), exact for any Unix time in nanoseconds. */
export function nanoToMicros(ns: bigint): number {
  // Floor division also for negative values, so truncation is the same everywhere.
  const q = ns / 1000n;
  return Number(ns < 0n && q * 1000n !== ns ? q - 1n : q);
}

/** A time resolution in ns as the whole microseconds a flow is widened by (rounded up). */
export function resolutionMicros(timeResolutionNano: number): number {
  return timeResolutionNano > 0 ? Math.ceil(timeResolutionNano / 1000) : 0;
}
