/**
 * Packet observations: what an observation point (the netspan agent's capture, the kernel's IOAM
 * events, an ioam-api agent) saw of one packet. Two kinds:
 *  - an IOAM trace: the per-hop data the network wrote into the packet (RFC 9197), with the
 *    packet's quartet and, with Cross-Layer Telemetry, the trace and span ids it carried;
 *  - an HTTP observation: a request or response head seen on an interface, with its traceparent.
 *
 * One flat attribute form serves `netspan decode` (JSON lines), the agent's OTLP log records and
 * the collector's intake of them (observationAttributes / observationFromAttributes); the
 * README's "Packet observations" section documents it.
 */
import type { IoamNode } from '../capture/ioam/decode.js';
import { transportName } from './flow.js';

/** `event.name` of the OTLP log record that carries an observation. */
export const OBSERVATION_EVENT = { ioam: 'netspan.ioam.trace', http: 'netspan.http.observation' } as const;

export type ObservationKind = keyof typeof OBSERVATION_EVENT;

/** Where and when a packet was seen, and its connection. */
export interface PacketObservationBase {
  /** The packet's capture time at this observation point, Unix nanoseconds. */
  timeUnixNano: bigint;
  /** Who observed it: the agent's host name (or configured name), the ioam-api peer, ''. */
  observer: string;
  /** The interface it was captured on; '' when not known (files, kernel events). */
  interfaceName: string;
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** IANA protocol number (6 TCP, 17 UDP); 0 when not known. */
  protocol: number;
}

/** How an IOAM trace reached netspan. */
export type IoamObservationSource = 'capture' | 'netlink' | 'ioam_api';

export interface IoamObservation extends PacketObservationBase {
  kind: 'ioam';
  source: IoamObservationSource;
  /** IOAM option-type: 0 pre-allocated trace, 1 incremental trace. */
  optionType: 0 | 1;
  namespaceId: number;
  /** 24-bit trace type, bit 0 the most significant. */
  traceType: number;
  overflow: boolean;
  /** Per-node data in path order (first hop first); field names as RFC 9197's, in snake case. */
  nodes: IoamNode[];
  /** Trace and span id the packet carried (Cross-Layer Telemetry), lowercase hex. */
  traceId?: string;
  spanId?: string;
  /** The W3C traceparent of the HTTP request this packet was part of, when the observer saw it on the same connection. */
  traceparent?: string;
}

/** Whether the packet was entering or leaving the observing host on that interface. */
export type ObservationDirection = 'ingress' | 'egress' | 'unknown';

export interface HttpObservation extends PacketObservationBase {
  kind: 'http';
  direction: ObservationDirection;
  message: 'request' | 'response';
  method?: string;
  target?: string;
  host?: string;
  status?: number;
  traceparent?: string;
  tracestate?: string;
}

export type Observation = IoamObservation | HttpObservation;

/** The packet fields of an IOAM observation that came without its packet (kernel events, ioam-api reports). */
export const NO_PACKET = {
  interfaceName: '',
  sourceAddress: '',
  sourcePort: 0,
  destinationAddress: '',
  destinationPort: 0,
  protocol: 0,
} as const satisfies Partial<PacketObservationBase>;

/**
 * A node's timestamp in Unix nanoseconds, when it has both fields and they are in range:
 * seconds, and subseconds in `unit` (Linux writes microseconds; PTP nanoseconds).
 */
export function ioamNodeTime(node: IoamNode, unit: 'microseconds' | 'nanoseconds' = 'microseconds'): bigint | undefined {
  const s = node.timestamp_seconds;
  const sub = node.timestamp_subseconds;
  if (typeof s !== 'number' || typeof sub !== 'number') return undefined;
  if (unit === 'microseconds' ? sub >= 1_000_000 : sub >= 1_000_000_000) return undefined;
  return BigInt(s) * 1_000_000_000n + (unit === 'microseconds' ? BigInt(sub) * 1000n : BigInt(sub));
}

