/**
 * The conformance suite every FlowStore runs (memory now; ClickHouse and Elasticsearch later):
 * the rules written in store.ts, checked on examples, plus a property test against
 * ReferenceFlowStore, a naive array filter that is the executable form of those rules.
 *
 * Usage, from a *.test.ts file:
 *   runFlowStoreConformance('memory', (settings) => new MemoryFlowStore(settings));
 * makeStore gets a clock to obey (retention is judged against it), the retention and the
 * capacity; each test makes its own store and closes it.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { mulberry32 } from '../testutil/prng.js';
import { NetspanError } from '../core/errors.js';
import type { FlowRecord } from '../model/flow.js';
import { parseAddress } from './address.js';
import {
  EvidenceQueryError,
  assertValidFlowQuery,
  validateFlowQuery,
  type ConnectionDirection,
  type FlowMatch,
  type FlowQuery,
  type FlowStore,
  type FlowStoreLimits,
  type FlowStoreStats,
} from './store.js';

export interface ConformanceStoreSettings extends FlowStoreLimits {
  /** The clock the store must judge retention by, Unix milliseconds. */
  now: () => number;
}

export interface ConformanceOptions {
  /** The store evicts the oldest flows beyond maxFlows (a remote store may not). Default true. */
  capacityEviction?: boolean;
  /** stats() counts evictions and flows exactly, right after the fact. Default true. */
  exactStats?: boolean;
  /** Random queries in the property test. Default 3000. */
  propertyQueries?: number;
}

export type MakeFlowStore = (settings: ConformanceStoreSettings) => FlowStore | Promise<FlowStore>;

/** 2023-11-14T22:13:20Z, in the range real exporters send. */
export const T0_MS = 1_700_000_000_000;
const NS_PER_MS = 1_000_000n;
const T0_NS = BigInt(T0_MS) * NS_PER_MS;
const MINUTE_MS = 60_000;

/** A flow record with every field set, from `overrides` and plausible defaults. */
export function makeFlow(overrides: Partial<FlowRecord> = {}): FlowRecord {
  return {
    type: 'ipfix',
    samplerAddress: '192.0.2.254',
    observationDomainId: 7,
    sequenceNumber: 1234,
    exportTimeUnixNano: T0_NS + 5_000n * NS_PER_MS,
    sourceAddress: '10.0.0.1',
    sourcePort: 40000,
    destinationAddress: '10.0.0.2',
    destinationPort: 443,
    protocol: 6,
    ipVersion: 4,
    bytes: 1500,
    packets: 3,
    startUnixNano: T0_NS,
    endUnixNano: T0_NS + 1_000n * NS_PER_MS,
    timeResolutionNano: 1_000_000,
    inputInterface: 1,
    outputInterface: 2,
    nextHop: '10.0.0.254',
    samplingRate: 1,
    tcpFlags: 0x1b,
    ...overrides,
  };
}

/** A query for the default connection of makeFlow around T0, with `overrides`. */
export function makeQuery(overrides: Partial<FlowQuery> = {}): FlowQuery {
  return {
    sourceAddress: '10.0.0.1',
    sourcePort: 40000,
    destinationAddress: '10.0.0.2',
    destinationPort: 443,
    fromUnixNano: T0_NS,
    toUnixNano: T0_NS + 1_000n * NS_PER_MS,
    bothDirections: true,
    ...overrides,
  };
}

const floorDiv = (a: bigint, b: bigint) => {
  const q = a / b;
  return a < 0n && q * b !== a ? q - 1n : q;
};
const toMicros = (ns: bigint) => floorDiv(ns, 1000n);
const ceilMicros = (ns: number) => (ns > 0 ? -floorDiv(-BigInt(Math.ceil(ns)), 1000n) : 0n);

/** The value of an address as text that equal addresses share (IPv4 ≡ ::ffff:IPv4), or undefined. */
function addressKey(text: string): string | undefined {
  const words = new Uint32Array(4);
  return typeof text === 'string' && parseAddress(text, words, 0) !== 0 ? words.join('.') : undefined;
}

/** What a store gives back for an inserted record (see FlowMatch.flow). */
export function expectedStoredFlow(record: FlowRecord): FlowRecord {
  const words = new Uint32Array(4);
  const canonical = (text: string) => {
    const family = parseAddress(text, words, 0);
    assert.ok(family !== 0, `test data: ${text} is not an address`);
    // Through the store's own formatter would prove nothing: spell the rules out here.
    if (family === 4) return text;
    return canonicalIPv6(words);
  };
  const flow: FlowRecord = {
    ...record,
    sourceAddress: canonical(record.sourceAddress),
    destinationAddress: canonical(record.destinationAddress),
    startUnixNano: toMicros(record.startUnixNano) * 1000n,
    endUnixNano: toMicros(record.endUnixNano) * 1000n,
    exportTimeUnixNano: toMicros(record.exportTimeUnixNano) * 1000n,
  };
  delete flow.fields;
  if (flow.flowDirection === undefined) delete flow.flowDirection;
  if (flow.biflowDirection === undefined) delete flow.biflowDirection;
  return flow;
}

