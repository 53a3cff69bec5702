/**
 * An application instrumented with the real OpenTelemetry JS SDK and its http instrumentation
 * (`@opentelemetry/instrumentation-http`), for the packet-evidence and CLT tests
 * (`node dist/test/e2e/lab/clt-app.js <command> [--key value ...]`):
 *
 *   server --port P --otlp URL
 *       HTTP server on ::. Each request gets a SERVER span from the instrumentation; the
 *       answer is `--resp` bytes (query `?resp=N`, default 64). Prints {"ready":true}.
 *   client --url URL --otlp URL --requests N --concurrency C [--clt NS] [--trace-type T]
 *          [--nodes K] [--body BYTES] [--interval-ms M]
 *       N requests over one keep-alive Agent (at most C sockets), C at a time (one after the
 *       other per worker, every M ms when given), each under a root span, so the
 *       instrumentation makes a CLIENT span and puts its traceparent on the request. With
 *       `--clt NS`, `enableHttpClt` (netspan/clt) is on: the packets of each request carry its
 *       client span's ids and an IOAM trace of namespace NS. A request with `--body` is a POST
 *       of that many bytes. Prints one JSON line per request (see ClientRecord), then
 *       {"done":true,"warnings":[...]} after the SDK has flushed. SIGTERM ends the run early:
 *       no new request starts, the ones in flight finish, then the same flush and last line
 *       (so a test can send requests for as long as a condition it awaits takes).
 *   client --url URL --otlp URL --rate R --duration-s S [--concurrency C] [--clt NS] ...
 *       Open loop: R requests per second for S seconds, each started at its slot on an absolute
 *       schedule whether or not earlier ones have answered (at most C sockets, default 512), so
 *       a slow network shows as latency, not as a lower rate. A failed request is printed with
 *       status 0 and its error.
 *   load --url URL --otlp URL --seconds T [--warmup W] [--rate R | --concurrency C] [--clt NS]
 *          [--trace-type T] [--nodes K]
 *       The same requests (same SDK, Agent, root and CLIENT spans) as a load generator, for
 *       bench/clt. With `--rate R`, open loop: request i is due at start + i/R s whatever the
 *       others do, and its latency counts from when it was due (a late send is latency too).
 *       Without it, closed loop: C workers send one request after the other for T s. Requests
 *       due (open) or started (closed) in the first W s are not measured. Prints one LoadSummary
 *       line after the SDK has flushed.
 *   sink --port P
 *       An OTLP/HTTP endpoint that answers every export with an empty success (the clients'
 *       spans go nowhere); prints {"ready":true}.
 *
 * Importing the module runs nothing (the test runner loads every file under test/).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as HttpModule from 'node:http';
import { context, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { enableHttpClt } from '../../../src/clt/index.js';
import { quantile, round } from '../../../bench/common/util.js';

export const CLT_APP_PATH = fileURLToPath(import.meta.url);

/** What the client prints per request. */
export interface ClientRecord {
  seq: number;
  traceId: string;
  /** The CLIENT span the instrumentation made (the traceparent's parent id). */
  clientSpanId: string;
  /** The client's end of the connection, as its socket reports it. */
  localAddress: string;
  localPort: number;
  status: number;
  /** Unix ms when the request was started and when its response ended. */
  startMs: number;
  endMs: number;
  /** endMs − startMs from the monotonic clock, µs precision. */
  durationMs: number;
  /** Open loop: Unix ms of the request's slot in the schedule (its start is that, or later when the process lagged). */
  scheduledMs?: number;
  /** Why the request failed (status 0). */
  error?: string;
}

function args(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < argv.length; i += 2) m.set(argv[i]!.replace(/^--/, ''), argv[i + 1]!);
  return m;
}

/** The SDK with the http instrumentation; `http` must be required after this (the instrumentation hooks require). */
function setup(service: string, otlp: string): { provider: NodeTracerProvider; http: typeof HttpModule } {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: otlp }), { scheduledDelayMillis: 200, maxQueueSize: 100_000 })],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // The collector's own OTLP requests are not application traffic.
      new HttpInstrumentation({ ignoreOutgoingRequestHook: (req) => String(req.path ?? '').startsWith('/v1/') }),
    ],
  });
  const require = createRequire(import.meta.url);
  return { provider, http: require('node:http') as typeof HttpModule };
}

async function server(a: Map<string, string>): Promise<void> {
  const { provider, http } = setup(a.get('service') ?? 'backend', a.get('otlp')!);
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('resp') ?? 64);
      res.end('x'.repeat(Math.max(0, Math.min(n, 10_000_000))));
    });
  });
  srv.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => srv.listen(Number(a.get('port')), '::', resolve));
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  process.once('SIGTERM', () => {
    srv.close();
    void provider.shutdown().then(() => process.exit(0));
  });
}

