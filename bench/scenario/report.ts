/**
 * bench/scenario's figures from one run: per phase (latency percentiles, the router's queue as
 * tc and as IOAM saw it, verdicts), per second (for the plot), the markdown report and the SVG.
 * Pure functions of the run's records, except writeReport, which writes the files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from '../common/machine.js';
import { markdownTable } from '../common/results.js';
import { defaultResultsFile } from '../common/cli.js';
import { verdictSchema } from '../../src/processors/correlate/config.js';
import { quantile, round } from '../common/util.js';

export type PhaseName = 'normal' | 'congestion' | 'evidence' | 'recovery';

export const PHASES: readonly { name: PhaseName; label: string; congested: boolean }[] = [
  { name: 'normal', label: '1 normal', congested: false },
  { name: 'congestion', label: '2 congestion, CLT off', congested: true },
  { name: 'evidence', label: '3 congestion + netspan evidence', congested: true },
  { name: 'recovery', label: '4 recovery', congested: false },
];

/** The long-lived processes on the server whose CPU each phase records. */
export type ServerSideProcess = 'collector' | 'agent' | 'server';

export interface QueueSample {
  tMs: number;
  qdisc: string;
  /** Bytes waiting in the router's egress qdisc toward the server. */
  backlogBytes: number;
  qlen: number;
  /** Packets the qdisc dropped since it was created. */
  drops: number;
}

export interface RequestResult {
  phase: PhaseName;
  /** Unix ms of its slot in the open-loop schedule. */
  tMs: number;
  latencyMs: number;
  status: number;
  /** netspan wrote a network summary span under its client span. */
  enriched: boolean;
  /** From the router's IOAM hop span. */
  ioamQueueBytes?: number;
  routerTransitMs?: number;
  verdict?: { text: string; rule: string; cause: string; device: string; interface?: string };
}

export interface PhaseSummary {
  name: PhaseName;
  label: string;
  clt: boolean;
  congested: boolean;
  seconds: number;
  requests: number;
  failed: number;
  ratePerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  tcBacklogBytes: { mean: number; max: number; samples: number };
  tcDrops: number;
  /** Requests whose trace got a network summary / a router IOAM hop, % of requests. */
  enrichedPercent: number;
  withRouterHopPercent: number;
  ioamQueueBytes?: { p50: number; max: number; nonZeroPercent: number };
  routerTransitMs?: { p50: number; p99: number };
  verdictPercent: number;
  /** The verdict of the request whose router hop lasted the phase's median. */
  exampleVerdict?: string;
  /** Why requests got no verdict, when CLT was on: counts per reason. */
  noVerdict?: Record<string, number>;
  cpuPercent: Record<ServerSideProcess, number>;
  /** Requests per verdict kind ("cause (rule) at device interface"). */
  verdicts: Record<string, number>;
}

/** One second of the run, for the plot. */
export interface SecondBin {
  t: number;
  requests: number;
  p50?: number;
  p99?: number;
  tcBacklogMaxBytes?: number;
  ioamQueueMaxBytes?: number;
  verdicts: number;
}

export interface ScenarioResults {
  benchmark: 'bench/scenario';
  date: string;
  machine: MachineInfo & { busyBeforeRunPercent: number; busyDuringRunPercent: number; note: string };
  settings: Record<string, unknown>;
  lab: {
    router: { name: string; nodeId: number; egress: string; egressId: number };
    server: { name: string; nodeId: number };
  };
  phases: {
    name: PhaseName;
    startMs: number;
    endMs: number;
    clt: boolean;
    congested: boolean;
    /** % of one core over the phase. */
    cpuPercent: Record<ServerSideProcess, number>;
  }[];
  /** The unreported warm-up's median latency per second, ms (how long the lab takes to settle). */
  warmupLatencyP50PerSecondMs: number[];
  summary: { phases: PhaseSummary[]; seconds: SecondBin[] };
  cltWarnings: string[];
  collector: { exitCode: number | null; warnings: string[] };
  /** Raw samples and requests: used for the summary, left out of the written JSON (too large). */
  queue?: QueueSample[];
  requests?: RequestResult[];
}

export const sortedOf = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const pctOf = (n: number, of: number) => (of === 0 ? 0 : round((n / of) * 100, 1));

export function verdictKind(v: NonNullable<RequestResult['verdict']>): string {
  return `${v.cause} (${v.rule}) at ${v.device}${v.interface ? ` ${v.interface}` : ''}`;
}

