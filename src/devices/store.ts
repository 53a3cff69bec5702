/**
 * The device state store: per device and interface, time series of what SNMP polls and sFlow
 * counter samples report (octets, errors, discards, oper status, speed), per device CPU and
 * memory, and IOAM queue depth / buffer occupancy. Rates come from counter deltas:
 *  - 32- and 64-bit wraps count as an increase when plausible (see counters.ts);
 *  - a restart (sysUpTime going back or advancing less than the time that passed) or a
 *    counter going back that is no plausible wrap is a reset: that point has no rates;
 *  - no rate across a gap longer than `max_rate_gap`, nor between readings of different
 *    sources or counter widths.
 * Bounded: points older than `retention` (by their time) and beyond `max_points_per_series`
 * are dropped, and beyond `max_series` the least recently updated series goes; all counted.
 * Pure and in memory: no timers (expiry runs on insert and query).
 */
import type { SelfMetrics } from '../core/telemetry/metrics.js';
import { NetspanError } from '../core/errors.js';
import { counterDelta, uptimeRestarted } from './counters.js';
import { Inventory, addressKey } from './inventory.js';
import type { DevicesConfig } from './config.js';
import {
  OPER_STATUS,
  type Aged,
  type Anomaly,
  type DevicePoint,
  type DeviceReading,
  type DeviceSeries,
  type DeviceSource,
  type DeviceStateAt,
  type InterfacePoint,
  type InterfaceReading,
  type InterfaceStateAt,
  type IoamNodeState,
  type IoamPoint,
  type NoRateReason,
  type StatusChange,
} from './model.js';

const NS_PER_MS = 1_000_000n;

/** The store's limits and thresholds, in the units the code uses. */
export interface DeviceStoreOptions {
  retentionMs: number;
  maxPointsPerSeries: number;
  maxSeries: number;
  maxRateGapMs: number;
  utilisationThreshold: number;
  errorRateThreshold: number;
  discardRateThreshold: number;
  queueGrowthThreshold: number;
  maxFlowExporters: number;
}

/** Options from the `evidence.devices` config section. */
export function deviceStoreOptions(c: DevicesConfig): DeviceStoreOptions {
  return {
    retentionMs: c.retention,
    maxPointsPerSeries: c.max_points_per_series,
    maxSeries: c.max_series,
    maxRateGapMs: c.max_rate_gap,
    utilisationThreshold: c.anomalies.utilisation,
    errorRateThreshold: c.anomalies.error_rate,
    discardRateThreshold: c.anomalies.discard_rate,
    queueGrowthThreshold: c.anomalies.queue_growth,
    maxFlowExporters: c.max_flow_exporters,
  };
}

/** A query the store cannot answer as asked (a window that ends before it starts, a negative window). */
export class DeviceQueryError extends NetspanError {
  override readonly name = 'DeviceQueryError';
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('DEVICE_BAD_QUERY', message, { context });
  }
}

/** A reading's interface counters as last seen from one source, for the next rate. */
interface LastCounters {
  timeUnixNano: bigint;
  reading: InterfaceReading;
}

interface InterfaceState {
  ifIndex: number;
  name?: string;
  alias?: string;
  points: InterfacePoint[];
  changes: StatusChange[];
  lastStatus?: number;
  last: Map<DeviceSource, LastCounters>;
}

interface DeviceEvent {
  timeUnixNano: bigint;
  kind: 'reboot';
  source: DeviceSource;
}

interface DeviceState {
  key: string;
  points: DevicePoint[];
  ioam: IoamPoint[];
  events: DeviceEvent[];
  interfaces: Map<number, InterfaceState>;
  lastUptime?: { ticks: number; timeUnixNano: bigint };
}

type SeriesRef =
  { device: string; kind: 'device' } | { device: string; kind: 'ioam' } | { device: string; kind: 'interface'; ifIndex: number };

const seriesId = (ref: SeriesRef): string =>
  ref.kind === 'interface' ? `${ref.device}\u0000if\u0000${ref.ifIndex}` : `${ref.device}\u0000${ref.kind}`;

