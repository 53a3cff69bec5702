/**
 * The ambiguity rule (match.ts): a device's flows are attached for a direction only when
 * exactly one session of the quartet fits the span. Sessions that reused an ephemeral port
 * within the flows' time resolution, without TCP flags to tell them apart, attach nothing, and
 * every such case is counted. Zero wrong attachments is the requirement these tests hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../model/flow.js';
import type { Traces } from '../../model/otlp.js';
import { RecordingConsumer, testSettings } from '../../testutil/index.js';
import { selectFlows } from './match.js';
import { Correlator, CorrelateProcessor } from './processor.js';
import {
  ARAMIS,
  ATHOS,
  attr,
  byName,
  clientServer,
  config,
  CountingSource,
  DARTAGNAN,
  flow,
  MAIN,
  PORTHOS,
  sessionFlows,
  synthesized,
  T0_MS,
  traces,
} from './testkit.test.util.js';

const SUMMARY = `network ${ATHOS}:40000 → ${ARAMIS}:8080`;
const SECOND = 1_000_000_000;

/** Three sessions of MAIN 300 ms apart, each a client/server pair in its own trace; `bytes` marks a session's flows. */
const SESSIONS = [
  { trace: 1, startMs: 100, endMs: 180, bytes: 1111 },
  { trace: 2, startMs: 400, endMs: 480, bytes: 2222 },
  { trace: 3, startMs: 700, endMs: 780, bytes: 3333 },
];

/**
 * The flows of the three sessions as an exporter with `resolutionNs` timestamps writes them:
 * times truncated to the resolution (NetFlow v9: whole seconds from the header clock).
 */
function exported(resolutionNs: number, flags: boolean, type: FlowRecord['type']): FlowRecord[] {
  const truncate = (ns: bigint) => (ns / BigInt(resolutionNs)) * BigInt(resolutionNs);
  return SESSIONS.flatMap((s) => sessionFlows(MAIN, s.startMs + 2, s.endMs - 2, s.bytes, flags)).map((f) => ({
    ...f,
    type,
    startUnixNano: truncate(f.startUnixNano),
    endUnixNano: truncate(f.endUnixNano),
    timeResolutionNano: resolutionNs,
  }));
}

function sessionTraces(): Traces {
  const pairs = SESSIONS.map((s) => clientServer(MAIN, { trace: s.trace, startMs: s.startMs, endMs: s.endMs }));
  return traces({ frontend: pairs.map((p) => p.client), backend: pairs.map((p) => p.server) });
}

interface Outcome {
  attached: number;
  wrong: number;
  perTrace: { reason: unknown; ambiguous: unknown; rejected: unknown; devices: unknown }[];
}

/** Device spans attached per trace, and how many carry flows of another session. */
function outcome(t: Traces): Outcome {
  let attached = 0;
  let wrong = 0;
  const perTrace = SESSIONS.map((s) => {
    const mine = synthesized(t).filter((x) => x.traceId[15] === s.trace);
    const summary = mine.find((x) => x.name === SUMMARY)!;
    assert.ok(summary, `trace ${s.trace} has its summary`);
    for (const d of mine.filter((x) => x !== summary)) {
      attached++;
      if (attr(d, 'flow.io.bytes') !== s.bytes) wrong++;
    }
    return {
      reason: attr(summary, 'netspan.no_evidence.reason'),
      ambiguous: attr(summary, 'netspan.candidates.ambiguous'),
      rejected: attr(summary, 'netspan.candidates.rejected'),
      devices: attr(summary, 'netspan.devices'),
    };
  });
  return { attached, wrong, perTrace };
}

test('ambiguous: 1 s timestamps, no TCP flags, a port reused 300 ms apart → nothing attached, zero wrong, counted', async () => {
  const settings = testSettings('correlate');
  const next = new RecordingConsumer<'traces'>();
  const source = new CountingSource(exported(SECOND, false, 'netflow_v9'));
  const processor = new CorrelateProcessor(settings, config(), next, { source, now: () => T0_MS + 10_000 });
  await processor.consume(sessionTraces());
  const o = outcome(next.received[0]!);
  assert.equal(o.wrong, 0, 'no flow of another session is attached');
  assert.equal(o.attached, 0, 'no session can be told apart: none is attached');
  for (const p of o.perTrace) {
    assert.equal(p.reason, 'ambiguous_sessions');
    assert.equal(p.ambiguous, 12, 'all 12 flows fitted: 3 sessions × 2 devices × 2 directions');
    assert.equal(p.rejected, 12);
    assert.equal(p.devices, 0);
  }
  const metric = (name: string, labels: Record<string, string> = {}) =>
    settings.metrics.value(`netspan_correlate_${name}`, { processor: 'correlate', ...labels });
  assert.equal(await metric('candidates_ambiguous_total'), 36);
  assert.equal(await metric('ambiguous_streams_total'), 12, '3 connections × 2 devices × 2 directions');
  assert.equal(await metric('candidates_rejected_total'), 36);
  assert.equal(await metric('connections_total', { outcome: 'no_flows' }), 3);
});