function canonicalIPv6(words: Uint32Array): string {
  const g: number[] = [];
  for (const w of words) g.push(w >>> 16, w & 0xffff);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const v4 = words[3]!;
    return `::ffff:${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
  }
  const text = g.map((x) => x.toString(16)).join(':');
  // The longest run of two or more zero groups becomes "::" (the first on a tie).
  let best = '';
  for (const m of `:${text}:`.matchAll(/:(0(?::0)+):/g)) if (m[1]!.length > best.length) best = m[1]!;
  if (!best) return text;
  return `:${text}:`
    .replace(`:${best}:`, '::')
    .replace(/^:(?!:)/, '')
    .replace(/(?<!:):$/, '');
}

/**
 * The rules of store.ts as a linear scan: the reference the property test holds stores to.
 * Capacity is not modelled (property tests stay under maxFlows).
 */
export class ReferenceFlowStore implements FlowStore {
  private readonly flows: { record: FlowRecord; stored: FlowRecord; src: string; dst: string; seq: number }[] = [];
  private inserted = 0;
  private refused = 0;
  private evictedAge = 0;

  constructor(
    readonly limits: FlowStoreLimits,
    private readonly now: () => number,
  ) {}

  private cutoffMicros(): bigint {
    return BigInt(Math.floor((this.now() - this.limits.retentionMs) * 1000));
  }

  insert(records: readonly FlowRecord[]): void {
    const cutoff = this.cutoffMicros();
    for (const record of records) {
      const src = addressKey(record.sourceAddress);
      const dst = addressKey(record.destinationAddress);
      const port = (p: number) => Number.isInteger(p) && p >= 0 && p <= 65535;
      if (src === undefined || dst === undefined || !port(record.sourcePort) || !port(record.destinationPort)) {
        this.refused++;
        continue;
      }
      this.inserted++;
      if (toMicros(record.endUnixNano) < cutoff) {
        this.evictedAge++;
        continue;
      }
      this.flows.push({ record, stored: expectedStoredFlow(record), src, dst, seq: this.flows.length });
    }
  }

  async query(query: FlowQuery): Promise<FlowMatch[]> {
    assertValidFlowQuery(query);
    const cutoff = this.cutoffMicros();
    const from = toMicros(query.fromUnixNano);
    const to = toMicros(query.toUnixNano);
    const qs = addressKey(query.sourceAddress)!;
    const qd = addressKey(query.destinationAddress)!;
    const hits: { direction: ConnectionDirection; stored: FlowRecord; seq: number }[] = [];
    for (const f of this.flows) {
      const r = f.record;
      let direction: ConnectionDirection;
      if (f.src === qs && f.dst === qd && r.sourcePort === query.sourcePort && r.destinationPort === query.destinationPort)
        direction = 'request';
      else if (
        query.bothDirections &&
        f.src === qd &&
        f.dst === qs &&
        r.sourcePort === query.destinationPort &&
        r.destinationPort === query.sourcePort
      )
        direction = 'response';
      else continue;
      if (query.protocol !== undefined && r.protocol !== query.protocol) continue;
      const start = toMicros(r.startUnixNano);
      const end = toMicros(r.endUnixNano);
      if (end < cutoff) continue;
      const widen = ceilMicros(r.timeResolutionNano);
      if (start - widen > to || end + widen < from) continue;
      hits.push({ direction, stored: f.stored, seq: f.seq });
    }
    hits.sort(
      (a, b) => compareMatches({ direction: a.direction, flow: a.stored }, { direction: b.direction, flow: b.stored }) || a.seq - b.seq,
    );
    return hits.slice(0, query.limit ?? hits.length).map((h) => ({ direction: h.direction, flow: structuredClone(h.stored) }));
  }

  async queryMany(queries: readonly FlowQuery[]): Promise<FlowMatch[][]> {
    queries.forEach(assertValidFlowQuery);
    return Promise.all(queries.map((q) => this.query(q)));
  }

  async stats(): Promise<FlowStoreStats> {
    return {
      flows: this.flows.length,
      bytes: 0,
      bytesPerFlow: 0,
      inserted: this.inserted,
      evicted: { age: this.evictedAge, capacity: 0 },
      refused: this.refused,
      limits: { ...this.limits },
    };
  }

  async close(): Promise<void> {}
}

/** The result order of store.ts: start, end, request before response. */
export function compareMatches(a: FlowMatch, b: FlowMatch): number {
  const byStart = a.flow.startUnixNano - b.flow.startUnixNano;
  if (byStart !== 0n) return byStart < 0n ? -1 : 1;
  const byEnd = a.flow.endUnixNano - b.flow.endUnixNano;
  if (byEnd !== 0n) return byEnd < 0n ? -1 : 1;
  return a.direction === b.direction ? 0 : a.direction === 'request' ? -1 : 1;
}

/** A match as one line of text, every field included, for order-insensitive comparison. */
export function describeMatch(m: FlowMatch): string {
  return show([m.direction, m.flow]);
}

/** JSON with bigints as "123n", for messages. */
function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

function assertOrdered(matches: FlowMatch[], what: string): void {
  for (let i = 1; i < matches.length; i++)
    assert.ok(compareMatches(matches[i - 1]!, matches[i]!) <= 0, `${what}: result ${i} out of order`);
}

/** Deterministic PRNG (mulberry32), so a failing property run can be replayed from its seed. */
export const seededRandom = mulberry32;

function isBadQueryError(err: unknown): boolean {
  return err instanceof EvidenceQueryError && err instanceof NetspanError && err.code === 'EVIDENCE_BAD_QUERY';
}

export function runFlowStoreConformance(name: string, makeStore: MakeFlowStore, options: ConformanceOptions = {}): void {
  const capacityEviction = options.capacityEviction ?? true;
  const exactStats = options.exactStats ?? true;
  const propertyQueries = options.propertyQueries ?? 3000;

  /** A store on a clock at T0 + 2 s that the test moves, closed when the test ends. */
  async function setup(t: TestContext, limits: Partial<FlowStoreLimits> = {}): Promise<{ store: FlowStore; clock: { ms: number } }> {
    const clock = { ms: T0_MS + 2_000 };
    const store = await makeStore({
      now: () => clock.ms,
      retentionMs: limits.retentionMs ?? 15 * MINUTE_MS,
      maxFlows: limits.maxFlows ?? 100_000,
    });
    t.after(() => store.close());
    return { store, clock };
  }

  describe(`FlowStore conformance: ${name}`, () => {
    test('empty store: no matches, empty stats', async (t) => {
      const { store } = await setup(t);
      assert.deepEqual(await store.query(makeQuery()), []);
      assert.deepEqual(await store.queryMany([]), []);
      assert.deepEqual(await store.queryMany([makeQuery(), makeQuery({ bothDirections: false })]), [[], []]);
      const stats = await store.stats();
      assert.equal(stats.flows, 0);
      assert.equal(stats.inserted, 0);
      assert.equal(stats.oldestUnixNano, undefined);
      assert.equal(stats.newestUnixNano, undefined);
      await store.insert([]);
      assert.equal((await store.stats()).flows, 0);
    });

    test('round trip: every field preserved, times to the microsecond', async (t) => {
      const { store } = await setup(t);
      const v4 = makeFlow({
        type: 'netflow_v9',
        samplerAddress: '::ffff:192.0.2.9', // as a dual-stack socket reports it: kept as text
        observationDomainId: 0xffffffff,
        sequenceNumber: 0xfffffffe,
        exportTimeUnixNano: T0_NS + 9_000_123_456n,
        protocol: 17,
        bytes: 2 ** 40 + 7, // past 32 bits: a long flow
        packets: 123_456_789,
        startUnixNano: T0_NS + 1_234_567n,
        endUnixNano: T0_NS + 987_654_321n,
        timeResolutionNano: 1_000,
        inputInterface: 0xfffffff0,
        outputInterface: 0,
        nextHop: '',
        samplingRate: 4096,
        tcpFlags: 0x0fff,
        flowDirection: 1,
        biflowDirection: 'reverse',
        fields: { octetDeltaCount: 1n },
      });
      const v6 = makeFlow({
        type: 'sflow_5',
        sourceAddress: '2001:db8::1',
        destinationAddress: '2001:db8:0:1:2:3:4:5',
        sourcePort: 0,
        destinationPort: 65535,
        ipVersion: 6,
        protocol: 58,
        nextHop: 'fe80::1',
        startUnixNano: T0_NS + 10_000n,
        endUnixNano: T0_NS + 10_000n,
        timeResolutionNano: 1_000_000_000,
        samplingRate: 0,
        tcpFlags: 0,
      });
      await store.insert([v4, v6]);
      const got4 = await store.query(makeQuery({ protocol: 17 }));
      assert.equal(got4.length, 1);
      assert.deepEqual(got4[0], { direction: 'request', flow: expectedStoredFlow(v4) });
      // Below the microsecond is dropped, nothing more.
      assert.equal(got4[0]!.flow.startUnixNano, T0_NS + 1_234_000n);
      assert.equal(got4[0]!.flow.endUnixNano, T0_NS + 987_654_000n);
      assert.equal(got4[0]!.flow.exportTimeUnixNano, T0_NS + 9_000_123_000n);
      assert.equal(got4[0]!.flow.fields, undefined);

      const got6 = await store.query(
        makeQuery({ sourceAddress: '2001:db8::1', sourcePort: 0, destinationAddress: '2001:db8:0:1:2:3:4:5', destinationPort: 65535 }),
      );
      assert.deepEqual(got6, [{ direction: 'request', flow: expectedStoredFlow(v6) }]);
      assert.ok(!('flowDirection' in got6[0]!.flow) && !('biflowDirection' in got6[0]!.flow));
      const stats = await store.stats();
      assert.equal(stats.flows, 2);
      assert.equal(stats.inserted, 2);
      if (exactStats) {
        assert.equal(stats.oldestUnixNano, T0_NS + 10_000n);
        assert.equal(stats.newestUnixNano, T0_NS + 987_654_000n);
      }
    });

    test('addresses match by value: IPv4 ≡ ::ffff:IPv4, any IPv6 spelling; text comes back canonical', async (t) => {
      const { store } = await setup(t);
      const mapped = makeFlow({ sourceAddress: '::ffff:10.0.0.1', destinationAddress: '10.0.0.2' });
      const spelled = makeFlow({ sourceAddress: '2001:DB8:0:0:0:0:0:a', destinationAddress: '2001:db8::0:b', sourcePort: 1, ipVersion: 6 });
      await store.insert([makeFlow(), mapped, spelled]);
      const got = await store.query(makeQuery({ sourceAddress: '::ffff:10.0.0.1', bothDirections: false }));
      assert.deepEqual(got.map((m) => m.flow.sourceAddress).sort(), ['10.0.0.1', '::ffff:10.0.0.1']);
      const got6 = await store.query(makeQuery({ sourceAddress: '2001:db8::a', sourcePort: 1, destinationAddress: '2001:0db8::b' }));
      assert.equal(got6.length, 1);
      assert.equal(got6[0]!.flow.sourceAddress, '2001:db8::a');
      assert.equal(got6[0]!.flow.destinationAddress, '2001:db8::b');
    });

    test('both directions found and tagged; bothDirections: false keeps the request side', async (t) => {
      const { store } = await setup(t);
      const request = makeFlow();
      const response = makeFlow({
        sourceAddress: '10.0.0.2',
        sourcePort: 443,
        destinationAddress: '10.0.0.1',
        destinationPort: 40000,
        bytes: 90000,
      });
      const unrelated = makeFlow({ sourcePort: 40001 });
      await store.insert([request, response, unrelated]);
      const both = await store.query(makeQuery());
      assert.deepEqual(
        both.map((m) => [m.direction, m.flow.bytes]),
        [
          ['request', 1500],
          ['response', 90000],
        ],
      );
      assert.deepEqual(
        (await store.query(makeQuery({ bothDirections: false }))).map((m) => m.direction),
        ['request'],
      );
      const reversed = await store.query(
        makeQuery({ sourceAddress: '10.0.0.2', sourcePort: 443, destinationAddress: '10.0.0.1', destinationPort: 40000 }),
      );
      assert.deepEqual(
        reversed.map((m) => [m.direction, m.flow.bytes]),
        [
          ['request', 90000],
          ['response', 1500],
        ],
      );
      // A connection to itself matches once, as request.
      const loop = makeFlow({ sourceAddress: '127.0.0.1', destinationAddress: '127.0.0.1', sourcePort: 5000, destinationPort: 5000 });
      await store.insert([loop]);
      const self = await store.query(
        makeQuery({ sourceAddress: '127.0.0.1', destinationAddress: '127.0.0.1', sourcePort: 5000, destinationPort: 5000 }),
      );
      assert.deepEqual(
        self.map((m) => m.direction),
        ['request'],
      );
    });

    test('windows: overlap, just outside, widening by the time resolution', async (t) => {
      const { store } = await setup(t);
      // Flow [T0+1000 ms, T0+2000 ms], millisecond resolution: it matches [T0+999 ms, T0+2001 ms].
      await store.insert([makeFlow({ startUnixNano: T0_NS + 1_000n * NS_PER_MS, endUnixNano: T0_NS + 2_000n * NS_PER_MS })]);
      const count = async (from: bigint, to: bigint) => (await store.query(makeQuery({ fromUnixNano: from, toUnixNano: to }))).length;
      const ms = (n: bigint) => T0_NS + n * NS_PER_MS;
      assert.equal(await count(ms(1_500n), ms(1_600n)), 1, 'window inside the flow');
      assert.equal(await count(ms(0n), ms(5_000n)), 1, 'flow inside the window');
      assert.equal(await count(ms(1_900n), ms(3_000n)), 1, 'overlapping the end');
      assert.equal(await count(ms(0n), ms(999n)), 1, 'ending exactly at start − resolution');
      assert.equal(await count(ms(0n), ms(999n) - 1_000n), 0, 'ending 1 µs before start − resolution');
      assert.equal(await count(ms(2_001n), ms(3_000n)), 1, 'starting exactly at end + resolution');
      assert.equal(await count(ms(2_001n) + 1_000n, ms(3_000n)), 0, 'starting 1 µs after end + resolution');
      assert.equal(await count(ms(1_000n), ms(1_000n)), 1, 'an instant at the start');

      // Second timestamps: a span 900 ms after the (truncated) end still finds the flow.
      await store.insert([
        makeFlow({ sourcePort: 1, startUnixNano: ms(10_000n), endUnixNano: ms(12_000n), timeResolutionNano: 1_000_000_000 }),
        makeFlow({ sourcePort: 2, startUnixNano: ms(10_000n), endUnixNano: ms(12_000n), timeResolutionNano: 0 }),
        // 1 ns resolution widens by a whole microsecond (rounded up, never down).
        makeFlow({ sourcePort: 3, startUnixNano: ms(10_000n), endUnixNano: ms(12_000n), timeResolutionNano: 1 }),
      ]);
      const at = async (port: number, from: bigint, to: bigint) =>
        (await store.query(makeQuery({ sourcePort: port, fromUnixNano: from, toUnixNano: to }))).length;
      assert.equal(await at(1, ms(12_900n), ms(13_000n)), 1);
      assert.equal(await at(1, ms(13_000n) + 1_000n, ms(14_000n)), 0);
      assert.equal(await at(1, ms(8_000n), ms(9_000n)), 1);
      assert.equal(await at(2, ms(12_000n), ms(13_000n)), 1);
      assert.equal(await at(2, ms(12_000n) + 1_000n, ms(13_000n)), 0);
      assert.equal(await at(3, ms(12_000n) + 1_000n, ms(13_000n)), 1);
      assert.equal(await at(3, ms(12_000n) + 2_000n, ms(13_000n)), 0);
    });

    test('port reuse: of two flows with one quartet, only the one in the window', async (t) => {
      const { store } = await setup(t);
      const first = makeFlow({ bytes: 1, startUnixNano: T0_NS, endUnixNano: T0_NS + 2_000n * NS_PER_MS });
      const second = makeFlow({ bytes: 2, startUnixNano: T0_NS + 60_000n * NS_PER_MS, endUnixNano: T0_NS + 61_000n * NS_PER_MS });
      await store.insert([first, second]);
      const inSecond = await store.query(makeQuery({ fromUnixNano: T0_NS + 60_500n * NS_PER_MS, toUnixNano: T0_NS + 60_600n * NS_PER_MS }));
      assert.deepEqual(
        inSecond.map((m) => m.flow.bytes),
        [2],
      );
      const inFirst = await store.query(makeQuery({ fromUnixNano: T0_NS + 1_000n * NS_PER_MS, toUnixNano: T0_NS + 1_500n * NS_PER_MS }));
      assert.deepEqual(
        inFirst.map((m) => m.flow.bytes),
        [1],
      );
      const spanning = await store.query(makeQuery({ fromUnixNano: T0_NS, toUnixNano: T0_NS + 70_000n * NS_PER_MS }));
      assert.deepEqual(
        spanning.map((m) => m.flow.bytes),
        [1, 2],
      );
    });

    test('protocol filter', async (t) => {
      const { store } = await setup(t);
      await store.insert([makeFlow({ protocol: 6, bytes: 6 }), makeFlow({ protocol: 17, bytes: 17 }), makeFlow({ protocol: 0, bytes: 0 })]);
      const bytes = async (protocol?: number) =>
        (await store.query(makeQuery({ protocol }))).map((m) => m.flow.bytes).sort((a, b) => a - b);
      assert.deepEqual(await bytes(6), [6]);
      assert.deepEqual(await bytes(17), [17]);
      assert.deepEqual(await bytes(0), [0]);
      assert.deepEqual(await bytes(132), []);
      assert.deepEqual(await bytes(undefined), [0, 6, 17]);
    });

    test('results ordered by start, end, request first; limit keeps the first', async (t) => {
      const { store } = await setup(t);
      const flows: FlowRecord[] = [];
      for (let i = 9; i >= 0; i--) {
        const start = T0_NS + BigInt(i) * 100n * NS_PER_MS;
        flows.push(makeFlow({ bytes: i, startUnixNano: start, endUnixNano: start + 50n * NS_PER_MS }));
        flows.push(
          makeFlow({
            bytes: 100 + i,
            sourceAddress: '10.0.0.2',
            sourcePort: 443,
            destinationAddress: '10.0.0.1',
            destinationPort: 40000,
            startUnixNano: start,
            endUnixNano: start + 50n * NS_PER_MS,
          }),
        );
      }
      await store.insert(flows);
      const all = await store.query(makeQuery());
      assert.equal(all.length, 20);
      assertOrdered(all, 'all');
      assert.deepEqual(
        all.slice(0, 4).map((m) => [m.direction, m.flow.bytes]),
        [
          ['request', 0],
          ['response', 100],
          ['request', 1],
          ['response', 101],
        ],
      );
      assert.deepEqual(
        (await store.query(makeQuery({ limit: 3 }))).map((m) => m.flow.bytes),
        [0, 100, 1],
      );
      assert.deepEqual(
        (await store.query(makeQuery({ limit: 3, bothDirections: false }))).map((m) => m.flow.bytes),
        [0, 1, 2],
      );
      assert.equal((await store.query(makeQuery({ limit: 1000 }))).length, 20);
    });

    test('many connections with near-identical keys: each query gets its own flows only', async (t) => {
      const { store } = await setup(t);
      // Keys that naive hashes confuse: swapped ports, swapped ends, v4 vs v6 with the same low
      // bits, addresses differing in one bit.
      const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '11.0.0.1', '::a00:1', '::a00:2', '2001:db8::a00:1', '10.0.0.129'];
      const ports = [80, 443, 8080, 40000, 40001];
      const flows: FlowRecord[] = [];
      let id = 0;
      for (const src of hosts)
        for (const dst of hosts)
          for (const sport of ports)
            for (const dport of ports)
              flows.push(makeFlow({ sourceAddress: src, destinationAddress: dst, sourcePort: sport, destinationPort: dport, bytes: id++ }));
      await store.insert(flows);
      for (const f of flows) {
        const query = makeQuery({
          sourceAddress: f.sourceAddress,
          destinationAddress: f.destinationAddress,
          sourcePort: f.sourcePort,
          destinationPort: f.destinationPort,
        });
        const got = await store.query(query);
        const reverse = flows.find(
          (r) =>
            r.sourceAddress === f.destinationAddress &&
            r.destinationAddress === f.sourceAddress &&
            r.sourcePort === f.destinationPort &&
            r.destinationPort === f.sourcePort,
        )!;
        const expected =
          reverse === f
            ? [['request', f.bytes]]
            : [
                ['request', f.bytes],
                ['response', reverse.bytes],
              ];
        assert.deepEqual(
          got.map((m) => [m.direction, m.flow.bytes]),
          expected,
          `${f.sourceAddress}:${f.sourcePort} → ${f.destinationAddress}:${f.destinationPort}`,
        );
      }
    });

    test('retention: flows past it are never returned, and are evicted', async (t) => {
      const { store, clock } = await setup(t, { retentionMs: 15 * MINUTE_MS });
      const endingAt = (endMs: number, port: number) =>
        makeFlow({ sourcePort: port, startUnixNano: BigInt(endMs - 1000) * NS_PER_MS, endUnixNano: BigInt(endMs) * NS_PER_MS });
      const wide = makeQuery({ fromUnixNano: 0n, toUnixNano: BigInt(T0_MS + 60 * MINUTE_MS) * NS_PER_MS });
      const ports = async () => {
        const all = await Promise.all([1, 2, 3].map((p) => store.query({ ...wide, sourcePort: p })));
        return all.flat().map((m) => m.flow.sourcePort);
      };
      clock.ms = T0_MS + 20 * MINUTE_MS;
      await store.insert([
        endingAt(T0_MS, 1), // already 20 minutes old: never stored
        endingAt(T0_MS + 10 * MINUTE_MS, 2),
        endingAt(T0_MS + 19 * MINUTE_MS, 3),
      ]);
      assert.deepEqual(await ports(), [2, 3]);
      clock.ms = T0_MS + 25 * MINUTE_MS; // port 2 exactly at the edge: still in
      assert.deepEqual(await ports(), [2, 3]);
      clock.ms = T0_MS + 25 * MINUTE_MS + 1;
      assert.deepEqual(await ports(), [3]);
      // Windows inside retention do not bring it back either.
      assert.deepEqual(await store.query({ ...wide, sourcePort: 2, fromUnixNano: BigInt(T0_MS + 9 * MINUTE_MS) * NS_PER_MS }), []);
      clock.ms = T0_MS + 40 * MINUTE_MS;
      assert.deepEqual(await ports(), []);
      const stats = await store.stats();
      assert.equal(stats.inserted, 3);
      if (exactStats) {
        assert.equal(stats.flows, 0);
        assert.equal(stats.evicted.age, 3);
        assert.equal(stats.evicted.capacity, 0);
      }
    });

    test('capacity: the oldest go first, counted', { skip: !capacityEviction }, async (t) => {
      const { store } = await setup(t, { maxFlows: 100 });
      const flows = Array.from({ length: 250 }, (_, i) => makeFlow({ sourcePort: 1000 + i, bytes: i }));
      for (let i = 0; i < flows.length; i += 10) await store.insert(flows.slice(i, i + 10));
      const stats = await store.stats();
      assert.ok(stats.flows <= 100, `${stats.flows} flows held, maxFlows 100`);
      assert.ok(stats.flows >= 50, `${stats.flows} flows held: eviction should not overshoot by half`);
      assert.equal(stats.inserted, 250);
      if (exactStats) {
        assert.equal(stats.evicted.capacity, 250 - stats.flows);
        assert.equal(stats.evicted.age, 0);
      }
      const found = async (i: number) => (await store.query(makeQuery({ sourcePort: 1000 + i }))).length;
      assert.equal(await found(0), 0, 'the first flow is evicted');
      assert.equal(await found(249), 1, 'the last flow is held');
      // What is held is the newest `flows` records, exactly.
      for (let i = 0; i < 250; i++) assert.equal(await found(i), i >= 250 - stats.flows ? 1 : 0, `flow ${i}`);
    });

    test('queryMany equals the queries one by one', async (t) => {
      const { store } = await setup(t);
      const random = seededRandom(7);
      const flows = Array.from({ length: 300 }, (_, i) =>
        makeFlow({
          sourcePort: 1000 + (i % 17),
          destinationPort: i % 3 === 0 ? 80 : 443,
          startUnixNano: T0_NS + BigInt(Math.floor(random() * 60_000)) * NS_PER_MS,
          bytes: i,
        }),
      );
      for (const f of flows) f.endUnixNano = f.startUnixNano + 500n * NS_PER_MS;
      await store.insert(flows);
      const queries = Array.from({ length: 60 }, (_, i) =>
        makeQuery({
          sourcePort: 1000 + (i % 19),
          destinationPort: i % 2 ? 80 : 443,
          fromUnixNano: T0_NS + BigInt(i * 1000) * NS_PER_MS,
          toUnixNano: T0_NS + BigInt(i * 1000 + 5000) * NS_PER_MS,
          bothDirections: i % 4 !== 0,
          limit: i % 5 === 0 ? 2 : undefined,
        }),
      );
      const batch = await store.queryMany(queries);
      assert.equal(batch.length, queries.length);
      for (let i = 0; i < queries.length; i++) assert.deepEqual(batch[i], await store.query(queries[i]!), `query ${i}`);
      assert.ok(batch.some((r) => r.length > 0));
    });

    test('bad query input rejects with EvidenceQueryError (EVIDENCE_BAD_QUERY)', async (t) => {
      const { store } = await setup(t);
      await store.insert([makeFlow()]);
      const bad: Partial<FlowQuery>[] = [
        { sourceAddress: 'db.example.com' },
        { destinationAddress: '10.0.0.256' },
        { sourceAddress: '' },
        { destinationAddress: 'fe80::1%eth0' },
        { sourcePort: 65536 },
        { destinationPort: -1 },
        { sourcePort: 1.5 },
        { protocol: 256 },
        { fromUnixNano: T0_NS + 1n, toUnixNano: T0_NS },
        { limit: 0 },
      ];
      for (const b of bad) {
        const query = makeQuery(b);
        assert.ok(validateFlowQuery(query).length > 0, `validateFlowQuery ${show(b)}`);
        await assert.rejects(store.query(query), isBadQueryError, `query ${show(b)}`);
      }
      await assert.rejects(store.queryMany([makeQuery(), makeQuery({ sourceAddress: 'nope' })]), isBadQueryError);
      assert.deepEqual(validateFlowQuery(makeQuery()), []);
      // The store is still fine afterwards.
      assert.equal((await store.query(makeQuery())).length, 1);
    });

    test('records without a usable quartet are refused and counted, the rest stored', async (t) => {
      const { store } = await setup(t);
      await store.insert([
        makeFlow({ sourceAddress: '', destinationAddress: '', ipVersion: 0 }),
        makeFlow({ destinationAddress: 'not-an-address' }),
        makeFlow({ sourcePort: 70000 }),
        makeFlow(),
      ]);
      const stats = await store.stats();
      assert.equal(stats.flows, 1);
      assert.equal(stats.refused, 3);
      assert.equal(stats.inserted, 1);
      assert.equal((await store.query(makeQuery())).length, 1);
    });

    test(`property: random flows and ${propertyQueries} random queries agree with the reference`, async (t) => {
      const seed = Number(process.env.NETSPAN_PROPERTY_SEED ?? 20240611);
      const random = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const { store, clock } = await setup(t, { retentionMs: 10 * MINUTE_MS, maxFlows: 100_000 });
      const reference = new ReferenceFlowStore({ retentionMs: 10 * MINUTE_MS, maxFlows: 100_000 }, () => clock.ms);
      // Small pools, so that quartets repeat (port reuse) and reverse directions exist.
      const hosts = ['10.1.0.1', '10.1.0.2', '::ffff:10.1.0.1', '192.168.7.40', '2001:db8::1', '2001:db8::2', 'fe80::abcd:1'];
      const ports = [53, 80, 443, 40000, 40001, 0];
      const resolutions = [0, 1, 1_000, 1_000_000, 1_000_000_000];
      const spanMs = 30 * MINUTE_MS;
      const randomTime = () => T0_NS + BigInt(Math.floor(random() * spanMs)) * NS_PER_MS + BigInt(Math.floor(random() * 1_000_000));
      clock.ms = T0_MS;
      let flowsMade = 0;
      let answered = 0;
      for (let batch = 0; batch < 30; batch++) {
        clock.ms += MINUTE_MS; // retention moves while flows arrive
        const records: FlowRecord[] = [];
        for (let i = 0; i < 100; i++) {
          const start = randomTime();
          const end = start + BigInt(Math.floor(random() * 120_000)) * NS_PER_MS;
          const src = pick(hosts);
          const dst = pick(hosts);
          records.push(
            makeFlow({
              sourceAddress: src,
              destinationAddress: dst,
              ipVersion: src.includes(':') ? 6 : 4,
              sourcePort: pick(ports),
              destinationPort: pick(ports),
              protocol: pick([6, 17, 0]),
              startUnixNano: start,
              endUnixNano: end,
              timeResolutionNano: pick(resolutions),
              bytes: flowsMade++,
              flowDirection: random() < 0.5 ? undefined : pick([0, 1]),
            }),
          );
        }
        await store.insert(records);
        reference.insert(records);
        // Queries as time goes, not only at the end.
        for (let q = 0; q < propertyQueries / 30; q++) {
          const a = randomTime();
          const b = random() < 0.3 ? a : randomTime();
          const query: FlowQuery = {
            sourceAddress: pick(hosts),
            sourcePort: pick(ports),
            destinationAddress: pick(hosts),
            destinationPort: pick(ports),
            protocol: random() < 0.5 ? undefined : pick([6, 17, 0]),
            fromUnixNano: a < b ? a : b,
            toUnixNano: a < b ? b : a,
            bothDirections: random() < 0.7,
            limit: random() < 0.2 ? 1 + Math.floor(random() * 3) : undefined,
          };
          const [got, want] = [await store.query(query), await reference.query(query)];
          const context = `seed ${seed}, batch ${batch}, query ${show(query)}`;
          if (want.length > 0) answered++;
          assertOrdered(got, context);
          if (query.limit === undefined) {
            assert.deepEqual(got.map(describeMatch).sort(), want.map(describeMatch).sort(), context);
          } else {
            // Ties in (start, end, direction) may be broken either way: compare the order keys,
            // and that each result is a true match.
            const key = (m: FlowMatch) => `${m.flow.startUnixNano}/${m.flow.endUnixNano}/${m.direction}`;
            assert.deepEqual(got.map(key), want.map(key), context);
            const all = new Set((await reference.query({ ...query, limit: undefined })).map(describeMatch));
            for (const m of got) assert.ok(all.has(describeMatch(m)), context);
          }
        }
      }
      // The pools are small enough that a good share of the queries find something.
      assert.ok(answered > propertyQueries / 10, `only ${answered} queries had matches`);
      const [stats, referenceStats] = [await store.stats(), await reference.stats()];
      assert.equal(stats.inserted, referenceStats.inserted);
      if (exactStats) assert.equal(stats.flows + stats.evicted.age, stats.inserted);
    });
  });
}
