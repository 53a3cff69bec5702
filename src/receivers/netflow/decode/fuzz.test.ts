/**
 * Property test: a million random and mutated datagrams (mutations of the real captures: bit flips,
 * truncations, length fields tampered with, splices, random bytes behind a valid version) through the
 * decoder. It must never throw or hang, every issue must point inside the datagram, and a valid packet
 * decoded right after still gives the right records.
 *
 * Seeded, so a failure reproduces: FUZZ_SEED=<seed> FUZZ_ITERATIONS=<n> node --test dist/.../fuzz.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRecord } from '../../../model/flow.js';
import { decodeNetflow, INTERNAL_ERROR_MESSAGE } from './decode.js';
import { TemplateState } from './templates.js';
import { GOFLOW_V5, GOFLOW_V9_DATA, GOFLOW_V9_TEMPLATE, LOGSTASH_DIR, datFile, prng, readBytes } from './testkit.test.util.js';
import type { DecodeContext, DecodeIssueCode } from './types.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20240229);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 1_000_000);
const CHECK_EVERY = 20_000;
const ISSUE_CODES = new Set<DecodeIssueCode>(['TRUNCATED', 'BAD_LENGTH', 'BAD_VERSION', 'BAD_TEMPLATE', 'MISSING_TEMPLATE', 'MALFORMED']);

const corpus: Uint8Array[] = [
  ...readdirSync(join(LOGSTASH_DIR, 'dat'))
    .filter((f) => f.endsWith('.dat'))
    .sort()
    .map(datFile),
  readBytes(GOFLOW_V5),
  readBytes(GOFLOW_V9_TEMPLATE),
  readBytes(GOFLOW_V9_DATA),
];

/** Offsets of the length-like fields of a datagram (header lengths, set lengths, template counts), found by walking it. */
function lengthFields(b: Uint8Array): number[] {
  const offsets: number[] = [];
  const u16 = (o: number): number => ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
  const version = u16(0);
  if (version === 5) return [2];
  const first = version === 9 ? 20 : 16;
  if (version === 10) offsets.push(2);
  for (let pos = first; pos + 4 <= b.length;) {
    offsets.push(pos + 2);
    const id = u16(pos);
    const len = u16(pos + 2);
    if (len < 4) break;
    // template records: id, count (and v9 options: scope/option lengths; IPFIX options: scope count)
    if (id <= 3) for (let k = pos + 4; k + 4 <= Math.min(pos + len, b.length) && k < pos + 4 + 24; k += 4) offsets.push(k + 2);
    pos += len;
  }
  return offsets;
}

const lengthFieldCache = new Map<Uint8Array, number[]>();

function mutate(rand: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(rand() * n);
  const source = corpus[pick(corpus.length)] as Uint8Array;
  const kind = pick(8);
  switch (kind) {
    case 0: {
      // bit flips
      const b = source.slice();
      for (let i = 1 + pick(8); i > 0; i--) {
        const o = pick(b.length);
        b[o] = (b[o] as number) ^ (1 << pick(8));
      }
      return b;
    }
    case 1: {
      // random bytes, 0 and 0xff at random places
      const b = source.slice();
      for (let i = 1 + pick(4); i > 0; i--) b[pick(b.length)] = [0, 0xff, pick(256)][pick(3)] as number;
      return b;
    }
    case 2:
      return source.slice(0, pick(source.length + 1));
    case 3: {
      // a length field tampered with: boundary values and near misses
      let offsets = lengthFieldCache.get(source);
      if (!offsets) lengthFieldCache.set(source, (offsets = lengthFields(source)));
      const b = source.slice();
      const o = offsets[pick(offsets.length)] ?? 2;
      const old = ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
      const value = [0, 1, 3, 4, 5, 0xffff, 0xfffe, old - 1, old + 1, old - 4, old + 4, pick(65536), b.length, b.length - o][
        pick(14)
      ] as number;
      b[o] = (value >> 8) & 255;
      b[o + 1] = value & 255;
      return b;
    }
    case 4: {
      // a splice of two captures
      const other = corpus[pick(corpus.length)] as Uint8Array;
      const cut = pick(source.length + 1);
      const from = pick(other.length + 1);
      const b = new Uint8Array(cut + other.length - from);
      b.set(source.subarray(0, cut));
      b.set(other.subarray(from), cut);
      return b;
    }
    case 5: {
      // random bytes behind a valid version
      const b = new Uint8Array(pick(pick(2) ? 64 : 1500));
      for (let i = 0; i < b.length; i++) b[i] = pick(256);
      if (b.length >= 2) {
        b[0] = 0;
        b[1] = [5, 9, 10][pick(3)] as number;
      }
      return b;
    }
    case 6: {
      // a block duplicated or dropped in the middle
      const start = pick(source.length);
      const len = pick(Math.min(64, source.length - start) + 1);
      if (pick(2)) {
        const b = new Uint8Array(source.length + len);
        b.set(source.subarray(0, start + len));
        b.set(source.subarray(start), start + len);
        return b;
      }
      const b = new Uint8Array(source.length - len);
      b.set(source.subarray(0, start));
      b.set(source.subarray(start + len), start);
      return b;
    }
    default: {
      // several mutations at once
      const b = source.slice(0, Math.max(2, pick(source.length + 1)));
      for (let i = 1 + pick(16); i > 0; i--) b[pick(b.length)] = pick(256);
      return b;
    }
  }
}