const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OPER_STATUS).map(([k, v]) => [v, k]));
const statusName = (s: number): string => STATUS_NAMES[s] ?? String(s);

/** Index of the last element with time ≤ t, or -1 (elements sorted by time). */
function lastAtOrBefore<T extends { timeUnixNano: bigint }>(items: readonly T[], t: bigint): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid]!.timeUnixNano <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Elements with from ≤ time ≤ to (sorted by time). */
function inRange<T extends { timeUnixNano: bigint }>(items: readonly T[], from: bigint, to: bigint): T[] {
  const end = lastAtOrBefore(items, to);
  const out: T[] = [];
  for (let i = end; i >= 0 && items[i]!.timeUnixNano >= from; i--) out.push(items[i]!);
  return out.reverse();
}

function aged<T>(value: T, time: bigint, at: bigint): Aged<T> {
  return { value, timeUnixNano: time, ageNano: at - time };
}

export class DeviceStateStore {
  readonly inventory: Inventory;
  private readonly devices = new Map<string, DeviceState>();
  /** Every series, least recently updated first (re-inserted on update). */
  private readonly series = new Map<string, SeriesRef>();
  private readonly exporters = new Map<string, number>();
  private lastSweepMs = -Infinity;
  private readonly ioamInserted: (n: number) => void;
  private readonly m: {
    readings: (source: DeviceSource, n: number) => void;
    evicted: (reason: 'age' | 'capacity' | 'series', n: number) => void;
    rejected: (reason: 'out_of_order' | 'too_old', n: number) => void;
    resets: (kind: 'reboot' | 'counter_reset') => void;
    seriesCount: () => void;
    exportersEvicted: () => void;
  };

  constructor(
    readonly options: DeviceStoreOptions,
    metrics: SelfMetrics,
    inventory: Inventory = new Inventory(),
    private readonly now: () => number = Date.now,
  ) {
    this.inventory = inventory;
    const readings = metrics.counter('netspan_devices_readings_total', 'Device readings (SNMP polls, sFlow counter samples) stored.', [
      'source',
    ]);
    const ioam = metrics.counter('netspan_devices_ioam_points_total', 'IOAM queue depth / buffer occupancy points stored.', []);
    const evicted = metrics.counter(
      'netspan_devices_points_evicted_total',
      'Device state points dropped: past retention (age), over max_points_per_series (capacity), or with a series dropped over max_series (series).',
      ['reason'],
    );
    const rejected = metrics.counter(
      'netspan_devices_readings_rejected_total',
      'Device readings not stored: not newer than the series (out_of_order) or already past retention (too_old).',
      ['reason'],
    );
    const resets = metrics.counter(
      'netspan_devices_counter_resets_total',
      'Counter discontinuities seen: device restarts by sysUpTime (reboot), counters going back without a plausible wrap (counter_reset).',
      ['kind'],
    );
    const seriesGauge = metrics.gauge('netspan_devices_series', 'Device state series held (interfaces, device CPU/memory, IOAM).', []);
    const exportersEvicted = metrics.counter(
      'netspan_devices_flow_exporters_evicted_total',
      'Flow exporter addresses forgotten over max_flow_exporters (least recently seen first).',
      [],
    );
    this.ioamInserted = (n) => ioam.inc(n);
    this.m = {
      readings: (source, n) => readings.labels({ source }).inc(n),
      evicted: (reason, n) => {
        if (n > 0) evicted.labels({ reason }).inc(n);
      },
      rejected: (reason, n) => {
        if (n > 0) rejected.labels({ reason }).inc(n);
      },
      resets: (kind) => resets.labels({ kind }).inc(),
      seriesCount: () => seriesGauge.set(this.series.size),
      exportersEvicted: () => exportersEvicted.inc(),
    };
  }

  /** The device key a reading belongs to: its own name, else the inventory's for its address, else the address. */
  deviceKey(reading: Pick<DeviceReading, 'address' | 'device'>): string {
    return reading.device ?? this.inventory.deviceForAddress(reading.address);
  }