interface Client {
  provider: NodeTracerProvider;
  agent: HttpModule.Agent;
  /** Sends request `seq` under a root span of its own; resolves when its response has ended. */
  one: (seq: number) => Promise<ClientRecord>;
  /** What enableHttpClt warned about. */
  warnings: string[];
}

/** The instrumented client both commands share: SDK, CLT when `--clt` is given, one keep-alive Agent of at most `maxSockets` sockets. */
function instrumentedClient(a: Map<string, string>, maxSockets: number): Client {
  const warnings: string[] = [];
  const { provider, http } = setup(a.get('service') ?? 'frontend', a.get('otlp')!);
  const ns = a.get('clt');
  if (ns !== undefined)
    enableHttpClt({
      namespaceId: Number(ns),
      traceType: a.has('trace-type') ? Number(a.get('trace-type')) : undefined,
      nodes: a.has('nodes') ? Number(a.get('nodes')) : undefined,
      warn: (m) => warnings.push(m),
    });
  const url = new URL(a.get('url')!);
  const body = a.has('body') ? 'b'.repeat(Number(a.get('body'))) : undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const tracer = trace.getTracer('clt-app');
  const one = (seq: number): Promise<ClientRecord> =>
    tracer.startActiveSpan(`request ${seq}`, (root) => {
      const startMs = Date.now();
      const t0 = performance.now();
      return new Promise<ClientRecord>((resolve, reject) => {
        const req = http.request(
          url,
          { method: body ? 'POST' : 'GET', agent, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} },
          (res) => {
            res.resume();
            res.on('end', () => {
              const tp = String(req.getHeader('traceparent') ?? '');
              const [, traceId = '', clientSpanId = ''] = tp.split('-');
              resolve({
                seq,
                traceId,
                clientSpanId,
                localAddress: req.socket?.localAddress ?? '',
                localPort: req.socket?.localPort ?? 0,
                status: res.statusCode ?? 0,
                startMs,
                endMs: Date.now(),
                durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
              });
              root.end();
            });
          },
        );
        // A request never answered would hold the run (and an open loop's end) forever.
        req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
        req.on('error', (err) => {
          root.end();
          reject(err);
        });
        req.end(body);
      });
    });
  return { provider, agent, one, warnings };
}

/** Closes the Agent's sockets and flushes the SDK. */
async function finish(c: Client): Promise<void> {
  c.agent.destroy();
  await c.provider.forceFlush();
  await c.provider.shutdown();
}

/**
 * Open loop: `send(seq, due)` for every slot due = t0 + seq / rate before `endAt` (ms on the
 * performance clock), on an absolute schedule (a late wake-up sends every request due by then),
 * never waiting for answers; resolves when every send has settled.
 */
async function openLoop(rate: number, t0: number, endAt: number, send: (seq: number, due: number) => Promise<void>): Promise<void> {
  if (!(rate > 0) || !(endAt > t0)) throw new Error('open loop: the rate and the duration must be > 0');
  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    let seq = 0;
    const tick = (): void => {
      const now = performance.now();
      for (let due = t0 + (seq * 1000) / rate; due <= now && due < endAt; due = t0 + (++seq * 1000) / rate) {
        const p = send(seq, due);
        inFlight.add(p);
        void p.then(() => inFlight.delete(p));
      }
      const due = t0 + (seq * 1000) / rate;
      if (due >= endAt) resolve();
      else setTimeout(tick, Math.max(0, due - performance.now()));
    };
    tick();
  });
  await Promise.all(inFlight);
}

