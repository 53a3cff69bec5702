/**
 * Template plans, shared by NetFlow v9 and IPFIX: a template is compiled once into a list of fields, each
 * with its wire length and a role (which FlowRecord field it feeds, if any). Decoding a record walks that
 * list with one switch per field, writing numbers into a reused scratch object; the FlowRecord is built at
 * the end, so a record costs one object (two for a biflow) and its address strings, and `fields` only when
 * asked for. On the evidence path with a RowWriter (DecodeContext.rows) the same values go straight into
 * an evidence store row instead (emitRow): no object and no address text at all.
 */
import type { FieldValue, FlowRecord, FlowType } from '../../../model/flow.js';
import * as Row from '../../../evidence/memory/rows.js';
import { microsOf, RowDraft, type RowWriter } from '../../../evidence/memory/rows.js';
import { nanoToMicros } from '../../../evidence/store.js';
import { REVERSE_PEN, type IeDef } from './registry.js';
import type { DomainState } from './templates.js';
import type { DecodeIssue, OptionsRecord } from './types.js';
import {
  decodeValue,
  ipv4ToString,
  ipv6ToString,
  millisecondsTime,
  ntpFractionToNanos,
  ntpSecondsToUnix,
  readUnsigned,
  secondsTime,
  unixNanos,
  unsignedValue,
} from './values.js';
import { IeType } from './ie-types.js';

/** Field length that announces a variable-length element (RFC 7011 §7). */
export const VARIABLE_LENGTH = 65535;

/** Time resolutions (FlowRecord.timeResolutionNano). */
export const RESOLUTION = {
  nanoseconds: 1,
  microseconds: 1e3,
  milliseconds: 1e6,
  seconds: 1e9,
  /**
   * Flow times known only relative to the export (sysUpTime without an init time, or no times at all): the
   * flow ended at or before the export, within the exporter's active timeout, commonly 60 s.
   */
  exportOnly: 60e9,
} as const;

/**
 * What a field feeds in FlowRecord. Numbered so the record loop is one integer switch; a const enum, so
 * the cases are literals (a jump table) rather than property loads compared one by one.
 */
const enum R {
  NONE = 0,
  SRC_V4 = 1,
  DST_V4 = 2,
  SRC_V6 = 3,
  DST_V6 = 4,
  SRC_PORT = 5,
  DST_PORT = 6,
  SRC_PORT_L4 = 7,
  DST_PORT_L4 = 8,
  PROTOCOL = 9,
  TCP_FLAGS = 10,
  IP_VERSION = 11,
  /** 12..16: octet counters in order of preference (delta, total, post delta, post total, initiator). */
  BYTES = 12,
  /** 17..21: packet counters, same order. */
  PACKETS = 17,
  IN_IF = 22,
  IN_IF_PHYSICAL = 23,
  OUT_IF = 24,
  OUT_IF_PHYSICAL = 25,
  NEXT_HOP_V4 = 26,
  NEXT_HOP_V6 = 27,
  BGP_NEXT_HOP_V4 = 28,
  BGP_NEXT_HOP_V6 = 29,
  DIRECTION = 30,
  SAMPLING_INTERVAL = 31,
  SAMPLER_RANDOM_INTERVAL = 32,
  SAMPLING_PACKET_INTERVAL = 33,
  SAMPLING_PACKET_SPACE = 34,
  SAMPLING_SIZE = 35,
  SAMPLING_POPULATION = 36,
  SAMPLING_PROBABILITY = 37,
  SAMPLER_ID = 38,
  START_SECONDS = 39,
  END_SECONDS = 40,
  START_MILLISECONDS = 41,
  END_MILLISECONDS = 42,
  START_MICROSECONDS = 43,
  END_MICROSECONDS = 44,
  START_NANOSECONDS = 45,
  END_NANOSECONDS = 46,
  START_DELTA_MICROSECONDS = 47,
  END_DELTA_MICROSECONDS = 48,
  START_UPTIME = 49,
  END_UPTIME = 50,
  SYSTEM_INIT_MILLISECONDS = 51,
  DURATION_MILLISECONDS = 52,
  DURATION_MICROSECONDS = 53,
  OBSERVATION_SECONDS = 54,
  OBSERVATION_MILLISECONDS = 55,
  OBSERVATION_MICROSECONDS = 56,
  OBSERVATION_NANOSECONDS = 57,
  /** 58..59: reverse octet counters (delta, total). */
  REV_BYTES = 58,
  /** 60..61: reverse packet counters. */
  REV_PACKETS = 60,
  REV_TCP_FLAGS = 62,
  REV_START_SECONDS = 63,
  REV_END_SECONDS = 64,
  REV_START_MILLISECONDS = 65,
  REV_END_MILLISECONDS = 66,
  REV_START_UPTIME = 67,
  REV_END_UPTIME = 68,
  /** CERT/YAF reverseFlowDeltaMilliseconds: reverse start relative to the forward start. */
  REV_FLOW_DELTA_MILLISECONDS = 69,
}

const BYTES_BY_IANA: Record<number, number> = { 1: 0, 85: 1, 23: 2, 171: 3, 231: 4 };
const PACKETS_BY_IANA: Record<number, number> = { 2: 0, 86: 1, 24: 2, 172: 3, 298: 4 };

const FORWARD_ROLES: Record<number, number> = {
  4: R.PROTOCOL,
  6: R.TCP_FLAGS,
  7: R.SRC_PORT,
  8: R.SRC_V4,
  10: R.IN_IF,
  11: R.DST_PORT,
  12: R.DST_V4,
  14: R.OUT_IF,
  15: R.NEXT_HOP_V4,
  18: R.BGP_NEXT_HOP_V4,
  21: R.END_UPTIME,
  22: R.START_UPTIME,
  27: R.SRC_V6,
  28: R.DST_V6,
  34: R.SAMPLING_INTERVAL,
  48: R.SAMPLER_ID,
  50: R.SAMPLER_RANDOM_INTERVAL,
  60: R.IP_VERSION,
  61: R.DIRECTION,
  62: R.NEXT_HOP_V6,
  63: R.BGP_NEXT_HOP_V6,
  150: R.START_SECONDS,
  151: R.END_SECONDS,
  152: R.START_MILLISECONDS,
  153: R.END_MILLISECONDS,
  154: R.START_MICROSECONDS,
  155: R.END_MICROSECONDS,
  156: R.START_NANOSECONDS,
  157: R.END_NANOSECONDS,
  158: R.START_DELTA_MICROSECONDS,
  159: R.END_DELTA_MICROSECONDS,
  160: R.SYSTEM_INIT_MILLISECONDS,
  161: R.DURATION_MILLISECONDS,
  162: R.DURATION_MICROSECONDS,
  180: R.SRC_PORT_L4,
  181: R.DST_PORT_L4,
  182: R.SRC_PORT_L4,
  183: R.DST_PORT_L4,
  252: R.IN_IF_PHYSICAL,
  253: R.OUT_IF_PHYSICAL,
  302: R.SAMPLER_ID,
  305: R.SAMPLING_PACKET_INTERVAL,
  306: R.SAMPLING_PACKET_SPACE,
  309: R.SAMPLING_SIZE,
  310: R.SAMPLING_POPULATION,
  311: R.SAMPLING_PROBABILITY,
  322: R.OBSERVATION_SECONDS,
  323: R.OBSERVATION_MILLISECONDS,
  324: R.OBSERVATION_MICROSECONDS,
  325: R.OBSERVATION_NANOSECONDS,
};

const REVERSE_ROLES: Record<number, number> = {
  1: R.REV_BYTES,
  85: R.REV_BYTES + 1,
  2: R.REV_PACKETS,
  86: R.REV_PACKETS + 1,
  6: R.REV_TCP_FLAGS,
  21: R.REV_END_UPTIME,
  22: R.REV_START_UPTIME,
  150: R.REV_START_SECONDS,
  151: R.REV_END_SECONDS,
  152: R.REV_START_MILLISECONDS,
  153: R.REV_END_MILLISECONDS,
};

const CERT_PEN = 6871;
const CERT_REVERSE_FLOW_DELTA_MILLISECONDS = 21;
/** paddingOctets: bytes to step over, not a value. */
const PADDING_OCTETS = 210;

function roleOf(def: IeDef): number {
  if (def.pen === CERT_PEN && def.id === CERT_REVERSE_FLOW_DELTA_MILLISECONDS) return R.REV_FLOW_DELTA_MILLISECONDS;
  if (def.ianaId < 0) return R.NONE;
  if (def.reverse) return def.pen === REVERSE_PEN ? (REVERSE_ROLES[def.ianaId] ?? R.NONE) : R.NONE;
  const bytes = BYTES_BY_IANA[def.ianaId];
  if (bytes !== undefined) return R.BYTES + bytes;
  const packets = PACKETS_BY_IANA[def.ianaId];
  if (packets !== undefined) return R.PACKETS + packets;
  return FORWARD_ROLES[def.ianaId] ?? R.NONE;
}

export interface PlanField {
  readonly def: IeDef;
  /** The key in `fields`: the registry name, with `_2`, `_3`... for repeats of an element in one template. */
  readonly name: string;
  /** Wire length, or VARIABLE_LENGTH. */
  readonly length: number;
  readonly role: number;
  readonly scope: boolean;
  /** Occupies bytes but carries no value (zero length, paddingOctets). */
  readonly skip: boolean;
}

export interface TemplatePlan {
  readonly version: 9 | 10;
  readonly domainId: number;
  readonly templateId: number;
  /** An options template (its records describe the exporter, not flows). */
  readonly options: boolean;
  readonly fields: readonly PlanField[];
  /** Record length when every field has a fixed length; -1 with variable-length fields. */
  readonly fixedLength: number;
  /** The shortest a record can be (a variable-length field takes at least its 1-byte length). */
  readonly minLength: number;
  /** Carries RFC 5103 reverse counters: each record also yields a reverse-direction FlowRecord. */
  readonly biflow: boolean;
  /** The template record as sent; a refresh with the same bytes keeps the compiled plan. */
  readonly wire: Uint8Array;
  /** Fixed-length templates: the fields with a role at their offsets, all a flow needs without `fields`. */
  readonly roleFields: readonly RoleField[];
  /** The compiled rows loop (compileRowLoop), made on first use; null: this template keeps the loop. */
  rowLoop?: RowLoop | null;
  /** The compiled loop of records with every field kept (compileAllFieldsLoop), made on first use; null: the general loop. */
  allFieldsLoop?: AllFieldsLoop | null;
}