test('ambiguous: TCP flags do not help when the sessions fall into the same second', async () => {
  const t = sessionTraces();
  await new Correlator(config(), new CountingSource(exported(SECOND, true, 'netflow_v9')), () => T0_MS + 10_000).enrich(t);
  const o = outcome(t);
  assert.equal(o.wrong, 0);
  assert.equal(o.attached, 0);
  assert.deepEqual(
    o.perTrace.map((p) => p.reason),
    ['ambiguous_sessions', 'ambiguous_sessions', 'ambiguous_sessions'],
  );
});

test('distinguishable: the same sessions with millisecond IPFIX times → each trace gets its own session only', async () => {
  for (const flags of [false, true]) {
    const t = sessionTraces();
    const report = await new Correlator(config(), new CountingSource(exported(1_000_000, flags, 'ipfix')), () => T0_MS + 10_000).enrich(t);
    const o = outcome(t);
    assert.equal(o.wrong, 0, `flags ${flags}`);
    assert.equal(o.attached, 12, 'each of the 3 traces: 2 devices × 2 directions');
    for (const p of o.perTrace) {
      assert.equal(p.reason, undefined);
      assert.equal(p.ambiguous, 0);
      assert.equal(p.rejected, 8, 'the other two sessions');
      assert.equal(p.devices, 2);
    }
    assert.equal(report.candidatesAmbiguous, 0);
    assert.equal(report.ambiguousStreams, 0);
  }
});

test('one device ambiguous, the other not: only the device that can tell is attached', async () => {
  // porthos exports with 1 s timestamps, dartagnan with milliseconds.
  const records = exported(1_000_000, false, 'ipfix').map((f) =>
    f.samplerAddress === PORTHOS
      ? {
          ...f,
          type: 'netflow_v9' as const,
          startUnixNano: (f.startUnixNano / BigInt(SECOND)) * BigInt(SECOND),
          endUnixNano: (f.endUnixNano / BigInt(SECOND)) * BigInt(SECOND),
          timeResolutionNano: SECOND,
        }
      : f,
  );
  const t = sessionTraces();
  await new Correlator(config(), new CountingSource(records), () => T0_MS + 10_000).enrich(t);
  const o = outcome(t);
  assert.equal(o.wrong, 0);
  assert.equal(o.attached, 6, 'dartagnan request and response in each trace');
  for (const p of o.perTrace) {
    assert.equal(p.reason, undefined, 'flows are attached, so no no-evidence reason');
    assert.equal(p.ambiguous, 6, "porthos's 3 sessions in both directions fitted");
    assert.equal(p.devices, 1);
  }
  assert.deepEqual(
    synthesized(t)
      .filter((s) => s.traceId[15] === 1 && s.name !== SUMMARY)
      .map((s) => s.name),
    ['dartagnan request', 'dartagnan response'],
  );
});

const us = (ms: number) => (T0_MS + ms) * 1000;
const m = (f: FlowRecord, direction: 'request' | 'response' = 'request') => ({ direction, flow: f });

test('selectFlows: records that follow each other without flags are separate sessions; the one the span overlaps alone is attached', () => {
  // An active-timeout split or a reused port: without flags and at 1 ms they look the same.
  const a = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 0, endMs: 60_000, flags: 0, bytes: 1 });
  const b = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 60_001, endMs: 120_000, flags: 0, bytes: 2 });
  const inside = selectFlows([m(a), m(b)], us(119_000), us(119_500), 50_000, (x) => x);
  assert.deepEqual(
    inside.groups.map((g) => g.flows.map((f) => f.bytes)),
    [[2]],
  );
  assert.equal(inside.ambiguous, 0);
  assert.equal(inside.rejected, 1);
  // A span across the boundary fits both: ambiguous.
  const across = selectFlows([m(a), m(b)], us(59_900), us(60_100), 50_000, (x) => x);
  assert.equal(across.groups.length, 0);
  assert.equal(across.ambiguous, 2);
  assert.equal(across.ambiguousStreams, 1);
  // With flags exported (and unsampled) the second record provably continues the first.
  const af = { ...a, tcpFlags: 0x12 };
  const bf = { ...b, tcpFlags: 0x10 };
  const flagged = selectFlows([m(af), m(bf)], us(59_900), us(60_100), 50_000, (x) => x);
  assert.deepEqual(
    flagged.groups.map((g) => g.flows.map((f) => f.bytes)),
    [[1, 2]],
  );
  // ...but not when sampled: the second could be a new session whose SYN was not sampled.
  const sampled = selectFlows([m({ ...af, samplingRate: 100 }), m({ ...bf, samplingRate: 100 })], us(59_900), us(60_100), 50_000, (x) => x);
  assert.equal(sampled.groups.length, 0);
  assert.equal(sampled.ambiguous, 2);
});

