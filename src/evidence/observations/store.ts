/**
 * Packet observations (IOAM traces, HTTP observations) kept in memory for the correlation
 * window, indexed two ways:
 *  - by the span they name: the ids an IOAM trace carried (Cross-Layer Telemetry) and the
 *    traceparent of an HTTP request (its parent id is the client span that sent it); exact;
 *  - by connection (both directions of the quartet and the protocol), for quartet + time.
 * Bounded by count (oldest inserted go first) and by age (retention, counted from the
 * observation's time); both evictions are counted.
 */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';
import type { SelfMetrics } from '../../core/telemetry/metrics.js';
import { parseTraceparent, type Observation } from '../../model/observation.js';
import { canonicalAddress } from '../address.js';

export const DEFAULT_OBSERVATION_RETENTION_MS = 15 * 60_000;
export const DEFAULT_MAX_OBSERVATIONS = 500_000;

export const observationStoreConfigSchema = z
  .object({
    /** How long an observation stays evidence, counted from its capture time. */
    retention: duration()
      .default(`${DEFAULT_OBSERVATION_RETENTION_MS}ms`)
      .refine((ms) => ms > 0, { message: 'retention must be more than 0 (e.g. 15m)' }),
    /** Observations held at most; beyond it the oldest inserted go first (counted as evicted, reason capacity). */
    max_observations: z.number().int().positive().max(50_000_000).default(DEFAULT_MAX_OBSERVATIONS),
  })
  .strict();

export type ObservationStoreConfig = z.infer<typeof observationStoreConfigSchema>;

/** A connection as the correlation knows it: the client → server quartet. */
export interface ObservedConnection {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** IANA protocol; any when undefined. */
  protocol: number | undefined;
}

interface Entry {
  readonly seq: number;
  readonly obs: Observation;
  readonly keys: string[];
}

const spanKey = (traceId: string, spanId: string) => `s|${traceId}|${spanId}`;

function endpointKey(address: string, port: number): string {
  return `${canonicalAddress(address) ?? address}]${port}`;
}

/** Both directions of a connection give the same key; the protocol is kept apart so "any" can look up each. */
function connectionKey(a: string, ap: number, b: string, bp: number): string {
  const x = endpointKey(a, ap);
  const y = endpointKey(b, bp);
  return x < y ? `c|${x}|${y}` : `c|${y}|${x}`;
}

export class MemoryObservationStore {
  private readonly entries: Entry[] = [];
  /** Index of the oldest live entry in `entries` (entries before it are gone). */
  private head = 0;
  private seq = 0;
  private readonly index = new Map<string, Entry[]>();
  private readonly metrics: {
    inserted: (n: number) => void;
    evicted: (reason: 'age' | 'capacity', n: number) => void;
    stored: (n: number) => void;
  };

