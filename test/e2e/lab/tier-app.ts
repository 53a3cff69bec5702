/**
 * The application tiers of the three-tier lab (`node dist/test/e2e/lab/tier-app.js <command>`),
 * instrumented by hand with the real OpenTelemetry JS SDK (NodeTracerProvider, a
 * BatchSpanProcessor, the OTLP/HTTP protobuf exporter). Every span that stands for a network
 * exchange carries the quartet read from the actual socket (`network.peer.*`, `network.local.*`,
 * `client.*` on servers, `server.*`), and W3C `traceparent` travels with each call, so one
 * trace spans the tiers.
 *
 *   backend  --port P --db HOST:PORT --otlp URL [--service NAME]
 *       HTTP server (dual-stack on ::). GET /api/cart?resp=N: a SERVER span, inside it one call
 *       to the database (a CLIENT span over a new TCP connection), then N bytes of body.
 *       GET /api/ping?resp=N: the same without the database. Requests carry `connection:
 *       close`, so the server closes first (its side keeps TIME_WAIT). Prints {"ready":true}.
 *   db       --port P --otlp URL [--work-ms W] [--service NAME]
 *       A line-based TCP "database": each JSON line {traceparent, pad, resp} is one query, a
 *       SERVER span from the line's arrival to the answer (after W ms of "work"), answered
 *       with one JSON line of about `resp` bytes. Prints {"ready":true}.
 *   frontend --url http://HOST:PORT/api/cart --otlp URL --requests N [--interval-ms M]
 *            [--local-ports P1,P2,...] [--req-pad A+B] [--resp A+B] [--label L]
 *       One-shot driver: per request a root span (INTERNAL) and a CLIENT span around one HTTP
 *       GET over a new connection (from local port P[i mod k] when given), started every M ms;
 *       request i pads its `x-pad` header to A + B·i bytes and asks for A + B·i bytes of body,
 *       so every session has its own size on the wire. Prints one JSON line per request (see
 *       RequestRecord) and exits after the SDK has flushed.
 *   junk     --otlp URL
 *       Traces netspan cannot correlate (no quartet, malformed addresses and ports, a host
 *       name not in `hosts`, a non-IP transport, an incomplete quartet) and one whose host name
 *       the `hosts` map resolves. Prints {"<case>": "<trace id>", ...}.
 *
 * Client spans record the TCP payload bytes of their connection at the span's end
 * (`lab.socket.bytes_written`, `lab.socket.bytes_read`): the ground truth that the flows a
 * router exported for that very connection must add up to.
 *
 * Importing the module runs nothing (the test runner loads every file under test/).
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

export const TIER_APP_PATH = fileURLToPath(import.meta.url);

/** What the frontend driver prints per request. */
export interface RequestRecord {
  label: string;
  seq: number;
  traceId: string;
  rootSpanId: string;
  clientSpanId: string;
  /** The connection as the client's socket saw it (addresses as Node reports them). */
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** TCP payload bytes the client sent and received on the connection. */
  bytesWritten: number;
  bytesRead: number;
  status: number;
  /** Client span duration, ms (performance clock). */
  durationMs: number;
  /** Connection attempts refused locally (EADDRINUSE/EADDRNOTAVAIL) before this one worked. */
  bindRetries: number;
}

const propagator = new W3CTraceContextPropagator();

function args(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k?.startsWith('--') || v === undefined) throw new Error(`bad arguments: ${argv.join(' ')}`);
    m.set(k.slice(2), v);
  }
  return m;
}

function need(m: Map<string, string>, key: string): string {
  const v = m.get(key);
  if (v === undefined) throw new Error(`--${key} is required`);
  return v;
}

function sdk(service: string, otlpUrl: string): { provider: NodeTracerProvider; tracer: Tracer } {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpUrl, timeoutMillis: 5_000 }), {
        scheduledDelayMillis: 100,
        maxExportBatchSize: 256,
        maxQueueSize: 8192,
      }),
    ],
  });
  return { provider, tracer: provider.getTracer('netspan-lab-tier', '1.0.0') };
}