/** Attribute names of the flat form. */
export const OBSERVATION_ATTRIBUTE = {
  time: 'observation.time',
  observer: 'observer.name',
  interfaceName: 'network.interface.name',
  sourceAddress: 'source.address',
  sourcePort: 'source.port',
  destinationAddress: 'destination.address',
  destinationPort: 'destination.port',
  protocol: 'network.transport',
  ioamSource: 'ioam.source',
  ioamOptionType: 'ioam.option_type',
  ioamNamespace: 'ioam.namespace_id',
  ioamTraceType: 'ioam.trace_type',
  ioamOverflow: 'ioam.overflow',
  ioamNodes: 'ioam.nodes',
  ioamTraceId: 'ioam.trace_id',
  ioamSpanId: 'ioam.span_id',
  traceparent: 'http.traceparent',
  tracestate: 'http.tracestate',
  direction: 'observation.direction',
  httpMessage: 'http.message',
  method: 'http.request.method',
  target: 'url.path',
  host: 'server.address',
  status: 'http.response.status_code',
} as const;

/** A JSON value: what the flat form holds (and what OTLP AnyValue can carry). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type FlatAttributes = Record<string, JsonValue>;

const A = OBSERVATION_ATTRIBUTE;

/** One IOAM node as a JSON object: bigints (the 56/64-bit fields) as decimal strings, the snapshot's data as hex. */
export function ioamNodeJson(node: IoamNode): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(node) as [keyof IoamNode, IoamNode[keyof IoamNode]][]) {
    if (value === undefined) continue;
    if (typeof value === 'bigint') out[key] = value.toString();
    else if (key === 'opaque_state_snapshot') {
      const s = value as NonNullable<IoamNode['opaque_state_snapshot']>;
      out[key] = {
        length: s.length,
        schema_id: s.schema_id,
        data: Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength).toString('hex'),
      };
    } else if (key === 'undefined_fields')
      out[key] = (value as { bit: number; value: number }[]).map((f) => ({ bit: f.bit, value: f.value }));
    else out[key] = value as number | null;
  }
  return out;
}

const WIDE_BIGINT_FIELDS = new Set(['node_id_wide', 'namespace_data_wide']);
const NUMBER_FIELDS = new Set([
  'hop_limit',
  'node_id',
  'ingress_if_id',
  'egress_if_id',
  'timestamp_seconds',
  'timestamp_subseconds',
  'transit_delay',
  'namespace_data',
  'queue_depth',
  'checksum_complement',
  'ingress_if_id_wide',
  'egress_if_id_wide',
  'buffer_occupancy',
]);

/** The inverse of ioamNodeJson; throws ObservationFormatError on a value of the wrong type. */
export function ioamNodeFromJson(json: JsonValue, path: string): IoamNode {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ObservationFormatError(path, 'an object');
  const node: IoamNode = {};
  const target = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(json)) {
    const at = `${path}.${key}`;
    if (NUMBER_FIELDS.has(key)) {
      if (value !== null && !isUint(value, 0xffffffff)) throw new ObservationFormatError(at, 'null or an unsigned 32-bit integer');
      target[key] = value;
    } else if (WIDE_BIGINT_FIELDS.has(key)) {
      if (value !== null && !(typeof value === 'string' && /^\d{1,20}$/.test(value)) && !isUint(value, Number.MAX_SAFE_INTEGER))
        throw new ObservationFormatError(at, 'null or an unsigned integer (decimal string)');
      target[key] = value === null ? null : BigInt(value);
    } else if (key === 'opaque_state_snapshot') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ObservationFormatError(at, 'an object');
      const { length, schema_id: schemaId, data } = value;
      if (!isUint(length, 0xff)) throw new ObservationFormatError(`${at}.length`, 'an integer 0..255');
      if (schemaId !== null && !isUint(schemaId, 0xffffff)) throw new ObservationFormatError(`${at}.schema_id`, 'null or a 24-bit integer');
      if (typeof data !== 'string' || !/^(?:[0-9a-f]{2})*$/i.test(data)) throw new ObservationFormatError(`${at}.data`, 'hex text');
      node.opaque_state_snapshot = { length, schema_id: schemaId, data: new Uint8Array(Buffer.from(data, 'hex')) };
    } else if (key === 'undefined_fields') {
      if (!Array.isArray(value)) throw new ObservationFormatError(at, 'an array');
      node.undefined_fields = value.map((f, i) => {
        if (f === null || typeof f !== 'object' || Array.isArray(f) || !isUint(f.bit, 23) || !isUint(f.value, 0xffffffff))
          throw new ObservationFormatError(`${at}[${i}]`, '{bit, value}');
        return { bit: f.bit, value: f.value };
      });
    }
    // Unknown keys are ignored: a newer agent may send more.
  }
  return node;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/** The flat attribute form of an observation (JSON lines of `netspan decode`, OTLP log attributes). */
