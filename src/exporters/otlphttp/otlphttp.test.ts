import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { CapacityError } from '../../core/errors.js';
import type { CreateSettings } from '../../core/component.js';
import type { Signal } from '../../model/otlp.js';
import { repoPath } from '../../testutil/index.js';
import { QueuedRetryExporter, type SleepFn } from '../exporterhelper/index.js';
import {
  SAMPLES,
  SAMPLE_TRACES_ON_WIRE,
  SAMPLE_TRACES_SPANS,
  decodeJsonRequest,
  decodeRequest,
  encodePartialSuccess,
  encodeRpcStatus,
  eventually,
  fakeClock,
  exporterCounter,
  exportLogsAndMetrics,
  otlpProtos,
  recordingSettings,
  sampleTraces,
} from '../exporterhelper/otlp_testkit.test.util.js';
import { otlpHttpExporterFactory } from './factory.js';
import { otlpHttpConfigSchema, signalUrl } from './config.js';
import { parseRetryAfter } from './response.js';
import { OtlpHttpTransport } from './transport.js';

const TESTDATA = repoPath('src', 'exporters', 'exporterhelper', 'testdata');

interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Decompressed when the request said gzip. */
  body: Buffer;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

/** An OTLP/HTTP backend that records requests and answers from a script (200, empty by default). */
class TestBackend {
  readonly received: Received[] = [];
  replies: Reply[] = [];
  private server!: http.Server;
  url = '';

  static async start(options: { tls?: boolean } = {}): Promise<TestBackend> {
    const backend = new TestBackend();
    const handler: http.RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        backend.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        const reply = backend.replies.shift() ?? { status: 200, headers: { 'content-type': 'application/x-protobuf' } };
        res.writeHead(reply.status, reply.headers ?? {});
        res.end(reply.body === undefined ? undefined : Buffer.from(reply.body));
      });
    };
    backend.server = options.tls
      ? https.createServer({ cert: readFileSync(`${TESTDATA}/server.crt`), key: readFileSync(`${TESTDATA}/server.key`) }, handler)
      : http.createServer(handler);
    await new Promise<void>((resolve) => backend.server.listen(0, '127.0.0.1', resolve));
    const { port } = backend.server.address() as AddressInfo;
    backend.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return backend;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Small intervals, so retries happen within the test. */
const FAST_RETRY = { initial_interval: '1ms', max_interval: '5ms', randomization_factor: 0 };