function phaseSummary(
  p: ScenarioResults['phases'][number],
  requests: readonly RequestResult[],
  queue: readonly QueueSample[],
): PhaseSummary {
  const spec = PHASES.find((x) => x.name === p.name)!;
  const mine = requests.filter((r) => r.phase === p.name);
  const ok = mine.filter((r) => r.status === 200);
  const lat = sortedOf(ok.map((r) => r.latencyMs));
  const samples = queue.filter((q) => q.tMs >= p.startMs && q.tMs <= p.endMs);
  const backlog = samples.map((q) => q.backlogBytes);
  const drops = samples.filter((q) => q.qdisc === 'tbf').map((q) => q.drops);
  const withHop = mine.filter((r) => r.ioamQueueBytes !== undefined);
  const depths = sortedOf(withHop.map((r) => r.ioamQueueBytes!));
  const transits = sortedOf(mine.filter((r) => r.routerTransitMs !== undefined).map((r) => r.routerTransitMs!));
  const verdicts: Record<string, number> = {};
  // The example is a typical verdict: of the request whose router hop is nearest the phase's median.
  const typical = quantile(transits, 0.5);
  let example: RequestResult | undefined;
  const distance = (r: RequestResult) => Math.abs((r.routerTransitMs ?? Infinity) - typical);
  for (const r of mine)
    if (r.verdict) {
      const k = verdictKind(r.verdict);
      verdicts[k] = (verdicts[k] ?? 0) + 1;
      if (!example || distance(r) < distance(example)) example = r;
    }
  const seconds = (p.endMs - p.startMs) / 1000;
  return {
    name: p.name,
    label: spec.label,
    clt: p.clt,
    congested: p.congested,
    seconds: round(seconds, 1),
    requests: mine.length,
    failed: mine.length - ok.length,
    ratePerSecond: scheduledRate(mine),
    latencyMs: {
      p50: round(quantile(lat, 0.5), 2),
      p90: round(quantile(lat, 0.9), 2),
      p99: round(quantile(lat, 0.99), 2),
      max: round(lat.at(-1) ?? NaN, 2),
    },
    tcBacklogBytes: {
      mean: Math.round(backlog.reduce((a, b) => a + b, 0) / Math.max(1, backlog.length)),
      max: Math.max(0, ...backlog),
      samples: samples.length,
    },
    tcDrops: drops.length ? drops.at(-1)! - drops[0]! : 0,
    enrichedPercent: pctOf(mine.filter((r) => r.enriched).length, mine.length),
    withRouterHopPercent: pctOf(withHop.length, mine.length),
    ...(depths.length
      ? {
          ioamQueueBytes: {
            p50: quantile(depths, 0.5),
            max: depths.at(-1)!,
            nonZeroPercent: pctOf(depths.filter((d) => d > 0).length, depths.length),
          },
        }
      : {}),
    ...(transits.length ? { routerTransitMs: { p50: round(quantile(transits, 0.5), 2), p99: round(quantile(transits, 0.99), 2) } } : {}),
    verdictPercent: pctOf(mine.filter((r) => r.verdict).length, mine.length),
    ...(p.clt ? { noVerdict: noVerdictReasons(mine) } : {}),
    cpuPercent: p.cpuPercent,
    verdicts,
    ...(example?.verdict ? { exampleVerdict: example.verdict.text } : {}),
  };
}

/** The rate the open loop offered: requests over the span of their slots. */
function scheduledRate(requests: readonly RequestResult[]): number {
  if (requests.length < 2) return requests.length;
  const ts = requests.map((r) => r.tMs);
  const span = (Math.max(...ts) - Math.min(...ts)) / 1000;
  return round((requests.length - 1) / span, 1);
}

/** The correlate processor's `verdict.min_hop_ms`, the default the bench runs with. */
const MIN_HOP_MS = verdictSchema.parse({}).min_hop_ms;

/** Why requests without a verdict got none, as far as their trace tells (the rules' thresholds: verdict.ts). */
function noVerdictReasons(requests: readonly RequestResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    if (r.verdict) continue;
    const why =
      r.status !== 200
        ? 'request failed'
        : !r.enriched
          ? 'no network summary'
          : r.ioamQueueBytes === undefined
            ? 'no router hop'
            : r.ioamQueueBytes === 0
              ? 'router hop, queue 0'
              : (r.routerTransitMs ?? 0) < MIN_HOP_MS
                ? `router hop with a queue, shorter than min_hop_ms (${MIN_HOP_MS} ms)`
                : 'router hop with a queue and long enough: unexplained';
    out[why] = (out[why] ?? 0) + 1;
  }
  return out;
}

