/** The OpenAPI 3 description of the UI's API, served at /api/openapi.json. */
import { EVIDENCE_FIELDS } from './evidence.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './query.js';

const param = (name: string, description: string, schema: object = { type: 'string' }, where = 'query') => ({
  name,
  in: where,
  description,
  required: where === 'path',
  schema,
});

const PAGE = [
  param('limit', `Items per page (1..${MAX_LIMIT}, default ${DEFAULT_LIMIT}).`, { type: 'integer', minimum: 1, maximum: MAX_LIMIT }),
  param('cursor', 'The next_cursor of the previous page.'),
  param('offset', 'Items to skip (instead of cursor).', { type: 'integer', minimum: 0 }),
];
const RANGE = [
  param('from', 'Start of the time range: RFC 3339 or Unix milliseconds.'),
  param('to', 'End of the time range: RFC 3339 or Unix milliseconds.'),
];
const ERRORS = {
  '400': {
    description: 'A bad or unknown parameter; `parameter` names it.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  '401': { description: 'auth.token is set and the request has no matching `Authorization: Bearer <token>`.' },
};
const json = (ref: string) => ({ description: 'OK', content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });

function evidencePath(kind: keyof typeof EVIDENCE_FIELDS, what: string) {
  const fields = [...EVIDENCE_FIELDS[kind]];
  return {
    get: {
      summary: `${what}, newest first, with filters on any field.`,
      description:
        `Filters: \`<field>=<value>\` (equal; on a list field, contains), \`<field>_ne\`, \`<field>_gt\`, \`<field>_lt\` (numbers, ` +
        `integers of any size exactly). Fields: ${fields.map((f) => `\`${f}\``).join(', ')}. Sort: \`sort=<field>\` or \`sort=-<field>\`. ` +
        'At most max_evidence_scan records (the newest) are looked at per request; `truncated` says when the store held more.',
      parameters: [...RANGE, param('sort', 'A field, with a leading "-" for descending.'), ...PAGE],
      responses: { '200': json('EvidencePage'), ...ERRORS },
    },
  };
}

