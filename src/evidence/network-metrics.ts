/**
 * Network metrics for dashboards and alerts: what the correlation learned per device and
 * interface (the time requests spent on each hop, the verdicts), plus the device state's
 * latest values, as OTLP metrics. The correlate processor records into it; the
 * `network_metrics` receiver collects it into a metrics pipeline every collection interval.
 *
 *   netspan.network.hop.duration     histogram, ms     device, interface, direction, evidence (ioam | observation)
 *   netspan.network.verdicts         sum (monotonic)   device, interface, rule, cause
 *   netspan.device.interface.utilisation  gauge, 1    device, interface, direction (in | out)
 *   netspan.device.interface.errors        gauge, {error}/s   device, interface, direction
 *   netspan.device.interface.discards      gauge, {packet}/s  device, interface, direction
 *   netspan.device.interface.oper_status   gauge      device, interface (IF-MIB: 1 up, 2 down, ...)
 *   netspan.device.cpu.utilisation         gauge, %   device
 * Series are bounded (max_series): beyond it new series are dropped and counted.
 */
import { create } from '@bufbuild/protobuf';
import type { DeviceStateStore } from '../devices/store.js';
import { emptyMetrics, type Metrics } from '../model/otlp.js';
import { toKeyValues } from '../model/observation-logs.js';
import {
  AggregationTemporality,
  MetricSchema,
  ResourceMetricsSchema,
  type Metric,
  type NumberDataPoint,
} from '../wire/otlp/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';

/** Bucket bounds of the hop duration histogram, ms: from a LAN hop to a congested or broken path. */
export const HOP_DURATION_BOUNDS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
export const DEFAULT_MAX_SERIES = 10_000;

type Labels = Record<string, string>;

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

const keyOf = (labels: Labels) => JSON.stringify(labels);

export class NetworkMetrics {
  private readonly hops = new Map<string, HistogramSeries>();
  private readonly verdicts = new Map<string, { labels: Labels; value: number }>();
  private readonly startUnixNano: bigint;
  /** Observations not recorded because max_series was reached. */
  dropped = 0;

  constructor(
    private readonly maxSeries = DEFAULT_MAX_SERIES,
    private readonly now: () => number = Date.now,
  ) {
    this.startUnixNano = BigInt(this.now()) * 1_000_000n;
  }

  private get series(): number {
    return this.hops.size + this.verdicts.size;
  }

  recordHop(labels: { device: string; interface?: string; direction: string; evidence: 'ioam' | 'observation' }, durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) return;
    const l: Labels = { 'netspan.device.name': labels.device, 'netspan.direction': labels.direction, 'netspan.evidence': labels.evidence };
    if (labels.interface !== undefined) l['netspan.interface.name'] = labels.interface;
    const key = keyOf(l);
    let s = this.hops.get(key);
    if (!s) {
      if (this.series >= this.maxSeries) {
        this.dropped++;
        return;
      }
      s = {
        labels: l,
        counts: new Array<number>(HOP_DURATION_BOUNDS_MS.length + 1).fill(0),
        count: 0,
        sum: 0,
        min: durationMs,
        max: durationMs,
      };
      this.hops.set(key, s);
    }
    let i = 0;
    while (i < HOP_DURATION_BOUNDS_MS.length && durationMs > HOP_DURATION_BOUNDS_MS[i]!) i++;
    s.counts[i]!++;
    s.count++;
    s.sum += durationMs;
    if (durationMs < s.min) s.min = durationMs;
    if (durationMs > s.max) s.max = durationMs;
  }

  recordVerdict(labels: { device: string; interface?: string; rule: string; cause: string }): void {
    const l: Labels = { 'netspan.device.name': labels.device, 'netspan.verdict.rule': labels.rule, 'netspan.verdict.cause': labels.cause };
    if (labels.interface !== undefined) l['netspan.interface.name'] = labels.interface;
    const key = keyOf(l);
    const v = this.verdicts.get(key);
    if (v) v.value++;
    else if (this.series >= this.maxSeries) this.dropped++;
    else this.verdicts.set(key, { labels: l, value: 1 });
  }

  /** Everything as one OTLP Metrics request (cumulative since start), with the device store's latest values as gauges. */
  collect(devices: DeviceStateStore | undefined, resource: Labels): Metrics {
    const t = BigInt(this.now()) * 1_000_000n;
    const metrics: Metric[] = [];
    if (this.hops.size > 0)
      metrics.push(
        create(MetricSchema, {
          name: 'netspan.network.hop.duration',
          description: 'Time requests spent from one network device to the next (IOAM) or inside a device (observation points).',
          unit: 'ms',
          data: {
            case: 'histogram',
            value: {
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPoints: [...this.hops.values()].map((s) => ({
                attributes: toKeyValues(s.labels),
                startTimeUnixNano: this.startUnixNano,
                timeUnixNano: t,
                count: BigInt(s.count),
                sum: s.sum,
                min: s.min,
                max: s.max,
                explicitBounds: HOP_DURATION_BOUNDS_MS,
                bucketCounts: s.counts.map(BigInt),
              })),
            },
          },
        }),
      );
    if (this.verdicts.size > 0)
      metrics.push(
        create(MetricSchema, {
          name: 'netspan.network.verdicts',
          description: 'Verdicts written on network summary spans, by device, interface and rule.',
          unit: '{verdict}',
          data: {
            case: 'sum',
            value: {
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              isMonotonic: true,
              dataPoints: [...this.verdicts.values()].map((v) => ({
                attributes: toKeyValues(v.labels),
                startTimeUnixNano: this.startUnixNano,
                timeUnixNano: t,
                value: { case: 'asInt' as const, value: BigInt(v.value) },
              })),
            },
          },
        }),
      );
    if (devices) metrics.push(...deviceGauges(devices, t));
    const out = emptyMetrics();
    out.resourceMetrics.push(
      create(ResourceMetricsSchema, {
        resource: { attributes: toKeyValues(resource) },
        scopeMetrics: [{ scope: { name: 'netspan' }, metrics }],
      }),
    );
    return out;
  }
}