export function observationAttributes(o: Observation): FlatAttributes {
  const a: FlatAttributes = {
    [A.time]: o.timeUnixNano.toString(),
    [A.sourceAddress]: o.sourceAddress,
    [A.sourcePort]: o.sourcePort,
    [A.destinationAddress]: o.destinationAddress,
    [A.destinationPort]: o.destinationPort,
    [A.protocol]: transportName(o.protocol),
  };
  if (o.observer) a[A.observer] = o.observer;
  if (o.interfaceName) a[A.interfaceName] = o.interfaceName;
  if (o.kind === 'ioam') {
    a[A.ioamSource] = o.source;
    a[A.ioamOptionType] = o.optionType === 0 ? 'pre_allocated' : 'incremental';
    a[A.ioamNamespace] = o.namespaceId;
    a[A.ioamTraceType] = o.traceType;
    a[A.ioamOverflow] = o.overflow;
    a[A.ioamNodes] = o.nodes.map(ioamNodeJson);
    if (o.traceId !== undefined) a[A.ioamTraceId] = o.traceId;
    if (o.spanId !== undefined) a[A.ioamSpanId] = o.spanId;
    if (o.traceparent !== undefined) a[A.traceparent] = o.traceparent;
  } else {
    a[A.direction] = o.direction;
    a[A.httpMessage] = o.message;
    if (o.method !== undefined) a[A.method] = o.method;
    if (o.target !== undefined) a[A.target] = o.target;
    if (o.host !== undefined) a[A.host] = o.host;
    if (o.status !== undefined) a[A.status] = o.status;
    if (o.traceparent !== undefined) a[A.traceparent] = o.traceparent;
    if (o.tracestate !== undefined) a[A.tracestate] = o.tracestate;
  }
  return a;
}

/** A flat form that is not a valid observation: `path` names the attribute. */
export class ObservationFormatError extends Error {
  override readonly name = 'ObservationFormatError';
  readonly code = 'OBSERVATION_FORMAT';
  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`${path}: expected ${expected}`);
  }
}

const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132, gre: 47, esp: 50 };
const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
const TRACE_ID = HEX(32);
const SPAN_ID = HEX(16);

/**
 * Reads an observation of `kind` back from its flat form (the inverse of observationAttributes).
 * Throws ObservationFormatError naming the first attribute that is missing or malformed.
 */
export function observationFromAttributes(kind: ObservationKind, a: FlatAttributes): Observation {
  const str = (key: string, optional = false): string | undefined => {
    const v = a[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') throw new ObservationFormatError(key, 'a string');
    return v;
  };
  const uint = (key: string, max: number, optional = false): number | undefined => {
    const v = a[key];
    if (v === undefined && optional) return undefined;
    if (!isUint(v, max)) throw new ObservationFormatError(key, `an integer 0..${max}`);
    return v;
  };
  const time = str(A.time)!;
  if (!/^\d{1,20}$/.test(time)) throw new ObservationFormatError(A.time, 'Unix nanoseconds as a decimal string');
  const transport = a[A.protocol];
  const protocol =
    typeof transport === 'string'
      ? (PROTOCOL_NUMBERS[transport] ?? (/^\d{1,3}$/.test(transport) ? Number(transport) : undefined))
      : undefined;
  if (protocol === undefined || protocol > 255) throw new ObservationFormatError(A.protocol, 'a transport name or protocol number');
  const base: PacketObservationBase = {
    timeUnixNano: BigInt(time),
    observer: str(A.observer, true) ?? '',
    interfaceName: str(A.interfaceName, true) ?? '',
    sourceAddress: str(A.sourceAddress)!,
    sourcePort: uint(A.sourcePort, 0xffff)!,
    destinationAddress: str(A.destinationAddress)!,
    destinationPort: uint(A.destinationPort, 0xffff)!,
    protocol,
  };
  const traceparent = str(A.traceparent, true);
  if (kind === 'ioam') {
    const source = str(A.ioamSource);
    if (source !== 'capture' && source !== 'netlink' && source !== 'ioam_api')
      throw new ObservationFormatError(A.ioamSource, 'capture, netlink or ioam_api');
    const optionType = str(A.ioamOptionType);
    if (optionType !== 'pre_allocated' && optionType !== 'incremental')
      throw new ObservationFormatError(A.ioamOptionType, 'pre_allocated or incremental');
    const overflow = a[A.ioamOverflow];
    if (typeof overflow !== 'boolean') throw new ObservationFormatError(A.ioamOverflow, 'a boolean');
    const nodes = a[A.ioamNodes];
    if (!Array.isArray(nodes)) throw new ObservationFormatError(A.ioamNodes, 'an array');
    const traceId = str(A.ioamTraceId, true);
    const spanId = str(A.ioamSpanId, true);
    if (traceId !== undefined && !TRACE_ID.test(traceId)) throw new ObservationFormatError(A.ioamTraceId, '32 lowercase hex digits');
    if (spanId !== undefined && !SPAN_ID.test(spanId)) throw new ObservationFormatError(A.ioamSpanId, '16 lowercase hex digits');
    return {
      ...base,
      kind: 'ioam',
      source,
      optionType: optionType === 'pre_allocated' ? 0 : 1,
      namespaceId: uint(A.ioamNamespace, 0xffff)!,
      traceType: uint(A.ioamTraceType, 0xffffff)!,
      overflow,
      nodes: nodes.map((n, i) => ioamNodeFromJson(n, `${A.ioamNodes}[${i}]`)),
      ...(traceId !== undefined ? { traceId } : {}),
      ...(spanId !== undefined ? { spanId } : {}),
      ...(traceparent !== undefined ? { traceparent } : {}),
    };
  }
  const direction = str(A.direction);
  if (direction !== 'ingress' && direction !== 'egress' && direction !== 'unknown')
    throw new ObservationFormatError(A.direction, 'ingress, egress or unknown');
  const message = str(A.httpMessage);
  if (message !== 'request' && message !== 'response') throw new ObservationFormatError(A.httpMessage, 'request or response');
  const optional = {
    method: str(A.method, true),
    target: str(A.target, true),
    host: str(A.host, true),
    status: uint(A.status, 999, true),
    traceparent,
    tracestate: str(A.tracestate, true),
  };
  const http: HttpObservation = { ...base, kind: 'http', direction, message };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) (http as unknown as Record<string, unknown>)[key] = value;
  return http;
}