export interface RoleField {
  readonly role: number;
  readonly offset: number;
  readonly length: number;
}

export interface TemplateFieldSpec {
  readonly def: IeDef;
  readonly length: number;
}

/**
 * Compiles a template. Returns a reason instead when the template cannot describe records: no fields, or
 * records of zero length (which would never advance through a set).
 */
export function compileTemplate(
  version: 9 | 10,
  domainId: number,
  templateId: number,
  specs: readonly TemplateFieldSpec[],
  scopeCount: number,
  options: boolean,
  wire: Uint8Array,
): TemplatePlan | string {
  if (specs.length === 0) return 'template has no fields';
  const seen = new Map<string, number>();
  const fields: PlanField[] = [];
  let fixed = 0;
  let min = 0;
  let variable = false;
  let biflowCounters = false;
  for (let i = 0; i < specs.length; i++) {
    const { def, length } = specs[i] as TemplateFieldSpec;
    const n = (seen.get(def.name) ?? 0) + 1;
    seen.set(def.name, n);
    const role = roleOf(def);
    if (role >= R.REV_BYTES && role < R.REV_TCP_FLAGS) biflowCounters = true;
    if (length === VARIABLE_LENGTH) {
      variable = true;
      min += 1;
    } else {
      fixed += length;
      min += length;
    }
    const skip = length === 0 || (def.pen === 0 && def.ianaId === PADDING_OCTETS && !def.reverse);
    fields.push({ def, name: n === 1 ? def.name : `${def.name}_${n}`, length, role: skip ? R.NONE : role, scope: i < scopeCount, skip });
  }
  if (min === 0) return 'template records have zero length';
  const roleFields: RoleField[] = [];
  if (!variable) {
    let offset = 0;
    for (const f of fields) {
      if (f.role !== R.NONE) roleFields.push({ role: f.role, offset, length: f.length });
      offset += f.length;
    }
  }
  return {
    roleFields,
    version,
    domainId,
    templateId,
    options,
    fields,
    fixedLength: variable ? -1 : fixed,
    minLength: min,
    biflow: biflowCounters && !options,
    wire,
  };
}

/** The export packet a set came from: what every record of it shares. */
export interface PacketContext {
  readonly type: FlowType;
  readonly exporter: string;
  readonly domainId: number;
  readonly sequenceNumber: number;
  /** Header export time, Unix milliseconds (whole seconds for v9/IPFIX). */
  readonly exportMs: number;
  readonly exportTimeUnixNano: bigint;
  /** v9 header sysUptime (ms), -1 for IPFIX. */
  readonly sysUptimeMs: number;
  /** Resolution of times anchored on the header's sysUptime (v9: the header time is whole seconds). */
  readonly uptimeResolution: number;
  readonly domain: DomainState;
  readonly keepAllFields: boolean;
  /** Flows go here as evidence store rows instead of FlowRecords (DecodeContext.rows; never with keepAllFields). */
  readonly rows?: RowWriter | undefined;
  /** exportTimeUnixNano in whole microseconds. */
  readonly exportUs: number;
}

/** Per-record working values, reused for every record (NaN / -1 = not in the record). */
class Scratch {
  srcV4 = -1;
  dstV4 = -1;
  srcV6 = -1;
  dstV6 = -1;
  srcPort = -1;
  dstPort = -1;
  srcPortL4 = -1;
  dstPortL4 = -1;
  protocol = -1;
  tcpFlags = -1;
  ipVersion = -1;
  /** The counter chosen so far and its rank (see takeCounter); rank -1 = none yet. */
  bytes = 0;
  bytesRank = -1;
  packets = 0;
  packetsRank = -1;
  inIf = -1;
  inIfPhysical = -1;
  outIf = -1;
  outIfPhysical = -1;
  /** Next hops: a v4 address as a number, a v6 one as the offset of its 16 bytes. */
  nextHopV4 = -1;
  nextHopV6 = -1;
  bgpNextHopV4 = -1;
  bgpNextHopV6 = -1;
  direction = -1;
  samplingInterval = -1;
  samplerRandomInterval = -1;
  samplingPacketInterval = -1;
  samplingPacketSpace = -1;
  samplingSize = -1;
  samplingPopulation = -1;
  samplingProbability = -1;
  samplerId = -1;
  // absolute times: the finest form seen wins
  startMs = NaN;
  startSubMs = 0;
  startRes = Infinity;
  endMs = NaN;
  endSubMs = 0;
  endRes = Infinity;
  observationMs = NaN;
  observationSubMs = 0;
  observationRes = Infinity;
  // relative times, resolved after the record
  startDeltaUs = -1;
  endDeltaUs = -1;
  startUptime = -1;
  endUptime = -1;
  systemInitMs = -1;
  durationMs = -1;
  durationUs = -1;
  revBytes = 0;
  revBytesRank = -1;
  revPackets = 0;
  revPacketsRank = -1;
  revTcpFlags = -1;
  revStartMs = NaN;
  revStartRes = Infinity;
  revEndMs = NaN;
  revEndRes = Infinity;
  revStartUptime = -1;
  revEndUptime = -1;
  revFlowDeltaMs = -1;

  reset(): void {
    this.srcV4 = this.dstV4 = this.srcV6 = this.dstV6 = -1;
    this.srcPort = this.dstPort = this.srcPortL4 = this.dstPortL4 = -1;
    this.protocol = this.tcpFlags = this.ipVersion = -1;
    this.bytes = this.packets = 0;
    this.bytesRank = this.packetsRank = -1;
    this.inIf = this.inIfPhysical = this.outIf = this.outIfPhysical = -1;
    this.nextHopV4 = this.nextHopV6 = this.bgpNextHopV4 = this.bgpNextHopV6 = -1;
    this.direction = -1;
    this.samplingInterval = this.samplerRandomInterval = this.samplingPacketInterval = this.samplingPacketSpace = -1;
    this.samplingSize = this.samplingPopulation = this.samplingProbability = this.samplerId = -1;
    this.startMs = this.endMs = this.observationMs = NaN;
    this.startSubMs = this.endSubMs = this.observationSubMs = 0;
    this.startRes = this.endRes = this.observationRes = Infinity;
    this.startDeltaUs = this.endDeltaUs = this.startUptime = this.endUptime = -1;
    this.systemInitMs = this.durationMs = this.durationUs = -1;
  }

  resetReverse(): void {
    this.revBytes = this.revPackets = 0;
    this.revBytesRank = this.revPacketsRank = -1;
    this.revTcpFlags = -1;
    this.revStartMs = this.revEndMs = NaN;
    this.revStartRes = this.revEndRes = Infinity;
    this.revStartUptime = this.revEndUptime = this.revFlowDeltaMs = -1;
  }

  setStart(ms: number, subMs: number, res: number): void {
    if (res < this.startRes) {
      this.startMs = ms;
      this.startSubMs = subMs;
      this.startRes = res;
    }
  }

  setEnd(ms: number, subMs: number, res: number): void {
    if (res < this.endRes) {
      this.endMs = ms;
      this.endSubMs = subMs;
      this.endRes = res;
    }
  }

  setObservation(ms: number, subMs: number, res: number): void {
    if (res < this.observationRes) {
      this.observationMs = ms;
      this.observationSubMs = subMs;
      this.observationRes = res;
    }
  }
}

const scratch = new Scratch();

/**
 * applyRole for the roles nearly every flow template has, at the usual lengths: small enough to be
 * inlined into the record loop. Returns false, having done nothing, for anything else.
 */
function applyCommon(role: number, view: DataView, off: number, len: number, s: Scratch): boolean {
  if (len !== 4 && len !== 2 && len !== 1) return false;
  switch (role) {
    case R.SRC_V4:
      if (len === 4) s.srcV4 = view.getUint32(off);
      return true;
    case R.DST_V4:
      if (len === 4) s.dstV4 = view.getUint32(off);
      return true;
  }
  const v = len === 4 ? view.getUint32(off) : len === 2 ? view.getUint16(off) : view.getUint8(off);
  switch (role) {
    case R.SRC_PORT:
      s.srcPort = v;
      return true;
    case R.DST_PORT:
      s.dstPort = v;
      return true;
    case R.PROTOCOL:
      s.protocol = v;
      return true;
    case R.TCP_FLAGS:
      s.tcpFlags = v & 0x0fff;
      return true;
    case R.IP_VERSION:
      s.ipVersion = v;
      return true;
    case R.BYTES:
      if (takeCounter(v, 0, s.bytes, s.bytesRank)) {
        s.bytes = v;
        s.bytesRank = 0;
      }
      return true;
    case R.PACKETS:
      if (takeCounter(v, 0, s.packets, s.packetsRank)) {
        s.packets = v;
        s.packetsRank = 0;
      }
      return true;
    case R.IN_IF:
      s.inIf = v;
      return true;
    case R.OUT_IF:
      s.outIf = v;
      return true;
    case R.START_UPTIME:
      s.startUptime = v;
      return true;
    case R.END_UPTIME:
      s.endUptime = v;
      return true;
  }
  return false;
}

