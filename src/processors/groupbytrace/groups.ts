/**
 * The data side of grouping: where each span came from (its resource and scope), one trace's
 * spans kept under those origins, and the release request that rebuilds that structure for one
 * or several traces.
 */
import { clone, create, toBinary } from '@bufbuild/protobuf';
import type { Traces } from '../../model/otlp.js';
import { ExportTraceServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { InstrumentationScopeSchema, type InstrumentationScope } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { ResourceSchema, type Resource } from '../../wire/otlp/gen/opentelemetry/proto/resource/v1/resource_pb.js';
import {
  ResourceSpansSchema,
  ScopeSpansSchema,
  type ResourceSpans,
  type ScopeSpans,
  type Span,
} from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';

/** The resource and scope a span arrived under, with keys that are equal for equal content. */
export interface SpanOrigin {
  resourceKey: string;
  resource: Resource | undefined;
  resourceSchemaUrl: string;
  scopeKey: string;
  scope: InstrumentationScope | undefined;
  scopeSchemaUrl: string;
}

export interface ScopeGroup {
  key: string;
  scope: InstrumentationScope | undefined;
  schemaUrl: string;
  spans: Span[];
}

export interface ResourceGroup {
  key: string;
  resource: Resource | undefined;
  schemaUrl: string;
  scopes: ScopeGroup[];
}

/**
 * A content key: the same resource sent in two requests must land in one ResourceSpans.
 * The encoding is computed once per ResourceSpans/ScopeSpans of a request, not per span.
 */
function contentKey(encoded: Uint8Array | undefined, schemaUrl: string): string {
  const body = encoded ? `+${Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('latin1')}` : '-';
  return `${schemaUrl}\u0000${body}`;
}

/** Calls `visit` for every span of a request, with its origin. */
export function forEachSpan(traces: Traces, visit: (origin: SpanOrigin, span: Span) => void): void {
  for (const rs of traces.resourceSpans) {
    const resourceKey = contentKey(rs.resource && toBinary(ResourceSchema, rs.resource), rs.schemaUrl);
    for (const ss of rs.scopeSpans) {
      const origin: SpanOrigin = {
        resourceKey,
        resource: rs.resource,
        resourceSchemaUrl: rs.schemaUrl,
        scopeKey: contentKey(ss.scope && toBinary(InstrumentationScopeSchema, ss.scope), ss.schemaUrl),
        scope: ss.scope,
        scopeSchemaUrl: ss.schemaUrl,
      };
      for (const span of ss.spans) visit(origin, span);
    }
  }
}

/** The spans of one trace held so far. Resources and scopes are few per trace, so arrays beat maps here. */
export class TraceGroup {
  spanCount = 0;
  private readonly resources: ResourceGroup[] = [];

  constructor(
    /** Monotonic time (performance.now()) at which the trace is due for release. */
    readonly dueAt: number,
  ) {}

  add(origin: SpanOrigin, span: Span): void {
    let resource = this.resources.find((r) => r.key === origin.resourceKey);
    if (!resource) {
      resource = {
        key: origin.resourceKey,
        resource: origin.resource,
        schemaUrl: origin.resourceSchemaUrl,
        scopes: [],
      };
      this.resources.push(resource);
    }
    let scope = resource.scopes.find((s) => s.key === origin.scopeKey);
    if (!scope) {
      scope = { key: origin.scopeKey, scope: origin.scope, schemaUrl: origin.scopeSchemaUrl, spans: [] };
      resource.scopes.push(scope);
    }
    scope.spans.push(span);
    this.spanCount++;
  }

  /** This trace's spans under their resources and scopes, for building a release request. */
  origins(): readonly ResourceGroup[] {
    return this.resources;
  }
}

/**
 * Several whole traces as one request. Spans arrived under equal resources (equal content and
 * schema URL, the same key) share one ResourceSpans across traces, and equal scopes within it
 * one ScopeSpans, so a batch carries each resource once. Resources and scopes are copied (once
 * per batch) because several released traces share them, and a later processor may change what
 * it receives; spans are passed on as they arrived.
 */
export function batchRequest(groups: Iterable<TraceGroup>): Traces {
  const resourceSpans: ResourceSpans[] = [];
  const byResource = new Map<string, { out: ResourceSpans; scopes: Map<string, ScopeSpans> }>();
  for (const group of groups) {
    for (const r of group.origins()) {
      let resource = byResource.get(r.key);
      if (!resource) {
        const out = create(ResourceSpansSchema, { resource: r.resource && clone(ResourceSchema, r.resource), schemaUrl: r.schemaUrl });
        resource = { out, scopes: new Map() };
        byResource.set(r.key, resource);
        resourceSpans.push(out);
      }
      for (const s of r.scopes) {
        let scope = resource.scopes.get(s.key);
        if (!scope) {
          scope = create(ScopeSpansSchema, { scope: s.scope && clone(InstrumentationScopeSchema, s.scope), schemaUrl: s.schemaUrl });
          resource.scopes.set(s.key, scope);
          resource.out.scopeSpans.push(scope);
        }
        for (const span of s.spans) scope.spans.push(span);
      }
    }
  }
  return create(ExportTraceServiceRequestSchema, { resourceSpans });
}