/** host part of a Host header or URL host (brackets and port removed). */
function bareHost(host: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (m) return m[1]!;
  const i = host.lastIndexOf(':');
  return i > 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

/** The quartet of a server-side socket, as the semantic conventions name it. */
function serverSocketAttributes(s: Socket): Attributes {
  return {
    'network.transport': 'tcp',
    'network.type': s.remoteFamily === 'IPv6' && !s.remoteAddress?.startsWith('::ffff:') ? 'ipv6' : 'ipv4',
    'network.peer.address': s.remoteAddress,
    'network.peer.port': s.remotePort,
    'network.local.address': s.localAddress,
    'network.local.port': s.localPort,
    'client.address': s.remoteAddress,
    'client.port': s.remotePort,
    'server.port': s.localPort,
  };
}

/** The quartet of a connected client socket. */
function clientSocketAttributes(s: Socket): Attributes {
  return {
    'network.type': s.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4',
    'network.peer.address': s.remoteAddress,
    'network.peer.port': s.remotePort,
    'network.local.address': s.localAddress,
    'network.local.port': s.localPort,
  };
}

function onShutdown(provider: NodeTracerProvider, close: () => void): void {
  const stop = () => {
    close();
    void provider.shutdown().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------- db

async function db(a: Map<string, string>): Promise<void> {
  const port = Number(need(a, 'port'));
  const workMs = Number(a.get('work-ms') ?? 5);
  const { provider, tracer } = sdk(a.get('service') ?? 'db', need(a, 'otlp'));
  const server = createTcpServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    let buffered = '';
    sock.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        let query: { traceparent?: string; resp?: number };
        try {
          query = JSON.parse(line) as typeof query;
        } catch {
          sock.destroy();
          return;
        }
        const parent = propagator.extract(ROOT_CONTEXT, { traceparent: query.traceparent ?? '' }, defaultTextMapGetter);
        const span = tracer.startSpan(
          'SELECT cart',
          {
            kind: SpanKind.SERVER,
            attributes: { 'db.system.name': 'netspan-lab-db', 'db.operation.name': 'SELECT', ...serverSocketAttributes(sock) },
          },
          parent,
        );
        setTimeout(() => {
          const rows = 'r'.repeat(Math.max(0, Math.min(Number(query.resp ?? 0), 1_000_000)));
          sock.write(JSON.stringify({ ok: true, rows }) + '\n', () => span.end());
        }, workMs);
      }
    });
  });
  await new Promise<void>((r) => server.listen({ port, host: '::', ipv6Only: false }, r));
  onShutdown(provider, () => server.close());
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
}

// ---------------------------------------------------------------- backend

/** One query to the database over a new connection; the CLIENT span covers the query, not the connect (a pooled connection). */
function queryDb(tracer: Tracer, parent: Context, host: string, port: number, pad: number, resp: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    sock.setNoDelay(true);
    const timer = setTimeout(() => sock.destroy(new Error(`db ${host}:${port} timed out`)), 5_000);
    let span: Span | undefined;
    sock.once('connect', () => {
      span = tracer.startSpan(
        'SELECT cart',
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system.name': 'netspan-lab-db',
            'db.operation.name': 'SELECT',
            'network.transport': 'tcp',
            'server.address': host,
            'server.port': port,
            ...clientSocketAttributes(sock),
          },
        },
        parent,
      );
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(parent, span), carrier, defaultTextMapSetter);
      sock.write(JSON.stringify({ traceparent: carrier.traceparent, pad: 'q'.repeat(pad), resp }) + '\n');
    });
    let got = '';
    sock.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (!got.includes('\n') || !span) return;
      span.setAttributes({ 'lab.socket.bytes_written': sock.bytesWritten, 'lab.socket.bytes_read': sock.bytesRead });
      span.end();
      clearTimeout(timer);
      sock.end(); // the client closes first here; its TIME_WAIT is on an ephemeral port
      resolve();
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (span) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        span.end();
      }
      reject(err);
    });
  });
}