function secondBins(t0: number, requests: readonly RequestResult[], queue: readonly QueueSample[]): SecondBin[] {
  const bins: { lat: number[]; verdicts: number; requests: number; tc?: number; ioam?: number }[] = [];
  const bin = (tMs: number) => (bins[Math.max(0, Math.floor((tMs - t0) / 1000))] ??= { lat: [], verdicts: 0, requests: 0 });
  for (const r of requests) {
    const b = bin(r.tMs);
    b.requests++;
    if (r.status === 200) b.lat.push(r.latencyMs);
    if (r.verdict) b.verdicts++;
    if (r.ioamQueueBytes !== undefined) b.ioam = Math.max(b.ioam ?? 0, r.ioamQueueBytes);
  }
  for (const q of queue) {
    const b = bin(q.tMs);
    b.tc = Math.max(b.tc ?? 0, q.backlogBytes);
  }
  return Array.from(bins, (b, t) => {
    const lat = sortedOf(b?.lat ?? []);
    return {
      t,
      requests: b?.requests ?? 0,
      ...(lat.length ? { p50: round(quantile(lat, 0.5), 3), p99: round(quantile(lat, 0.99), 3) } : {}),
      ...(b?.tc !== undefined ? { tcBacklogMaxBytes: b.tc } : {}),
      ...(b?.ioam !== undefined ? { ioamQueueMaxBytes: b.ioam } : {}),
      verdicts: b?.verdicts ?? 0,
    };
  });
}

export function summarize(
  phases: ScenarioResults['phases'],
  requests: readonly RequestResult[],
  queue: readonly QueueSample[],
): ScenarioResults['summary'] {
  const t0 = phases[0]?.startMs ?? 0;
  return { phases: phases.map((p) => phaseSummary(p, requests, queue)), seconds: secondBins(t0, requests, queue) };
}