/** Applies one field to the scratch values. `len` is the wire length (reduced-size encoding allowed). */
function applyRole(role: number, view: DataView, off: number, len: number, s: Scratch): void {
  switch (role) {
    case R.SRC_V4:
      if (len === 4) s.srcV4 = view.getUint32(off);
      return;
    case R.DST_V4:
      if (len === 4) s.dstV4 = view.getUint32(off);
      return;
    case R.SRC_V6:
      if (len === 16) s.srcV6 = off;
      return;
    case R.DST_V6:
      if (len === 16) s.dstV6 = off;
      return;
    case R.NEXT_HOP_V4:
      if (len === 4) s.nextHopV4 = view.getUint32(off);
      return;
    case R.NEXT_HOP_V6:
      if (len === 16) s.nextHopV6 = off;
      return;
    case R.BGP_NEXT_HOP_V4:
      if (len === 4) s.bgpNextHopV4 = view.getUint32(off);
      return;
    case R.BGP_NEXT_HOP_V6:
      if (len === 16) s.bgpNextHopV6 = off;
      return;
    case R.SAMPLING_PROBABILITY:
      if (len === 8) s.samplingProbability = view.getFloat64(off);
      else if (len === 4) s.samplingProbability = view.getFloat32(off);
      return;
    case R.START_MICROSECONDS:
    case R.END_MICROSECONDS:
    case R.START_NANOSECONDS:
    case R.END_NANOSECONDS:
    case R.OBSERVATION_MICROSECONDS:
    case R.OBSERVATION_NANOSECONDS: {
      if (len !== 8 || (view.getUint32(off) === 0 && view.getUint32(off + 4) === 0)) return; // zero: not set
      const micro = role === R.START_MICROSECONDS || role === R.END_MICROSECONDS || role === R.OBSERVATION_MICROSECONDS;
      const nanos = ntpFractionToNanos(view.getUint32(off + 4), micro);
      const ms = ntpSecondsToUnix(view.getUint32(off)) * 1000 + Math.floor(nanos / 1e6);
      const sub = nanos % 1e6;
      const res = micro ? RESOLUTION.microseconds : RESOLUTION.nanoseconds;
      if (role === R.START_MICROSECONDS || role === R.START_NANOSECONDS) s.setStart(ms, sub, res);
      else if (role === R.END_MICROSECONDS || role === R.END_NANOSECONDS) s.setEnd(ms, sub, res);
      else s.setObservation(ms, sub, res);
      return;
    }
  }
  const v = readUnsigned(view, off, len);
  if (v < 0) return;
  switch (role) {
    case R.SRC_PORT:
      s.srcPort = v;
      return;
    case R.DST_PORT:
      s.dstPort = v;
      return;
    case R.SRC_PORT_L4:
      s.srcPortL4 = v;
      return;
    case R.DST_PORT_L4:
      s.dstPortL4 = v;
      return;
    case R.PROTOCOL:
      s.protocol = v;
      return;
    case R.TCP_FLAGS:
      // RFC 7125: the top 4 bits of the 16-bit form overlap the TCP header length and are ignored
      s.tcpFlags = v & 0x0fff;
      return;
    case R.IP_VERSION:
      s.ipVersion = v;
      return;
    case R.BYTES:
    case R.BYTES + 1:
    case R.BYTES + 2:
    case R.BYTES + 3:
    case R.BYTES + 4:
      if (takeCounter(v, role - R.BYTES, s.bytes, s.bytesRank)) {
        s.bytes = v;
        s.bytesRank = role - R.BYTES;
      }
      return;
    case R.PACKETS:
    case R.PACKETS + 1:
    case R.PACKETS + 2:
    case R.PACKETS + 3:
    case R.PACKETS + 4:
      if (takeCounter(v, role - R.PACKETS, s.packets, s.packetsRank)) {
        s.packets = v;
        s.packetsRank = role - R.PACKETS;
      }
      return;
    case R.IN_IF:
      s.inIf = v;
      return;
    case R.IN_IF_PHYSICAL:
      s.inIfPhysical = v;
      return;
    case R.OUT_IF:
      s.outIf = v;
      return;
    case R.OUT_IF_PHYSICAL:
      s.outIfPhysical = v;
      return;
    case R.DIRECTION:
      s.direction = v;
      return;
    case R.SAMPLING_INTERVAL:
      s.samplingInterval = v;
      return;
    case R.SAMPLER_RANDOM_INTERVAL:
      s.samplerRandomInterval = v;
      return;
    case R.SAMPLING_PACKET_INTERVAL:
      s.samplingPacketInterval = v;
      return;
    case R.SAMPLING_PACKET_SPACE:
      s.samplingPacketSpace = v;
      return;
    case R.SAMPLING_SIZE:
      s.samplingSize = v;
      return;
    case R.SAMPLING_POPULATION:
      s.samplingPopulation = v;
      return;
    case R.SAMPLER_ID:
      s.samplerId = v;
      return;
    // an absolute time of zero means "not set" (uptimes, deltas and durations of zero are real values)
    case R.START_SECONDS:
      if (v > 0) s.setStart(v * 1000, 0, RESOLUTION.seconds);
      return;
    case R.END_SECONDS:
      if (v > 0) s.setEnd(v * 1000, 0, RESOLUTION.seconds);
      return;
    case R.START_MILLISECONDS:
      if (v > 0) s.setStart(v, 0, RESOLUTION.milliseconds);
      return;
    case R.END_MILLISECONDS:
      if (v > 0) s.setEnd(v, 0, RESOLUTION.milliseconds);
      return;
    case R.OBSERVATION_SECONDS:
      if (v > 0) s.setObservation(v * 1000, 0, RESOLUTION.seconds);
      return;
    case R.OBSERVATION_MILLISECONDS:
      if (v > 0) s.setObservation(v, 0, RESOLUTION.milliseconds);
      return;
    case R.START_DELTA_MICROSECONDS:
      s.startDeltaUs = v;
      return;
    case R.END_DELTA_MICROSECONDS:
      s.endDeltaUs = v;
      return;
    case R.START_UPTIME:
      s.startUptime = v;
      return;
    case R.END_UPTIME:
      s.endUptime = v;
      return;
    case R.SYSTEM_INIT_MILLISECONDS:
      if (v > 0) s.systemInitMs = v;
      return;
    case R.DURATION_MILLISECONDS:
      s.durationMs = v;
      return;
    case R.DURATION_MICROSECONDS:
      s.durationUs = v;
      return;
    case R.REV_BYTES:
    case R.REV_BYTES + 1:
      if (takeCounter(v, role - R.REV_BYTES, s.revBytes, s.revBytesRank)) {
        s.revBytes = v;
        s.revBytesRank = role - R.REV_BYTES;
      }
      return;
    case R.REV_PACKETS:
    case R.REV_PACKETS + 1:
      if (takeCounter(v, role - R.REV_PACKETS, s.revPackets, s.revPacketsRank)) {
        s.revPackets = v;
        s.revPacketsRank = role - R.REV_PACKETS;
      }
      return;
    case R.REV_TCP_FLAGS:
      s.revTcpFlags = v & 0x0fff;
      return;
    case R.REV_START_SECONDS:
      if (v > 0 && RESOLUTION.seconds < s.revStartRes) {
        s.revStartMs = v * 1000;
        s.revStartRes = RESOLUTION.seconds;
      }
      return;
    case R.REV_END_SECONDS:
      if (v > 0 && RESOLUTION.seconds < s.revEndRes) {
        s.revEndMs = v * 1000;
        s.revEndRes = RESOLUTION.seconds;
      }
      return;
    case R.REV_START_MILLISECONDS:
      if (v === 0) return;
      s.revStartMs = v;
      s.revStartRes = RESOLUTION.milliseconds;
      return;
    case R.REV_END_MILLISECONDS:
      if (v === 0) return;
      s.revEndMs = v;
      s.revEndRes = RESOLUTION.milliseconds;
      return;
    case R.REV_START_UPTIME:
      s.revStartUptime = v;
      return;
    case R.REV_END_UPTIME:
      s.revEndUptime = v;
      return;
    case R.REV_FLOW_DELTA_MILLISECONDS:
      s.revFlowDeltaMs = v;
      return;
  }
}

/**
 * Counters in order of preference (octetDeltaCount before octetTotalCount before the post-NAT/egress
 * ones): the first non-zero one wins, so a template with IN_BYTES 0 and OUT_BYTES 32 reports 32.
 */
function takeCounter(v: number, rank: number, current: number, currentRank: number): boolean {
  return currentRank < 0 || (v > 0 && (current === 0 || rank < currentRank));
}

const firstSet = (a: number, b: number): number => (a > 0 ? a : b > 0 ? b : Math.max(a, b, 0));

/**
 * Unix ms of a sysUpTime value: from the record's own systemInitTimeMilliseconds, the v9 header's
 * sysUptime, or the domain's init time from an options record. NaN when none is known.
 */
function uptimeToUnixMs(uptime: number, s: Scratch, p: PacketContext): number {
  if (s.systemInitMs >= 0) return s.systemInitMs + uptime;
  // v9: signed 32-bit difference, so an uptime that wrapped (every 49.7 days) or runs slightly ahead works
  if (p.sysUptimeMs >= 0) return p.exportMs - ((p.sysUptimeMs - uptime) | 0);
  if (p.domain.systemInitTimeMs >= 0) return p.domain.systemInitTimeMs + uptime;
  return NaN;
}

function uptimeResolution(s: Scratch, p: PacketContext): number {
  return s.systemInitMs < 0 && p.sysUptimeMs >= 0 ? p.uptimeResolution : RESOLUTION.milliseconds;
}