  /** Adds readings (in time order per device and source); older-or-equal ones than a series' last are rejected and counted. */
  addReadings(readings: readonly DeviceReading[]): void {
    const cutoff = this.cutoffNano();
    for (const r of readings) {
      if (r.timeUnixNano < cutoff) {
        this.m.rejected('too_old', 1);
        continue;
      }
      this.addReading(r);
    }
    this.sweepIfDue();
  }

  /** Adds one IOAM point of a device (a name, an address, or `ioam:<node id>` from inventory.deviceForIoamNode). */
  addIoamNodeState(deviceKey: string, timeUnixNano: bigint, state: IoamNodeState): void {
    if (timeUnixNano < this.cutoffNano()) {
      this.m.rejected('too_old', 1);
      return;
    }
    const device = this.device(this.resolveKey(deviceKey));
    const point: IoamPoint = { timeUnixNano, ...state };
    // IOAM points come from packets: nearly in order; insert in place.
    const at = lastAtOrBefore(device.ioam, timeUnixNano) + 1;
    device.ioam.splice(at, 0, point);
    this.trim(device.ioam);
    this.touch({ device: device.key, kind: 'ioam' });
    this.ioamInserted(1);
    this.sweepIfDue();
  }

  /** Notes a flow exporter address (for SNMP polling of exporters); bounded, least recently seen forgotten first. */
  noteFlowExporter(address: string): void {
    const key = addressKey(address);
    if (this.exporters.has(key)) this.exporters.delete(key);
    else if (this.exporters.size >= this.options.maxFlowExporters) {
      const oldest = this.exporters.keys().next().value;
      if (oldest !== undefined) {
        this.exporters.delete(oldest);
        this.m.exportersEvicted();
      }
    }
    this.exporters.set(key, this.now());
  }

  /** Flow exporter addresses seen, most recently seen last. */
  flowExporters(): string[] {
    return [...this.exporters.keys()];
  }

  /** Devices held, with their interfaces and the time of their newest point. */
  listDevices(): { device: string; interfaces: { ifIndex: number; name?: string }[]; newestUnixNano?: bigint }[] {
    this.sweepIfDue();
    return [...this.devices.values()].map((d) => {
      let newest: bigint | undefined;
      const consider = (t: bigint | undefined) => {
        if (t !== undefined && (newest === undefined || t > newest)) newest = t;
      };
      consider(d.points.at(-1)?.timeUnixNano);
      consider(d.ioam.at(-1)?.timeUnixNano);
      for (const i of d.interfaces.values()) consider(i.points.at(-1)?.timeUnixNano);
      const interfaces = [...d.interfaces.values()]
        .map((i) => ({ ifIndex: i.ifIndex, ...(this.ifName(d.key, i) === undefined ? {} : { name: this.ifName(d.key, i) }) }))
        .sort((a, b) => a.ifIndex - b.ifIndex);
      return { device: d.key, interfaces, ...(newest === undefined ? {} : { newestUnixNano: newest }) };
    });
  }

