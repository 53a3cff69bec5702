/**
 * Packet evidence for one connection: IOAM traces (per-hop data written into the packets by the
 * network) and HTTP observations (a request seen at an observation point). Both come from the
 * observation store; this module turns them into spans under the connection's network summary:
 *  - one IOAM hop span per node of the trace, in path order, from the node's timestamp to the
 *    next node's (so the span's length is the time to the next hop: the device's transit plus
 *    the link), with the node's data as attributes;
 *  - one observation-point span per observer (an agent on a host or router), from the first to
 *    the last time it saw the request, with an event per sighting and, where it saw the request
 *    both enter and leave, the time inside the device.
 * README.md ("What netspan adds to a trace") documents every name and attribute written here.
 */
import { create } from '@bufbuild/protobuf';
import type { IoamNode } from '../../capture/ioam/decode.js';
import { ioamNodeTime, type HttpObservation, type IoamObservation, type Observation } from '../../model/observation.js';
import type { KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SpanSchema, Span_EventSchema, Span_SpanKind, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { PacketEvidenceConfig } from './config.js';
import type { Inventory } from './devices.js';
import { spanIdOf } from './ids.js';
import { ATTR, dbl, int, nsToMs, str, type Quartet } from './synthesize.js';

/** Attribute names of the packet-evidence spans. */
export const PACKET_ATTR = {
  ioamNamespace: 'ioam.namespace_id',
  ioamTraceType: 'ioam.trace_type',
  ioamPackets: 'netspan.ioam.packets',
  ioamSource: 'ioam.source',
  hopTransitMs: 'netspan.hop.transit_ms',
  hopTransitMaxMs: 'netspan.hop.transit_max_ms',
  queueDepthMax: 'netspan.ioam.queue_depth_max',
  observer: 'netspan.observer.name',
  observations: 'netspan.observation.count',
  ingressInterface: 'netspan.observation.ingress.interface',
  egressInterface: 'netspan.observation.egress.interface',
  timeInDeviceMs: 'netspan.device.time_in_ms',
  httpObservations: 'netspan.http.observations',
} as const;

/** What the packet evidence of a connection adds to its summary span. */
export interface PacketSummary {
  /** Evidence names for `netspan.evidence`: "ioam", "http_observation". */
  kinds: string[];
  /** Some span rests on one clock at microsecond precision (IOAM node timestamps, an observer's two sightings). */
  exactTiming: boolean;
  attributes: KeyValue[];
}

/** Node time in Unix nanoseconds, when the node carries both timestamp fields. */
export const ioamNodeTimeNs = ioamNodeTime;

/** Node id (short, else wide) of a node, for naming and inventory lookups. */
function nodeId(node: IoamNode): number | undefined {
  if (node.node_id !== undefined && node.node_id !== null) return node.node_id;
  const wide = node.node_id_wide;
  return wide !== undefined && wide !== null && wide <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(wide) : undefined;
}

const sameEndpoint = (o: Observation, q: Quartet) => o.sourceAddress === q.sourceAddress && o.sourcePort === q.sourcePort;

/**
 * The trace that represents a direction: the one with the most nodes (several observers may
 * have reported one packet at different points), then the earliest.
 */
function representative(traces: readonly IoamObservation[]): IoamObservation | undefined {
  let best: IoamObservation | undefined;
  for (const t of traces) if (!best || t.nodes.length > best.nodes.length) best = t;
  return best;
}

export interface PacketSpanInput {
  traceId: Uint8Array;
  anchor: Span;
  summaryId: Uint8Array;
  key: string;
  flags: number;
  quartet: Quartet;
  observations: readonly Observation[];
}

/** The spans of a connection's packet evidence, and what its summary gains. */
export function packetSpans(
  input: PacketSpanInput,
  config: PacketEvidenceConfig,
  inventory: Inventory,
): { spans: Span[]; summary: PacketSummary } {
  const ioam = input.observations.filter((o): o is IoamObservation => o.kind === 'ioam');
  const http = input.observations.filter((o): o is HttpObservation => o.kind === 'http' && o.message === 'request');
  const spans: Span[] = [];
  const summary: PacketSummary = { kinds: [], exactTiming: false, attributes: [] };
  const known = input.quartet.sourceAddress !== '';
  // IOAM traces ride the packets of one direction each; the kernel fills them on every segment.
  const request = ioam.filter((t) => !known || t.sourceAddress === '' || sameEndpoint(t, input.quartet));
  const response = ioam.filter((t) => known && t.sourceAddress !== '' && !sameEndpoint(t, input.quartet));
  for (const [direction, traces] of [
    ['request', request],
    ['response', response],
  ] as const) {
    const rep = representative(traces);
    if (!rep) continue;
    const hops = ioamHopSpans(input, direction, rep, traces, config, inventory);
    if (hops.some((s) => s.endTimeUnixNano > s.startTimeUnixNano)) summary.exactTiming = true;
    spans.push(...hops);
    if (config.clt_attributes && direction === 'request') summary.attributes.push(...cltAttributes(rep));
  }
  if (ioam.length > 0) {
    summary.kinds.push('ioam');
    summary.attributes.push(int(PACKET_ATTR.ioamPackets, ioam.length));
  }
  if (http.length > 0) {
    summary.kinds.push('http_observation');
    summary.attributes.push(int(PACKET_ATTR.httpObservations, http.length));
    const points = observationPointSpans(input, http, inventory);
    if (points.some((s) => s.endTimeUnixNano > s.startTimeUnixNano)) summary.exactTiming = true;
    spans.push(...points);
  }
  return { spans, summary };
}

function ioamHopSpans(
  input: PacketSpanInput,
  direction: 'request' | 'response',
  rep: IoamObservation,
  all: readonly IoamObservation[],
  config: PacketEvidenceConfig,
  inventory: Inventory,
): Span[] {
  const unit = config.ioam_timestamp_subseconds;
  const times = rep.nodes.map((n) => ioamNodeTimeNs(n, unit));
  return rep.nodes.map((node, i) => {
    const id = nodeId(node);
    const device = id !== undefined ? inventory.ioamNode(id) : undefined;
    const start = times[i] ?? rep.timeUnixNano;
    const next = times[i + 1];
    const end = times[i] !== undefined && next !== undefined && next >= start ? next : start;
    const attributes: KeyValue[] = [];
    if (device?.name !== undefined) attributes.push(str(ATTR.deviceName, device.name));
    attributes.push(
      str(ATTR.direction, direction),
      int(ATTR.pathIndex, i),
      int(PACKET_ATTR.ioamNamespace, rep.namespaceId),
      int(PACKET_ATTR.ioamTraceType, rep.traceType),
      str(PACKET_ATTR.ioamSource, rep.source),
    );
    for (const [field, value] of Object.entries(node) as [keyof IoamNode, IoamNode[keyof IoamNode]][]) {
      if (value === undefined || value === null) continue;
      if (typeof value === 'number') attributes.push(int(`ioam.${field}`, value));
      else if (typeof value === 'bigint') attributes.push(str(`ioam.${field}`, value.toString()));
      else if (field === 'opaque_state_snapshot') {
        const s = value as NonNullable<IoamNode['opaque_state_snapshot']>;
        if (s.schema_id !== null) attributes.push(int('ioam.opaque_state_snapshot.schema_id', s.schema_id));
        attributes.push(str('ioam.opaque_state_snapshot.data', Buffer.from(s.data).toString('hex')));
      }
    }
    if (times[i] !== undefined && next !== undefined) attributes.push(dbl(PACKET_ATTR.hopTransitMs, nsToMs(next - times[i]!)));
    // Over every packet of this direction: the worst transit and queue at this hop.
    let transitMax: bigint | undefined;
    let queueMax: number | undefined;
    for (const t of all) {
      const n = t.nodes[i];
      if (!n || nodeId(n) !== id) continue;
      const a = ioamNodeTimeNs(n, unit);
      const b = t.nodes[i + 1] ? ioamNodeTimeNs(t.nodes[i + 1]!, unit) : undefined;
      if (a !== undefined && b !== undefined && (transitMax === undefined || b - a > transitMax)) transitMax = b - a;
      if (typeof n.queue_depth === 'number' && (queueMax === undefined || n.queue_depth > queueMax)) queueMax = n.queue_depth;
    }
    if (transitMax !== undefined) attributes.push(dbl(PACKET_ATTR.hopTransitMaxMs, nsToMs(transitMax)));
    if (queueMax !== undefined) attributes.push(int(PACKET_ATTR.queueDepthMax, queueMax));
    attributes.push(int(PACKET_ATTR.ioamPackets, all.length));
    attributes.push(str(ATTR.timingAccuracy, times[i] !== undefined ? 'exact' : 'none'));
    const label = device?.name ?? (id !== undefined ? `ioam node ${id}` : `ioam hop ${i}`);
    return create(SpanSchema, {
      traceId: input.traceId,
      spanId: spanIdOf(input.traceId, input.anchor.spanId, input.key, 'ioam', direction, String(i)),
      parentSpanId: input.summaryId,
      flags: input.flags,
      name: `${label} ${direction} (IOAM)`,
      kind: Span_SpanKind.INTERNAL,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes,
    });
  });
}

function observationPointSpans(input: PacketSpanInput, http: readonly HttpObservation[], inventory: Inventory): Span[] {
  const byObserver = new Map<string, HttpObservation[]>();
  for (const o of http) {
    const list = byObserver.get(o.observer);
    if (list) list.push(o);
    else byObserver.set(o.observer, [o]);
  }
  const points = [...byObserver.entries()].map(([observer, list]) => ({
    observer,
    list: list.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0)),
  }));
  // Path order: by when each point first saw the request.
  points.sort((a, b) => (a.list[0]!.timeUnixNano < b.list[0]!.timeUnixNano ? -1 : 1));
  return points.map(({ observer, list }, i) => {
    const device = inventory.observer(observer);
    const start = list[0]!.timeUnixNano;
    const end = list[list.length - 1]!.timeUnixNano;
    const attributes: KeyValue[] = [];
    if (device?.name !== undefined) attributes.push(str(ATTR.deviceName, device.name));
    attributes.push(str(PACKET_ATTR.observer, observer), str(ATTR.direction, 'request'), int(ATTR.pathIndex, i));
    attributes.push(int(PACKET_ATTR.observations, list.length));
    const ingress = list.find((o) => o.direction === 'ingress');
    const egress = ingress ? list.find((o) => o.direction === 'egress' && o.timeUnixNano >= ingress.timeUnixNano) : undefined;
    if (ingress) attributes.push(str(PACKET_ATTR.ingressInterface, ingress.interfaceName));
    if (egress) attributes.push(str(PACKET_ATTR.egressInterface, egress.interfaceName));
    if (ingress && egress) attributes.push(dbl(PACKET_ATTR.timeInDeviceMs, nsToMs(egress.timeUnixNano - ingress.timeUnixNano)));
    attributes.push(str(ATTR.timingAccuracy, 'exact'));
    const events = list.map((o) =>
      create(Span_EventSchema, {
        timeUnixNano: o.timeUnixNano,
        name: `request ${o.direction === 'unknown' ? 'seen' : o.direction}`,
        attributes: [
          str('network.interface.name', o.interfaceName),
          str('observation.direction', o.direction),
          ...(o.method !== undefined ? [str('http.request.method', o.method)] : []),
          ...(o.target !== undefined ? [str('url.path', o.target)] : []),
        ],
      }),
    );
    return create(SpanSchema, {
      traceId: input.traceId,
      spanId: spanIdOf(input.traceId, input.anchor.spanId, input.key, 'observer', observer),
      parentSpanId: input.summaryId,
      flags: input.flags,
      name: `${device?.name ?? observer} observed`,
      kind: Span_SpanKind.INTERNAL,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes,
      events,
    });
  });
}

