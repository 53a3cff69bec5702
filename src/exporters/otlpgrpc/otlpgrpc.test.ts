import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { CapacityError } from '../../core/errors.js';
import type { CreateSettings } from '../../core/component.js';
import type { Signal } from '../../model/otlp.js';
import { repoPath } from '../../testutil/index.js';
import { QueuedRetryExporter, type SleepFn } from '../exporterhelper/index.js';
import {
  SAMPLES,
  SAMPLE_TRACES_ON_WIRE,
  SAMPLE_TRACES_SPANS,
  decodeRequest,
  encodePartialSuccess,
  encodeRpcStatus,
  eventually,
  fakeClock,
  exporterCounter,
  exportLogsAndMetrics,
  recordingSettings,
  sampleTraces,
} from '../exporterhelper/otlp_testkit.test.util.js';
import { otlpGrpcExporterFactory } from './factory.js';
import { otlpGrpcConfigSchema } from './config.js';
import { resultFromGrpcError, retryDelayMs } from './status.js';
import { OtlpGrpcTransport } from './transport.js';
import { rawExportServiceDefinition } from '../../wire/otlp/codec.js';

const TESTDATA = repoPath('src', 'exporters', 'exporterhelper', 'testdata');
const SIGNALS: readonly Signal[] = ['traces', 'logs', 'metrics'];

interface Received {
  signal: Signal;
  metadata: grpc.Metadata;
  body: Buffer;
}

/** A failure to answer with; RetryInfo is attached when `retryDelayMs` is set. */
interface Reply {
  code?: grpc.status;
  details?: string;
  retryDelayMs?: number;
  /** Bytes of an Export*ServiceResponse (empty: full success). */
  response?: Uint8Array;
}

/** An OTLP/gRPC backend (grpc-js Server) that records requests and answers from a script. */
class GrpcBackend {
  readonly received: Received[] = [];
  replies: Reply[] = [];
  private readonly server = new grpc.Server();
  endpoint = '';

  static async start(options: { tls?: boolean } = {}): Promise<GrpcBackend> {
    const backend = new GrpcBackend();
    for (const signal of SIGNALS) {
      backend.server.addService(rawExportServiceDefinition(signal), {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          backend.received.push({ signal, metadata: call.metadata, body: call.request });
          const reply = backend.replies.shift() ?? {};
          if (reply.code === undefined) return callback(null, Buffer.from(reply.response ?? new Uint8Array()));
          const trailers = new grpc.Metadata();
          if (reply.retryDelayMs !== undefined)
            trailers.set('grpc-status-details-bin', Buffer.from(encodeRpcStatus(reply.code, reply.details ?? '', reply.retryDelayMs)));
          callback({ code: reply.code, details: reply.details ?? '', metadata: trailers });
        },
      });
    }
    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(null, [
          { cert_chain: readFileSync(`${TESTDATA}/server.crt`), private_key: readFileSync(`${TESTDATA}/server.key`) },
        ])
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      backend.server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    backend.endpoint = `127.0.0.1:${port}`;
    return backend;
  }

  close(): void {
    this.server.forceShutdown();
  }
}

const FAST_RETRY = { initial_interval: '1ms', max_interval: '5ms', randomization_factor: 0 };

function createExporter<S extends Signal>(settings: CreateSettings, signal: S, raw: Record<string, unknown>) {
  const config = otlpGrpcConfigSchema.parse({ retry_on_failure: FAST_RETRY, ...raw });
  return otlpGrpcExporterFactory.create(settings, config, signal);
}