const fmtMs = (v: number) => (Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const fmtBytes = (v: number | undefined) => (v === undefined ? '–' : v.toLocaleString('en-US'));

export function phaseTable(phases: readonly PhaseSummary[]): string {
  return markdownTable(
    [
      'phase',
      'CLT',
      'requests (req/s)',
      'failed',
      'latency p50 / p90 / p99 ms',
      'router queue, tc backlog mean / max B',
      'router queue, IOAM p50 / max B',
      'router hop (IOAM) p50 ms',
      'traces with router hop',
      'verdicts',
      'verdict causes',
      'CPU % of a core: netspan run / agent / server app',
    ],
    phases.map((p) => [
      p.label,
      p.clt ? 'on' : 'off',
      `${p.requests.toLocaleString('en-US')} (${p.ratePerSecond})`,
      String(p.failed),
      `${fmtMs(p.latencyMs.p50)} / ${fmtMs(p.latencyMs.p90)} / ${fmtMs(p.latencyMs.p99)}`,
      `${fmtBytes(p.tcBacklogBytes.mean)} / ${fmtBytes(p.tcBacklogBytes.max)}`,
      p.ioamQueueBytes ? `${fmtBytes(p.ioamQueueBytes.p50)} / ${fmtBytes(p.ioamQueueBytes.max)}` : '–',
      p.routerTransitMs ? fmtMs(p.routerTransitMs.p50) : '–',
      `${p.withRouterHopPercent} %`,
      `${p.verdictPercent} %`,
      Object.entries(p.verdicts)
        .map(([k, n]) => `${k}: ${n.toLocaleString('en-US')}`)
        .join('; ') || 'none',
      `${p.cpuPercent.collector} / ${p.cpuPercent.agent} / ${p.cpuPercent.server}`,
    ]),
  );
}

// ---- the plot ----

const W = 1000;
const PLOT = { left: 80, right: 900, top: 60, bottom: 400 };
const H = 520;
const COLORS = { p50: '#1f77b4', p99: '#d62728', tc: '#7f7f7f', ioam: '#2ca02c', verdict: '#9467bd' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Latency (log, left) and router queue depth (right) over time, phases shaded, verdict marks. */
export function scenarioSvg(r: ScenarioResults): string {
  const bins = r.summary.seconds;
  const t0 = r.phases[0]!.startMs;
  const tEnd = Math.max(bins.length, Math.ceil((r.phases.at(-1)!.endMs - t0) / 1000));
  const x = (t: number) => PLOT.left + (t / tEnd) * (PLOT.right - PLOT.left);
  const lats = bins.flatMap((b) => [b.p50, b.p99]).filter((v): v is number => v !== undefined && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...lats, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...lats, 10)));
  const yLat = (v: number) =>
    PLOT.bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (PLOT.bottom - PLOT.top);
  const qMaxRaw = Math.max(1, ...bins.map((b) => Math.max(b.tcBacklogMaxBytes ?? 0, b.ioamQueueMaxBytes ?? 0)));
  const qStep = niceStep(qMaxRaw / 5);
  const qMax = Math.ceil(qMaxRaw / qStep) * qStep;
  const yQ = (v: number) => PLOT.bottom - (v / qMax) * (PLOT.bottom - PLOT.top);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(
      `Request latency and the router's queue, ${r.settings.rate} req/s, ${r.settings.phaseSeconds} s per phase`,
    )}</text>`,
  );
  // Phases: shaded bands, labels above the plot area.
  const shades = ['#f4f4f4', '#fde7e7', '#fbd3d3', '#eef6ee'];
  r.phases.forEach((p, i) => {
    const a = x((p.startMs - t0) / 1000);
    const b = x((p.endMs - t0) / 1000);
    const label = PHASES.find((s) => s.name === p.name)!.label;
    out.push(
      `<rect x="${a.toFixed(1)}" y="${PLOT.top}" width="${(b - a).toFixed(1)}" height="${PLOT.bottom - PLOT.top}" fill="${shades[i % 4]}"/>`,
      `<text x="${((a + b) / 2).toFixed(1)}" y="${PLOT.top - 10}" text-anchor="middle" font-size="11">${esc(label)}</text>`,
    );
  });
  // Axes and grid.
  out.push(
    `<g stroke="#999" fill="none"><rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}"/></g>`,
  );
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const y = yLat(v).toFixed(1);
    out.push(
      `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y}" y2="${y}" stroke="#ccc" stroke-dasharray="3,3"/>`,
      `<text x="${PLOT.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${v >= 1 ? v : v.toString()}</text>`,
    );
  }
  for (let v = 0; v <= qMax; v += qStep)
    out.push(
      `<text x="${PLOT.right + 6}" y="${yQ(v).toFixed(1)}" dominant-baseline="middle" fill="${COLORS.tc}">${(v / 1000).toLocaleString('en-US')}</text>`,
    );
  const tStep = niceStep(tEnd / 10);
  for (let t = 0; t <= tEnd; t += tStep) out.push(`<text x="${x(t).toFixed(1)}" y="${PLOT.bottom + 16}" text-anchor="middle">${t}</text>`);
  out.push(
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 34}" text-anchor="middle">time since the start of phase 1, s</text>`,
    `<text transform="translate(22 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">request latency per second, ms (log)</text>`,
    `<text transform="translate(${W - 22} ${(PLOT.top + PLOT.bottom) / 2}) rotate(90)" text-anchor="middle" fill="${COLORS.tc}">router egress queue, kB</text>`,
  );
  // Queue depth: tc backlog as a filled step area, IOAM as dots (right axis).
  const tcPts = bins.filter((b) => b.tcBacklogMaxBytes !== undefined);
  if (tcPts.length) {
    const d = tcPts.map(
      (b) =>
        `L${x(b.t).toFixed(1)},${yQ(b.tcBacklogMaxBytes!).toFixed(1)} L${x(b.t + 1).toFixed(1)},${yQ(b.tcBacklogMaxBytes!).toFixed(1)}`,
    );
    out.push(
      `<path d="M${x(tcPts[0]!.t).toFixed(1)},${PLOT.bottom} ${d.join(' ')} L${x(tcPts.at(-1)!.t + 1).toFixed(1)},${PLOT.bottom} Z" fill="${COLORS.tc}" fill-opacity="0.25" stroke="${COLORS.tc}" stroke-width="0.8"/>`,
    );
  }
  for (const b of bins)
    if (b.ioamQueueMaxBytes !== undefined)
      out.push(`<circle cx="${x(b.t + 0.5).toFixed(1)}" cy="${yQ(b.ioamQueueMaxBytes).toFixed(1)}" r="2.2" fill="${COLORS.ioam}"/>`);
  // Latency lines (left axis), broken where a second has no answers.
  for (const key of ['p50', 'p99'] as const) {
    const segs: string[] = [];
    let open = false;
    for (const b of bins) {
      const v = b[key];
      if (v === undefined) {
        open = false;
        continue;
      }
      segs.push(`${open ? 'L' : 'M'}${x(b.t + 0.5).toFixed(1)},${yLat(v).toFixed(1)}`);
      open = true;
    }
    out.push(`<path d="${segs.join(' ')}" fill="none" stroke="${COLORS[key]}" stroke-width="1.4"/>`);
  }
  // Verdict marks: a tick per second with verdicts, along the top of the plot, darker with a larger share.
  for (const b of bins)
    if (b.verdicts > 0) {
      const share = b.verdicts / Math.max(1, b.requests);
      out.push(
        `<rect x="${x(b.t).toFixed(1)}" y="${PLOT.top + 2}" width="${Math.max(1, x(b.t + 1) - x(b.t)).toFixed(1)}" height="10" fill="${COLORS.verdict}" fill-opacity="${(0.25 + 0.75 * share).toFixed(2)}"/>`,
      );
    }
  // Legend: one row below the axis title, clear of the plot.
  const items: [string, string][] = [
    [`latency p50`, `<line x1="0" x2="18" y1="0" y2="0" stroke="${COLORS.p50}" stroke-width="2"/>`],
    [`latency p99`, `<line x1="0" x2="18" y1="0" y2="0" stroke="${COLORS.p99}" stroke-width="2"/>`],
    [`queue, tc backlog (max/s)`, `<rect x="0" y="-6" width="18" height="12" fill="${COLORS.tc}" fill-opacity="0.35"/>`],
    [`queue, IOAM in requests (max/s)`, `<circle cx="9" cy="0" r="3" fill="${COLORS.ioam}"/>`],
    [`verdict (share of requests)`, `<rect x="0" y="-5" width="18" height="10" fill="${COLORS.verdict}"/>`],
  ];
  let lx = PLOT.left;
  const ly = PLOT.bottom + 62;
  for (const [label, mark] of items) {
    out.push(`<g transform="translate(${lx} ${ly})">${mark}<text x="24" y="0" dominant-baseline="middle">${esc(label)}</text></g>`);
    lx += 30 + label.length * 6.3;
  }
  const shares = r.summary.phases.map((p) => `${p.label} ${p.verdictPercent} %`).join(', ');
  out.push(`<text x="${PLOT.left}" y="${ly + 24}" font-size="11">${esc(`requests with a verdict: ${shares}`)}</text>`);
  const verdict = r.summary.phases.find((p) => p.exampleVerdict)?.exampleVerdict;
  if (verdict) out.push(`<text x="${PLOT.left}" y="${ly + 40}" font-size="11">${esc(`a typical verdict: "${verdict}"`)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** 1, 2 or 5 × a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

// ---- the report ----

function findings(r: ScenarioResults): string[] {
  const by = Object.fromEntries(r.summary.phases.map((p) => [p.name, p])) as Partial<Record<PhaseName, PhaseSummary>>;
  const out: string[] = [];
  const { normal, congestion, evidence, recovery } = by;
  if (normal && congestion)
    out.push(
      `Congestion raised the median latency from ${fmtMs(normal.latencyMs.p50)} ms to ${fmtMs(congestion.latencyMs.p50)} ms ` +
        `(p99 ${fmtMs(normal.latencyMs.p99)} → ${fmtMs(congestion.latencyMs.p99)} ms) while the router's tbf held ` +
        `${fmtBytes(congestion.tcBacklogBytes.mean)} B on average. With CLT off, ${congestion.withRouterHopPercent} % of ` +
        `the traces had a router hop and ${congestion.verdictPercent} % a verdict: the trace shows the request was slow, not where.`,
    );
  if (evidence)
    out.push(
      `With CLT on under the same congestion, ${evidence.withRouterHopPercent} % of the requests' traces got the router's IOAM ` +
        `hop (queue depth p50 ${fmtBytes(evidence.ioamQueueBytes?.p50)} B, hop p50 ${fmtMs(evidence.routerTransitMs?.p50 ?? NaN)} ms) ` +
        `and ${evidence.verdictPercent} % a verdict` +
        (evidence.exampleVerdict ? `, e.g. "${evidence.exampleVerdict}".` : '.') +
        (evidence.noVerdict && Object.keys(evidence.noVerdict).length
          ? ` Without a verdict: ${Object.entries(evidence.noVerdict)
              .map(([k, n]) => `${n} requests (${k})`)
              .join(', ')}.`
          : ''),
    );
  const dropped = [congestion, evidence].filter((p): p is PhaseSummary => p !== undefined && p.tcDrops > 0);
  if (dropped.length)
    out.push(
      `The tbf queue overflowed: it dropped ${dropped.map((p) => `${p.tcDrops} packets in ${p.label}`).join(' and ')}. ` +
        `Most are the bulk streams' (TCP fills the queue until it loses a packet); a request segment dropped there waits ` +
        `for a TCP retransmission, which explains latencies well above the queue's ${r.settings.tbfLatencyMs} ms limit ` +
        `where they occur (the machine's load is the other source).`,
    );
  for (const p of [normal, recovery])
    if (p)
      out.push(
        `${p.label}: ${p.verdictPercent} % of the requests got a verdict` +
          (p.clt
            ? ` (CLT on, ${p.withRouterHopPercent} % with the router hop, IOAM queue depth max ${fmtBytes(p.ioamQueueBytes?.max)} B)`
            : ' (CLT off)') +
          (p.verdictPercent > 0 ? `: ${Object.keys(p.verdicts).join('; ')} — a verdict where nothing was congested.` : '.') +
          (p.clt && p.routerTransitMs && p.latencyMs.p99 > 10 * Math.max(p.routerTransitMs.p99, 0.1)
            ? ` Its latency tail (p99 ${fmtMs(p.latencyMs.p99)} ms) is not the router's: the router hop's p99 was ` +
              `${fmtMs(p.routerTransitMs.p99)} ms, and the endpoints share ${r.machine.cores} cores with the lab and whatever else ran.`
            : ''),
      );
  const failed = r.summary.phases.reduce((a, p) => a + p.failed, 0);
  if (failed > 0)
    out.push(`${failed} requests failed (status 0: no answer or a connection error); they are left out of the latency figures.`);
  if (r.cltWarnings.length) out.push(`The CLT client warned: ${r.cltWarnings.join(' | ')}`);
  if (r.collector.warnings.length) out.push(`netspan logged warnings: ${r.collector.warnings.join(' | ')}`);
  return out;
}