  /**
   * The state of a device (or one of its interfaces, by ifIndex or name) at a time: the latest
   * values at or before it with their age, and the anomalies within [time − window, time + window].
   * Undefined when the device (or interface) is not known.
   */
  stateAt(device: string, iface: number | string | undefined, timeUnixNano: bigint, windowNano: bigint): DeviceStateAt | undefined {
    if (windowNano < 0n) throw new DeviceQueryError(`window must not be negative (got ${windowNano})`, { device });
    this.sweepIfDue();
    const d = this.devices.get(this.resolveKey(device));
    if (!d) return undefined;
    let ifaces: InterfaceState[];
    if (iface === undefined) ifaces = [...d.interfaces.values()].sort((a, b) => a.ifIndex - b.ifIndex);
    else {
      const one = this.findInterface(d, iface);
      if (!one) return undefined;
      ifaces = [one];
    }
    const t = timeUnixNano;
    const state: DeviceStateAt = { device: d.key, timeUnixNano: t, interfaces: [], anomalies: [] };

    const di = lastAtOrBefore(d.points, t);
    for (let i = di; i >= 0; i--) {
      const p = d.points[i]!;
      if (!state.cpu && p.cpuAverage !== undefined && p.cpuMax !== undefined)
        state.cpu = aged({ average: p.cpuAverage, max: p.cpuMax, processors: p.processors ?? 0 }, p.timeUnixNano, t);
      if (!state.memory && p.memoryUsedBytes !== undefined && p.memorySizeBytes !== undefined)
        state.memory = aged(
          {
            usedBytes: p.memoryUsedBytes,
            sizeBytes: p.memorySizeBytes,
            ...(p.memoryUtilisation === undefined ? {} : { utilisation: p.memoryUtilisation }),
          },
          p.timeUnixNano,
          t,
        );
      if (state.cpu && state.memory) break;
    }
    const qi = lastAtOrBefore(d.ioam, t);
    if (qi >= 0) {
      const { timeUnixNano: qt, ...q } = d.ioam[qi]!;
      state.ioam = aged(q, qt, t);
    }

    for (const s of ifaces) {
      const li = lastAtOrBefore(s.points, t);
      if (li < 0) continue;
      const latest = s.points[li]!;
      const entry: InterfaceStateAt = { ifIndex: s.ifIndex, latest: aged(latest, latest.timeUnixNano, t) };
      const name = this.ifName(d.key, s);
      if (name !== undefined) entry.name = name;
      if (s.alias !== undefined) entry.alias = s.alias;
      for (let i = li; i >= 0; i--) {
        const p = s.points[i]!;
        if (p.noRate === undefined) {
          entry.latestRates = aged(p, p.timeUnixNano, t);
          break;
        }
      }
      state.interfaces.push(entry);
    }

    const from = t - windowNano;
    const to = t + windowNano;
    state.anomalies = this.anomalies(d, ifaces, from, to);
    return state;
  }

  /**
   * Anomalies of a device within [from, to], in time order: of all its interfaces, of one (by
   * ifIndex or name), or of those listed (an empty list: the device's own alone), with the
   * device's own (restarts, IOAM queue growth) in every case.
   */
  anomaliesIn(
    device: string,
    iface: number | string | readonly (number | string)[] | undefined,
    fromUnixNano: bigint,
    toUnixNano: bigint,
  ): Anomaly[] {
    if (fromUnixNano > toUnixNano) throw new DeviceQueryError(`from ${fromUnixNano} is after to ${toUnixNano}`, { device });
    this.sweepIfDue();
    const d = this.devices.get(this.resolveKey(device));
    if (!d) return [];
    let ifaces: InterfaceState[];
    if (iface === undefined) ifaces = [...d.interfaces.values()];
    else if (typeof iface === 'object') {
      // In the device's order, each once however many of its names are listed.
      const listed = new Set(iface.map((i) => this.findInterface(d, i)));
      ifaces = [...d.interfaces.values()].filter((s) => listed.has(s));
    } else ifaces = [this.findInterface(d, iface)].filter((x) => x !== undefined);
    return this.anomalies(d, ifaces, fromUnixNano, toUnixNano);
  }

  /** The series of a device (or one interface) within [from, to], for a UI; undefined for an unknown device. */
  seriesIn(device: string, iface: number | string | undefined, fromUnixNano: bigint, toUnixNano: bigint): DeviceSeries | undefined {
    if (fromUnixNano > toUnixNano) throw new DeviceQueryError(`from ${fromUnixNano} is after to ${toUnixNano}`, { device });
    this.sweepIfDue();
    const d = this.devices.get(this.resolveKey(device));
    if (!d) return undefined;
    const ifaces =
      iface === undefined
        ? [...d.interfaces.values()].sort((a, b) => a.ifIndex - b.ifIndex)
        : [this.findInterface(d, iface)].filter((x) => x !== undefined);
    return {
      device: d.key,
      devicePoints: inRange(d.points, fromUnixNano, toUnixNano),
      ioam: inRange(d.ioam, fromUnixNano, toUnixNano),
      interfaces: ifaces.map((s) => {
        const name = this.ifName(d.key, s);
        return {
          ifIndex: s.ifIndex,
          ...(name === undefined ? {} : { name }),
          ...(s.alias === undefined ? {} : { alias: s.alias }),
          points: inRange(s.points, fromUnixNano, toUnixNano),
          statusChanges: inRange(s.changes, fromUnixNano, toUnixNano),
        };
      }),
    };
  }

