/**
 * Span synthesis: the network summary span of a connection and one span per device and
 * direction under it. README.md ("What netspan adds to a trace") documents every name and attribute written here.
 */
import { create } from '@bufbuild/protobuf';
import type { FlowRecord } from '../../model/flow.js';
import { transportName } from '../../model/flow.js';
import { KeyValueSchema, type AnyValue, type KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SpanSchema, Span_SpanKind, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { formatEndpoint } from './address.js';
import type { Device } from './devices.js';
import { spanIdOf } from './ids.js';
import type { FlowGroup } from './match.js';
import type { PacketSummary } from './packets.js';

/** The instrumentation scope of every synthesised span; spans under it are never read as input. */
export const SCOPE_NAME = 'netspan';

/** Attribute names of the synthesised spans. */
export const ATTR = {
  sourceAddress: 'source.address',
  sourcePort: 'source.port',
  destinationAddress: 'destination.address',
  destinationPort: 'destination.port',
  transport: 'network.transport',
  networkType: 'network.type',
  shareMs: 'netspan.network.share_ms',
  clientDurationMs: 'netspan.client.duration_ms',
  serverDurationMs: 'netspan.server.duration_ms',
  evidence: 'netspan.evidence',
  timingAccuracy: 'netspan.timing.accuracy',
  flowResolutionMs: 'netspan.flow.time_resolution_ms',
  devices: 'netspan.devices',
  flowCount: 'netspan.flow.count',
  rejected: 'netspan.candidates.rejected',
  ambiguous: 'netspan.candidates.ambiguous',
  noEvidenceReason: 'netspan.no_evidence.reason',
  deviceAddress: 'netspan.device.address',
  deviceName: 'netspan.device.name',
  direction: 'netspan.direction',
  pathIndex: 'netspan.path.index',
  inIndex: 'netspan.interface.in.index',
  inName: 'netspan.interface.in.name',
  outIndex: 'netspan.interface.out.index',
  outName: 'netspan.interface.out.name',
  bytes: 'flow.io.bytes',
  packets: 'flow.io.packets',
  tcpFlags: 'flow.tcp_flags',
  nextHop: 'flow.next_hop',
  flowType: 'flow.type',
  samplingRate: 'flow.sampling_rate',
  timeResolutionNs: 'flow.time_resolution_ns',
} as const;

/** Why a summary has no device data (`netspan.no_evidence.reason`). */
export type NoEvidenceReason =
  | 'no_evidence_store'
  | 'outside_retention'
  | 'no_flows_in_window'
  | 'candidates_rejected'
  | 'ambiguous_sessions'
  | 'sampled_exporter'
  | 'evidence_error';

/** `netspan.timing.accuracy` of a summary: what its network timing rests on. */
export type TimingAccuracy = 'exact' | 'coarse' | 'none';

// Attributes as plain message objects: create() would fill the same two fields at several
// times the cost, and a few dozen are made per connection.
const KV = 'opentelemetry.proto.common.v1.KeyValue' as const;
const ANY = 'opentelemetry.proto.common.v1.AnyValue' as const;
const kv = (key: string, value: AnyValue['value']): KeyValue => ({ $typeName: KV, key, keyStrindex: 0, value: { $typeName: ANY, value } });
export const str = (key: string, value: string): KeyValue => kv(key, { case: 'stringValue', value });
export const int = (key: string, value: number): KeyValue => kv(key, { case: 'intValue', value: BigInt(Math.trunc(value)) });
export const dbl = (key: string, value: number): KeyValue => kv(key, { case: 'doubleValue', value });
const strArray = (key: string, values: readonly string[]): KeyValue =>
  create(KeyValueSchema, {
    key,
    value: { value: { case: 'arrayValue', value: { values: values.map((v) => ({ value: { case: 'stringValue' as const, value: v } })) } } },
  });

/** Nanoseconds to milliseconds, rounded to the microsecond (no false digits below it). */
export function nsToMs(ns: bigint): number {
  return Number(ns / 1000n) / 1000;
}

export interface Quartet {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** IANA protocol; undefined with default_transport "any" and no transport in the spans. */
  protocol: number | undefined;
}

export function quartetKey(q: Quartet): string {
  return `${q.protocol ?? '*'}|${q.sourceAddress}|${q.sourcePort}|${q.destinationAddress}|${q.destinationPort}`;
}

export interface SummaryInput {
  quartet: Quartet;
  traceId: Uint8Array;
  /** The span the ids derive from: the client span, or the server span when alone. */
  anchor: Span;
  parentSpanId: Uint8Array;
  startUnixNano: bigint;
  endUnixNano: bigint;
  flags: number;
  client: Span | undefined;
  server: Span | undefined;
  /** Device groups, request direction then response, each in path order. */
  request: readonly FlowGroup[];
  response: readonly FlowGroup[];
  rejected: number;
  /** Of the rejected: flows of sessions that fitted but could not be told apart (match.ts). */
  ambiguous: number;
  reason: NoEvidenceReason | undefined;
  thesisShape: boolean;
  /** Flow document fields copied onto device spans (span_attribute_fields). */
  attributeFields?: readonly string[];
  /** What packet evidence (IOAM, agent observations) adds to the summary (packets.ts). */
  packets?: PacketSummary;
}

export function summarySpanId(traceId: Uint8Array, anchor: Span, quartet: Quartet): Uint8Array {
  return spanIdOf(traceId, anchor.spanId, quartetKey(quartet), 'summary');
}

function summaryName(q: Quartet, thesis: boolean): string {
  // Evidence that named the span but not its connection (an ioam-api report) leaves the quartet unknown.
  if (q.sourceAddress === '') return 'network path';
  if (thesis) return `${formatEndpoint(q.sourceAddress, q.sourcePort)}-${formatEndpoint(q.destinationAddress, q.destinationPort)}`;
  return `network ${formatEndpoint(q.sourceAddress, q.sourcePort)} → ${formatEndpoint(q.destinationAddress, q.destinationPort)}`;
}

/** The summary span followed by its device spans (request then response, each in path order). */
export function synthesize(input: SummaryInput, lookupDevice: (exporter: string) => Device | undefined): Span[] {
  const q = input.quartet;
  const summaryId = summarySpanId(input.traceId, input.anchor, q);
  const attributes: KeyValue[] = [];
  if (q.sourceAddress !== '') {
    attributes.push(
      str(ATTR.sourceAddress, q.sourceAddress),
      int(ATTR.sourcePort, q.sourcePort),
      str(ATTR.destinationAddress, q.destinationAddress),
      int(ATTR.destinationPort, q.destinationPort),
    );
    if (q.protocol !== undefined) attributes.push(str(ATTR.transport, transportName(q.protocol)));
    attributes.push(str(ATTR.networkType, q.sourceAddress.includes(':') ? 'ipv6' : 'ipv4'));
  }

  const clientMs = input.client ? nsToMs(input.client.endTimeUnixNano - input.client.startTimeUnixNano) : undefined;
  const serverMs = input.server ? nsToMs(input.server.endTimeUnixNano - input.server.startTimeUnixNano) : undefined;
  if (clientMs !== undefined && serverMs !== undefined) attributes.push(dbl(ATTR.shareMs, Math.round((clientMs - serverMs) * 1000) / 1000));
  if (clientMs !== undefined) attributes.push(dbl(ATTR.clientDurationMs, clientMs));
  if (serverMs !== undefined) attributes.push(dbl(ATTR.serverDurationMs, serverMs));

  const groups = [...input.request, ...input.response];
  const evidence: string[] = [];
  if (input.client && input.server) evidence.push('client_server_pair');
  const types = new Set<string>();
  let flowCount = 0;
  let resolutionNs = 0;
  for (const g of groups)
    for (const f of g.flows) {
      types.add(f.type);
      flowCount++;
      if (f.timeResolutionNano > resolutionNs) resolutionNs = f.timeResolutionNano;
    }
  evidence.push(...[...types].sort(), ...(input.packets?.kinds ?? []));
  attributes.push(strArray(ATTR.evidence, evidence));
  const accuracy: TimingAccuracy =
    (input.client && input.server) || input.packets?.exactTiming ? 'exact' : flowCount > 0 ? 'coarse' : 'none';
  attributes.push(str(ATTR.timingAccuracy, accuracy));
  if (flowCount > 0) attributes.push(dbl(ATTR.flowResolutionMs, resolutionNs / 1e6));
  attributes.push(int(ATTR.devices, new Set(groups.map((g) => g.exporter)).size));
  attributes.push(int(ATTR.flowCount, flowCount));
  attributes.push(int(ATTR.rejected, input.rejected));
  attributes.push(int(ATTR.ambiguous, input.ambiguous));
  if (flowCount === 0 && !input.packets?.kinds.length && input.reason !== undefined)
    attributes.push(str(ATTR.noEvidenceReason, input.reason));
  if (input.packets) attributes.push(...input.packets.attributes);

  const spans: Span[] = [
    create(SpanSchema, {
      traceId: input.traceId,
      spanId: summaryId,
      parentSpanId: input.parentSpanId,
      flags: input.flags,
      name: summaryName(q, input.thesisShape),
      kind: Span_SpanKind.INTERNAL,
      startTimeUnixNano: input.startUnixNano,
      endTimeUnixNano: input.endUnixNano,
      attributes,
    }),
  ];
  const key = quartetKey(q);
  const emit = (list: readonly FlowGroup[]) =>
    list.forEach((g, i) => spans.push(deviceSpan(input, summaryId, key, g, i, lookupDevice(g.exporter))));
  emit(input.request);
  emit(input.response);
  return spans;
}

function deviceSpanName(g: FlowGroup, device: Device | undefined, thesis: boolean): string {
  if (thesis) return `${g.direction === 'request' ? 'Request' : 'Response'} - ${g.exporter}`;
  return `${device?.name ?? g.exporter} ${g.direction}`;
}

/** A flow document field onto a span, from the first flow (in start order) that has it. */
function copyField(attributes: KeyValue[], field: string, flows: readonly FlowRecord[]): void {
  for (const f of flows) {
    const v = f.fields?.[field];
    if (v === undefined) continue;
    if (typeof v === 'string') attributes.push(str(field, v));
    else if (typeof v === 'boolean') attributes.push(kv(field, { case: 'boolValue', value: v }));
    else if (typeof v === 'bigint') attributes.push(kv(field, { case: 'intValue', value: v }));
    else if (typeof v === 'number') attributes.push(Number.isInteger(v) ? int(field, v) : dbl(field, v));
    else attributes.push(str(field, Buffer.from(v).toString('hex')));
    return;
  }
}

/** The first non-zero / non-empty value among the flows, in start order. */
function first<T>(flows: readonly FlowRecord[], get: (f: FlowRecord) => T, empty: T): T {
  for (const f of flows) {
    const v = get(f);
    if (v !== empty) return v;
  }
  return empty;
}

function deviceSpan(
  input: SummaryInput,
  summaryId: Uint8Array,
  key: string,
  g: FlowGroup,
  pathIndex: number,
  device: Device | undefined,
): Span {
  let start = g.flows[0]!.startUnixNano;
  let end = g.flows[0]!.endUnixNano;
  let bytes = 0;
  let packets = 0;
  let tcpFlags = 0;
  let samplingRate = 0;
  let resolution = 0;
  for (const f of g.flows) {
    if (f.startUnixNano < start) start = f.startUnixNano;
    if (f.endUnixNano > end) end = f.endUnixNano;
    bytes += f.bytes;
    packets += f.packets;
    tcpFlags |= f.tcpFlags;
    if (f.samplingRate > samplingRate) samplingRate = f.samplingRate;
    if (f.timeResolutionNano > resolution) resolution = f.timeResolutionNano;
  }
  if (end < start) end = start;
  const attributes: KeyValue[] = [str(ATTR.deviceAddress, g.exporter)];
  if (device?.name !== undefined) attributes.push(str(ATTR.deviceName, device.name));
  attributes.push(str(ATTR.direction, g.direction), int(ATTR.pathIndex, pathIndex));
  const inIf = first(g.flows, (f) => f.inputInterface, 0);
  const outIf = first(g.flows, (f) => f.outputInterface, 0);
  if (inIf !== 0) {
    attributes.push(int(ATTR.inIndex, inIf));
    const name = device?.interfaces.get(inIf);
    if (name !== undefined) attributes.push(str(ATTR.inName, name));
  }
  if (outIf !== 0) {
    attributes.push(int(ATTR.outIndex, outIf));
    const name = device?.interfaces.get(outIf);
    if (name !== undefined) attributes.push(str(ATTR.outName, name));
  }
  attributes.push(int(ATTR.bytes, bytes), int(ATTR.packets, packets));
  const protocol = g.flows[0]!.protocol;
  if (protocol === 6) attributes.push(int(ATTR.tcpFlags, tcpFlags));
  const nextHop = first(g.flows, (f) => f.nextHop, '');
  if (nextHop !== '') attributes.push(str(ATTR.nextHop, nextHop));
  attributes.push(str(ATTR.flowType, g.flows[0]!.type));
  if (samplingRate > 0) attributes.push(int(ATTR.samplingRate, samplingRate));
  attributes.push(int(ATTR.timeResolutionNs, resolution), int(ATTR.flowCount, g.flows.length));
  if (input.attributeFields) for (const field of input.attributeFields) copyField(attributes, field, g.flows);
  return create(SpanSchema, {
    traceId: input.traceId,
    spanId: spanIdOf(input.traceId, input.anchor.spanId, key, 'device', g.exporter, g.direction),
    parentSpanId: summaryId,
    flags: input.flags,
    name: deviceSpanName(g, device, input.thesisShape),
    kind: Span_SpanKind.INTERNAL,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes,
  });
}