  constructor(
    readonly config: { retentionMs: number; maxObservations: number },
    metrics: SelfMetrics,
    private readonly now: () => number = Date.now,
  ) {
    const inserted = metrics.counter('netspan_evidence_observations_inserted_total', 'Packet observations stored as evidence.', ['kind']);
    const evicted = metrics.counter(
      'netspan_evidence_observations_evicted_total',
      'Packet observations dropped from the evidence store: past retention (age, including too old on arrival) or over max_observations (capacity).',
      ['reason'],
    );
    const stored = metrics.gauge('netspan_evidence_observations_stored', 'Packet observations held in the evidence store.', []);
    this.metrics = {
      inserted: (n) => inserted.labels({ kind: 'all' }).inc(n),
      evicted: (reason, n) => {
        if (n > 0) evicted.labels({ reason }).inc(n);
      },
      stored: (n) => stored.set(n),
    };
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  insert(observations: readonly Observation[]): void {
    const cutoff = this.cutoffNs();
    let tooOld = 0;
    for (const obs of observations) {
      if (obs.timeUnixNano < cutoff) {
        tooOld++;
        continue;
      }
      const keys: string[] = [];
      const ids = idsOf(obs);
      if (ids) keys.push(spanKey(ids.traceId, ids.spanId));
      if (obs.kind === 'ioam' && obs.traceparent && obs.spanId) {
        // A CLT trace that the observer also tied to an HTTP request: findable by both spans.
        const tp = parseTraceparent(obs.traceparent);
        if (tp && tp.spanId !== obs.spanId) keys.push(spanKey(tp.traceId, tp.spanId));
      }
      if (obs.sourceAddress !== '' && obs.destinationAddress !== '')
        keys.push(connectionKey(obs.sourceAddress, obs.sourcePort, obs.destinationAddress, obs.destinationPort));
      const entry: Entry = { seq: this.seq++, obs, keys };
      this.entries.push(entry);
      for (const k of keys) {
        const list = this.index.get(k);
        if (list) list.push(entry);
        else this.index.set(k, [entry]);
      }
    }
    this.metrics.evicted('age', tooOld);
    this.metrics.inserted(observations.length - tooOld);
    let over = this.size - this.config.maxObservations;
    if (over > 0) this.metrics.evicted('capacity', over);
    while (over-- > 0) this.dropOldest();
    this.expire();
    this.metrics.stored(this.size);
  }

  /** Observations that name this span (CLT ids in IOAM, a traceparent's parent id), in time order. */
  bySpan(traceId: string, spanId: string): Observation[] {
    this.expire();
    return this.collect(spanKey(traceId, spanId), () => true);
  }

  /** Observations of either direction of `conn` whose time is within [fromNs, toNs], in time order. */
  byConnection(conn: ObservedConnection, fromNs: bigint, toNs: bigint): Observation[] {
    this.expire();
    const key = connectionKey(conn.sourceAddress, conn.sourcePort, conn.destinationAddress, conn.destinationPort);
    return this.collect(
      key,
      (o) =>
        o.timeUnixNano >= fromNs &&
        o.timeUnixNano <= toNs &&
        (conn.protocol === undefined || o.protocol === 0 || o.protocol === conn.protocol),
    );
  }

  /**
   * Read-only listing for a UI: observations within retention, newest inserted first, at most
   * `limit` (looking at no more than `maxScan`), optionally of one kind, with a time in
   * [fromNs, toNs], and passing `keep`.
   */
  list(filter: {
    limit: number;
    maxScan?: number;
    kind?: Observation['kind'];
    fromNs?: bigint;
    toNs?: bigint;
    keep?: (o: Observation) => boolean;
  }): Observation[] {
    this.expire();
    const out: Observation[] = [];
    let budget = filter.maxScan ?? Infinity;
    for (let i = this.entries.length - 1; i >= this.head && out.length < filter.limit && budget-- > 0; i--) {
      const o = this.entries[i]!.obs;
      if (filter.kind !== undefined && o.kind !== filter.kind) continue;
      if (filter.fromNs !== undefined && o.timeUnixNano < filter.fromNs) continue;
      if (filter.toNs !== undefined && o.timeUnixNano > filter.toNs) continue;
      if (filter.keep && !filter.keep(o)) continue;
      out.push(o);
    }
    return out;
  }

  private collect(key: string, keep: (o: Observation) => boolean): Observation[] {
    const list = this.index.get(key);
    if (!list) return [];
    const out: Observation[] = [];
    for (const e of list) if (keep(e.obs)) out.push(e.obs);
    return out.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  }

  private cutoffNs(): bigint {
    return BigInt(Math.floor(this.now() - this.config.retentionMs)) * 1_000_000n;
  }

  /** Drops entries past retention from the front (observations arrive roughly in time order; a late old one waits its turn). */
  private expire(): void {
    const cutoff = this.cutoffNs();
    let n = 0;
    while (this.head < this.entries.length && this.entries[this.head]!.obs.timeUnixNano < cutoff) {
      this.dropOldest();
      n++;
    }
    this.metrics.evicted('age', n);
  }

  private dropOldest(): void {
    const e = this.entries[this.head]!;
    (this.entries as (Entry | undefined)[])[this.head] = undefined;
    this.head++;
    for (const k of e.keys) {
      const list = this.index.get(k);
      if (!list) continue;
      // Entries of a key are in insertion order, so the oldest is first.
      if (list[0] === e) list.shift();
      else list.splice(list.indexOf(e), 1);
      if (list.length === 0) this.index.delete(k);
    }
    // Compact the backing array once the dead prefix is large, so memory follows the live count.
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** The span an observation names exactly: CLT ids of an IOAM trace, else its traceparent's. */
function idsOf(obs: Observation): { traceId: string; spanId: string } | undefined {
  if (obs.kind === 'ioam' && obs.traceId && obs.spanId) return { traceId: obs.traceId, spanId: obs.spanId };
  return obs.traceparent ? parseTraceparent(obs.traceparent) : undefined;
}