  /** Series held now. */
  get seriesCount(): number {
    return this.series.size;
  }

  /** Drops points past retention now (also done on insert and query, at most every retention/10). */
  expire(): void {
    this.lastSweepMs = this.now();
    const cutoff = this.cutoffNano();
    let dropped = 0;
    const dropOld = <T extends { timeUnixNano: bigint }>(items: T[]) => {
      let n = 0;
      while (n < items.length && items[n]!.timeUnixNano < cutoff) n++;
      if (n > 0) items.splice(0, n);
      dropped += n;
    };
    for (const d of this.devices.values()) {
      dropOld(d.points);
      dropOld(d.ioam);
      dropOld(d.events);
      if (d.points.length === 0) this.forget({ device: d.key, kind: 'device' });
      if (d.ioam.length === 0) this.forget({ device: d.key, kind: 'ioam' });
      for (const s of [...d.interfaces.values()]) {
        dropOld(s.points);
        dropOld(s.changes);
        if (s.points.length === 0) {
          d.interfaces.delete(s.ifIndex);
          this.forget({ device: d.key, kind: 'interface', ifIndex: s.ifIndex });
        }
      }
      if (d.points.length === 0 && d.ioam.length === 0 && d.interfaces.size === 0) this.devices.delete(d.key);
    }
    this.m.evicted('age', dropped);
    this.m.seriesCount();
  }

  // --- insert ---

  private addReading(r: DeviceReading): void {
    const d = this.device(this.deviceKey(r));
    const t = r.timeUnixNano;

    let rebooted = false;
    if (r.sysUpTimeTicks !== undefined) {
      // Uptime against the time it was read: a slow table walk must not look like a restart.
      const ut = r.sysUpTimeUnixNano ?? t;
      const prev = d.lastUptime;
      if (prev && ut > prev.timeUnixNano) {
        rebooted = uptimeRestarted(prev.ticks, r.sysUpTimeTicks, Number((ut - prev.timeUnixNano) / NS_PER_MS));
        if (rebooted) {
          d.events.push({ timeUnixNano: t, kind: 'reboot', source: r.source });
          this.trim(d.events);
          this.m.resets('reboot');
        }
      }
      if (!prev || ut > prev.timeUnixNano) d.lastUptime = { ticks: r.sysUpTimeTicks, timeUnixNano: ut };
    }

    if (r.cpu || r.memory || r.sysUpTimeTicks !== undefined) {
      const last = d.points.at(-1);
      if (last && t <= last.timeUnixNano) this.m.rejected('out_of_order', 1);
      else {
        const p: DevicePoint = { timeUnixNano: t };
        if (r.cpu && r.cpu.loads.length > 0) {
          p.cpuAverage = r.cpu.loads.reduce((a, b) => a + b, 0) / r.cpu.loads.length;
          p.cpuMax = Math.max(...r.cpu.loads);
          p.processors = r.cpu.loads.length;
        }
        if (r.memory) {
          p.memoryUsedBytes = r.memory.usedBytes;
          p.memorySizeBytes = r.memory.sizeBytes;
          if (r.memory.sizeBytes > 0) p.memoryUtilisation = r.memory.usedBytes / r.memory.sizeBytes;
        }
        if (r.sysUpTimeTicks !== undefined) p.sysUpTimeTicks = r.sysUpTimeTicks;
        d.points.push(p);
        this.trim(d.points);
        this.touch({ device: d.key, kind: 'device' });
      }
    }

    for (const reading of r.interfaces) this.addInterface(d, r.source, t, reading, rebooted);
    this.m.readings(r.source, 1);
  }