function createExporter<S extends Signal>(settings: CreateSettings, signal: S, raw: Record<string, unknown>) {
  const config = otlpHttpConfigSchema.parse({ retry_on_failure: FAST_RETRY, ...raw });
  return otlpHttpExporterFactory.create(settings, config, signal);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('otlphttp exporter', () => {
  let backend: TestBackend;
  before(async () => {
    backend = await TestBackend.start();
  });
  after(async () => {
    await backend.close();
  });
  const reset = () => {
    backend.received.length = 0;
    backend.replies = [];
  };

  test('sends traces as gzip-compressed protobuf to /v1/traces, every field intact', async () => {
    reset();
    const settings = recordingSettings('otlphttp');
    const exporter = createExporter(settings, 'traces', { endpoint: backend.url, headers: { 'X-Api-Key': 'secret' } });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'sent')) === SAMPLE_TRACES_SPANS, 'sent');
    await exporter.shutdown();

    assert.equal(backend.received.length, 1);
    const req = backend.received[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/traces');
    assert.equal(req.headers['content-type'], 'application/x-protobuf');
    assert.equal(req.headers['content-encoding'], 'gzip');
    assert.equal(req.headers['x-api-key'], 'secret');
    assert.deepEqual(decodeRequest('traces', req.body), SAMPLE_TRACES_ON_WIRE);
  });

  test('JSON encoding without compression: hex ids, every field intact', async () => {
    reset();
    const settings = recordingSettings('otlphttp/json');
    const exporter = createExporter(settings, 'traces', { endpoint: backend.url, encoding: 'json', compression: 'none' });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(() => backend.received.length === 1, 'request');
    await exporter.shutdown();

    const req = backend.received[0]!;
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['content-encoding'], undefined);
    const json = JSON.parse(req.body.toString('utf8')) as {
      resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string }[] }[] }[];
    };
    const span = json.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(span.traceId, '0102030405060708090a0b0c0d0e0f10');
    assert.equal(span.spanId, 'a1a2a3a4a5a6a7a8');
    assert.deepEqual(decodeJsonRequest('traces', json), SAMPLE_TRACES_ON_WIRE);
  });

  test('logs and metrics go to their own paths; a signal endpoint overrides the base', async () => {
    reset();
    const settings = recordingSettings('otlphttp/signals');
    const config = { endpoint: `${backend.url}/base/`, metrics_endpoint: `${backend.url}/custom/metrics` };
    await exportLogsAndMetrics(settings, (signal) => createExporter(settings, signal, { ...config, sending_queue: { enabled: false } }));
    assert.deepEqual(
      backend.received.map((r) => r.path),
      ['/base/v1/logs', '/custom/metrics'],
    );
    assert.deepEqual(decodeRequest('logs', backend.received[0]!.body), SAMPLES.logs.onWire);
    assert.deepEqual(decodeRequest('metrics', backend.received[1]!.body), SAMPLES.metrics.onWire);
  });

  test('503 with Retry-After, then success: delivered once, the retry counted, the server’s delay kept', async () => {
    reset();
    backend.replies = [{ status: 503, headers: { 'retry-after': '2' } }];
    const settings = recordingSettings('otlphttp/retry-after');
    const delays: number[] = [];
    const sleep: SleepFn = async (ms) => void delays.push(ms);
    const config = otlpHttpConfigSchema.parse({ endpoint: backend.url, retry_on_failure: FAST_RETRY, sending_queue: { enabled: false } });
    const transport = new OtlpHttpTransport('traces', { ...config, url: signalUrl(config, 'traces')! });
    const exporter = new QueuedRetryExporter(settings, 'traces', config, transport, { sleep });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();

    assert.equal(backend.received.length, 2);
    assert.deepEqual(delays, [2_000]);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 0);
  });

  test('429, 502 and 504 are retried too', async () => {
    reset();
    backend.replies = [{ status: 429 }, { status: 502 }, { status: 504 }];
    const settings = recordingSettings('otlphttp/retryable');
    const exporter = createExporter(settings, 'traces', { endpoint: backend.url, sending_queue: { enabled: false } });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    assert.equal(backend.received.length, 4);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
  });

  test('permanent 400: counted as send_failed, not retried, with the server’s Status message', async () => {
    reset();
    backend.replies = [
      { status: 400, headers: { 'content-type': 'application/x-protobuf' }, body: encodeRpcStatus(3, 'bad payload: span 2') },
      { status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 16, message: 'missing token' }) },
    ];
    const settings = recordingSettings('otlphttp/permanent');
    const exporter = createExporter(settings, 'traces', { endpoint: backend.url, sending_queue: { enabled: false } });
    await exporter.start();
    await assert.rejects(exporter.consume(sampleTraces()), /HTTP 400: bad payload: span 2/);
    await assert.rejects(exporter.consume(sampleTraces()), /HTTP 401: missing token/);
    await exporter.shutdown();
    assert.equal(backend.received.length, 2);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 2 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 0);
    const errors = settings.logs.filter((l) => l.level === 'error');
    assert.equal(errors.length, 2);
    assert.equal(errors[0]!.dropped_items, SAMPLE_TRACES_SPANS);
    assert.match(String(errors[0]!.error), /bad payload/);
  });

  test('partial success (protobuf and JSON responses) is counted and logged', async () => {
    reset();
    const { response } = otlpProtos();
    backend.replies = [
      { status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodePartialSuccess('traces', 2, 'two spans too old') },
      {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          response.traces.toObject(response.traces.decode(encodePartialSuccess('traces', 1, 'one span too big')), { longs: String }),
        ),
      },
    ];
    const settings = recordingSettings('otlphttp/partial');
    const exporter = createExporter(settings, 'traces', { endpoint: backend.url, sending_queue: { enabled: false } });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    assert.equal(await exporterCounter(settings, 'traces', 'rejected_by_backend'), 3);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), 2 * SAMPLE_TRACES_SPANS - 3);
    const warnings = settings.logs.filter((l) => l.level === 'warn');
    assert.deepEqual(
      warnings.map((w) => [w.rejected_items, w.message]),
      [
        [2, 'two spans too old'],
        [1, 'one span too big'],
      ],
    );
  });

  test('max_elapsed_time reached: counted as send_failed and logged', async () => {
    reset();
    backend.replies = Array.from({ length: 10 }, () => ({ status: 503 }));
    const settings = recordingSettings('otlphttp/elapsed');
    const config = otlpHttpConfigSchema.parse({
      endpoint: backend.url,
      sending_queue: { enabled: false },
      retry_on_failure: { initial_interval: '10ms', multiplier: 2, max_elapsed_time: '100ms', randomization_factor: 0 },
    });
    const transport = new OtlpHttpTransport('traces', { ...config, url: signalUrl(config, 'traces')! });
    const exporter = new QueuedRetryExporter(settings, 'traces', config, transport, fakeClock());
    await exporter.start();
    await assert.rejects(exporter.consume(sampleTraces()), /max_elapsed_time/);
    await exporter.shutdown();
    // Waits of 10, 20 and 40 ms fit in 100 ms; the fourth failure would need 80 more.
    assert.equal(backend.received.length, 4);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), 0);
    assert.ok(
      settings.logs.some((l) => l.level === 'error' && /max_elapsed_time/.test(String(l.reason)) && /HTTP 503/.test(String(l.error))),
    );
  });
});