describe('otlp (gRPC) exporter', () => {
  let backend: GrpcBackend;
  before(async () => {
    backend = await GrpcBackend.start();
  });
  after(() => backend.close());
  const reset = () => {
    backend.received.length = 0;
    backend.replies = [];
  };
  const plaintext = () => ({ endpoint: backend.endpoint, tls: { insecure: true } });

  test('exports traces to TraceService/Export, every field intact, headers as metadata', async () => {
    reset();
    const settings = recordingSettings('otlp');
    const exporter = createExporter(settings, 'traces', { ...plaintext(), headers: { 'X-Api-Key': 'secret' } });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'sent')) === SAMPLE_TRACES_SPANS, 'sent');
    await exporter.shutdown();
    assert.equal(backend.received.length, 1);
    const req = backend.received[0]!;
    assert.equal(req.signal, 'traces');
    assert.deepEqual(req.metadata.get('x-api-key'), ['secret']);
    assert.deepEqual(decodeRequest('traces', req.body), SAMPLE_TRACES_ON_WIRE);
  });

  test('logs and metrics go to their services', async () => {
    reset();
    const settings = recordingSettings('otlp/signals');
    await exportLogsAndMetrics(settings, (signal) =>
      createExporter(settings, signal, { ...plaintext(), sending_queue: { enabled: false } }),
    );
    assert.deepEqual(
      backend.received.map((r) => r.signal),
      ['logs', 'metrics'],
    );
    assert.deepEqual(decodeRequest('logs', backend.received[0]!.body), SAMPLES.logs.onWire);
    assert.deepEqual(decodeRequest('metrics', backend.received[1]!.body), SAMPLES.metrics.onWire);
  });

  test('UNAVAILABLE, then OK: delivered once, the retry counted', async () => {
    reset();
    backend.replies = [{ code: grpc.status.UNAVAILABLE, details: 'overloaded' }];
    const settings = recordingSettings('otlp/unavailable');
    const exporter = createExporter(settings, 'traces', { ...plaintext(), sending_queue: { enabled: false } });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    assert.equal(backend.received.length, 2);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
    assert.ok(settings.logs.some((l) => l.msg === 'exporting failed, will retry' && /UNAVAILABLE: overloaded/.test(String(l.error))));
  });

  test('RESOURCE_EXHAUSTED with RetryInfo is retried after the server’s delay; without it, it is final', async () => {
    reset();
    backend.replies = [
      { code: grpc.status.RESOURCE_EXHAUSTED, details: 'rate limited', retryDelayMs: 1_500 },
      {},
      { code: grpc.status.RESOURCE_EXHAUSTED, details: 'message too large' },
    ];
    const settings = recordingSettings('otlp/exhausted');
    const delays: number[] = [];
    const sleep: SleepFn = async (ms) => void delays.push(ms);
    const config = otlpGrpcConfigSchema.parse({ ...plaintext(), retry_on_failure: FAST_RETRY, sending_queue: { enabled: false } });
    const exporter = new QueuedRetryExporter(settings, 'traces', config, new OtlpGrpcTransport('traces', config), { sleep });
    await exporter.start();
    await exporter.consume(sampleTraces());
    assert.deepEqual(delays, [1_500]);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
    await assert.rejects(exporter.consume(sampleTraces()), /RESOURCE_EXHAUSTED: message too large/);
    await exporter.shutdown();
    assert.equal(backend.received.length, 3);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS);
  });

  test('INVALID_ARGUMENT is final: counted as send_failed, not retried', async () => {
    reset();
    backend.replies = [{ code: grpc.status.INVALID_ARGUMENT, details: 'bad span id' }];
    const settings = recordingSettings('otlp/invalid');
    const exporter = createExporter(settings, 'traces', plaintext());
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'send_failed')) === SAMPLE_TRACES_SPANS, 'dropped');
    await exporter.shutdown();
    assert.equal(backend.received.length, 1);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 0);
    const error = settings.logs.find((l) => l.level === 'error');
    assert.match(String(error?.error), /INVALID_ARGUMENT: bad span id/);
    assert.equal(error?.dropped_items, SAMPLE_TRACES_SPANS);
  });

  test('partial success is counted and logged', async () => {
    reset();
    backend.replies = [{ response: encodePartialSuccess('traces', 2, 'two spans too old') }];
    const settings = recordingSettings('otlp/partial');
    const exporter = createExporter(settings, 'traces', { ...plaintext(), sending_queue: { enabled: false } });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    assert.equal(await exporterCounter(settings, 'traces', 'rejected_by_backend'), 2);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS - 2);
    const warning = settings.logs.find((l) => l.level === 'warn');
    assert.equal(warning?.message, 'two spans too old');
  });

  test('max_elapsed_time reached: counted as send_failed', async () => {
    reset();
    backend.replies = Array.from({ length: 10 }, () => ({ code: grpc.status.UNAVAILABLE, details: 'down' }));
    const settings = recordingSettings('otlp/elapsed');
    const config = otlpGrpcConfigSchema.parse({
      ...plaintext(),
      sending_queue: { enabled: false },
      retry_on_failure: { initial_interval: '10ms', multiplier: 2, max_elapsed_time: '100ms', randomization_factor: 0 },
    });
    const exporter = new QueuedRetryExporter(settings, 'traces', config, new OtlpGrpcTransport('traces', config), fakeClock());
    await exporter.start();
    await assert.rejects(exporter.consume(sampleTraces()), /max_elapsed_time/);
    await exporter.shutdown();
    assert.equal(backend.received.length, 4);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS);
    assert.ok(
      settings.logs.some((l) => l.level === 'error' && /max_elapsed_time/.test(String(l.reason)) && /UNAVAILABLE/.test(String(l.error))),
    );
  });
});

