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

async function client(a: Map<string, string>): Promise<void> {
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
  const requests = Number(a.get('requests') ?? 1);
  const concurrency = Number(a.get('concurrency') ?? (a.has('rate') ? 512 : 1));
  const body = a.has('body') ? 'b'.repeat(Number(a.get('body'))) : undefined;
  const intervalMs = Number(a.get('interval-ms') ?? 0);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const tracer = trace.getTracer('clt-app');
  let next = 0;
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
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
  const print = (r: ClientRecord) => process.stdout.write(JSON.stringify(r) + '\n');
  if (a.has('rate')) await openLoop(Number(a.get('rate')), Number(a.get('duration-s')), one, print);
  else {
    const worker = async (): Promise<void> => {
      for (let seq = next++; seq < requests && !stopping; seq = next++) {
        print(await context.with(context.active(), () => one(seq)));
        if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  agent.destroy();
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ done: true, warnings }) + '\n');
}

/**
 * Starts request `seq` at start + seq / rate for `durationS` seconds (timers catch up on the
 * absolute schedule, so a late tick starts every request that is due), never waiting for
 * answers; a failed request is printed as status 0 with its error.
 */
async function openLoop(
  rate: number,
  durationS: number,
  one: (seq: number) => Promise<ClientRecord>,
  print: (r: ClientRecord) => void,
): Promise<void> {
  if (!(rate > 0) || !(durationS > 0)) throw new Error('--rate and --duration-s must be > 0');
  const total = Math.round(rate * durationS);
  const start = Date.now();
  const inFlight: Promise<void>[] = [];
  let seq = 0;
  while (seq < total) {
    const now = Date.now();
    for (; seq < total && start + (seq * 1000) / rate <= now; seq++) {
      const scheduledMs = start + (seq * 1000) / rate;
      const s = seq;
      inFlight.push(
        one(s).then(
          (r) => print({ ...r, scheduledMs }),
          (err: unknown) =>
            print({
              seq: s,
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
        ),
      );
    }
    if (seq < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + (seq * 1000) / rate - Date.now())));
  }
  await Promise.all(inFlight);
}

const COMMANDS: Record<string, (a: Map<string, string>) => Promise<void>> = { server, client };

const command = process.argv[2];
if (command !== undefined && process.argv[1] === CLT_APP_PATH && COMMANDS[command]) {
  COMMANDS[command](args(process.argv.slice(3))).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