describe('otlphttp exporter, backend down', () => {
  test('retries, then the queue fills and consume refuses with CapacityError', async () => {
    const settings = recordingSettings('otlphttp/down');
    const exporter = createExporter(settings, 'traces', {
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      sending_queue: { num_consumers: 1, queue_size: 2 },
      retry_on_failure: { ...FAST_RETRY, max_elapsed_time: '0' },
      timeout: '200ms',
    });
    await exporter.start();
    await exporter.consume(sampleTraces());
    // The only consumer keeps retrying the first batch against the refused connection.
    await eventually(async () => (await exporterCounter(settings, 'traces', 'retried')) >= 2 * SAMPLE_TRACES_SPANS, 'retries');
    assert.ok(settings.logs.some((l) => /ECONNREFUSED/.test(String(l.error))));
    await exporter.consume(sampleTraces());
    await exporter.consume(sampleTraces());
    assert.equal(exporter.canAccept(), false);
    await assert.rejects(exporter.consume(sampleTraces()), (err: unknown) => err instanceof CapacityError);
    assert.equal(await exporterCounter(settings, 'traces', 'enqueue_failed'), SAMPLE_TRACES_SPANS);

    await exporter.shutdown();
    assert.equal(
      await exporterCounter(settings, 'traces', 'send_failed'),
      3 * SAMPLE_TRACES_SPANS,
      'what could not be sent is counted as dropped',
    );
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), 0);
  });
});

describe('otlphttp exporter over TLS', () => {
  let backend: TestBackend;
  before(async () => {
    backend = await TestBackend.start({ tls: true });
  });
  after(async () => {
    await backend.close();
  });

  test('trusts the server through tls.ca_file', async () => {
    const settings = recordingSettings('otlphttp/tls');
    const exporter = createExporter(settings, 'traces', {
      endpoint: backend.url,
      tls: { ca_file: `${TESTDATA}/server.crt` },
      sending_queue: { enabled: false },
    });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    assert.deepEqual(decodeRequest('traces', backend.received.at(-1)!.body), SAMPLE_TRACES_ON_WIRE);
  });

  test('refuses an unknown certificate unless insecure_skip_verify', async () => {
    const before = backend.received.length;
    const settings = recordingSettings('otlphttp/tls-unknown');
    const strict = createExporter(settings, 'traces', {
      endpoint: backend.url,
      sending_queue: { enabled: false },
      retry_on_failure: { enabled: false },
    });
    await strict.start();
    await assert.rejects(strict.consume(sampleTraces()), /certificate/i);
    await strict.shutdown();
    assert.equal(backend.received.length, before);

    const lax = createExporter(recordingSettings('otlphttp/tls-skip'), 'traces', {
      endpoint: backend.url,
      tls: { insecure_skip_verify: true },
      sending_queue: { enabled: false },
    });
    await lax.start();
    await lax.consume(sampleTraces());
    await lax.shutdown();
    assert.equal(backend.received.length, before + 1);
  });

  test('a missing ca_file fails start', async () => {
    const exporter = createExporter(recordingSettings('otlphttp/tls-missing'), 'traces', {
      endpoint: backend.url,
      tls: { ca_file: `${TESTDATA}/does-not-exist.crt` },
    });
    await assert.rejects(exporter.start(), /does-not-exist/);
    await exporter.shutdown();
  });
});

describe('otlphttp config', () => {
  test('defaults: protobuf, gzip, the helper’s queue and retry', () => {
    const c = otlpHttpConfigSchema.parse({ endpoint: 'http://collector:4318' });
    assert.equal(c.encoding, 'proto');
    assert.equal(c.compression, 'gzip');
    assert.deepEqual(c.headers, {});
    assert.equal(c.timeout, 5_000);
    assert.equal(c.sending_queue.queue_size, 1000);
    assert.equal(c.retry_on_failure.initial_interval, 5_000);
  });

  test('an endpoint is required, and must be http(s)', () => {
    assert.equal(otlpHttpConfigSchema.safeParse({}).success, false);
    assert.equal(otlpHttpConfigSchema.safeParse({ endpoint: 'collector:4318' }).success, false);
    assert.equal(otlpHttpConfigSchema.safeParse({ endpoint: 'ftp://collector' }).success, false);
    assert.equal(otlpHttpConfigSchema.safeParse({ traces_endpoint: 'https://x/v1/traces' }).success, true);
    assert.equal(otlpHttpConfigSchema.safeParse({ endpoint: 'http://x', tls: { cert_file: 'a.crt' } }).success, false);
  });

  test('signal URLs are composed like the collector’s', () => {
    assert.equal(signalUrl({ endpoint: 'http://c:4318' }, 'traces'), 'http://c:4318/v1/traces');
    assert.equal(signalUrl({ endpoint: 'http://c:4318/otlp/' }, 'logs'), 'http://c:4318/otlp/v1/logs');
    assert.equal(signalUrl({ endpoint: 'http://c:4318', metrics_endpoint: 'http://m/x' }, 'metrics'), 'http://m/x');
    assert.equal(signalUrl({ traces_endpoint: 'http://t/x' }, 'logs'), undefined);
  });

  test('creating an exporter for a signal without a URL is a config error', () => {
    const config = otlpHttpConfigSchema.parse({ traces_endpoint: 'http://t/x' });
    assert.throws(() => otlpHttpExporterFactory.create(recordingSettings('otlphttp'), config, 'logs'), /logs_endpoint/);
  });

  test('Retry-After: seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('2', now), 2_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now), 5_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