  private addInterface(d: DeviceState, source: DeviceSource, t: bigint, reading: InterfaceReading, rebooted: boolean): void {
    let s = d.interfaces.get(reading.ifIndex);
    if (!s) {
      s = { ifIndex: reading.ifIndex, points: [], changes: [], last: new Map() };
      d.interfaces.set(reading.ifIndex, s);
    }
    const lastPoint = s.points.at(-1);
    const prev = s.last.get(source);
    if ((prev && t <= prev.timeUnixNano) || (lastPoint && t < lastPoint.timeUnixNano)) {
      this.m.rejected('out_of_order', 1);
      return;
    }
    if (reading.name !== undefined) s.name = reading.name;
    if (reading.alias !== undefined) s.alias = reading.alias;

    const p: InterfacePoint = { timeUnixNano: t, source };
    if (reading.inOctets !== undefined) p.inOctets = reading.inOctets;
    if (reading.outOctets !== undefined) p.outOctets = reading.outOctets;
    if (reading.inErrors !== undefined) p.inErrors = reading.inErrors;
    if (reading.outErrors !== undefined) p.outErrors = reading.outErrors;
    if (reading.inDiscards !== undefined) p.inDiscards = reading.inDiscards;
    if (reading.outDiscards !== undefined) p.outDiscards = reading.outDiscards;
    if (reading.operStatus !== undefined) p.operStatus = reading.operStatus;
    if (reading.speedBps !== undefined && reading.speedBps > 0) p.speedBps = reading.speedBps;

    const noRate = this.rates(p, prev, reading, rebooted);
    if (noRate !== undefined) p.noRate = noRate;

    if (reading.operStatus !== undefined) {
      if (s.lastStatus !== undefined && s.lastStatus !== reading.operStatus) {
        s.changes.push({
          timeUnixNano: t,
          ...(lastPoint ? { sinceUnixNano: lastPoint.timeUnixNano } : {}),
          ifIndex: s.ifIndex,
          from: s.lastStatus,
          to: reading.operStatus,
        });
        this.trim(s.changes);
      }
      s.lastStatus = reading.operStatus;
    }

    s.last.set(source, { timeUnixNano: t, reading });
    s.points.push(p);
    this.trim(s.points);
    this.touch({ device: d.key, kind: 'interface', ifIndex: s.ifIndex });
  }

  /** Fills p's rates from the previous reading of the same source; returns why there are none, if so. */
  private rates(p: InterfacePoint, prev: LastCounters | undefined, cur: InterfaceReading, rebooted: boolean): NoRateReason | undefined {
    if (!prev) return 'first';
    if (rebooted) return 'reboot';
    const dtNano = p.timeUnixNano - prev.timeUnixNano;
    if (dtNano > BigInt(this.options.maxRateGapMs) * NS_PER_MS) return 'gap';
    const dtSec = Number(dtNano) / 1e9;
    const before = prev.reading;
    const octetBits = cur.octetBits ?? 64;
    if ((before.octetBits ?? 64) !== octetBits) return 'counter_reset';
    // At most line rate (with slack for agents' timing) when the speed is known.
    const speed = cur.speedBps ?? before.speedBps;
    const maxOctets = speed && speed > 0 ? BigInt(Math.ceil(((speed * dtSec) / 8) * 1.5 + 1e6)) : undefined;

    const deltas: [keyof InterfacePoint & string, bigint][] = [];
    const octetPairs: [bigint | undefined, bigint | undefined, 'inBitsPerSecond' | 'outBitsPerSecond'][] = [
      [before.inOctets, cur.inOctets, 'inBitsPerSecond'],
      [before.outOctets, cur.outOctets, 'outBitsPerSecond'],
    ];
    for (const [a, b, field] of octetPairs) {
      if (a === undefined || b === undefined) continue;
      const r = counterDelta(a, b, octetBits, maxOctets);
      if (r.kind === 'reset') return this.counterReset();
      deltas.push([field, r.delta * 8n]);
    }
    const counterPairs: [number | undefined, number | undefined, keyof InterfacePoint & string][] = [
      [before.inErrors, cur.inErrors, 'inErrorsPerSecond'],
      [before.outErrors, cur.outErrors, 'outErrorsPerSecond'],
      [before.inDiscards, cur.inDiscards, 'inDiscardsPerSecond'],
      [before.outDiscards, cur.outDiscards, 'outDiscardsPerSecond'],
    ];
    for (const [a, b, field] of counterPairs) {
      if (a === undefined || b === undefined) continue;
      const r = counterDelta(BigInt(a), BigInt(b), 32);
      if (r.kind === 'reset') return this.counterReset();
      deltas.push([field, r.delta]);
    }
    const rates = p as unknown as Record<string, number>;
    for (const [field, delta] of deltas) rates[field] = Number(delta) / dtSec;
    p.intervalNano = dtNano;
    if (p.speedBps) {
      if (p.inBitsPerSecond !== undefined) p.inUtilisation = p.inBitsPerSecond / p.speedBps;
      if (p.outBitsPerSecond !== undefined) p.outUtilisation = p.outBitsPerSecond / p.speedBps;
    }
    return undefined;
  }