async function backend(a: Map<string, string>): Promise<void> {
  const port = Number(need(a, 'port'));
  const [dbHost, dbPort] = (() => {
    const t = need(a, 'db');
    const i = t.lastIndexOf(':');
    return [bareHost(t.slice(0, i)), Number(t.slice(i + 1))] as const;
  })();
  const { provider, tracer } = sdk(a.get('service') ?? 'backend', need(a, 'otlp'));
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://lab');
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const span = tracer.startSpan(
      `GET ${url.pathname}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method ?? 'GET',
          'http.route': url.pathname,
          'url.path': url.pathname,
          'url.scheme': 'http',
          'server.address': bareHost(req.headers.host ?? ''),
          ...serverSocketAttributes(req.socket),
        },
      },
      parent,
    );
    const resp = Math.max(0, Math.min(Number(url.searchParams.get('resp') ?? 0) || 0, 10_000_000));
    const finish = (status: number, body: Buffer) => {
      res.on('finish', () => {
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
      res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    };
    req.resume();
    req.on('end', () => {
      if (url.pathname === '/api/ping') finish(200, Buffer.alloc(resp, 0x62));
      else if (url.pathname === '/api/cart')
        queryDb(tracer, trace.setSpan(parent, span), dbHost, dbPort, 64, 256).then(
          () => finish(200, Buffer.alloc(resp, 0x62)),
          (err: Error) => finish(502, Buffer.from(err.message)),
        );
      else finish(404, Buffer.alloc(0));
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((r) => server.listen({ port, host: '::', ipv6Only: false }, r));
  onShutdown(provider, () => server.close());
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
}

// ---------------------------------------------------------------- frontend

/** "A+B" → [A, B]; "A" → [A, 0]. */
function linear(text: string | undefined, fallback: [number, number]): [number, number] {
  if (text === undefined) return fallback;
  const [x, y] = text.split('+');
  return [Number(x), Number(y ?? 0)];
}

const RETRYABLE = new Set(['EADDRINUSE', 'EADDRNOTAVAIL']);

interface Attempt {
  record?: RequestRecord;
  retry?: string;
}

function oneRequest(
  tracer: Tracer,
  url: URL,
  seq: number,
  label: string,
  localPort: number | undefined,
  reqPad: number,
  resp: number,
): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const path = `${url.pathname}?resp=${resp}`;
    const host = bareHost(url.host);
    const port = Number(url.port || 80);
    // The connection first, the spans once it is up (with the start time taken before it): a
    // connection refused locally (the fixed port still in TIME_WAIT) is retried without leaving
    // a trace, and the traceparent header is known before the request is written.
    const sock = connect({ host, port, ...(localPort !== undefined ? { localPort } : {}) });
    sock.setNoDelay(true);
    // Closed: the next request (maybe from the same port) waits for it.
    let closed = false;
    const onClosed: (() => void)[] = [];
    sock.once('close', () => {
      closed = true;
      for (const f of onClosed) f();
    });
    const early = (err: NodeJS.ErrnoException) => {
      sock.destroy();
      if (err.code && RETRYABLE.has(err.code)) resolve({ retry: err.code });
      else reject(err);
    };
    sock.once('error', early);
    sock.once('connect', () => {
      sock.off('error', early);
      const conn = {
        localAddress: sock.localAddress ?? '',
        localPort: sock.localPort ?? 0,
        remoteAddress: sock.remoteAddress ?? '',
        remotePort: sock.remotePort ?? 0,
      };
      const root = tracer.startSpan('checkout', {
        kind: SpanKind.INTERNAL,
        startTime: t0,
        attributes: { 'lab.label': label, 'lab.seq': seq },
      });
      const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
      const span = tracer.startSpan(
        `GET ${url.pathname}`,
        {
          kind: SpanKind.CLIENT,
          startTime: t0,
          attributes: {
            'http.request.method': 'GET',
            'url.full': `${url.origin}${path}`,
            'server.address': host,
            'server.port': port,
            'network.transport': 'tcp',
            ...clientSocketAttributes(sock),
          },
        },
        rootCtx,
      );
      const headers: Record<string, string> = { connection: 'close', 'x-pad': 'p'.repeat(reqPad) };
      propagator.inject(trace.setSpan(rootCtx, span), headers, defaultTextMapSetter);
      const fail = (err: Error) => {
        const t1 = performance.now();
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        span.end(t1);
        root.end(t1);
        reject(err);
      };
      // No agent: with an agent (even `agent: false`, a fresh one) Node ignores createConnection
      // and opens a connection of its own.
      const req = request({ host, port, path, method: 'GET', headers, timeout: 10_000, createConnection: () => sock });
      req.on('timeout', () => req.destroy(new Error(`GET ${url.href} timed out`)));
      req.on('error', fail);
      req.on('response', (res) => {
        if (req.socket !== sock) {
          fail(new Error('http.request did not use the connected socket: the span would carry another quartet'));
          return;
        }
        res.resume();
        res.on('error', fail);
        res.on('end', () => {
          const t1 = performance.now();
          span.setAttributes({
            'http.response.status_code': res.statusCode ?? 0,
            'lab.socket.bytes_written': sock.bytesWritten,
            'lab.socket.bytes_read': sock.bytesRead,
          });
          span.end(t1);
          root.end(t1);
          const record: RequestRecord = {
            label,
            seq,
            traceId: span.spanContext().traceId,
            rootSpanId: root.spanContext().spanId,
            clientSpanId: span.spanContext().spanId,
            ...conn,
            bytesWritten: sock.bytesWritten,
            bytesRead: sock.bytesRead,
            status: res.statusCode ?? 0,
            durationMs: t1 - t0,
            bindRetries: 0,
          };
          // The next request starts only after this connection is closed on both sides.
          if (closed) resolve({ record });
          else onClosed.push(() => resolve({ record }));
        });
      });
      req.end();
    });
  });
}

async function frontend(a: Map<string, string>): Promise<void> {
  const url = new URL(need(a, 'url'));
  const n = Number(need(a, 'requests'));
  const interval = Number(a.get('interval-ms') ?? 0);
  const ports = (a.get('local-ports') ?? '').split(',').filter(Boolean).map(Number);
  const [padBase, padStep] = linear(a.get('req-pad'), [16, 0]);
  const [respBase, respStep] = linear(a.get('resp'), [512, 0]);
  const label = a.get('label') ?? 'request';
  const { provider, tracer } = sdk(a.get('service') ?? 'frontend', need(a, 'otlp'));
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const localPort = ports.length ? ports[i % ports.length] : undefined;
    let retries = 0;
    for (;;) {
      const attempt = await oneRequest(tracer, url, i, label, localPort, padBase + padStep * i, respBase + respStep * i);
      if (attempt.record) {
        attempt.record.bindRetries = retries;
        process.stdout.write(JSON.stringify(attempt.record) + '\n');
        break;
      }
      if (++retries > 40) throw new Error(`local port ${localPort}: ${attempt.retry} ${retries} times`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await provider.forceFlush();
  await provider.shutdown();
}

// ---------------------------------------------------------------- junk

async function junk(a: Map<string, string>): Promise<void> {
  const { provider, tracer } = sdk(a.get('service') ?? 'legacy', need(a, 'otlp'));
  const ids: Record<string, string> = {};
  const one = (name: string, kind: SpanKind, attributes: Attributes, childOf?: Span) => {
    const s = tracer.startSpan(name, { kind, attributes }, childOf ? trace.setSpan(ROOT_CONTEXT, childOf) : ROOT_CONTEXT);
    s.end();
    return s;
  };
  // No quartet at all: a batch job, a computation and a health check.
  const root = tracer.startSpan('nightly batch', { kind: SpanKind.INTERNAL });
  one('compute totals', SpanKind.INTERNAL, { 'lab.rows': 1200 }, root);
  one('GET /health', SpanKind.SERVER, { 'http.route': '/health', 'http.request.method': 'GET' }, root);
  root.end();
  ids.no_quartet = root.spanContext().traceId;
  ids.malformed_address = one('GET /bad-address', SpanKind.CLIENT, {
    'network.local.address': '10.0.0.300',
    'network.local.port': 41000,
    'network.peer.address': 'fd00::zz',
    'network.peer.port': 8080,
  }).spanContext().traceId;
  ids.malformed_port = one('GET /bad-port', SpanKind.SERVER, {
    'network.peer.address': '198.18.1.2',
    'network.peer.port': 70000,
    'network.local.address': '198.18.2.2',
    'network.local.port': 'http',
  }).spanContext().traceId;
  ids.unresolved_host = one('GET cache', SpanKind.CLIENT, {
    'network.local.address': '198.18.1.2',
    'network.local.port': 40999,
    'server.address': 'cache.internal',
    'server.port': 6379,
  }).spanContext().traceId;
  ids.resolved_host = one('SELECT legacy', SpanKind.CLIENT, {
    'network.local.address': '198.18.2.2',
    'network.local.port': 61998, // above the ephemeral range: no real connection has it
    'server.address': 'db.lab',
    'server.port': 5432,
  }).spanContext().traceId;
  ids.not_ip = one('GET /local', SpanKind.CLIENT, {
    'network.transport': 'unix',
    'network.peer.address': '/run/app.sock',
  }).spanContext().traceId;
  ids.incomplete = one('GET /somewhere', SpanKind.CLIENT, { 'server.address': '198.18.3.2' }).spanContext().traceId;
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify(ids) + '\n');
}

const COMMANDS: Record<string, (a: Map<string, string>) => Promise<void>> = { backend, db, frontend, junk };

const command = process.argv[2];
if (command !== undefined && process.argv[1] === TIER_APP_PATH && COMMANDS[command]) {
  COMMANDS[command](args(process.argv.slice(3))).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
