/**
 * Hand-written protobuf decoders for ExportTraceServiceRequest and ExportLogsServiceRequest.
 *
 * They build exactly the objects protobuf-es fromBinary builds: the same $typeName, every
 * field present with its zero value as create() makes it (keys in the same order), bigint
 * for 64-bit fields, oneofs as {case, value}, absent message fields as missing keys, unknown
 * fields kept in $unknown, and a repeated singular message field merged into the first like
 * protobuf does. So create/clone/equals/toJson from @bufbuild/protobuf work on them.
 *
 * Differences, all stricter: a field never runs past its enclosing message, a known field
 * with the wrong wire type and any group are errors, tags and lengths must fit 32 bits,
 * nesting is bounded, and bytes fields are copies rather than views of the input.
 */
import type { UnknownField } from '@bufbuild/protobuf';
import type {
  AnyValue,
  ArrayValue,
  EntityRef,
  InstrumentationScope,
  KeyValue,
  KeyValueList,
} from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import type { Resource } from '../gen/opentelemetry/proto/resource/v1/resource_pb.js';
import type { ResourceSpans, ScopeSpans, Span, Span_Event, Span_Link, Status } from '../gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { LogRecord, ResourceLogs, ScopeLogs } from '../gen/opentelemetry/proto/logs/v1/logs_pb.js';
import type { ExportTraceServiceRequest } from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { ExportLogsServiceRequest } from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { messageInfo, WireReader, type MessageInfo } from './reader.js';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/**
 * Placeholder for bytes fields while a message is decoded; replaced by a fresh empty array
 * at the end if the field was absent, so no allocation is wasted on fields that are present.
 */
const UNSET_BYTES = new Uint8Array(0);

const INFO = {
  anyValue: messageInfo('AnyValue', { 1: LEN, 2: VARINT, 3: VARINT, 4: I64, 5: LEN, 6: LEN, 7: LEN, 8: VARINT }),
  arrayValue: messageInfo('ArrayValue', { 1: LEN }),
  keyValueList: messageInfo('KeyValueList', { 1: LEN }),
  keyValue: messageInfo('KeyValue', { 1: LEN, 2: LEN, 3: VARINT }),
  scope: messageInfo('InstrumentationScope', { 1: LEN, 2: LEN, 3: LEN, 4: VARINT }),
  entityRef: messageInfo('EntityRef', { 1: LEN, 2: LEN, 3: LEN, 4: LEN }),
  resource: messageInfo('Resource', { 1: LEN, 2: VARINT, 3: LEN }),
  resourceSpans: messageInfo('ResourceSpans', { 1: LEN, 2: LEN, 3: LEN }),
  scopeSpans: messageInfo('ScopeSpans', { 1: LEN, 2: LEN, 3: LEN }),
  span: messageInfo('Span', {
    1: LEN, 2: LEN, 3: LEN, 4: LEN, 5: LEN, 6: VARINT, 7: I64, 8: I64, 9: LEN,
    10: VARINT, 11: LEN, 12: VARINT, 13: LEN, 14: VARINT, 15: LEN, 16: I32,
  }), // prettier-ignore
  event: messageInfo('Span.Event', { 1: I64, 2: LEN, 3: LEN, 4: VARINT }),
  link: messageInfo('Span.Link', { 1: LEN, 2: LEN, 3: LEN, 4: LEN, 5: VARINT, 6: I32 }),
  status: messageInfo('Status', { 2: LEN, 3: VARINT }),
  traceRequest: messageInfo('ExportTraceServiceRequest', { 1: LEN }),
  resourceLogs: messageInfo('ResourceLogs', { 1: LEN, 2: LEN, 3: LEN }),
  scopeLogs: messageInfo('ScopeLogs', { 1: LEN, 2: LEN, 3: LEN }),
  logRecord: messageInfo('LogRecord', {
    1: I64, 2: VARINT, 3: LEN, 5: LEN, 6: LEN, 7: VARINT, 8: I32, 9: LEN, 10: LEN, 11: I64, 12: LEN,
  }), // prettier-ignore
  logsRequest: messageInfo('ExportLogsServiceRequest', { 1: LEN }),
} satisfies Record<string, MessageInfo>;

/** Sets unknown fields the way protobuf-es does: appended to any the message already has. */
function keepUnknown(m: { $unknown?: UnknownField[] }, unknown: UnknownField[]): void {
  if (m.$unknown === undefined) m.$unknown = unknown;
  else for (const u of unknown) m.$unknown.push(u);
}

