/**
 * Spans as the `file` exporter wrote them (one OTLP/JSON ExportTraceServiceRequest per line),
 * flattened with their resource's service.name and their scope, attributes as plain values.
 * Independent of netspan's codec: plain JSON.parse of the OTLP JSON mapping.
 */
import { existsSync, readFileSync } from 'node:fs';

export type AttrValue = string | number | boolean | AttrValue[] | undefined;

export interface FileSpan {
  service: string;
  scope: string;
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP enum: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  kind: number;
  startUnixNano: bigint;
  endUnixNano: bigint;
  attributes: Record<string, AttrValue>;
  /** Span events: name and attributes. */
  events: { name: string; attributes: Record<string, AttrValue> }[];
  /** The output line it came from (0-based): spans of one release share it. */
  line: number;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

type JsonAny = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: JsonAny[] };
};
type JsonKv = { key: string; value?: JsonAny };

function value(v: JsonAny | undefined): AttrValue {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attributes(list: JsonKv[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

/** Every span of the file (none when it does not exist yet). */
export function readTraceFile(path: string): FileSpan[] {
  if (!existsSync(path)) return [];
  const out: FileSpan[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((text, line) => out.push(...parseTraceLine(text, line)));
  return out;
}

/** The spans of one line of the file (`line`, 0-based, is recorded on each); none for an empty line. */
export function parseTraceLine(text: string, line: number): FileSpan[] {
  const out: FileSpan[] = [];
  if (!text) return out;
  const req = JSON.parse(text) as {
    resourceSpans?: {
      resource?: { attributes?: JsonKv[] };
      scopeSpans?: {
        scope?: { name?: string };
        spans?: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind?: number;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
          attributes?: JsonKv[];
          events?: { name?: string; attributes?: JsonKv[] }[];
        }[];
      }[];
    }[];
  };
  for (const rs of req.resourceSpans ?? []) {
    const service = String(attributes(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          service,
          scope: ss.scope?.name ?? '',
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind ?? 0,
          startUnixNano: BigInt(s.startTimeUnixNano),
          endUnixNano: BigInt(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name ?? '', attributes: attributes(e.attributes) })),
          line,
        });
  }
  return out;
}

/** The spans by trace id. */
export function byTrace(spans: readonly FileSpan[]): Map<string, FileSpan[]> {
  const m = new Map<string, FileSpan[]>();
  for (const s of spans) {
    const list = m.get(s.traceId);
    if (list) list.push(s);
    else m.set(s.traceId, [s]);
  }
  return m;
}

/** Duration in milliseconds (µs precision). */
export function durationMs(s: FileSpan): number {
  return Number((s.endUnixNano - s.startUnixNano) / 1000n) / 1000;
}

/** Prometheus text: the sum of the samples of `name` whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