/** The parts of a W3C traceparent (version 00): trace id and parent (span) id, lowercase hex. */
export function parseTraceparent(value: string): { traceId: string; spanId: string; flags: number } | undefined {
  const v = trimmed(value);
  if (!isTraceparent(v)) return undefined;
  return { traceId: v.slice(3, 35), spanId: v.slice(36, 52), flags: parseInt(v.slice(53, 55), 16) };
}

/** value.trim(), without the call when both ends are visible ASCII (never white space). */
const trimmed = (value: string): string => {
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f ? value : value.trim();
};

/** 1 for the lower-case hex digits. */
const LOWER_HEX = new Uint8Array(128);
for (const c of '0123456789abcdef') LOWER_HEX[c.charCodeAt(0)] = 1;

/** Lower-case hex digits at value[from, to), not all zeros when `nonZero`. */
function hexRun(value: string, from: number, to: number, nonZero: boolean): boolean {
  let zero = true;
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || LOWER_HEX[c] !== 1) return false;
    if (c !== 0x30) zero = false;
  }
  return !(nonZero && zero);
}

/**
 * Whether `value` (after trimming) is a traceparent parseTraceparent accepts: version, trace id,
 * span id and flags in lower-case hex, neither id all zeros, version not ff, nothing after the
 * flags in version 00 and, in later versions, only "-" and more on the same line. Checked char by
 * char, without a regular expression or an object: the HTTP observer checks every request head's.
 */
export function isTraceparent(value: string): boolean {
  const v = trimmed(value);
  const n = v.length;
  if (n < 55 || v.charCodeAt(2) !== 0x2d || v.charCodeAt(35) !== 0x2d || v.charCodeAt(52) !== 0x2d) return false;
  if (!hexRun(v, 0, 2, false) || !hexRun(v, 3, 35, true) || !hexRun(v, 36, 52, true) || !hexRun(v, 53, 55, false)) return false;
  const v0 = v.charCodeAt(0);
  const v1 = v.charCodeAt(1);
  if (v0 === 0x66 && v1 === 0x66) return false; // version ff
  if (v0 === 0x30 && v1 === 0x30) return n === 55; // version 00: nothing after the flags
  if (n === 55) return true;
  if (v.charCodeAt(55) !== 0x2d) return false;
  // Then anything but a line terminator (what "." matches in the traceparent's regular expression).
  for (let i = 56; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}