  private counterReset(): NoRateReason {
    this.m.resets('counter_reset');
    return 'counter_reset';
  }

  // --- queries ---

  private anomalies(d: DeviceState, ifaces: readonly InterfaceState[], from: bigint, to: bigint): Anomaly[] {
    const o = this.options;
    const out: Anomaly[] = [];
    for (const e of inRange(d.events, from, to))
      out.push({ kind: 'reboot', timeUnixNano: e.timeUnixNano, value: 1, detail: `device restarted (sysUpTime, from ${e.source})` });
    for (const s of ifaces) {
      const base = (): Pick<Anomaly, 'ifIndex' | 'interfaceName'> => {
        const name = this.ifName(d.key, s);
        return name === undefined ? { ifIndex: s.ifIndex } : { ifIndex: s.ifIndex, interfaceName: name };
      };
      for (const c of inRange(s.changes, from, to))
        out.push({
          kind: 'flap',
          timeUnixNano: c.timeUnixNano,
          ...(c.sinceUnixNano !== undefined ? { sinceUnixNano: c.sinceUnixNano } : {}),
          ...base(),
          value: c.to,
          detail: `oper status ${statusName(c.from)} → ${statusName(c.to)}`,
        });
      for (const p of inRange(s.points, from, to)) {
        if (p.noRate === 'counter_reset')
          out.push({
            kind: 'counter_reset',
            timeUnixNano: p.timeUnixNano,
            ...base(),
            value: 1,
            detail: 'counters went back (no plausible wrap)',
          });
        if (p.noRate !== undefined) continue;
        const since = p.intervalNano !== undefined ? { sinceUnixNano: p.timeUnixNano - p.intervalNano } : {};
        const util = Math.max(p.inUtilisation ?? 0, p.outUtilisation ?? 0);
        if (util > o.utilisationThreshold)
          out.push({
            kind: 'high_utilisation',
            timeUnixNano: p.timeUnixNano,
            ...since,
            ...base(),
            value: util,
            threshold: o.utilisationThreshold,
            detail: `utilisation in ${pct(p.inUtilisation)} out ${pct(p.outUtilisation)}`,
          });
        const errors = (p.inErrorsPerSecond ?? 0) + (p.outErrorsPerSecond ?? 0);
        if (errors > o.errorRateThreshold)
          out.push({
            kind: 'error_burst',
            timeUnixNano: p.timeUnixNano,
            ...since,
            ...base(),
            value: errors,
            threshold: o.errorRateThreshold,
            detail: `errors/s in ${fmt(p.inErrorsPerSecond)} out ${fmt(p.outErrorsPerSecond)}`,
          });
        const discards = (p.inDiscardsPerSecond ?? 0) + (p.outDiscardsPerSecond ?? 0);
        if (discards > o.discardRateThreshold)
          out.push({
            kind: 'discard_burst',
            timeUnixNano: p.timeUnixNano,
            ...since,
            ...base(),
            value: discards,
            threshold: o.discardRateThreshold,
            detail: `discards/s in ${fmt(p.inDiscardsPerSecond)} out ${fmt(p.outDiscardsPerSecond)}`,
          });
      }
    }
    const growth = queueGrowth(inRange(d.ioam, from, to));
    if (growth && growth.growth >= o.queueGrowthThreshold)
      out.push({
        kind: 'queue_growth',
        timeUnixNano: growth.timeUnixNano,
        value: growth.growth,
        threshold: o.queueGrowthThreshold,
        detail: `IOAM queue depth ${growth.from} → ${growth.to}`,
      });
    return out.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  }