/** Resolves start/end in the scratch from whatever forms the record carried. */
function resolveTimes(s: Scratch, p: PacketContext): void {
  if (Number.isNaN(s.startMs) && s.startDeltaUs >= 0) {
    const t = p.exportMs * 1000 - s.startDeltaUs;
    s.setStart(Math.floor(t / 1000), (t % 1000) * 1000, RESOLUTION.microseconds);
  }
  if (Number.isNaN(s.endMs) && s.endDeltaUs >= 0) {
    const t = p.exportMs * 1000 - s.endDeltaUs;
    s.setEnd(Math.floor(t / 1000), (t % 1000) * 1000, RESOLUTION.microseconds);
  }
  if ((s.startUptime >= 0 && Number.isNaN(s.startMs)) || (s.endUptime >= 0 && Number.isNaN(s.endMs))) {
    const res = uptimeResolution(s, p);
    const start = s.startUptime >= 0 ? uptimeToUnixMs(s.startUptime, s, p) : NaN;
    const end = s.endUptime >= 0 ? uptimeToUnixMs(s.endUptime, s, p) : NaN;
    if (s.startUptime >= 0 && !Number.isNaN(start)) s.setStart(start, 0, res);
    if (s.endUptime >= 0 && !Number.isNaN(end)) s.setEnd(end, 0, res);
    if (Number.isNaN(start) && Number.isNaN(end)) {
      // no anchor: the flow ended by the export, and the uptimes still give its duration
      const duration = s.startUptime >= 0 && s.endUptime >= 0 ? Math.max(0, (s.endUptime - s.startUptime) | 0) : 0;
      s.setEnd(p.exportMs, 0, RESOLUTION.exportOnly);
      s.setStart(p.exportMs - duration, 0, RESOLUTION.exportOnly);
    }
  }
  const durationMs = s.durationUs >= 0 ? s.durationUs / 1000 : s.durationMs;
  if (durationMs >= 0) {
    const durationRes = s.durationUs >= 0 ? RESOLUTION.microseconds : RESOLUTION.milliseconds;
    if (!Number.isNaN(s.startMs) && Number.isNaN(s.endMs)) {
      const t = s.startMs + s.startSubMs / 1e6 + durationMs;
      s.setEnd(Math.floor(t), Math.round((t % 1) * 1e6), Math.max(s.startRes, durationRes));
    } else if (Number.isNaN(s.startMs) && !Number.isNaN(s.endMs)) {
      const t = s.endMs + s.endSubMs / 1e6 - durationMs;
      s.setStart(Math.floor(t), Math.round((t - Math.floor(t)) * 1e6), Math.max(s.endRes, durationRes));
    }
  }
  if (Number.isNaN(s.startMs) && Number.isNaN(s.endMs) && !Number.isNaN(s.observationMs)) {
    s.setStart(s.observationMs, s.observationSubMs, s.observationRes);
    s.setEnd(s.observationMs, s.observationSubMs, s.observationRes);
  }
  if (Number.isNaN(s.startMs) && Number.isNaN(s.endMs)) {
    s.setStart(p.exportMs, 0, RESOLUTION.exportOnly);
    s.setEnd(p.exportMs, 0, RESOLUTION.exportOnly);
  } else if (Number.isNaN(s.endMs)) {
    s.setEnd(s.startMs, s.startSubMs, s.startRes);
  } else if (Number.isNaN(s.startMs)) {
    s.setStart(s.endMs, s.endSubMs, s.endRes);
  }
}

function samplingRateOf(s: Scratch, domain: DomainState): number {
  if (s.samplingInterval > 0) return s.samplingInterval;
  if (s.samplerRandomInterval > 0) return s.samplerRandomInterval;
  const own = samplingFromFields(
    s.samplingPacketInterval,
    s.samplingPacketSpace,
    s.samplingSize,
    s.samplingPopulation,
    s.samplingProbability,
  );
  if (own > 0) return own;
  if (s.samplerId >= 0) {
    const bySampler = domain.samplerRates.get(s.samplerId);
    if (bySampler !== undefined) return bySampler;
  }
  return domain.samplingRate;
}

/** 1-in-N from PSAMP's count-based (RFC 5476 interval/space), n-out-of-N or probabilistic sampling fields; 0 if none. */
export function samplingFromFields(
  packetInterval: number,
  packetSpace: number,
  size: number,
  population: number,
  probability: number,
): number {
  if (packetInterval > 0) return (packetInterval + Math.max(packetSpace, 0)) / packetInterval;
  if (size > 0 && population > 0) return population / size;
  if (probability > 0 && probability <= 1) return 1 / probability;
  return 0;
}

function addressOf(v4: number, v6: number, bytes: Uint8Array, ipVersion: number): string {
  if (ipVersion === 6) return v6 >= 0 ? ipv6ToString(bytes, v6) : '';
  return v4 >= 0 ? ipv4ToString(v4) : '';
}

function nextHopOf(s: Scratch, bytes: Uint8Array): string {
  if (s.nextHopV4 > 0) return ipv4ToString(s.nextHopV4);
  if (s.nextHopV6 >= 0 && !isZero(bytes, s.nextHopV6, 16)) return ipv6ToString(bytes, s.nextHopV6);
  if (s.bgpNextHopV4 > 0) return ipv4ToString(s.bgpNextHopV4);
  if (s.bgpNextHopV6 >= 0 && !isZero(bytes, s.bgpNextHopV6, 16)) return ipv6ToString(bytes, s.bgpNextHopV6);
  // exported but unset: say so as the device did
  if (s.nextHopV4 === 0 || s.bgpNextHopV4 === 0) return '0.0.0.0';
  if (s.nextHopV6 >= 0 || s.bgpNextHopV6 >= 0) return '::';
  return '';
}

function isZero(bytes: Uint8Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (bytes[i] !== 0) return false;
  return true;
}

function buildFlowRecord(s: Scratch, p: PacketContext, bytes: Uint8Array, fields: Record<string, FieldValue> | undefined): FlowRecord {
  let ipVersion: 0 | 4 | 6;
  const hasV4 = s.srcV4 >= 0 || s.dstV4 >= 0;
  const hasV6 = s.srcV6 >= 0 || s.dstV6 >= 0;
  if (s.ipVersion === 6 && hasV6) ipVersion = 6;
  else if (s.ipVersion === 4 && hasV4) ipVersion = 4;
  else if (hasV6 && !(s.srcV4 > 0 || s.dstV4 > 0)) ipVersion = 6;
  else ipVersion = hasV4 ? 4 : 0;
  resolveTimes(s, p);
  const record: FlowRecord = {
    type: p.type,
    samplerAddress: p.exporter,
    observationDomainId: p.domainId,
    sequenceNumber: p.sequenceNumber,
    exportTimeUnixNano: p.exportTimeUnixNano,
    sourceAddress: addressOf(s.srcV4, s.srcV6, bytes, ipVersion),
    sourcePort: firstSet(s.srcPort, s.srcPortL4),
    destinationAddress: addressOf(s.dstV4, s.dstV6, bytes, ipVersion),
    destinationPort: firstSet(s.dstPort, s.dstPortL4),
    protocol: Math.max(s.protocol, 0),
    ipVersion,
    bytes: s.bytes,
    packets: s.packets,
    startUnixNano: unixNanos(s.startMs, s.startSubMs),
    endUnixNano: unixNanos(s.endMs, s.endSubMs),
    timeResolutionNano: Math.max(s.startRes, s.endRes),
    inputInterface: firstSet(s.inIf, s.inIfPhysical),
    outputInterface: firstSet(s.outIf, s.outIfPhysical),
    nextHop: nextHopOf(s, bytes),
    samplingRate: samplingRateOf(s, p.domain),
    tcpFlags: Math.max(s.tcpFlags, 0),
  };
  if (s.direction >= 0) record.flowDirection = s.direction;
  if (fields) record.fields = fields;
  return record;
}

/**
 * The RFC 5103 reverse direction of a biflow record: the quartet and interfaces swapped, the reverse
 * counters and flags, and the reverse times when exported (else the forward ones).
 */
function buildReverseRecord(forward: FlowRecord, s: Scratch, p: PacketContext): FlowRecord {
  // the spread shares forward's `fields` (every element of the biflow record, both directions)
  const reverse: FlowRecord = {
    ...forward,
    sourceAddress: forward.destinationAddress,
    sourcePort: forward.destinationPort,
    destinationAddress: forward.sourceAddress,
    destinationPort: forward.sourcePort,
    bytes: s.revBytes,
    packets: s.revPackets,
    tcpFlags: Math.max(s.revTcpFlags, 0),
    inputInterface: forward.outputInterface,
    outputInterface: forward.inputInterface,
    biflowDirection: 'reverse',
  };
  let startMs = s.revStartMs;
  let endMs = s.revEndMs;
  let res = Math.max(s.revStartRes, s.revEndRes);
  if (Number.isNaN(startMs) && s.revStartUptime >= 0) startMs = uptimeToUnixMs(s.revStartUptime, s, p);
  if (Number.isNaN(endMs) && s.revEndUptime >= 0) endMs = uptimeToUnixMs(s.revEndUptime, s, p);
  if (!Number.isNaN(startMs) || !Number.isNaN(endMs)) {
    if (res === Infinity) res = uptimeResolution(s, p);
  } else if (s.revFlowDeltaMs >= 0) {
    startMs = s.startMs + s.revFlowDeltaMs;
    res = Math.max(s.startRes, RESOLUTION.milliseconds);
  }
  if (!Number.isNaN(startMs) || !Number.isNaN(endMs)) {
    if (Number.isNaN(startMs)) startMs = endMs;
    if (Number.isNaN(endMs)) endMs = Math.max(startMs, s.endMs);
    reverse.startUnixNano = unixNanos(startMs, 0);
    reverse.endUnixNano = unixNanos(endMs, 0);
    reverse.timeResolutionNano = Math.max(res, forward.timeResolutionNano);
  }
  return reverse;
}

/** What a data set gave: its records, and where decoding stopped early (an offset in the datagram). */
export interface SetResult {
  /** Data records decoded (a biflow record counts once, as on the wire). */
  records: number;
  issue?: DecodeIssue;
}

/**
 * Decodes the data records of one set body: bytes `start` to `end` of `bytes` (the set without its
 * header), read through `view` (a view of all of `bytes`) and never beyond `end`, which bounds the set
 * as a sub-view would, without making one per set. `bytes[0]` is at `offsetShift` of the datagram
 * (0 but for a held set's copy), for the offsets of issues. Trailing bytes shorter than a record are
 * padding.
 */