test('selectFlows: the clock_skew allowance is no tie-breaker: two sessions fitting only through it are ambiguous', () => {
  // Span 120–200 ms. A ends 20 ms before it, B overlaps it: a device clock 30 ms behind makes A the span's.
  const a = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 0, endMs: 100, flags: 0, bytes: 1 });
  const b = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 150, endMs: 250, flags: 0, bytes: 2 });
  const sel = selectFlows([m(a), m(b)], us(120), us(200), 50_000, (x) => x);
  assert.equal(sel.groups.length, 0);
  assert.equal(sel.ambiguous, 2);
  // Without the allowance only B fits.
  const noSkew = selectFlows([m(a), m(b)], us(120), us(200), 0, (x) => x);
  assert.deepEqual(
    noSkew.groups.map((g) => g.flows.map((f) => f.bytes)),
    [[2]],
  );
});

test('selectFlows: one connection metered at two observation points (ingress and egress) is one session, not two', () => {
  const ingress = {
    ...flow(MAIN, { exporter: DARTAGNAN, direction: 'request', startMs: 5, endMs: 6, flags: 0x1b, bytes: 1 }),
    flowDirection: 0,
  };
  const egress = { ...ingress, flowDirection: 1, bytes: 2 };
  const sel = selectFlows([m(ingress), m(egress)], us(0), us(100), 50_000, (x) => x);
  assert.equal(sel.ambiguous, 0);
  assert.deepEqual(
    sel.groups.map((g) => g.flows.map((f) => f.bytes)),
    [[1, 2]],
  );
  // Each point fits exactly one session, but they are far apart on the device's one clock: not one connection.
  // (ACK only: a SYN after the span would be rejected by the flags before any of this.)
  const later = {
    ...egress,
    tcpFlags: 0x10,
    startUnixNano: egress.startUnixNano + 140_000_000n,
    endUnixNano: egress.endUnixNano + 140_000_000n,
  };
  const apart = selectFlows([m(ingress), m(later)], us(0), us(100), 50_000, (x) => x);
  assert.equal(apart.groups.length, 0);
  assert.equal(apart.ambiguous, 2);
});

test('selectFlows: records of one point overlapping in time beyond resolution are one connection', () => {
  const a = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 0, endMs: 80, flags: 0, bytes: 1 });
  const b = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 40, endMs: 120, flags: 0, bytes: 2 });
  const sel = selectFlows([m(a), m(b)], us(0), us(100), 50_000, (x) => x);
  assert.equal(sel.ambiguous, 0);
  assert.deepEqual(
    sel.groups.map((g) => g.flows.map((f) => f.bytes)),
    [[1, 2]],
  );
});

test('a lone span in the ambiguous case gets the reason; emit_without_evidence: false still keeps nothing for it', async () => {
  const t = traces({ frontend: [clientServer(MAIN, { startMs: 100, endMs: 180 }).client] });
  const report = await new Correlator(config(), new CountingSource(exported(SECOND, false, 'netflow_v9')), () => T0_MS + 10_000).enrich(t);
  assert.equal(attr(byName(t, SUMMARY), 'netspan.no_evidence.reason'), 'ambiguous_sessions');
  assert.equal(report.candidatesAmbiguous, 12);
  const t2 = traces({ frontend: [clientServer(MAIN, { startMs: 100, endMs: 180 }).client] });
  await new Correlator(
    config({ emit_without_evidence: false }),
    new CountingSource(exported(SECOND, false, 'netflow_v9')),
    () => T0_MS + 10_000,
  ).enrich(t2);
  assert.equal(synthesized(t2).length, 0);
});