/** What a flow record must say regardless of earlier traffic (sampling rate aside: options records of the exporter may set it). */
const essentials = (r: FlowRecord): unknown[] => [
  r.type,
  r.sourceAddress,
  r.sourcePort,
  r.destinationAddress,
  r.destinationPort,
  r.protocol,
  r.bytes,
  r.packets,
  r.startUnixNano,
  r.endUnixNano,
  r.timeResolutionNano,
  r.inputInterface,
  r.outputInterface,
  r.tcpFlags,
  r.sequenceNumber,
];

/** Self-contained valid packets (templates and data in one datagram) and their records from a fresh state. */
const VALID = ['netflow9_test_softflowd_tpl_data.dat', 'ipfix.dat', 'netflow5_test_microtik.dat', 'netflow9_test_cisco_1941K9.dat'].map(
  (file) => {
    const bytes = datFile(file);
    const records = decodeNetflow(bytes, { exporter: 'reference', keepAllFields: false }, new TemplateState()).records.map(essentials);
    return { file, bytes, records };
  },
);

test(`fuzz: ${ITERATIONS} random and mutated datagrams (seed ${SEED})`, { timeout: 600_000 }, () => {
  const rand = prng(SEED);
  let now = 0;
  const state = new TemplateState({ now: () => now });
  const exporters: DecodeContext[] = Array.from({ length: 8 }, (_, i) => ({ exporter: `198.51.100.${i}`, keepAllFields: i % 2 === 0 }));
  let slowest = 0;
  let issues = 0;
  let records = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    now += 1; // ~1 ms per datagram: held sets expire as the run goes
    const bytes = mutate(rand);
    const ctx = exporters[i % exporters.length] as DecodeContext;
    const t0 = performance.now();
    let out;
    try {
      out = decodeNetflow(bytes, ctx, state);
    } catch (err) {
      assert.fail(`iteration ${i} (seed ${SEED}) threw: ${String(err)}; datagram ${Buffer.from(bytes).toString('hex')}`);
    }
    slowest = Math.max(slowest, performance.now() - t0);
    records += out.records.length;
    issues += out.issues.length;
    for (const issue of out.issues) {
      if (
        issue.message.startsWith(INTERNAL_ERROR_MESSAGE) ||
        !ISSUE_CODES.has(issue.code) ||
        !(issue.offset >= 0 && issue.offset <= bytes.length)
      ) {
        assert.fail(`iteration ${i} (seed ${SEED}): bad issue ${JSON.stringify(issue)}; datagram ${Buffer.from(bytes).toString('hex')}`);
      }
    }
    for (const r of out.records) {
      if (
        !(r.ipVersion === 0 || r.ipVersion === 4 || r.ipVersion === 6) ||
        !Number.isFinite(r.bytes) ||
        !Number.isFinite(r.packets) ||
        typeof r.startUnixNano !== 'bigint'
      ) {
        assert.fail(`iteration ${i} (seed ${SEED}): odd record ${String(r.ipVersion)} ${r.bytes}`);
      }
    }
    if (i % CHECK_EVERY === CHECK_EVERY - 1) {
      // a valid packet right after, from an exporter the fuzz has been feeding: still the right records
      for (const valid of VALID) {
        const got = decodeNetflow(valid.bytes, { ...ctx, keepAllFields: false }, state).records.map(essentials);
        // held fuzz sets a template of the valid packet releases come first; the packet's own records last
        assert.deepEqual(got.slice(got.length - valid.records.length), valid.records, `${valid.file} after iteration ${i} (seed ${SEED})`);
      }
    }
  }
  assert.ok(slowest < 250, `slowest decode ${slowest.toFixed(1)} ms`);
  assert.ok(state.heldSetsWaiting <= 8 * state.limits.maxHeldSetsPerExporter);
  assert.ok(state.stats.templates >= 0 && state.stats.templates <= 8 * state.limits.maxTemplatesPerExporter);
  assert.ok(records > 0 && issues > 0);
});