export function decodeDataSet(
  plan: TemplatePlan,
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  offsetShift: number,
  p: PacketContext,
  records: FlowRecord[],
  options: OptionsRecord[],
): SetResult {
  const fieldList = plan.fields;
  const n = fieldList.length;
  const s = scratch;
  let pos = start;
  let count = 0;
  if (plan.fixedLength > 0 && !plan.options && !p.keepAllFields) {
    // the common case: fixed offsets, one bounds check per record, only the fields a FlowRecord uses
    if (p.rows && rowLoopMode !== 'off') {
      let loop = plan.rowLoop;
      if (loop === undefined) loop = plan.rowLoop = compileRowLoop(plan);
      if (loop !== null) return { records: loop(plan, view, bytes, start, end, p, p.rows, s) };
    }
    const roleFields = plan.roleFields;
    const m = roleFields.length;
    const recordLength = plan.fixedLength;
    for (; end - pos >= recordLength; pos += recordLength) {
      s.reset();
      if (plan.biflow) s.resetReverse();
      for (let i = 0; i < m; i++) {
        const f = roleFields[i] as RoleField;
        if (!applyCommon(f.role, view, pos + f.offset, f.length, s)) applyRole(f.role, view, pos + f.offset, f.length, s);
      }
      if (p.rows) emitRow(plan, s, p, bytes, p.rows);
      else emitFlow(plan, s, p, bytes, undefined, records);
      count++;
    }
    return { records: count };
  }
  if (p.keepAllFields && !p.rows && plan.fixedLength > 0 && !plan.options && rowLoopMode !== 'off') {
    let loop = plan.allFieldsLoop;
    if (loop === undefined) loop = plan.allFieldsLoop = compileAllFieldsLoop(plan);
    if (loop !== null) return { records: loop(plan, view, bytes, start, end, p, records, s) };
  }
  while (end - pos >= plan.minLength) {
    const recordStart = pos;
    let values: Record<string, FieldValue> | undefined;
    let scope: Record<string, FieldValue> | undefined;
    if (plan.options) {
      values = {};
      scope = {};
    } else {
      s.reset();
      if (plan.biflow) s.resetReverse();
      if (p.keepAllFields) values = {};
    }
    for (let i = 0; i < n; i++) {
      const f = fieldList[i] as PlanField;
      let len = f.length;
      if (len === VARIABLE_LENGTH) {
        if (pos >= end) return truncated(count, offsetShift + recordStart, plan, 'variable-length field header past the end of the set');
        len = bytes[pos++] as number;
        if (len === 255) {
          if (pos + 2 > end)
            return truncated(count, offsetShift + recordStart, plan, 'variable-length field header past the end of the set');
          len = view.getUint16(pos);
          pos += 2;
        }
      }
      const off = pos;
      pos += len;
      if (pos > end)
        return truncated(count, offsetShift + recordStart, plan, `field ${f.name} (${len} bytes) runs past the end of the set`);
      if (f.skip) continue;
      if (f.role !== 0 && !plan.options) applyRole(f.role, view, off, len, s);
      if (values !== undefined) {
        const value = decodeValue(f.def.type, view, bytes, off, len);
        if (f.scope && scope) scope[f.name] = value;
        else values[f.name] = value;
      }
    }
    count++;
    if (plan.options) {
      const record: OptionsRecord = {
        type: p.type,
        samplerAddress: p.exporter,
        observationDomainId: p.domainId,
        templateId: plan.templateId,
        sequenceNumber: p.sequenceNumber,
        exportTimeUnixNano: p.exportTimeUnixNano,
        scope: scope ?? {},
        fields: values ?? {},
        flowIndex: records.length,
      };
      options.push(record);
      p.domain.applyOptions(plan, view, recordStart, record);
    } else if (p.rows) {
      emitRow(plan, s, p, bytes, p.rows);
    } else {
      emitFlow(plan, s, p, bytes, values, records);
    }
  }
  return { records: count };
}

function emitFlow(
  plan: TemplatePlan,
  s: Scratch,
  p: PacketContext,
  body: Uint8Array,
  values: Record<string, FieldValue> | undefined,
  records: FlowRecord[],
): void {
  const forward = buildFlowRecord(s, p, body, values);
  records.push(forward);
  if (plan.biflow) {
    forward.biflowDirection = 'forward';
    if (s.revBytes > 0 || s.revPackets > 0) records.push(buildReverseRecord(forward, s, p));
  }
}

const draft = new RowDraft();

/** The BigInt path of a time (also its exceptions), for inputs microsOf does not take the short way. */
const slowMicros = (ms: number, subMsNanos: number): number => nanoToMicros(unixNanos(ms, subMsNanos));

/** Address words of the record's source or destination into draft.addr at `at`; its family, 0 for none (addressOf's ''). */
function addressWords(v4: number, v6: number, bytes: Uint8Array, ipVersion: number, at: number): 0 | 4 | 6 {
  const w = draft.addr;
  if (ipVersion === 6) {
    if (v6 < 0) return 0;
    for (let k = 0; k < 4; k++) {
      const o = v6 + 4 * k;
      w[at + k] = ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
    }
    return 6;
  }
  if (ipVersion !== 4 || v4 < 0) return 0;
  w[at] = 0;
  w[at + 1] = 0;
  w[at + 2] = 0xffff;
  w[at + 3] = v4;
  return 4;
}

/** nextHopOf into the draft: an IPv4 value when the text would be its dotted quad, else the text. */
function nextHopInto(s: Scratch, bytes: Uint8Array): void {
  let v4 = -1;
  let text = '';
  if (s.nextHopV4 > 0) v4 = s.nextHopV4;
  else if (s.nextHopV6 >= 0 && !isZero(bytes, s.nextHopV6, 16)) text = ipv6ToString(bytes, s.nextHopV6);
  else if (s.bgpNextHopV4 > 0) v4 = s.bgpNextHopV4;
  else if (s.bgpNextHopV6 >= 0 && !isZero(bytes, s.bgpNextHopV6, 16)) text = ipv6ToString(bytes, s.bgpNextHopV6);
  else if (s.nextHopV4 === 0 || s.bgpNextHopV4 === 0) v4 = 0;
  else if (s.nextHopV6 >= 0 || s.bgpNextHopV6 >= 0) text = '::';
  draft.nextHopV4 = v4;
  draft.nextHopText = text;
}

/**
 * emitFlow for the row path: the same values buildFlowRecord (and buildReverseRecord) would give,
 * written as the rows packFlows would make of those records, without the objects and address text.
 */
function emitRow(plan: TemplatePlan, s: Scratch, p: PacketContext, body: Uint8Array, w: RowWriter): void {
  let ipVersion: 0 | 4 | 6;
  const hasV4 = s.srcV4 >= 0 || s.dstV4 >= 0;
  const hasV6 = s.srcV6 >= 0 || s.dstV6 >= 0;
  if (s.ipVersion === 6 && hasV6) ipVersion = 6;
  else if (s.ipVersion === 4 && hasV4) ipVersion = 4;
  else if (hasV6 && !(s.srcV4 > 0 || s.dstV4 > 0)) ipVersion = 6;
  else ipVersion = hasV4 ? 4 : 0;
  resolveTimes(s, p);
  const d = draft;
  d.typeCode = p.type === 'ipfix' ? 2 : 1;
  d.samplerAddress = p.exporter;
  d.observationDomainId = p.domainId;
  d.sequenceNumber = p.sequenceNumber;
  d.exportUs = p.exportUs;
  d.srcFamily = addressWords(s.srcV4, s.srcV6, body, ipVersion, 0);
  d.dstFamily = addressWords(s.dstV4, s.dstV6, body, ipVersion, 4);
  d.sourcePort = firstSet(s.srcPort, s.srcPortL4);
  d.destinationPort = firstSet(s.dstPort, s.dstPortL4);
  d.protocol = Math.max(s.protocol, 0);
  d.ipVersion = ipVersion;
  d.bytes = s.bytes;
  d.packets = s.packets;
  d.startUs = microsOf(s.startMs, s.startSubMs, slowMicros);
  d.endUs = microsOf(s.endMs, s.endSubMs, slowMicros);
  d.timeResolutionNano = Math.max(s.startRes, s.endRes);
  d.inputInterface = firstSet(s.inIf, s.inIfPhysical);
  d.outputInterface = firstSet(s.outIf, s.outIfPhysical);
  nextHopInto(s, body);
  d.samplingRate = samplingRateOf(s, p.domain);
  d.tcpFlags = Math.max(s.tcpFlags, 0);
  d.flowDirection = s.direction >= 0 ? s.direction : -1;
  d.biflow = plan.biflow ? 1 : 0;
  if (!(plan.biflow && (s.revBytes > 0 || s.revPackets > 0))) {
    w.put(d, ipv4ToString);
    return;
  }
  // the reverse direction (buildReverseRecord)
  let startMs = s.revStartMs;
  let endMs = s.revEndMs;
  let res = Math.max(s.revStartRes, s.revEndRes);
  if (Number.isNaN(startMs) && s.revStartUptime >= 0) startMs = uptimeToUnixMs(s.revStartUptime, s, p);
  if (Number.isNaN(endMs) && s.revEndUptime >= 0) endMs = uptimeToUnixMs(s.revEndUptime, s, p);
  if (!Number.isNaN(startMs) || !Number.isNaN(endMs)) {
    if (res === Infinity) res = uptimeResolution(s, p);
  } else if (s.revFlowDeltaMs >= 0) {
    startMs = s.startMs + s.revFlowDeltaMs;
    res = Math.max(s.startRes, RESOLUTION.milliseconds);
  }
  w.put(d, ipv4ToString);
  // the forward row is kept even if the reverse times throw (as the forward record is pushed first)
  if (!Number.isNaN(startMs) || !Number.isNaN(endMs)) {
    if (Number.isNaN(startMs)) startMs = endMs;
    if (Number.isNaN(endMs)) endMs = Math.max(startMs, s.endMs);
    d.startUs = microsOf(startMs, 0, slowMicros);
    d.endUs = microsOf(endMs, 0, slowMicros);
    d.timeResolutionNano = Math.max(res, d.timeResolutionNano);
  }
  const a = d.addr;
  for (let k = 0; k < 4; k++) {
    const t = a[k]!;
    a[k] = a[k + 4]!;
    a[k + 4] = t;
  }
  const family = d.srcFamily;
  d.srcFamily = d.dstFamily;
  d.dstFamily = family;
  const port = d.sourcePort;
  d.sourcePort = d.destinationPort;
  d.destinationPort = port;
  d.bytes = s.revBytes;
  d.packets = s.revPackets;
  d.tcpFlags = Math.max(s.revTcpFlags, 0);
  const inIf = d.inputInterface;
  d.inputInterface = d.outputInterface;
  d.outputInterface = inIf;
  d.biflow = 2;
  w.put(d, ipv4ToString);
}