  private findInterface(d: DeviceState, iface: number | string): InterfaceState | undefined {
    if (typeof iface === 'number') return d.interfaces.get(iface);
    if (/^\d+$/.test(iface)) return d.interfaces.get(Number(iface));
    for (const s of d.interfaces.values()) if (this.ifName(d.key, s) === iface) return s;
    return undefined;
  }

  /** The inventory's interface name wins over the device's ifName. */
  private ifName(device: string, s: InterfaceState): string | undefined {
    return this.inventory.interfaceName(device, s.ifIndex) ?? s.name;
  }

  // --- bookkeeping ---

  private resolveKey(nameOrAddress: string): string {
    return this.devices.has(nameOrAddress) ? nameOrAddress : this.inventory.resolve(nameOrAddress);
  }

  private device(key: string): DeviceState {
    let d = this.devices.get(key);
    if (!d) {
      d = { key, points: [], ioam: [], events: [], interfaces: new Map() };
      this.devices.set(key, d);
    }
    return d;
  }

  private trim(items: unknown[]): void {
    const over = items.length - this.options.maxPointsPerSeries;
    if (over > 0) {
      items.splice(0, over);
      this.m.evicted('capacity', over);
    }
  }

  /** Marks a series as just updated; over max_series, drops the least recently updated other one. */
  private touch(ref: SeriesRef): void {
    const id = seriesId(ref);
    if (this.series.has(id)) this.series.delete(id);
    this.series.set(id, ref);
    while (this.series.size > this.options.maxSeries) {
      const [oldestId, oldest] = this.series.entries().next().value as [string, SeriesRef];
      if (oldestId === id) break;
      this.dropSeries(oldest);
    }
    this.m.seriesCount();
  }

  private dropSeries(ref: SeriesRef): void {
    this.series.delete(seriesId(ref));
    const d = this.devices.get(ref.device);
    if (!d) return;
    let n = 0;
    if (ref.kind === 'device') {
      n = d.points.length;
      d.points = [];
    } else if (ref.kind === 'ioam') {
      n = d.ioam.length;
      d.ioam = [];
    } else {
      n = d.interfaces.get(ref.ifIndex)?.points.length ?? 0;
      d.interfaces.delete(ref.ifIndex);
    }
    this.m.evicted('series', n);
    if (d.points.length === 0 && d.ioam.length === 0 && d.interfaces.size === 0) this.devices.delete(d.key);
  }

  private forget(ref: SeriesRef): void {
    this.series.delete(seriesId(ref));
  }

  private cutoffNano(): bigint {
    return BigInt(Math.floor(this.now() - this.options.retentionMs)) * NS_PER_MS;
  }

  private sweepIfDue(): void {
    if (this.now() - this.lastSweepMs >= Math.min(this.options.retentionMs / 10, 60_000)) this.expire();
  }
}

/** The largest rise of the queue depth over a running minimum, in time order. */
function queueGrowth(points: readonly IoamPoint[]): { growth: number; from: number; to: number; timeUnixNano: bigint } | undefined {
  let min: number | undefined;
  let best: { growth: number; from: number; to: number; timeUnixNano: bigint } | undefined;
  for (const p of points) {
    if (p.queueDepth === undefined) continue;
    if (min === undefined || p.queueDepth < min) min = p.queueDepth;
    const growth = p.queueDepth - min;
    if (growth > 0 && (!best || growth > best.growth)) best = { growth, from: min, to: p.queueDepth, timeUnixNano: p.timeUnixNano };
  }
  return best;
}

const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