async function client(a: Map<string, string>): Promise<void> {
  const requests = Number(a.get('requests') ?? 1);
  const rate = a.has('rate') ? Number(a.get('rate')) : undefined;
  const concurrency = Number(a.get('concurrency') ?? (rate ? 512 : 1));
  const intervalMs = Number(a.get('interval-ms') ?? 0);
  const c = instrumentedClient(a, concurrency);
  const print = (r: ClientRecord): void => void process.stdout.write(JSON.stringify(r) + '\n');
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
  if (rate !== undefined) {
    const t0 = performance.now();
    await openLoop(rate, t0, t0 + Number(a.get('duration-s')) * 1000, (seq, due) => {
      const scheduledMs = performance.timeOrigin + due;
      return c.one(seq).then(
        (r) => print({ ...r, scheduledMs }),
        (err: unknown) =>
          print({
            seq,
            traceId: '',
            clientSpanId: '',
            localAddress: '',
            localPort: 0,
            status: 0,
            startMs: Math.round(scheduledMs),
            endMs: Date.now(),
            durationMs: Date.now() - scheduledMs,
            scheduledMs,
            error: err instanceof Error ? err.message : String(err),
          }),
      );
    });
  } else {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let seq = next++; seq < requests && !stopping; seq = next++) {
        print(await context.with(context.active(), () => c.one(seq)));
        if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  await finish(c);
  process.stdout.write(JSON.stringify({ done: true, warnings: c.warnings }) + '\n');
}

/** What `load` prints: figures over the measured window (after the warm-up). */
export interface LoadSummary {
  mode: 'open' | 'closed';
  clt: boolean;
  /** Requests measured (completed, 2xx) and failed (error or other status) in the window. */
  requests: number;
  failed: number;
  windowSeconds: number;
  requestsPerSecond: number;
  /** Milliseconds; open loop: from when the request was due. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Process CPU (user + system, every thread) over the window, per measured request. */
  cpuMicrosPerRequest: number;
  /** Its user and system (kernel: syscalls, and the packets' way through the lab's kernel the sender's context pays for) parts. */
  cpuUserMicrosPerRequest: number;
  cpuSystemMicrosPerRequest: number;
  /** Process CPU over the window, % of one core. */
  cpuPercent: number;
  /** Open loop: how late the sends were against their schedule, ms (p99). */
  sendLagP99Ms?: number;
  warnings: string[];
}

const round3 = (x: number): number => round(x, 3);

async function load(a: Map<string, string>): Promise<void> {
  const seconds = Number(a.get('seconds') ?? 10);
  const warmup = Number(a.get('warmup') ?? 2);
  const rate = a.has('rate') ? Number(a.get('rate')) : undefined;
  const concurrency = Number(a.get('concurrency') ?? (rate ? 64 : 8));
  const c = instrumentedClient(a, concurrency);
  const latencies: number[] = [];
  const lags: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  const measureFrom = t0 + warmup * 1000;
  const endAt = t0 + seconds * 1000;
  let cpuAtWindow: NodeJS.CpuUsage | undefined;
  const windowTimer = setTimeout(() => (cpuAtWindow = process.cpuUsage()), warmup * 1000);
  /** Sends one request; `since` is when its latency starts (due time or send time). */
  const timed = async (seq: number, since: number): Promise<void> => {
    const measured = since >= measureFrom;
    try {
      const r = await c.one(seq);
      if (!measured) return;
      if (r.status >= 200 && r.status < 300) latencies.push(performance.now() - since);
      else failed++;
    } catch {
      if (measured) failed++;
    }
  };
  if (rate) {
    await openLoop(rate, t0, endAt, (seq, due) => {
      if (due >= measureFrom) lags.push(performance.now() - due);
      return timed(seq, due);
    });
  } else {
    let seq = 0;
    const worker = async (): Promise<void> => {
      for (let start = performance.now(); start < endAt; start = performance.now()) await timed(seq++, start);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  // The open loop returns when the last request due in the window has ended.
  const windowMs = performance.now() - measureFrom;
  clearTimeout(windowTimer);
  const cpu = process.cpuUsage(cpuAtWindow);
  const cpuMicros = cpu.user + cpu.system;
  await finish(c);
  const sorted = Float64Array.from(latencies).sort();
  const summary: LoadSummary = {
    mode: rate ? 'open' : 'closed',
    clt: a.has('clt'),
    requests: latencies.length,
    failed,
    windowSeconds: round3(windowMs / 1000),
    requestsPerSecond: round3(latencies.length / (windowMs / 1000)),
    latencyMs: {
      p50: round3(quantile(sorted, 0.5)),
      p90: round3(quantile(sorted, 0.9)),
      p99: round3(quantile(sorted, 0.99)),
      max: round3(sorted[sorted.length - 1] ?? NaN),
      mean: round3(latencies.reduce((x, y) => x + y, 0) / latencies.length),
    },
    cpuMicrosPerRequest: round3(cpuMicros / latencies.length),
    cpuUserMicrosPerRequest: round3(cpu.user / latencies.length),
    cpuSystemMicrosPerRequest: round3(cpu.system / latencies.length),
    cpuPercent: round3((cpuMicros / 1000 / windowMs) * 100),
    ...(rate ? { sendLagP99Ms: round3(quantile(Float64Array.from(lags).sort(), 0.99)) } : {}),
    warnings: c.warnings,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
}

async function sink(a: Map<string, string>): Promise<void> {
  const { createServer } = await import('node:http');
  const srv = createServer((req, res) => {
    req.resume();
    // An empty ExportTraceServiceResponse: full success.
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => srv.listen(Number(a.get('port')), '::', resolve));
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
}

const COMMANDS: Record<string, (a: Map<string, string>) => Promise<void>> = { server, client, load, sink };

const command = process.argv[2];
if (command !== undefined && process.argv[1] === CLT_APP_PATH && COMMANDS[command]) {
  COMMANDS[command](args(process.argv.slice(3))).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