/*
 * Compiled record loops (the rows path of fixed-length flow templates): a template's role fields become
 * straight-line code, one statement per field at its fixed offset, instead of a switch per field. The
 * code is generated from numbers only (roles from the registry's table, offsets and lengths checked to
 * be small integers) and from this file's own property names, never from text of the datagram, and it
 * does what applyRole does field by field, in the template's order (rows-path.test.ts compares the two).
 */

/** Roles whose value is the field's unsigned value, kept as is. */
const PLAIN_ROLES: ReadonlyMap<number, keyof Scratch> = new Map<number, keyof Scratch>([
  [R.SRC_PORT, 'srcPort'],
  [R.DST_PORT, 'dstPort'],
  [R.SRC_PORT_L4, 'srcPortL4'],
  [R.DST_PORT_L4, 'dstPortL4'],
  [R.PROTOCOL, 'protocol'],
  [R.IP_VERSION, 'ipVersion'],
  [R.IN_IF, 'inIf'],
  [R.IN_IF_PHYSICAL, 'inIfPhysical'],
  [R.OUT_IF, 'outIf'],
  [R.OUT_IF_PHYSICAL, 'outIfPhysical'],
  [R.DIRECTION, 'direction'],
  [R.SAMPLING_INTERVAL, 'samplingInterval'],
  [R.SAMPLER_RANDOM_INTERVAL, 'samplerRandomInterval'],
  [R.SAMPLING_PACKET_INTERVAL, 'samplingPacketInterval'],
  [R.SAMPLING_PACKET_SPACE, 'samplingPacketSpace'],
  [R.SAMPLING_SIZE, 'samplingSize'],
  [R.SAMPLING_POPULATION, 'samplingPopulation'],
  [R.SAMPLER_ID, 'samplerId'],
  [R.START_DELTA_MICROSECONDS, 'startDeltaUs'],
  [R.END_DELTA_MICROSECONDS, 'endDeltaUs'],
  [R.START_UPTIME, 'startUptime'],
  [R.END_UPTIME, 'endUptime'],
  [R.DURATION_MILLISECONDS, 'durationMs'],
  [R.DURATION_MICROSECONDS, 'durationUs'],
  [R.REV_START_UPTIME, 'revStartUptime'],
  [R.REV_END_UPTIME, 'revEndUptime'],
  [R.REV_FLOW_DELTA_MILLISECONDS, 'revFlowDeltaMs'],
]);

/** TCP flags: the low 12 bits (RFC 7125). */
const FLAG_ROLES: ReadonlyMap<number, keyof Scratch> = new Map<number, keyof Scratch>([
  [R.TCP_FLAGS, 'tcpFlags'],
  [R.REV_TCP_FLAGS, 'revTcpFlags'],
]);

/** Addresses and next hops: an IPv4 value when 4 bytes long, an IPv6 one's offset when 16. */
const ADDRESS_ROLES: ReadonlyMap<number, [keyof Scratch, 4 | 16]> = new Map<number, [keyof Scratch, 4 | 16]>([
  [R.SRC_V4, ['srcV4', 4]],
  [R.DST_V4, ['dstV4', 4]],
  [R.NEXT_HOP_V4, ['nextHopV4', 4]],
  [R.BGP_NEXT_HOP_V4, ['bgpNextHopV4', 4]],
  [R.SRC_V6, ['srcV6', 16]],
  [R.DST_V6, ['dstV6', 16]],
  [R.NEXT_HOP_V6, ['nextHopV6', 16]],
  [R.BGP_NEXT_HOP_V6, ['bgpNextHopV6', 16]],
]);

/** Absolute times in seconds or milliseconds (zero: not set): the setter, the factor to milliseconds, the resolution. */
const TIME_ROLES: ReadonlyMap<number, ['setStart' | 'setEnd' | 'setObservation', number, number]> = new Map<
  number,
  ['setStart' | 'setEnd' | 'setObservation', number, number]
>([
  [R.START_SECONDS, ['setStart', 1000, RESOLUTION.seconds]],
  [R.END_SECONDS, ['setEnd', 1000, RESOLUTION.seconds]],
  [R.START_MILLISECONDS, ['setStart', 1, RESOLUTION.milliseconds]],
  [R.END_MILLISECONDS, ['setEnd', 1, RESOLUTION.milliseconds]],
  [R.OBSERVATION_SECONDS, ['setObservation', 1000, RESOLUTION.seconds]],
  [R.OBSERVATION_MILLISECONDS, ['setObservation', 1, RESOLUTION.milliseconds]],
]);

/** Counters: the value and rank properties and the first role of their preference order (see takeCounter). */
const COUNTER_ROLES: readonly [number, number, keyof Scratch, keyof Scratch][] = [
  [R.BYTES, 5, 'bytes', 'bytesRank'],
  [R.PACKETS, 5, 'packets', 'packetsRank'],
  [R.REV_BYTES, 2, 'revBytes', 'revBytesRank'],
  [R.REV_PACKETS, 2, 'revPackets', 'revPacketsRank'],
];

/** The largest template compiled (role fields); bigger ones keep the loop. */
const MAX_COMPILED_FIELDS = 128;
/** Compiled loops kept by template shape; the cache starts afresh when full (an exporter churning templates). */
const MAX_COMPILED_SHAPES = 256;

/** A compiled record loop: the records of a data set (bytes `start` to `end`, see decodeDataSet) into `out`; returns the records read. */
type RecordLoop<Out> = (
  plan: TemplatePlan,
  view: DataView,
  bytes: Uint8Array,
  start: number,
  end: number,
  p: PacketContext,
  out: Out,
  s: Scratch,
) => number;

/** A compiled record loop into store rows. */
type RowLoop = RecordLoop<RowWriter>;

const isSmallInt = (x: number, max: number): boolean => Number.isInteger(x) && x >= 0 && x <= max;

/** readUnsigned at a fixed length, as an expression; undefined where readUnsigned gives -1 (no value). */
function unsignedExpression(off: number, len: number): string | undefined {
  const at = (k: number) => `pos + ${off + k}`;
  switch (len) {
    case 1:
      return `view.getUint8(${at(0)})`;
    case 2:
      return `view.getUint16(${at(0)})`;
    case 4:
      return `view.getUint32(${at(0)})`;
    case 8:
      return `(view.getUint32(${at(0)}) * 4294967296 + view.getUint32(${at(4)}))`;
    case 3:
    case 5:
    case 6:
    case 7: {
      let e = '0';
      for (let k = 0; k < len; k++) e = `(${e} * 256 + view.getUint8(${at(k)}))`;
      return e;
    }
    default:
      return undefined;
  }
}

/**
 * applyRole(role, view, pos + off, len, s) as a statement for this role and length: on the scratch
 * (`s.`), or, for the direct loop, on locals of the same names (null: a role it does not take).
 * '' where applyRole does nothing (a length the role ignores).
 */
function roleStatement(role: number, off: number, len: number, locals = false): string | null {
  const on = locals ? '' : 's.';
  const address = ADDRESS_ROLES.get(role);
  if (address) {
    const [prop, size] = address;
    if (len !== size) return '';
    return size === 4 ? `${on}${prop} = view.getUint32(pos + ${off});` : `${on}${prop} = pos + ${off};`;
  }
  const plain = PLAIN_ROLES.get(role);
  const flags = FLAG_ROLES.get(role);
  const time = TIME_ROLES.get(role);
  const counter = COUNTER_ROLES.find(([first, n]) => role >= first && role < first + n);
  if (plain === undefined && flags === undefined && time === undefined && counter === undefined)
    return locals ? null : `applyRole(${role}, view, pos + ${off}, ${len}, s);`;
  if (locals && !DIRECT_ROLES.has(role)) return null;
  const value = unsignedExpression(off, len);
  if (value === undefined) return '';
  if (plain !== undefined) return `${on}${plain} = ${value};`;
  if (flags !== undefined) return `${on}${flags} = ${value} & 0x0fff;`;
  if (time !== undefined) {
    const [setter, toMs, resolution] = time;
    const ms = toMs === 1 ? 'v' : `v * ${toMs}`;
    if (!locals) return `v = ${value}; if (v > 0) s.${setter}(${ms}, 0, ${resolution});`;
    // Scratch.setStart / setEnd on locals (the direct loop takes no observation times)
    const which = setter === 'setStart' ? 'start' : 'end';
    return `v = ${value}; if (v > 0 && ${resolution} < ${which}Res) { ${which}Ms = ${ms}; ${which}Res = ${resolution}; }`;
  }
  const [first, , prop, rankProp] = counter!;
  const rank = role - first;
  return `v = ${value}; if (${on}${rankProp} < 0 || (v > 0 && (${on}${prop} === 0 || ${rank} < ${on}${rankProp}))) { ${on}${prop} = v; ${on}${rankProp} = ${rank}; }`;
}

const compiledShapes = new Map<string, { loop: RowLoop; direct: boolean }>();

/**
 * Which record loop the rows path of fixed-length flow templates takes: `direct` (the default) the
 * direct loop where the template allows it, else the compiled scratch loop; `scratch` the compiled
 * scratch loop only; `off` the role-field loop. rows-path.test.ts compares them.
 */
export type RowLoopMode = 'direct' | 'scratch' | 'off';
let rowLoopMode: RowLoopMode = 'direct';

export function useCompiledRowLoops(mode: RowLoopMode): void {
  rowLoopMode = mode;
}

/** Templates (plans) given a direct loop and a compiled scratch loop so far (tests check which loop ran). */
export const rowLoopStats = { direct: 0, scratch: 0 };

/** The compiled rows loop of a fixed-length flow template, or null when it keeps the general one. */
function compileRowLoop(plan: TemplatePlan): RowLoop | null {
  const length = plan.fixedLength;
  const fields = plan.roleFields;
  if (plan.options || !isSmallInt(length, 65535) || length === 0 || fields.length > MAX_COMPILED_FIELDS) return null;
  const shape: (number | string)[] = [rowLoopMode, length, plan.biflow ? 1 : 0];
  for (const f of fields) {
    if (!isSmallInt(f.role, R.REV_FLOW_DELTA_MILLISECONDS) || !isSmallInt(f.offset, 65535) || !isSmallInt(f.length, 65535)) return null;
    shape.push(f.role, f.offset, f.length);
  }
  const key = shape.join(',');
  let known = compiledShapes.get(key);
  if (!known) {
    const direct = rowLoopMode === 'direct' ? compileDirectRowLoop(plan) : null;
    known = direct ? { loop: direct, direct: true } : { loop: compileScratchRowLoop(plan), direct: false };
    if (compiledShapes.size >= MAX_COMPILED_SHAPES) compiledShapes.clear();
    compiledShapes.set(key, known);
  }
  rowLoopStats[known.direct ? 'direct' : 'scratch']++;
  return known.loop;
}