/** Writes REPORT.md and scenario.svg into `dir`; returns the phase table. */
export function writeReport(r: ScenarioResults, dir: string): string {
  const table = phaseTable(r.summary.phases);
  const m = r.machine;
  const s = r.settings;
  writeFileSync(join(dir, 'scenario.svg'), scenarioSvg(r));
  const md = `# bench/scenario — the CLT paper's experiment, reproduced (generated report)

Generated by \`npm run bench:scenario\` on ${r.date.slice(0, 10)}; method and options in
[bench/README.md](../README.md#benchscenario--the-clt-papers-experiment-reproduced). Do not edit: rerun.

Run: ${s.rate} requests/s open loop, ${s.phaseSeconds} s per phase; bottleneck tbf ${s.bottleneckMbit} Mbit/s (queue limit
${s.tbfLatencyMs} ms) on the router's egress toward the server, filled by ${s.bulkStreams} bulk TCP streams in phases 2
and 3. Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; the machine
was ${m.busyBeforeRunPercent} % busy (of one core) before the run and ${m.busyDuringRunPercent} % during it, the
lab included (${m.note}).

![latency and queue depth over time](scenario.svg)

${table}

What it shows:

${findings(r)
  .map((f) => `- ${f}`)
  .join('\n')}

Latency is the client's (the SDK app's request, start to end of the response, on the monotonic
clock). "tc backlog" is the router's egress qdisc as \`tc -s qdisc\` reported it every 250 ms,
independent of netspan; "IOAM" is the queue depth the router's kernel wrote into the requests'
packets (bit 6, the egress qdisc's byte backlog), as netspan's router hop spans carry it. A
verdict is the \`netspan.verdict*\` attributes on the network summary span under the request's
client span.
`;
  writeFileSync(join(dir, 'REPORT.md'), md);
  return table;
}

/** `node dist/bench/scenario/report.js [latest.json] [dir]`: renders REPORT.md and the SVG again from a results file. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? defaultResultsFile('scenario');
  const results = JSON.parse(readFileSync(file, 'utf8')) as ScenarioResults;
  console.log(writeReport(results, process.argv[3] ?? join(dirname(file), '..')));
}