export function openApiDocument(): object {
  return {
    openapi: '3.0.3',
    info: {
      title: 'netspan UI API',
      version: '1',
      description:
        'Recent enriched traces held by the `ui` exporter, the network evidence of the collector (flows, IOAM traces, HTTP observations) and device state. All answers are JSON; Unix nanosecond times are decimal strings.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Only when the exporter has auth.token.' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' }, parameter: { type: 'string' } }, required: ['error'] },
        Verdict: {
          type: 'object',
          nullable: true,
          description: 'From the summary span: netspan.verdict, .rule, .device, .interface, .cause, .added_ms.',
          properties: {
            text: { type: 'string' },
            rule: { type: 'string' },
            device: { type: 'string' },
            interface: { type: 'string' },
            cause: { type: 'string' },
            addedMs: { type: 'number' },
            spanId: { type: 'string' },
          },
        },
        TraceSummary: {
          type: 'object',
          properties: {
            traceId: { type: 'string' },
            rootName: { type: 'string' },
            rootService: { type: 'string' },
            startMs: { type: 'number' },
            startTimeUnixNano: { type: 'string' },
            durationMs: { type: 'number' },
            spanCount: { type: 'integer' },
            services: { type: 'array', items: { type: 'string' } },
            networkShareMs: { type: 'number', nullable: true, description: 'Sum of netspan.network.share_ms over the summary spans.' },
            networkShareRatio: { type: 'number', nullable: true },
            connections: { type: 'integer' },
            verdict: { $ref: '#/components/schemas/Verdict' },
            hasError: { type: 'boolean' },
          },
        },
        TracePage: {
          type: 'object',
          properties: {
            items: { type: 'array', items: { $ref: '#/components/schemas/TraceSummary' } },
            total: { type: 'integer' },
            offset: { type: 'integer' },
            limit: { type: 'integer' },
            next_cursor: { type: 'string' },
          },
        },
        Span: {
          type: 'object',
          description: 'OTLP-like: hex ids, times as Unix nanoseconds (strings) and ms, attributes as plain values.',
          properties: {
            traceId: { type: 'string' },
            spanId: { type: 'string' },
            parentSpanId: { type: 'string' },
            name: { type: 'string' },
            kind: { type: 'string', enum: ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] },
            service: { type: 'string' },
            scope: { type: 'string' },
            role: { type: 'string', enum: ['app', 'network_summary', 'flow_device', 'ioam_hop', 'observation_point'] },
            startTimeUnixNano: { type: 'string' },
            endTimeUnixNano: { type: 'string' },
            startMs: { type: 'number' },
            durationMs: { type: 'number' },
            attributes: { type: 'object', additionalProperties: true },
            events: { type: 'array', items: { type: 'object' } },
            status: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
          },
        },
        TraceDetail: {
          type: 'object',
          properties: {
            summary: { $ref: '#/components/schemas/TraceSummary' },
            spans: { type: 'array', items: { $ref: '#/components/schemas/Span' } },
            connections: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  summary: { $ref: '#/components/schemas/Span' },
                  source: { type: 'string' },
                  destination: { type: 'string' },
                  shareMs: { type: 'number', nullable: true },
                  evidence: { type: 'array', items: { type: 'string' } },
                  timingAccuracy: { type: 'string', nullable: true },
                  verdict: { $ref: '#/components/schemas/Verdict' },
                  hops: { type: 'array', items: { $ref: '#/components/schemas/Span' } },
                  slowestHop: {
                    type: 'object',
                    nullable: true,
                    description: 'The hop with the largest netspan.hop.transit_ms (a fact, not a verdict).',
                  },
                },
              },
            },
            devices: { type: 'array', items: { type: 'object' } },
          },
        },
        EvidencePage: {
          type: 'object',
          properties: {
            kind: { type: 'string' },
            available: { type: 'boolean' },
            truncated: { type: 'boolean' },
            items: { type: 'array', items: { type: 'object', additionalProperties: true } },
            total: { type: 'integer' },
            offset: { type: 'integer' },
            limit: { type: 'integer' },
            next_cursor: { type: 'string' },
          },
        },
      },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/api/traces': {
        get: {
          summary: 'Recent traces (most recently received first by default), searchable.',
          parameters: [
            param('service', 'Only traces with a span of this service (repeatable: any of them).'),
            param('min_duration_ms', 'Trace duration at least this.', { type: 'number', minimum: 0 }),
            param('max_duration_ms', 'Trace duration at most this.', { type: 'number', minimum: 0 }),
            param('attribute', 'key:value that some span has (repeatable: all of them).'),
            param('has_verdict', 'Only traces with (true) or without (false) a netspan.verdict.', { type: 'boolean' }),
            ...RANGE,
            param('sort', 'start | duration | spans | network_share | network_share_ratio, "-" first for descending (default -start).'),
            ...PAGE,
          ],
          responses: { '200': json('TracePage'), ...ERRORS },
        },
      },
      '/api/traces/{traceId}': {
        get: {
          summary: 'Every span of a trace, its connections (network summary spans with their device spans) and the devices seen.',
          parameters: [param('traceId', '32 hex digits.', { type: 'string' }, 'path')],
          responses: { '200': json('TraceDetail'), '404': { description: 'Not held.' }, ...ERRORS },
        },
      },
      '/api/evidence/flows': evidencePath('flows', 'Flow records of the evidence store'),
      '/api/evidence/ioam': evidencePath('ioam', 'IOAM traces (packet observations)'),
      '/api/evidence/http': evidencePath('http', 'HTTP observations (packet observations)'),
      '/api/devices': {
        get: {
          summary: 'Devices of the device state store with their interfaces.',
          responses: { '200': { description: 'OK' }, ...ERRORS },
        },
      },
      '/api/devices/{name}': {
        get: {
          summary:
            'A device: CPU/memory, IOAM and per-interface series (rates, utilisation, errors, discards) and anomalies in a range (default the last hour).',
          parameters: [
            param('name', 'Device name or address.', { type: 'string' }, 'path'),
            ...RANGE,
            param('interface', 'ifIndex or name: only this interface.'),
          ],
          responses: { '200': { description: 'OK' }, '404': { description: 'Unknown device.' }, ...ERRORS },
        },
      },
      '/api/openapi.json': { get: { summary: 'This document.', responses: { '200': { description: 'OK' } } } },
    },
  };
}
