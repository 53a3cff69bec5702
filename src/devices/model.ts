/**
 * Device state as sources report it (SNMP polls, sFlow counter samples, IOAM node data) and as
 * the device state store gives it back (points with rates, state at a time, anomalies).
 * Times are Unix nanoseconds.
 */

/** Where a sample came from. */
export type DeviceSource = 'snmp' | 'sflow';

/** IF-MIB ifOperStatus values. */
export const OPER_STATUS = { up: 1, down: 2, testing: 3, unknown: 4, dormant: 5, notPresent: 6, lowerLayerDown: 7 } as const;

/** The counters and state of one interface at one time, as a source read them (raw counters, not rates). */
export interface InterfaceReading {
  ifIndex: number;
  /** ifName (or ifDescr where the agent has no ifXTable). */
  name?: string;
  /** ifAlias: the operator's description. */
  alias?: string;
  /** Octet counters and their width: 64 for ifHCInOctets/ifHCOutOctets and sFlow, 32 for ifInOctets/ifOutOctets. */
  inOctets?: bigint;
  outOctets?: bigint;
  octetBits?: 32 | 64;
  /** Counter32 values. */
  inErrors?: number;
  outErrors?: number;
  inDiscards?: number;
  outDiscards?: number;
  /** ifOperStatus (OPER_STATUS). */
  operStatus?: number;
  /** Interface speed in bits per second (ifHighSpeed × 10^6, else ifSpeed); 0 or absent when unknown. */
  speedBps?: number;
}

/** CPU of a device: hrProcessorLoad of each processor (percent over the last minute). */
export interface CpuReading {
  loads: number[];
}

/** RAM of a device: hrStorage of type hrStorageRam, in bytes (used/size × allocation units). */
export interface MemoryReading {
  usedBytes: number;
  sizeBytes: number;
}

/** One reading of a device: a poll, or an sFlow counter sample. */
export interface DeviceReading {
  source: DeviceSource;
  /** The address the reading came from (SNMP agent, sFlow agent); mapped to a device by the inventory. */
  address: string;
  /** The device's name when the source knows it (a configured SNMP target); wins over the inventory. */
  device?: string;
  timeUnixNano: bigint;
  /** sysUpTime in hundredths of a second, when the source has it: going back means a reboot. */
  sysUpTimeTicks?: number;
  /** When sysUpTime was read, if not at `timeUnixNano` (a poll reads it before the tables). */
  sysUpTimeUnixNano?: bigint;
  interfaces: InterfaceReading[];
  cpu?: CpuReading;
  memory?: MemoryReading;
}

/** IOAM queue depth and buffer occupancy of one node for one packet (what the node wrote in the trace). */
export interface IoamNodeState {
  queueDepth?: number;
  bufferOccupancy?: number;
  ingressIf?: number;
  egressIf?: number;
}

/** Why a point has no rates. */
export type NoRateReason = 'first' | 'reboot' | 'counter_reset' | 'gap';

/** One stored point of an interface: the raw reading and the rates over the interval that ends here. */
export interface InterfacePoint {
  timeUnixNano: bigint;
  source: DeviceSource;
  inOctets?: bigint;
  outOctets?: bigint;
  inErrors?: number;
  outErrors?: number;
  inDiscards?: number;
  outDiscards?: number;
  operStatus?: number;
  speedBps?: number;
  /** Rates over the interval since the previous point, per second; absent with `noRate`. */
  inBitsPerSecond?: number;
  outBitsPerSecond?: number;
  /** Rate / speed (0..1, can exceed 1 when the reported speed is wrong); absent without speed. */
  inUtilisation?: number;
  outUtilisation?: number;
  inErrorsPerSecond?: number;
  outErrorsPerSecond?: number;
  inDiscardsPerSecond?: number;
  outDiscardsPerSecond?: number;
  /** Length of the interval the rates cover, ns. */
  intervalNano?: bigint;
  /** Set when this point has no rates, and why. */
  noRate?: NoRateReason;
}

/** One stored CPU/memory point of a device. */
export interface DevicePoint {
  timeUnixNano: bigint;
  cpuAverage?: number;
  cpuMax?: number;
  processors?: number;
  memoryUsedBytes?: number;
  memorySizeBytes?: number;
  /** used / size, when size > 0. */
  memoryUtilisation?: number;
  sysUpTimeTicks?: number;
}

/** One stored IOAM point of a device. */
export interface IoamPoint extends IoamNodeState {
  timeUnixNano: bigint;
}

/** An oper-status change of an interface. */
export interface StatusChange {
  /** The reading that showed the new status. */
  timeUnixNano: bigint;
  /** The reading before it, which still showed the old status: the change happened after this. */
  sinceUnixNano?: bigint;
  ifIndex: number;
  from: number;
  to: number;
}

export type AnomalyKind = 'flap' | 'error_burst' | 'discard_burst' | 'high_utilisation' | 'queue_growth' | 'reboot' | 'counter_reset';

/** Something unusual about a device or interface in the queried window. */
export interface Anomaly {
  kind: AnomalyKind;
  /** When it was seen (the point's time; for a rate, the end of its interval). */
  timeUnixNano: bigint;
  /**
   * The earliest it can have begun: the reading before the one that saw it (a flap happened
   * between two polls; a rate covers the interval since the previous reading). Absent when
   * there is no earlier reading, or for anomalies of a single point.
   */
  sinceUnixNano?: bigint;
  /** The interface, for interface anomalies. */
  ifIndex?: number;
  interfaceName?: string;
  /** The value that crossed the threshold (utilisation, errors/s, discards/s, queue growth), or the new oper status of a flap. */
  value: number;
  threshold?: number;
  /** Human-readable detail, e.g. "oper status up → down". */
  detail: string;
}

/** A value with its time and how old it is at the queried time. */
export interface Aged<T> {
  value: T;
  timeUnixNano: bigint;
  ageNano: bigint;
}

export interface InterfaceStateAt {
  ifIndex: number;
  name?: string;
  alias?: string;
  /** The latest point at or before the time. */
  latest: Aged<InterfacePoint>;
  /** The latest point with rates at or before the time (may be older than `latest`). */
  latestRates?: Aged<InterfacePoint>;
}

/** What stateAt answers: the latest values at or before the time, with their age, and the window's anomalies. */
export interface DeviceStateAt {
  device: string;
  timeUnixNano: bigint;
  cpu?: Aged<{ average: number; max: number; processors: number }>;
  memory?: Aged<{ usedBytes: number; sizeBytes: number; utilisation?: number }>;
  ioam?: Aged<IoamNodeState>;
  /** The interface asked for, or every interface with a point at or before the time. */
  interfaces: InterfaceStateAt[];
  anomalies: Anomaly[];
}

/** Series of a device (or one interface) in a time range, for a UI. */
export interface DeviceSeries {
  device: string;
  devicePoints: DevicePoint[];
  ioam: IoamPoint[];
  interfaces: { ifIndex: number; name?: string; alias?: string; points: InterfacePoint[]; statusChanges: StatusChange[] }[];
}
