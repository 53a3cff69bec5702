/**
 * The `ui` exporter: keeps recent enriched traces (traces.ts) and serves the web app and the
 * JSON API (api.ts) on its endpoint. The static files are the package's own (web/, and the
 * preact/htm ES modules post-build copies into web/vendor); nothing is fetched from elsewhere.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { Component, Consumer, CreateSettings, EvidenceStores } from '../core/component.js';
import { ExporterReport } from '../core/obsreport.js';
import { bearerTokenMatches, closeServer, createHttpOrHttpsServer, formatAddress, listen } from '../core/net/server.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/telemetry/logger.js';
import { spanCount, type Signal, type SignalData, type Traces } from '../model/otlp.js';
import { answer, toJson } from './api.js';
import type { UiExporterConfig } from './config.js';
import { TraceStore } from './traces.js';

/** The web app's files, next to this module (src/ui/web, copied to dist/src/ui/web by post-build). */
export const WEB_ROOT = new URL('./web/', import.meta.url);

const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/charts.js': 'charts.js',
  '/style.css': 'style.css',
  '/vendor/preact.mjs': 'vendor/preact.mjs',
  '/vendor/hooks.mjs': 'vendor/hooks.mjs',
  '/vendor/htm.mjs': 'vendor/htm.mjs',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
};

export class UiExporter<S extends Signal> implements Component, Consumer<S> {
  readonly store: TraceStore;
  private readonly report: ExporterReport;
  private readonly logger: Logger;
  private readonly stores: EvidenceStores | undefined;
  private server: Server | undefined;
  private readonly files = new Map<string, Buffer>();
  /** Called with every batch this exporter takes (the demo prints a trace from them). */
  readonly taps = new Set<(traces: Traces) => void>();
  /** The bound address ("127.0.0.1:8686"), once started. */
  address: string | undefined;

  constructor(
    settings: CreateSettings,
    private readonly config: UiExporterConfig,
    signal: S,
  ) {
    this.store = new TraceStore({ maxTraces: config.max_traces, maxSpans: config.max_spans }, settings.metrics, settings.id);
    this.report = new ExporterReport(settings.metrics, settings.id, signal);
    this.logger = settings.logger;
    this.stores = settings.evidenceStores;
  }

  /** The URL of the web app. */
  get url(): string | undefined {
    return this.address === undefined ? undefined : `${this.config.tls ? 'https' : 'http'}://${this.address}/`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createHttpOrHttpsServer((req, res) => this.handle(req, res), this.config.tls);
    this.address = formatAddress(await listen(server, this.config.endpoint));
    this.server = server;
    this.logger.info({ url: this.url }, 'web UI and query API listening');
  }

  async shutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  canAccept(): boolean {
    return true;
  }

  async consume(data: SignalData[S]): Promise<void> {
    this.store.add(data as Traces);
    for (const tap of this.taps) tap(data as Traces);
    this.report.sent(spanCount(data as Traces));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://ui');
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...SECURITY_HEADERS }).end();
      return;
    }
    const path = url.pathname;
    if (path === '/api' || path.startsWith('/api/')) {
      if (!bearerTokenMatches(this.config.auth, req.headers.authorization)) {
        this.send(res, req, 401, 'application/json', toJson({ error: 'missing or wrong bearer token (Authorization: Bearer <token>)' }), {
          'www-authenticate': 'Bearer',
        });
        return;
      }
      let result;
      try {
        result = answer(
          { traces: this.store, stores: this.stores, maxEvidenceScan: this.config.max_evidence_scan },
          path,
          url.searchParams,
        );
      } catch (err) {
        this.logger.error({ err: errorMessage(err), path }, 'UI API request failed');
        result = { status: 500, body: { error: 'internal error' } };
      }
      this.send(res, req, result.status, 'application/json', toJson(result.body), { 'cache-control': 'no-store' });
      return;
    }
    const file = STATIC[path];
    if (!file) {
      this.send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    this.file(file).then(
      (body) => this.send(res, req, 200, TYPES[extname(file)] ?? 'application/octet-stream', body, { 'cache-control': 'no-cache' }),
      (err: unknown) => {
        this.logger.error({ err: errorMessage(err), file }, 'UI file missing (was the package built with scripts/post-build.mjs?)');
        this.send(res, req, 500, 'text/plain; charset=utf-8', 'UI file missing\n');
      },
    );
  }

  private async file(name: string): Promise<Buffer> {
    let body = this.files.get(name);
    if (!body) {
      body = await readFile(new URL(name, WEB_ROOT));
      this.files.set(name, body);
    }
    return body;
  }

  private send(
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    type: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS, ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
