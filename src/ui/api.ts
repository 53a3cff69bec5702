/**
 * The UI's JSON API: pure request → answer functions over the trace store and the evidence
 * stores (the HTTP server in server.ts routes to them). OpenAPI description: openapi.ts.
 */
import type { EvidenceStores } from '../core/component.js';
import { DeviceQueryError } from '../devices/store.js';
import { queryEvidence, type EvidenceKind } from './evidence.js';
import { BadRequest, compareValues, pageOf, paginate, Params } from './query.js';
import type { TraceStore, TraceSummary } from './traces.js';
import { openApiDocument } from './openapi.js';

export interface ApiContext {
  traces: TraceStore;
  stores: EvidenceStores | undefined;
  maxEvidenceScan: number;
  now?: () => number;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

const TRACE_SORTS = ['start', 'duration', 'spans', 'network_share', 'network_share_ratio'] as const;
const TRACE_SORT_KEY: Record<(typeof TRACE_SORTS)[number], (t: TraceSummary) => number | null> = {
  start: (t) => t.startMs,
  duration: (t) => t.durationMs,
  spans: (t) => t.spanCount,
  network_share: (t) => t.networkShareMs,
  network_share_ratio: (t) => t.networkShareRatio,
};

const error = (status: number, message: string, parameter?: string): ApiAnswer => ({
  status,
  body: { error: message, ...(parameter === undefined ? {} : { parameter }) },
});

/** Answers GET `path` (below /api) with `search`; throws nothing. */
export function answer(ctx: ApiContext, path: string, search: URLSearchParams): ApiAnswer {
  try {
    return route(ctx, path, new Params(search));
  } catch (err) {
    if (err instanceof BadRequest) return error(400, err.message, err.parameter);
    if (err instanceof DeviceQueryError) return error(400, err.message);
    throw err;
  }
}

function noOtherParams(p: Params): void {
  const [first] = p.rest();
  if (first) throw new BadRequest(first[0], `unknown parameter "${first[0]}"`);
}

function route(ctx: ApiContext, path: string, p: Params): ApiAnswer {
  if (path === '/api/openapi.json') {
    noOtherParams(p);
    return { status: 200, body: openApiDocument() };
  }
  if (path === '/api/traces') return { status: 200, body: listTraces(ctx, p) };
  let m = /^\/api\/traces\/([0-9a-fA-F]{32})$/.exec(path);
  if (m) {
    noOtherParams(p);
    const detail = ctx.traces.detail(m[1]!.toLowerCase());
    return detail ? { status: 200, body: detail } : error(404, `trace ${m[1]} is not held (evicted, or never received)`);
  }
  if (path.startsWith('/api/traces/')) return error(400, 'parameter "traceId" must be 32 hexadecimal digits', 'traceId');
  m = /^\/api\/evidence\/(flows|ioam|http)$/.exec(path);
  if (m) return { status: 200, body: queryEvidence(m[1] as EvidenceKind, p, ctx.stores, ctx.maxEvidenceScan) };
  if (path === '/api/devices') {
    noOtherParams(p);
    return { status: 200, body: listDevices(ctx) };
  }
  m = /^\/api\/devices\/([^/]+)$/.exec(path);
  if (m) return deviceDetail(ctx, decodeURIComponent(m[1]!), p);
  return error(404, `no API at ${path}: see /api/openapi.json`);
}

function listTraces(ctx: ApiContext, p: Params): ReturnType<typeof paginate<TraceSummary>> {
  const services = p.all('service');
  const minMs = p.number('min_duration_ms', 0);
  const maxMs = p.number('max_duration_ms', 0);
  const hasVerdict = p.boolean('has_verdict');
  const from = p.time('from');
  const to = p.time('to');
  if (from !== undefined && to !== undefined && from > to) throw new BadRequest('from', '"from" is after "to"');
  const attributes = p.all('attribute').map((a) => {
    const i = a.indexOf(':');
    if (i <= 0) throw new BadRequest('attribute', `parameter "attribute" must be key:value, not "${a}"`);
    return { key: a.slice(0, i), value: a.slice(i + 1) };
  });
  const sortText = p.one('sort') ?? '-start';
  const descending = sortText.startsWith('-');
  const sortName = (descending ? sortText.slice(1) : sortText) as (typeof TRACE_SORTS)[number];
  if (!TRACE_SORTS.includes(sortName))
    throw new BadRequest(
      'sort',
      `parameter "sort" must be one of ${TRACE_SORTS.join(', ')} (a leading "-" sorts descending), not "${sortText}"`,
    );
  const page = pageOf(p);
  noOtherParams(p);

  let list = ctx.traces
    .summaries()
    .filter(
      (t) =>
        (services.length === 0 || services.some((s) => t.services.includes(s))) &&
        (minMs === undefined || t.durationMs >= minMs) &&
        (maxMs === undefined || t.durationMs <= maxMs) &&
        (hasVerdict === undefined || (t.verdict !== null) === hasVerdict) &&
        (from === undefined || t.startMs >= from) &&
        (to === undefined || t.startMs <= to),
    );
  if (attributes.length > 0)
    list = list.filter((t) => {
      const spans = ctx.traces.spansOf(t.traceId) ?? [];
      return attributes.every(({ key, value }) =>
        spans.some((s) => {
          const v = s.attributes[key];
          return v !== undefined && (Array.isArray(v) ? v.map(String).includes(value) : String(v) === value);
        }),
      );
    });
  const key = TRACE_SORT_KEY[sortName];
  const dir = descending ? -1 : 1;
  list.sort((a, b) => dir * compareValues(key(a), key(b)) || b.startMs - a.startMs);
  return paginate(list, page);
}

function listDevices(ctx: ApiContext): unknown {
  const store = ctx.stores?.devices;
  if (!store) return { available: false, items: [] };
  return {
    available: true,
    items: store
      .listDevices()
      .map((d) => ({ ...d, newestUnixNano: d.newestUnixNano?.toString() ?? null }))
      .sort((a, b) => a.device.localeCompare(b.device)),
  };
}

function deviceDetail(ctx: ApiContext, name: string, p: Params): ApiAnswer {
  const now = (ctx.now ?? Date.now)();
  const from = p.time('from') ?? now - 3_600_000;
  const to = p.time('to') ?? now + 60_000;
  if (from > to) throw new BadRequest('from', '"from" is after "to"');
  const iface = p.one('interface');
  noOtherParams(p);
  const store = ctx.stores?.devices;
  if (!store) return error(404, 'this collector keeps no device state');
  const fromNs = BigInt(Math.floor(from)) * 1_000_000n;
  const toNs = BigInt(Math.ceil(to)) * 1_000_000n;
  const ifaceKey = iface === undefined ? undefined : /^\d+$/.test(iface) ? Number(iface) : iface;
  const series = store.seriesIn(name, ifaceKey, fromNs, toNs);
  if (!series) return error(404, `device "${name}"${iface === undefined ? '' : ` interface "${iface}"`} is not known`);
  const anomalies = store.anomaliesIn(name, ifaceKey, fromNs, toNs);
  return { status: 200, body: { ...series, anomalies, from, to } };
}

/** JSON text with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export { pageOf };