/**
 * The source of a record loop on the scratch (a function of (plan, view, bytes, start, end, p, `out`, s)
 * returning the records read): per record the template's role statements inlined, then `emit`.
 */
function scratchLoopSource(plan: TemplatePlan, name: string, out: string, emit: string): string {
  const length = plan.fixedLength;
  const statements = plan.roleFields.map((f) => roleStatement(f.role, f.offset, f.length)).join('\n      ');
  return `"use strict";
  return function ${name}(plan, view, bytes, start, end, p, ${out}, s) {
    let count = 0;
    let v = 0;
    for (let pos = start; end - pos >= ${length}; pos += ${length}) {
      s.reset();
      ${plan.biflow ? 's.resetReverse();' : ''}
      ${statements}
      ${emit}
      count++;
    }
    return count;
  };`;
}

/** The record loop on the scratch: the template's reads inlined, then emitRow. */
function compileScratchRowLoop(plan: TemplatePlan): RowLoop {
  const source = scratchLoopSource(plan, 'compiledRowLoop', 'w', 'emitRow(plan, s, p, bytes, w);');
  return new Function('applyRole', 'emitRow', source)(applyRole, emitRow) as RowLoop;
}

/*
 * The all-fields loop (keepAllFields: `netspan decode`, OTLP logs) of a fixed-length flow template:
 * the scratch loop's role statements, then the record's `fields` as one object literal of the
 * template's element names, each value read by an expression for its type and length at its fixed
 * offset. One literal per template gives every record's `fields` the same shape, where keyed stores
 * name by name made V8 look each name up. The names are the registry's (or `<pen>.<id>` of numbers),
 * never text of the datagram, and go into the code as JSON string literals. rows-path.test.ts
 * compares the loop with the general one record for record.
 */

/** A compiled record loop with every field kept, appending FlowRecords. */
type AllFieldsLoop = RecordLoop<FlowRecord[]>;

/** decodeValue(type, view, bytes, pos + off, len) as an expression, specialised where the type and length allow. */
function valueExpression(type: number, off: number, len: number): string {
  const at = `pos + ${off}`;
  switch (type) {
    case IeType.unsigned8:
    case IeType.unsigned16:
    case IeType.unsigned32:
    case IeType.unsigned64:
      if (len === 8) return `unsignedValue(view, ${at}, 8)`;
      return unsignedExpression(off, len) ?? `decodeValue(${type}, view, bytes, ${at}, ${len})`;
    case IeType.ipv4Address:
      if (len === 4) return `ipv4ToString(view.getUint32(${at}))`;
      break;
    case IeType.ipv6Address:
      if (len === 16) return `ipv6ToString(bytes, ${at})`;
      break;
    case IeType.dateTimeSeconds:
      if (len >= 1 && len <= 4) return `secondsTime(${unsignedExpression(off, len)!})`;
      break;
    case IeType.dateTimeMilliseconds:
      if (len >= 1 && len <= 8) return `millisecondsTime(${unsignedExpression(off, len)!})`;
      break;
  }
  return `decodeValue(${type}, view, bytes, ${at}, ${len})`;
}

const compiledAllFieldsShapes = new Map<string, AllFieldsLoop>();

/** The all-fields loop of a fixed-length flow template (see above), or null when it keeps the general loop. */
function compileAllFieldsLoop(plan: TemplatePlan): AllFieldsLoop | null {
  const length = plan.fixedLength;
  if (plan.options || !isSmallInt(length, 65535) || length === 0 || plan.fields.length > MAX_COMPILED_FIELDS) return null;
  const shape: (number | string)[] = [length, plan.biflow ? 1 : 0];
  const properties: string[] = [];
  let offset = 0;
  for (const f of plan.fields) {
    const type = f.def.type;
    if (!isSmallInt(f.length, 65535) || !isSmallInt(type, 255)) return null;
    // a literal's "__proto__" key would set the prototype instead of a property
    if (!f.skip) {
      if (f.name === '__proto__') return null;
      properties.push(`${JSON.stringify(f.name)}: ${valueExpression(type, offset, f.length)}`);
    }
    shape.push(f.name, type, f.length, f.skip ? 1 : 0);
    offset += f.length;
  }
  for (const f of plan.roleFields) {
    if (!isSmallInt(f.role, R.REV_FLOW_DELTA_MILLISECONDS) || !isSmallInt(f.offset, 65535)) return null;
    shape.push(f.role, f.offset);
  }
  const key = JSON.stringify(shape);
  let loop = compiledAllFieldsShapes.get(key);
  if (!loop) {
    const emit = `emitFlow(plan, s, p, bytes, {\n        ${properties.join(',\n        ')}\n      }, records);`;
    const source = scratchLoopSource(plan, 'compiledAllFieldsLoop', 'records', emit);
    loop = new Function(
      'applyRole',
      'emitFlow',
      'decodeValue',
      'unsignedValue',
      'ipv4ToString',
      'ipv6ToString',
      'secondsTime',
      'millisecondsTime',
      source,
    )(applyRole, emitFlow, decodeValue, unsignedValue, ipv4ToString, ipv6ToString, secondsTime, millisecondsTime) as AllFieldsLoop;
    if (compiledAllFieldsShapes.size >= MAX_COMPILED_SHAPES) compiledAllFieldsShapes.clear();
    compiledAllFieldsShapes.set(key, loop);
  }
  allFieldsLoopStats.compiled++;
  return loop;
}

/** Templates given a compiled all-fields loop so far (tests check that it ran). */
export const allFieldsLoopStats = { compiled: 0 };

/*
 * The direct loop: for the templates most exporters send (addresses, ports, protocol, flags,
 * counters, interfaces, next hops, direction, a sampler id, and absolute times in seconds or
 * milliseconds or sysUpTime times, not both), the whole of emitRow and RowWriter.put specialised
 * to the template: the values in locals instead of the scratch, what the template cannot carry
 * folded away, the range checks only where a field's length allows a value out of range, and the
 * row written in place. Other templates keep the scratch loop. rows-path.test.ts compares it
 * with the role-field loop byte for byte. The locals take the scratch's property names; the
 * datagram is `wire` in the loop, since `bytes` is the octet counter there.
 */

/** Roles the direct loop reads (with the addresses and next hops of ADDRESS_ROLES). */
const DIRECT_ROLES: ReadonlySet<number> = new Set<number>([
  R.SRC_PORT,
  R.DST_PORT,
  R.SRC_PORT_L4,
  R.DST_PORT_L4,
  R.PROTOCOL,
  R.IP_VERSION,
  R.IN_IF,
  R.IN_IF_PHYSICAL,
  R.OUT_IF,
  R.OUT_IF_PHYSICAL,
  R.DIRECTION,
  R.SAMPLER_ID,
  R.START_UPTIME,
  R.END_UPTIME,
  R.TCP_FLAGS,
  R.START_SECONDS,
  R.END_SECONDS,
  R.START_MILLISECONDS,
  R.END_MILLISECONDS,
  ...[0, 1, 2, 3, 4].flatMap((k) => [R.BYTES + k, R.PACKETS + k]),
]);

/** The local a role's statement assigns (for the addresses, next hops and plain roles, the scratch's name). */
function directLocalOf(role: number): string {
  const address = ADDRESS_ROLES.get(role);
  if (address) return address[0];
  const plain = PLAIN_ROLES.get(role) ?? FLAG_ROLES.get(role);
  if (plain) return plain;
  if (role === R.START_SECONDS || role === R.START_MILLISECONDS) return 'startMs';
  if (role === R.END_SECONDS || role === R.END_MILLISECONDS) return 'endMs';
  return role >= R.PACKETS ? 'packets' : 'bytes';
}

