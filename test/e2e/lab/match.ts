/**
 * Pairs the flows of two views (a reference and the one under test) one to one and lists every
 * difference: flows missing from either side, and per pair the ports, counters and times that
 * differ beyond a tolerance.
 */
import { describeFlow, msText, type FlowView } from './flow-views.js';

export interface MatchOptions {
  /** Largest accepted |start - start'| and |end - end'| for a pair; undefined: times are not compared. */
  timeTolerance?: (expected: FlowView, actual: FlowView) => bigint;
}

export interface FlowPair {
  expected: FlowView;
  actual: FlowView;
  /** Human-readable differences ("bytes: expected 771, got 770"); empty when the pair agrees. */
  differences: string[];
  startDeltaNano?: bigint;
  endDeltaNano?: bigint;
}

export interface MatchResult {
  pairs: FlowPair[];
  /** Expected flows with no counterpart. */
  missing: FlowView[];
  /** Actual flows with no counterpart. */
  extra: FlowView[];
}

const abs = (v: bigint) => (v < 0n ? -v : v);

function addressKey(f: FlowView): string {
  return `${f.source}|${f.destination}|${f.protocol}`;
}

function portsAgree(a: FlowView, b: FlowView): boolean {
  return (
    (a.sourcePort === undefined || b.sourcePort === undefined || a.sourcePort === b.sourcePort) &&
    (a.destinationPort === undefined || b.destinationPort === undefined || a.destinationPort === b.destinationPort)
  );
}

function delta(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  return a === undefined || b === undefined ? undefined : b - a;
}

/**
 * Pairs each expected flow with an actual one of the same addresses, protocol and ports (a view
 * without ports for a record matches any), preferring equal counters and the nearest start.
 */
export function matchFlows(expected: readonly FlowView[], actual: readonly FlowView[], options: MatchOptions = {}): MatchResult {
  const pool = new Map<string, FlowView[]>();
  for (const a of actual) {
    const k = addressKey(a);
    pool.set(k, [...(pool.get(k) ?? []), a]);
  }
  const pairs: FlowPair[] = [];
  const missing: FlowView[] = [];
  for (const e of expected) {
    const candidates = (pool.get(addressKey(e)) ?? []).filter((a) => portsAgree(e, a));
    if (candidates.length === 0) {
      missing.push(e);
      continue;
    }
    const score = (a: FlowView) => {
      const d = delta(e.startUnixNano, a.startUnixNano);
      return (
        (a.bytes === e.bytes ? 0 : 2e12) + (a.packets === e.packets ? 0 : 1e12) + (d === undefined ? 0 : Math.min(Number(abs(d)), 1e11))
      );
    };
    const best = candidates.reduce((x, y) => (score(y) < score(x) ? y : x));
    const list = pool.get(addressKey(e))!;
    list.splice(list.indexOf(best), 1);
    const differences: string[] = [];
    const field = (name: string, x: unknown, y: unknown) => {
      if (x !== y) differences.push(`${name}: expected ${String(x)}, got ${String(y)}`);
    };
    if (e.sourcePort !== undefined && best.sourcePort !== undefined) field('source.port', e.sourcePort, best.sourcePort);
    if (e.destinationPort !== undefined && best.destinationPort !== undefined)
      field('destination.port', e.destinationPort, best.destinationPort);
    field('bytes', e.bytes, best.bytes);
    field('packets', e.packets, best.packets);
    const pair: FlowPair = { expected: e, actual: best, differences };
    if (options.timeTolerance) {
      const tolerance = options.timeTolerance(e, best);
      for (const [name, x, y] of [
        ['start', e.startUnixNano, best.startUnixNano],
        ['end', e.endUnixNano, best.endUnixNano],
      ] as const) {
        const d = delta(x, y);
        if (name === 'start') pair.startDeltaNano = d;
        else pair.endDeltaNano = d;
        if (d === undefined) differences.push(`${name}: expected ${msText(x)}, got ${msText(y)} (not comparable)`);
        else if (abs(d) > tolerance)
          differences.push(
            `${name}: expected ${msText(x)}, got ${msText(y)} (off by ${Number(d) / 1e6} ms, tolerance ${Number(tolerance) / 1e6} ms)`,
          );
      }
    }
    pairs.push(pair);
  }
  const extra = [...pool.values()].flat();
  return { pairs, missing, extra };
}

/** Every problem of a match, one line each; empty when the views agree. */
export function matchProblems(result: MatchResult, expectedName: string, actualName: string): string[] {
  const counters = (f: FlowView) => `${f.bytes} B ${f.packets} pkt ${msText(f.startUnixNano)} .. ${msText(f.endUnixNano)}`;
  return [
    ...result.missing.map((f) => `in ${expectedName}, not in ${actualName}: ${describeFlow(f)} ${counters(f)}`),
    ...result.extra.map((f) => `in ${actualName}, not in ${expectedName}: ${describeFlow(f)} ${counters(f)}`),
    ...result.pairs.filter((p) => p.differences.length).map((p) => `${describeFlow(p.expected)}: ${p.differences.join('; ')}`),
  ];
}

/** Largest |delta| of the pairs' start and end times, in ns (0 when none). */
export function largestTimeDelta(result: MatchResult): bigint {
  let m = 0n;
  for (const p of result.pairs) for (const d of [p.startDeltaNano, p.endDeltaNano]) if (d !== undefined && abs(d) > m) m = abs(d);
  return m;
}