const CLT_FIELDS: [keyof IoamNode, string][] = [
  ['hop_limit', 'HopLimit'],
  ['node_id', 'Id'],
  ['ingress_if_id', 'IngressId'],
  ['egress_if_id', 'EgressId'],
  ['timestamp_seconds', 'TimestampSecs'],
  ['timestamp_subseconds', 'TimestampFrac'],
  ['transit_delay', 'TransitDelay'],
  ['namespace_data', 'NamespaceData'],
  ['queue_depth', 'QueueDepth'],
  ['checksum_complement', 'CsumComp'],
  ['node_id_wide', 'IdWide'],
  ['ingress_if_id_wide', 'IngressIdWide'],
  ['egress_if_id_wide', 'EgressIdWide'],
  ['namespace_data_wide', 'NamespaceDataWide'],
  ['buffer_occupancy', 'BufferOccupancy'],
];

/**
 * The Cross-Layer Telemetry ioam-collector's attribute strings: `ioam_namespace<ns>_node<i>`
 * (i from 1, path order) = `Name=value; ` per field the trace type has, namespace data in hex
 * with 0x. An unavailable value (all ones) is written as the all-ones number, as that collector does.
 */
export function cltAttributes(t: IoamObservation): KeyValue[] {
  const ones: Partial<Record<keyof IoamNode, string>> = {
    hop_limit: '255',
    node_id: '16777215',
    ingress_if_id: '65535',
    egress_if_id: '65535',
    node_id_wide: String((1n << 56n) - 1n),
    namespace_data_wide: 'ffffffffffffffff',
  };
  return t.nodes.map((node, i) => {
    let text = '';
    for (const [field, name] of CLT_FIELDS) {
      const v = node[field];
      if (v === undefined) continue;
      const hex = field === 'namespace_data' || field === 'namespace_data_wide';
      const width = field === 'namespace_data' ? 8 : 16;
      const value = v === null ? (ones[field] ?? '4294967295') : typeof v === 'object' ? '' : v.toString(hex ? 16 : 10);
      text += hex ? `${name}=0x${(v === null ? (ones[field] ?? 'ffffffff') : value).padStart(width, '0')}; ` : `${name}=${value}; `;
    }
    const s = node.opaque_state_snapshot;
    if (s) text += `OpaqueStateSchemaId=${s.schema_id ?? 16777215}; OpaqueStateData=0x${Buffer.from(s.data).toString('hex')}; `;
    return str(`ioam_namespace${t.namespaceId}_node${i + 1}`, text);
  });
}