describe('otlp (gRPC) exporter, backend down', () => {
  test('retries, then the queue fills and consume refuses with CapacityError', async () => {
    // A port that was just free: bind, note it, release it.
    const probe = await GrpcBackend.start();
    const endpoint = probe.endpoint;
    probe.close();

    const settings = recordingSettings('otlp/down');
    const exporter = createExporter(settings, 'traces', {
      endpoint,
      tls: { insecure: true },
      sending_queue: { num_consumers: 1, queue_size: 2 },
      retry_on_failure: { ...FAST_RETRY, max_elapsed_time: '0' },
      timeout: '200ms',
    });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'retried')) >= 2 * SAMPLE_TRACES_SPANS, 'retries');
    await exporter.consume(sampleTraces());
    await exporter.consume(sampleTraces());
    assert.equal(exporter.canAccept(), false);
    await assert.rejects(exporter.consume(sampleTraces()), (err: unknown) => err instanceof CapacityError);
    assert.equal(await exporterCounter(settings, 'traces', 'enqueue_failed'), SAMPLE_TRACES_SPANS);
    await exporter.shutdown();
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), 0);
  });
});

describe('otlp (gRPC) exporter on the wire', () => {
  /** A bare HTTP/2 server speaking just enough gRPC to show the exact bytes of a call. */
  async function rawGrpcServer() {
    const frames: { path: string; encoding: string | undefined; compressedFlag: number; message: Buffer }[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const length = body.readUInt32BE(1);
        frames.push({
          path: String(headers[':path']),
          encoding: headers['grpc-encoding'] as string | undefined,
          compressedFlag: body[0]!,
          message: body.subarray(5, 5 + length),
        });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5)); // one empty, uncompressed response message
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { frames, server, endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  test('messages are gzip-compressed by default and plain with compression: none', async () => {
    const raw = await rawGrpcServer();
    try {
      for (const compression of [undefined, 'none']) {
        const exporter = createExporter(recordingSettings('otlp/wire'), 'traces', {
          endpoint: raw.endpoint,
          tls: { insecure: true },
          sending_queue: { enabled: false },
          ...(compression ? { compression } : {}),
        });
        await exporter.start();
        await exporter.consume(sampleTraces());
        await exporter.shutdown();
      }
      const [gzipped, plain] = raw.frames;
      assert.equal(gzipped?.path, '/opentelemetry.proto.collector.trace.v1.TraceService/Export');
      assert.equal(gzipped?.encoding, 'gzip');
      assert.equal(gzipped?.compressedFlag, 1);
      assert.deepEqual(decodeRequest('traces', gunzipSync(gzipped.message)), SAMPLE_TRACES_ON_WIRE);
      assert.equal(plain?.encoding, undefined);
      assert.equal(plain?.compressedFlag, 0);
      assert.deepEqual(decodeRequest('traces', plain.message), SAMPLE_TRACES_ON_WIRE);
    } finally {
      raw.server.close();
    }
  });
});

describe('otlp (gRPC) exporter over TLS', () => {
  let backend: GrpcBackend;
  before(async () => {
    backend = await GrpcBackend.start({ tls: true });
  });
  after(() => backend.close());

  test('uses TLS by default and trusts the server through tls.ca_file', async () => {
    const exporter = createExporter(recordingSettings('otlp/tls'), 'traces', {
      endpoint: backend.endpoint,
      tls: { ca_file: `${TESTDATA}/server.crt` },
      sending_queue: { enabled: false },
    });
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    assert.deepEqual(decodeRequest('traces', backend.received.at(-1)!.body), SAMPLE_TRACES_ON_WIRE);
  });

  test('an unknown certificate fails unless insecure_skip_verify; plain text to a TLS server fails', async () => {
    const before = backend.received.length;
    for (const tls of [{}, { insecure: true }]) {
      const exporter = createExporter(recordingSettings('otlp/tls-fail'), 'traces', {
        endpoint: backend.endpoint,
        tls,
        sending_queue: { enabled: false },
        retry_on_failure: { enabled: false },
      });
      await exporter.start();
      await assert.rejects(exporter.consume(sampleTraces()), /UNAVAILABLE/);
      await exporter.shutdown();
    }
    assert.equal(backend.received.length, before);

    const lax = createExporter(recordingSettings('otlp/tls-skip'), 'traces', {
      endpoint: backend.endpoint,
      tls: { insecure_skip_verify: true },
      sending_queue: { enabled: false },
    });
    await lax.start();
    await lax.consume(sampleTraces());
    await lax.shutdown();
    assert.equal(backend.received.length, before + 1);
  });
});

describe('otlp (gRPC) config and status mapping', () => {
  test('defaults: gzip, TLS, the helper’s queue and retry; endpoint is host:port and required', () => {
    const c = otlpGrpcConfigSchema.parse({ endpoint: 'collector:4317' });
    assert.equal(c.compression, 'gzip');
    assert.equal(c.tls.insecure, undefined);
    assert.equal(c.sending_queue.num_consumers, 10);
    assert.equal(c.retry_on_failure.max_elapsed_time, 300_000);
    assert.equal(otlpGrpcConfigSchema.safeParse({}).success, false);
    assert.equal(otlpGrpcConfigSchema.safeParse({ endpoint: 'collector' }).success, false);
    assert.equal(otlpGrpcConfigSchema.safeParse({ endpoint: 'collector:4317', compression: 'zstd' }).success, false);
  });

  test('the OTLP spec’s retryable codes, and only those', () => {
    const error = (code: grpc.status, metadata = new grpc.Metadata()) =>
      Object.assign(new Error('x'), { code, details: 'x', metadata }) as grpc.ServiceError;
    const retryable = [
      grpc.status.CANCELLED,
      grpc.status.DEADLINE_EXCEEDED,
      grpc.status.ABORTED,
      grpc.status.OUT_OF_RANGE,
      grpc.status.UNAVAILABLE,
      grpc.status.DATA_LOSS,
    ];
    for (let code = 1; code <= 16; code++) {
      const kind = resultFromGrpcError(error(code)).kind;
      assert.equal(kind, retryable.includes(code) ? 'retryable' : 'failure', `code ${grpc.status[code]}`);
    }
    const withRetryInfo = new grpc.Metadata();
    withRetryInfo.set('grpc-status-details-bin', Buffer.from(encodeRpcStatus(grpc.status.RESOURCE_EXHAUSTED, 'slow', 2_250)));
    assert.equal(retryDelayMs(withRetryInfo), 2_250);
    const throttled = resultFromGrpcError(error(grpc.status.RESOURCE_EXHAUSTED, withRetryInfo));
    assert.equal(throttled.kind, 'retryable');
    assert.equal(throttled.kind === 'retryable' ? throttled.retryAfterMs : undefined, 2_250);
    const noDetails = new grpc.Metadata();
    noDetails.set('grpc-status-details-bin', Buffer.from(encodeRpcStatus(grpc.status.RESOURCE_EXHAUSTED, 'no retry info')));
    assert.equal(retryDelayMs(noDetails), undefined);
  });
});