/** The direct loop of a template (see above), or null when the template keeps the scratch loop. */
function compileDirectRowLoop(plan: TemplatePlan): RowLoop | null {
  if (plan.options || plan.biflow) return null;
  const reads: string[] = [];
  /** Locals the template assigns, with the longest field feeding each. */
  const longest = new Map<string, number>();
  for (const f of plan.roleFields) {
    const statement = roleStatement(f.role, f.offset, f.length, true);
    if (statement === null) return null;
    if (statement === '') continue;
    reads.push(statement);
    const local = directLocalOf(f.role);
    longest.set(local, Math.max(longest.get(local) ?? 0, f.length));
  }
  const has = (local: string): boolean => longest.has(local);
  const uptimes = has('startUptime') || has('endUptime');
  if (uptimes && (has('startMs') || has('endMs'))) return null;
  /** The local, or -1 (what the scratch holds for a field the template lacks). */
  const local = (name: string): string => (has(name) ? name : '-1');
  /** A range check for a value fed by these locals, or '' when their lengths cannot exceed `bytes`. */
  const check = (value: string, names: string[], bytes: number, test: string): string =>
    names.some((n) => (longest.get(n) ?? 0) > bytes) ? test.replaceAll('$', value) : '';
  const declared = [...longest.keys()]
    .filter((n) => n !== 'startMs' && n !== 'endMs')
    .map((n) => (n === 'bytes' || n === 'packets' ? `${n} = 0, ${n}Rank = -1` : `${n} = -1`));
  const hasV4 = has('srcV4') || has('dstV4');
  const hasV6 = has('srcV6') || has('dstV6');
  const upToMs = (u: string) => `(sysUp >= 0 ? exportMs - ((sysUp - ${u}) | 0) : initMs >= 0 ? initMs + ${u} : NaN)`;
  const startUptime = local('startUptime');
  const endUptime = local('endUptime');
  const uptimeTimes = !uptimes
    ? ''
    : `{
        const upStart = ${startUptime} >= 0 ? ${upToMs(startUptime)} : NaN;
        const upEnd = ${endUptime} >= 0 ? ${upToMs(endUptime)} : NaN;
        if (upStart === upStart) { startMs = upStart; startRes = upRes; }
        if (upEnd === upEnd) { endMs = upEnd; endRes = upRes; }
        if (upStart !== upStart && upEnd !== upEnd) {
          endMs = exportMs; endRes = ${RESOLUTION.exportOnly};
          startMs = exportMs - (${startUptime} >= 0 && ${endUptime} >= 0 ? Math.max(0, (${endUptime} - ${startUptime}) | 0) : 0);
          startRes = ${RESOLUTION.exportOnly};
        }
      }`;
  const family = (v4: string, v6: string) => `ipv === 6 ? (${has(v6) ? 6 : 0}) : ipv === 4 ? (${has(v4) ? 4 : 0}) : 0`;
  const words = (v4: string, v6: string, at: number) => {
    const v4Words = has(v4) ? `u32[a + ${at}] = 0; u32[a + ${at + 1}] = 0; u32[a + ${at + 2}] = 0xffff; u32[a + ${at + 3}] = ${v4};` : '';
    const v6Words = has(v6) ? [0, 1, 2, 3].map((k) => `u32[a + ${at + k}] = view.getUint32(${v6} + ${4 * k});`).join(' ') : '';
    return `if (ipv === 6) { ${v6Words} } else { ${v4Words} }`;
  };
  const nh4 = local('nextHopV4');
  const nh6 = local('nextHopV6');
  const bgp4 = local('bgpNextHopV4');
  const bgp6 = local('bgpNextHopV6');
  const nextHop = [nh4, nh6, bgp4, bgp6].every((x) => x === '-1')
    ? ''
    : `if (${nh4} > 0) hop4 = ${nh4};
      else if (${nh6} >= 0 && !isZero(wire, ${nh6}, 16)) { hop4 = -1; hopText = ipv6ToString(wire, ${nh6}); }
      else if (${bgp4} > 0) hop4 = ${bgp4};
      else if (${bgp6} >= 0 && !isZero(wire, ${bgp6}, 16)) { hop4 = -1; hopText = ipv6ToString(wire, ${bgp6}); }
      else if (${nh4} === 0 || ${bgp4} === 0) hop4 = 0;
      else if (${nh6} >= 0 || ${bgp6} >= 0) { hop4 = -1; hopText = '::'; }`;
  const samplerId = local('samplerId');
  const checks = [
    check('sourcePort', ['srcPort', 'srcPortL4'], 2, '($ & 0xffff) !== $'),
    check('destinationPort', ['dstPort', 'dstPortL4'], 2, '($ & 0xffff) !== $'),
    check('proto', ['protocol'], 1, '($ & 0xff) !== $'),
    check('inputInterface', ['inIf', 'inIfPhysical'], 4, '$ >>> 0 !== $'),
    check('outputInterface', ['outIf', 'outIfPhysical'], 4, '$ >>> 0 !== $'),
    has('samplerId') ? 'samplingRate >>> 0 !== samplingRate' : '!domainRateOk',
    '!headerOk',
    check('flowDirection', ['direction'], 0, '($ !== -1 && (($ & 0xff) !== $ || $ === 255))'),
    check('bytes', ['bytes'], 6, '$ > 9007199254740991'),
    check('packets', ['packets'], 6, '$ > 9007199254740991'),
  ].filter((c) => c !== '');
  const source = `"use strict";
  return function directRowLoop(plan, view, wire, start, end, p, w) {
    w.ensure(Math.floor((end - start) / ${plan.fixedLength}));
    const f64 = w.f64, u32 = w.u32, u16 = w.u16, u8 = w.u8, byType = w.byType;
    const typeCode = p.type === 'ipfix' ? 2 : 1;
    const exporter = p.exporter, exportMs = p.exportMs, exportUs = p.exportUs;
    const domainId = p.domainId, sequenceNumber = p.sequenceNumber;
    const headerOk = domainId >>> 0 === domainId && sequenceNumber >>> 0 === sequenceNumber;
    const domain = p.domain;
    const domainRate = domain.samplingRate;
    const domainRateOk = domainRate >>> 0 === domainRate;
    const sysUp = p.sysUptimeMs, initMs = domain.systemInitTimeMs;
    const upRes = sysUp >= 0 ? p.uptimeResolution : ${RESOLUTION.milliseconds};
    let count = 0;
    let v = 0;
    for (let pos = start; end - pos >= ${plan.fixedLength}; pos += ${plan.fixedLength}) {
      count++;
      ${declared.length > 0 ? `let ${declared.join(', ')};` : ''}
      let startMs = NaN, startRes = Infinity, endMs = NaN, endRes = Infinity;
      ${reads.join('\n      ')}
      let ipv = 0;
      if (${local('ipVersion')} === 6 && ${hasV6}) ipv = 6;
      else if (${local('ipVersion')} === 4 && ${hasV4}) ipv = 4;
      else if (${hasV6} && !(${local('srcV4')} > 0 || ${local('dstV4')} > 0)) ipv = 6;
      else ipv = ${hasV4 ? 4 : 0};
      ${uptimeTimes}
      if (startMs !== startMs) {
        if (endMs !== endMs) { startMs = endMs = exportMs; startRes = endRes = ${RESOLUTION.exportOnly}; }
        else { startMs = endMs; startRes = endRes; }
      } else if (endMs !== endMs) { endMs = startMs; endRes = startRes; }
      const startUs = microsOf(startMs, 0, slowMicros);
      const endUs = microsOf(endMs, 0, slowMicros);
      let hop4 = -1, hopText = '';
      ${nextHop}
      let samplingRate = domainRate;
      ${has('samplerId') ? `{ const r = domain.samplerRates.get(${samplerId}); if (r !== undefined) samplingRate = r; }` : ''}
      byType[typeCode]++;
      const srcFamily = ${family('srcV4', 'srcV6')};
      const dstFamily = ${family('dstV4', 'dstV6')};
      if (srcFamily === 0 || dstFamily === 0) { w.refusedAddress++; continue; }
      const sourcePort = firstSet(${local('srcPort')}, ${local('srcPortL4')});
      const destinationPort = firstSet(${local('dstPort')}, ${local('dstPortL4')});
      const proto = ${has('protocol') ? 'protocol < 0 ? 0 : protocol' : '0'};
      const inputInterface = firstSet(${local('inIf')}, ${local('inIfPhysical')});
      const outputInterface = firstSet(${local('outIf')}, ${local('outIfPhysical')});
      const flowDirection = ${local('direction')};
      ${checks.length > 0 ? `if (${checks.join(' || ')}) { w.refusedField++; continue; }` : ''}
      const o = w.rows;
      const a = o * ${Row.U32_STRIDE};
      ${words('srcV4', 'srcV6', Row.U32_ADDR)}
      ${words('dstV4', 'dstV6', Row.U32_ADDR + 4)}
      u32[a + ${Row.U32_INPUT_INTERFACE}] = inputInterface;
      u32[a + ${Row.U32_OUTPUT_INTERFACE}] = outputInterface;
      u32[a + ${Row.U32_SAMPLING_RATE}] = samplingRate;
      u32[a + ${Row.U32_OBSERVATION_DOMAIN}] = domainId;
      u32[a + ${Row.U32_SEQUENCE_NUMBER}] = sequenceNumber;
      const f = o * ${Row.F64_STRIDE};
      f64[f + ${Row.F64_START_US}] = startUs;
      f64[f + ${Row.F64_END_US}] = endUs;
      f64[f + ${Row.F64_RESOLUTION_NS}] = startRes > endRes ? startRes : endRes;
      f64[f + ${Row.F64_EXPORT_US}] = exportUs;
      f64[f + ${Row.F64_BYTES}] = ${has('bytes') ? 'bytes' : '0'};
      f64[f + ${Row.F64_PACKETS}] = ${has('packets') ? 'packets' : '0'};
      const h = o * ${Row.U16_STRIDE};
      u16[h + ${Row.U16_SOURCE_PORT}] = sourcePort;
      u16[h + ${Row.U16_DESTINATION_PORT}] = destinationPort;
      u16[h + ${Row.U16_TCP_FLAGS}] = ${has('tcpFlags') ? 'tcpFlags < 0 ? 0 : tcpFlags' : '0'};
      u16[h + ${Row.U16_SPARE}] = 0;
      u16[h + ${Row.U16_META}] = typeCode | ((ipv === 0 ? 0 : ipv === 4 ? 1 : 2) << ${Row.META_IPVERSION_SHIFT}) |
        (srcFamily === 6 ? ${Row.META_SRC_V6} : 0) | (dstFamily === 6 ? ${Row.META_DST_V6} : 0);
      const b = o * ${Row.ROW_BYTES};
      u8[b + ${Row.U8_PROTOCOL}] = proto;
      u8[b + ${Row.U8_FLOW_DIRECTION}] = flowDirection === -1 ? ${Row.NO_FLOW_DIRECTION} : flowDirection;
      w.commit(exporter, hop4, hopText, ipv4ToString);
    }
    return count;
  };`;
  return new Function('microsOf', 'slowMicros', 'firstSet', 'isZero', 'ipv4ToString', 'ipv6ToString', source)(
    microsOf,
    slowMicros,
    firstSet,
    isZero,
    ipv4ToString,
    ipv6ToString,
  ) as RowLoop;
}

function truncated(records: number, offset: number, plan: TemplatePlan, message: string): SetResult {
  return { records, issue: { code: 'TRUNCATED', message, offset, context: { templateId: plan.templateId } } };
}

/** Reads the wire fields of an options record again for the domain state (sampling, init time, interface names). */
export function optionsValues(
  plan: TemplatePlan,
  view: DataView,
  start: number,
  visit: (def: IeDef, off: number, len: number) => void,
): void {
  let pos = start;
  for (const f of plan.fields) {
    let len = f.length;
    if (len === VARIABLE_LENGTH) {
      len = view.getUint8(pos++);
      if (len === 255) {
        len = view.getUint16(pos);
        pos += 2;
      }
    }
    if (!f.skip) visit(f.def, pos, len);
    pos += len;
  }
}