// ---- common.proto ----

function decodeAnyValue(r: WireReader, into?: AnyValue): AnyValue {
  const outer = r.enter(INFO.anyValue);
  const m = into ?? ({ $typeName: 'opentelemetry.proto.common.v1.AnyValue', value: { case: undefined } } as AnyValue);
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.value = { case: 'stringValue', value: r.string() };
        break;
      case 16:
        m.value = { case: 'boolValue', value: r.bool() };
        break;
      case 24:
        m.value = { case: 'intValue', value: r.int64() };
        break;
      case 33:
        m.value = { case: 'doubleValue', value: r.double() };
        break;
      case 42:
        m.value = { case: 'arrayValue', value: decodeArrayValue(r, m.value.case === 'arrayValue' ? m.value.value : undefined) };
        break;
      case 50:
        m.value = {
          case: 'kvlistValue',
          value: decodeKeyValueList(r, m.value.case === 'kvlistValue' ? m.value.value : undefined),
        };
        break;
      case 58:
        m.value = { case: 'bytesValue', value: r.bytes() };
        break;
      case 64:
        m.value = { case: 'stringValueStrindex', value: r.int32() };
        break;
      default:
        unknown = r.skipField(tag, INFO.anyValue, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeArrayValue(r: WireReader, into?: ArrayValue): ArrayValue {
  const outer = r.enter(INFO.arrayValue);
  const m = into ?? ({ $typeName: 'opentelemetry.proto.common.v1.ArrayValue', values: [] } as unknown as ArrayValue);
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 10) m.values.push(decodeAnyValue(r));
    else unknown = r.skipField(tag, INFO.arrayValue, unknown);
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeKeyValueList(r: WireReader, into?: KeyValueList): KeyValueList {
  const outer = r.enter(INFO.keyValueList);
  const m = into ?? ({ $typeName: 'opentelemetry.proto.common.v1.KeyValueList', values: [] } as unknown as KeyValueList);
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 10) m.values.push(decodeKeyValue(r));
    else unknown = r.skipField(tag, INFO.keyValueList, unknown);
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeKeyValue(r: WireReader): KeyValue {
  const outer = r.enter(INFO.keyValue);
  const m = { $typeName: 'opentelemetry.proto.common.v1.KeyValue', key: '', keyStrindex: 0 } as KeyValue;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.key = r.cachedString();
        break;
      case 18:
        m.value = decodeAnyValue(r, m.value);
        break;
      case 24:
        m.keyStrindex = r.int32();
        break;
      default:
        unknown = r.skipField(tag, INFO.keyValue, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeScope(r: WireReader, into?: InstrumentationScope): InstrumentationScope {
  const outer = r.enter(INFO.scope);
  const m =
    into ??
    ({
      $typeName: 'opentelemetry.proto.common.v1.InstrumentationScope',
      name: '',
      version: '',
      attributes: [],
      droppedAttributesCount: 0,
    } as unknown as InstrumentationScope);
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.name = r.cachedString();
        break;
      case 18:
        m.version = r.cachedString();
        break;
      case 26:
        m.attributes.push(decodeKeyValue(r));
        break;
      case 32:
        m.droppedAttributesCount = r.uint32();
        break;
      default:
        unknown = r.skipField(tag, INFO.scope, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeEntityRef(r: WireReader): EntityRef {
  const outer = r.enter(INFO.entityRef);
  const m = {
    $typeName: 'opentelemetry.proto.common.v1.EntityRef',
    schemaUrl: '',
    type: '',
    idKeys: [],
    descriptionKeys: [],
  } as unknown as EntityRef;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.schemaUrl = r.cachedString();
        break;
      case 18:
        m.type = r.string();
        break;
      // Repeated strings are never packed: one length-delimited record per element.
      case 26:
        m.idKeys.push(r.string());
        break;
      case 34:
        m.descriptionKeys.push(r.string());
        break;
      default:
        unknown = r.skipField(tag, INFO.entityRef, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

// ---- resource.proto ----

function decodeResource(r: WireReader, into?: Resource): Resource {
  const outer = r.enter(INFO.resource);
  const m =
    into ??
    ({
      $typeName: 'opentelemetry.proto.resource.v1.Resource',
      attributes: [],
      droppedAttributesCount: 0,
      entityRefs: [],
    } as unknown as Resource);
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.attributes.push(decodeKeyValue(r));
        break;
      case 16:
        m.droppedAttributesCount = r.uint32();
        break;
      case 26:
        m.entityRefs.push(decodeEntityRef(r));
        break;
      default:
        unknown = r.skipField(tag, INFO.resource, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

// ---- trace.proto ----

function decodeResourceSpans(r: WireReader): ResourceSpans {
  const outer = r.enter(INFO.resourceSpans);
  const m = { $typeName: 'opentelemetry.proto.trace.v1.ResourceSpans', scopeSpans: [], schemaUrl: '' } as unknown as ResourceSpans;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.resource = decodeResource(r, m.resource);
        break;
      case 18:
        m.scopeSpans.push(decodeScopeSpans(r));
        break;
      case 26:
        m.schemaUrl = r.cachedString();
        break;
      default:
        unknown = r.skipField(tag, INFO.resourceSpans, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeScopeSpans(r: WireReader): ScopeSpans {
  const outer = r.enter(INFO.scopeSpans);
  const m = { $typeName: 'opentelemetry.proto.trace.v1.ScopeSpans', spans: [], schemaUrl: '' } as unknown as ScopeSpans;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.scope = decodeScope(r, m.scope);
        break;
      case 18:
        m.spans.push(decodeSpan(r));
        break;
      case 26:
        m.schemaUrl = r.cachedString();
        break;
      default:
        unknown = r.skipField(tag, INFO.scopeSpans, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeSpan(r: WireReader): Span {
  const outer = r.enter(INFO.span);
  const m = {
    $typeName: 'opentelemetry.proto.trace.v1.Span',
    traceId: UNSET_BYTES,
    spanId: UNSET_BYTES,
    traceState: '',
    parentSpanId: UNSET_BYTES,
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
  } as unknown as Span;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.traceId = r.bytes();
        break;
      case 18:
        m.spanId = r.bytes();
        break;
      case 26:
        m.traceState = r.string();
        break;
      case 34:
        m.parentSpanId = r.bytes();
        break;
      case 42:
        m.name = r.cachedString();
        break;
      case 48:
        m.kind = r.int32();
        break;
      case 57:
        m.startTimeUnixNano = r.fixed64();
        break;
      case 65:
        m.endTimeUnixNano = r.fixed64();
        break;
      case 74:
        m.attributes.push(decodeKeyValue(r));
        break;
      case 80:
        m.droppedAttributesCount = r.uint32();
        break;
      case 90:
        m.events.push(decodeEvent(r));
        break;
      case 96:
        m.droppedEventsCount = r.uint32();
        break;
      case 106:
        m.links.push(decodeLink(r));
        break;
      case 112:
        m.droppedLinksCount = r.uint32();
        break;
      case 122:
        m.status = decodeStatus(r, m.status);
        break;
      case 133:
        m.flags = r.fixed32();
        break;
      default:
        unknown = r.skipField(tag, INFO.span, unknown);
    }
  }
  if (m.traceId === UNSET_BYTES) m.traceId = new Uint8Array(0);
  if (m.spanId === UNSET_BYTES) m.spanId = new Uint8Array(0);
  if (m.parentSpanId === UNSET_BYTES) m.parentSpanId = new Uint8Array(0);
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeEvent(r: WireReader): Span_Event {
  const outer = r.enter(INFO.event);
  const m = {
    $typeName: 'opentelemetry.proto.trace.v1.Span.Event',
    timeUnixNano: 0n,
    name: '',
    attributes: [],
    droppedAttributesCount: 0,
  } as unknown as Span_Event;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 9:
        m.timeUnixNano = r.fixed64();
        break;
      case 18:
        m.name = r.cachedString();
        break;
      case 26:
        m.attributes.push(decodeKeyValue(r));
        break;
      case 32:
        m.droppedAttributesCount = r.uint32();
        break;
      default:
        unknown = r.skipField(tag, INFO.event, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeLink(r: WireReader): Span_Link {
  const outer = r.enter(INFO.link);
  const m = {
    $typeName: 'opentelemetry.proto.trace.v1.Span.Link',
    traceId: UNSET_BYTES,
    spanId: UNSET_BYTES,
    traceState: '',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
  } as unknown as Span_Link;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.traceId = r.bytes();
        break;
      case 18:
        m.spanId = r.bytes();
        break;
      case 26:
        m.traceState = r.string();
        break;
      case 34:
        m.attributes.push(decodeKeyValue(r));
        break;
      case 40:
        m.droppedAttributesCount = r.uint32();
        break;
      case 53:
        m.flags = r.fixed32();
        break;
      default:
        unknown = r.skipField(tag, INFO.link, unknown);
    }
  }
  if (m.traceId === UNSET_BYTES) m.traceId = new Uint8Array(0);
  if (m.spanId === UNSET_BYTES) m.spanId = new Uint8Array(0);
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeStatus(r: WireReader, into?: Status): Status {
  const outer = r.enter(INFO.status);
  const m = into ?? ({ $typeName: 'opentelemetry.proto.trace.v1.Status', message: '', code: 0 } as Status);
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 18:
        m.message = r.string();
        break;
      case 24:
        m.code = r.int32();
        break;
      default:
        unknown = r.skipField(tag, INFO.status, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

// ---- logs.proto ----

function decodeResourceLogs(r: WireReader): ResourceLogs {
  const outer = r.enter(INFO.resourceLogs);
  const m = { $typeName: 'opentelemetry.proto.logs.v1.ResourceLogs', scopeLogs: [], schemaUrl: '' } as unknown as ResourceLogs;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.resource = decodeResource(r, m.resource);
        break;
      case 18:
        m.scopeLogs.push(decodeScopeLogs(r));
        break;
      case 26:
        m.schemaUrl = r.cachedString();
        break;
      default:
        unknown = r.skipField(tag, INFO.resourceLogs, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeScopeLogs(r: WireReader): ScopeLogs {
  const outer = r.enter(INFO.scopeLogs);
  const m = { $typeName: 'opentelemetry.proto.logs.v1.ScopeLogs', logRecords: [], schemaUrl: '' } as unknown as ScopeLogs;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        m.scope = decodeScope(r, m.scope);
        break;
      case 18:
        m.logRecords.push(decodeLogRecord(r));
        break;
      case 26:
        m.schemaUrl = r.cachedString();
        break;
      default:
        unknown = r.skipField(tag, INFO.scopeLogs, unknown);
    }
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

function decodeLogRecord(r: WireReader): LogRecord {
  const outer = r.enter(INFO.logRecord);
  const m = {
    $typeName: 'opentelemetry.proto.logs.v1.LogRecord',
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    severityNumber: 0,
    severityText: '',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: UNSET_BYTES,
    spanId: UNSET_BYTES,
    eventName: '',
  } as unknown as LogRecord;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 9:
        m.timeUnixNano = r.fixed64();
        break;
      case 16:
        m.severityNumber = r.int32();
        break;
      case 26:
        m.severityText = r.cachedString();
        break;
      case 42:
        m.body = decodeAnyValue(r, m.body);
        break;
      case 50:
        m.attributes.push(decodeKeyValue(r));
        break;
      case 56:
        m.droppedAttributesCount = r.uint32();
        break;
      case 69:
        m.flags = r.fixed32();
        break;
      case 74:
        m.traceId = r.bytes();
        break;
      case 82:
        m.spanId = r.bytes();
        break;
      case 89:
        m.observedTimeUnixNano = r.fixed64();
        break;
      case 98:
        m.eventName = r.cachedString();
        break;
      default:
        unknown = r.skipField(tag, INFO.logRecord, unknown);
    }
  }
  if (m.traceId === UNSET_BYTES) m.traceId = new Uint8Array(0);
  if (m.spanId === UNSET_BYTES) m.spanId = new Uint8Array(0);
  if (unknown !== undefined) keepUnknown(m, unknown);
  r.leave(outer);
  return m;
}

// ---- requests ----

/** Decodes an ExportTraceServiceRequest; throws DecodeError 'OTLP_PROTOBUF_INVALID'. */
export function decodeTraceRequest(bytes: Uint8Array): ExportTraceServiceRequest {
  const r = new WireReader(bytes);
  const m = {
    $typeName: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    resourceSpans: [],
  } as unknown as ExportTraceServiceRequest;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 10) m.resourceSpans.push(decodeResourceSpans(r));
    else unknown = r.skipField(tag, INFO.traceRequest, unknown);
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  return m;
}

/** Decodes an ExportLogsServiceRequest; throws DecodeError 'OTLP_PROTOBUF_INVALID'. */
export function decodeLogsRequest(bytes: Uint8Array): ExportLogsServiceRequest {
  const r = new WireReader(bytes);
  const m = {
    $typeName: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
    resourceLogs: [],
  } as unknown as ExportLogsServiceRequest;
  let unknown: UnknownField[] | undefined;
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 10) m.resourceLogs.push(decodeResourceLogs(r));
    else unknown = r.skipField(tag, INFO.logsRequest, unknown);
  }
  if (unknown !== undefined) keepUnknown(m, unknown);
  return m;
}