type Point = Omit<NumberDataPoint, '$typeName' | '$unknown'>;

function gauge(name: string, description: string, unit: string, points: Point[]): Metric[] {
  if (points.length === 0) return [];
  return [create(MetricSchema, { name, description, unit, data: { case: 'gauge', value: { dataPoints: points } } })];
}

/** The device store's latest values per device and interface, as gauges. */
function deviceGauges(devices: DeviceStateStore, t: bigint): Metric[] {
  const util: Point[] = [];
  const errors: Point[] = [];
  const discards: Point[] = [];
  const status: Point[] = [];
  const cpu: Point[] = [];
  const point = (labels: Labels, value: number, time: bigint): Point => ({
    attributes: toKeyValues(labels),
    startTimeUnixNano: 0n,
    timeUnixNano: time,
    exemplars: [],
    flags: 0,
    value: { case: 'asDouble', value },
  });
  for (const d of devices.listDevices()) {
    const state = devices.stateAt(d.device, undefined, t, 0n);
    if (!state) continue;
    if (state.cpu) cpu.push(point({ 'netspan.device.name': d.device }, state.cpu.value.average, state.cpu.timeUnixNano));
    for (const i of state.interfaces) {
      const base: Labels = { 'netspan.device.name': d.device, 'netspan.interface.name': i.name ?? String(i.ifIndex) };
      if (i.latest.value.operStatus !== undefined) status.push(point(base, i.latest.value.operStatus, i.latest.timeUnixNano));
      const r = i.latestRates;
      if (!r) continue;
      const p = r.value;
      for (const [dir, u, e, dsc] of [
        ['in', p.inUtilisation, p.inErrorsPerSecond, p.inDiscardsPerSecond],
        ['out', p.outUtilisation, p.outErrorsPerSecond, p.outDiscardsPerSecond],
      ] as const) {
        const labels = { ...base, 'netspan.direction': dir };
        if (u !== undefined) util.push(point(labels, u, r.timeUnixNano));
        if (e !== undefined) errors.push(point(labels, e, r.timeUnixNano));
        if (dsc !== undefined) discards.push(point(labels, dsc, r.timeUnixNano));
      }
    }
  }
  return [
    ...gauge('netspan.device.interface.utilisation', 'Interface utilisation (rate / speed) at the latest poll.', '1', util),
    ...gauge('netspan.device.interface.errors', 'Interface errors per second at the latest poll.', '{error}/s', errors),
    ...gauge('netspan.device.interface.discards', 'Interface discards per second at the latest poll.', '{packet}/s', discards),
    ...gauge('netspan.device.interface.oper_status', 'IF-MIB ifOperStatus (1 up, 2 down, ...).', '1', status),
    ...gauge('netspan.device.cpu.utilisation', 'Average processor load (hrProcessorLoad).', '%', cpu),
  ];
}
