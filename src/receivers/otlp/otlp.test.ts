import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { request as httpsRequest } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { OtlpReceiver } from './receiver.js';
import { otlpReceiverConfigSchema } from './config.js';
import { RecordingConsumer, SHARED_DIR, repoPath, testSettings } from '../../testutil/index.js';
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
} from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { GRPC_EXPORT_PATH } from '../../wire/otlp/codec.js';
import { StatusSchema } from '../../wire/otlp/gen/google/rpc/status_pb.js';
import { RetryInfoSchema } from '../../wire/otlp/gen/google/rpc/error_details_pb.js';
import { dataPointCount, logRecordCount, spanCount, type Traces } from '../../model/otlp.js';
import type { CreateSettings } from '../../core/component.js';

const TESTDATA = repoPath('src', 'receivers', 'otlp', 'testdata');
const EXAMPLES = join(SHARED_DIR, 'data', 'otlp', 'examples');

function sampleTraces(spans = 3, idBytes = { trace: 16, span: 8 }): Traces {
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: 'svc' } } }] },
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: new Uint8Array(idBytes.trace).fill(1),
              spanId: new Uint8Array(idBytes.span).fill(i + 2),
              name: `span-${i}`,
              startTimeUnixNano: 1_700_000_000_000_000_000n,
              endTimeUnixNano: 1_700_000_000_100_000_000n,
            })),
          },
        ],
      },
    ],
  });
}

interface Harness {
  receiver: OtlpReceiver;
  traces: RecordingConsumer<'traces'>;
  logs: RecordingConsumer<'logs'>;
  metrics: RecordingConsumer<'metrics'>;
  settings: CreateSettings;
  url: string;
  grpcTarget: string;
}

async function startReceiver(protocols: Record<string, unknown>): Promise<Harness> {
  const config = otlpReceiverConfigSchema.parse({ protocols });
  const traces = new RecordingConsumer<'traces'>();
  const logs = new RecordingConsumer<'logs'>();
  const metrics = new RecordingConsumer<'metrics'>();
  const settings = testSettings('otlp');
  const receiver = new OtlpReceiver(settings, config, { traces, logs, metrics });
  await receiver.start();
  return { receiver, traces, logs, metrics, settings, url: `http://${receiver.addresses.http}`, grpcTarget: receiver.addresses.grpc ?? '' };
}

async function post(url: string, body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}

const PROTO = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

describe('OTLP/HTTP receiver', () => {
  let h: Harness;
  before(async () => {
    h = await startReceiver({ http: { endpoint: '127.0.0.1:0', max_request_body_size: '1MiB' } });
  });
  after(() => h.receiver.shutdown());

  const refused = (reason: string) => h.settings.metrics.value('netspan_receiver_refused_spans_total', { reason });
  const requests = (outcome: string) => h.settings.metrics.value('netspan_receiver_requests_total', { outcome });

  test('accepts protobuf and answers with an empty ExportTraceServiceResponse', async () => {
    const before = h.traces.received.length;
    const res = await post(`${h.url}/v1/traces`, toBinary(ExportTraceServiceRequestSchema, sampleTraces(3)), PROTO);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    const reply = fromBinary(ExportTraceServiceResponseSchema, res.body);
    assert.equal(reply.partialSuccess, undefined);
    assert.equal(h.traces.received.length, before + 1);
    assert.equal(spanCount(h.traces.received.at(-1)!), 3);
    assert.equal((await h.settings.metrics.value('netspan_receiver_accepted_spans_total', { transport: 'http' })) >= 3, true);
  });

  test('accepts gzip-compressed protobuf', async () => {
    const before = h.traces.received.length;
    const body = gzipSync(toBinary(ExportTraceServiceRequestSchema, sampleTraces(2)));
    const res = await post(`${h.url}/v1/traces`, body, { ...PROTO, 'content-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.equal(spanCount(h.traces.received[before]!), 2);
  });

  for (const [file, signal, count] of [
    ['trace.json', 'traces', (h: Harness) => spanCount(h.traces.received.at(-1)!)],
    ['logs.json', 'logs', (h: Harness) => logRecordCount(h.logs.received.at(-1)!)],
    ['events.json', 'logs', (h: Harness) => logRecordCount(h.logs.received.at(-1)!)],
    ['metrics.json', 'metrics', (h: Harness) => dataPointCount(h.metrics.received.at(-1)!)],
  ] as const) {
    test(`accepts the OTLP JSON example ${file}`, async () => {
      const text = readFileSync(join(EXAMPLES, file), 'utf8');
      const res = await post(`${h.url}/v1/${signal}`, text, JSON_TYPE);
      assert.equal(res.status, 200, new TextDecoder().decode(res.body));
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.ok(count(h) > 0, `${file} produced no items`);
    });
  }

  test('the JSON example keeps its hex ids and values', async () => {
    const text = readFileSync(join(EXAMPLES, 'trace.json'), 'utf8');
    await post(`${h.url}/v1/traces`, text, JSON_TYPE);
    const span = h.traces.received.at(-1)!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    const json = JSON.parse(text) as {
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: string; spanId: string; startTimeUnixNano: string }] }] }];
    };
    const want = json.resourceSpans[0].scopeSpans[0].spans[0];
    assert.equal(Buffer.from(span.traceId).toString('hex'), want.traceId.toLowerCase());
    assert.equal(Buffer.from(span.spanId).toString('hex'), want.spanId.toLowerCase());
    assert.equal(span.startTimeUnixNano, BigInt(want.startTimeUnixNano));
  });

  test('truncated protobuf: 400 with a google.rpc.Status message, counted', async () => {
    const full = toBinary(ExportTraceServiceRequestSchema, sampleTraces(3));
    const res = await post(`${h.url}/v1/traces`, full.subarray(0, full.length - 7), PROTO);
    assert.equal(res.status, 400);
    const status = fromBinary(StatusSchema, res.body);
    assert.match(status.message, /cannot decode protobuf/);
    assert.ok((await requests('malformed')) >= 1);
  });

  test('wrong content type: 415', async () => {
    const res = await post(`${h.url}/v1/traces`, 'hello', { 'content-type': 'text/plain' });
    assert.equal(res.status, 415);
    const status = JSON.parse(new TextDecoder().decode(res.body)) as { message: string };
    assert.match(status.message, /unsupported Content-Type "text\/plain"/);
  });

  test('invalid JSON: 400 with the parser message', async () => {
    const res = await post(`${h.url}/v1/traces`, '{"resourceSpans": [', JSON_TYPE);
    assert.equal(res.status, 400);
    assert.match(JSON.parse(new TextDecoder().decode(res.body)).message as string, /invalid JSON/);
  });

  test('JSON id that is not hex: 400 naming the field', async () => {
    const body = JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'zz', spanId: '0102030405060708', name: 'x' }] }] }],
    });
    const res = await post(`${h.url}/v1/traces`, body, JSON_TYPE);
    assert.equal(res.status, 400);
    assert.match(
      JSON.parse(new TextDecoder().decode(res.body)).message as string,
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId/,
    );
  });

  test('ids of the wrong length: all rejected is 400, some rejected is a partial success', async () => {
    const allBad = await post(
      `${h.url}/v1/traces`,
      toBinary(ExportTraceServiceRequestSchema, sampleTraces(2, { trace: 5, span: 8 })),
      PROTO,
    );
    assert.equal(allBad.status, 400);
    assert.match(fromBinary(StatusSchema, allBad.body).message, /trace_id has 5 bytes, want 16/);

    const mixed = sampleTraces(3);
    mixed.resourceSpans[0]!.scopeSpans[0]!.spans[1]!.spanId = new Uint8Array(3);
    const before = h.traces.received.length;
    const res = await post(`${h.url}/v1/traces`, toBinary(ExportTraceServiceRequestSchema, mixed), PROTO);
    assert.equal(res.status, 200);
    const reply = fromBinary(ExportTraceServiceResponseSchema, res.body);
    assert.equal(reply.partialSuccess?.rejectedSpans, 1n);
    assert.match(reply.partialSuccess?.errorMessage ?? '', /spans\[1\]: span_id has 3 bytes/);
    assert.equal(spanCount(h.traces.received[before]!), 2);
    assert.ok((await refused('invalid')) >= 3);
  });

  test('gzip bomb: 413 once the decompressed size passes the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    assert.ok(bomb.length < 1024 * 1024, 'the bomb itself is under the limit');
    const res = await post(`${h.url}/v1/traces`, bomb, { ...PROTO, 'content-encoding': 'gzip' });
    assert.equal(res.status, 413);
    assert.match(fromBinary(StatusSchema, res.body).message, /after decompression/);
  });

  test('oversize body: 413', async () => {
    const res = await post(`${h.url}/v1/traces`, Buffer.alloc(2 * 1024 * 1024), PROTO);
    assert.equal(res.status, 413);
  });

  test('corrupt gzip: 400', async () => {
    const res = await post(`${h.url}/v1/traces`, Buffer.from('not gzip at all'), { ...PROTO, 'content-encoding': 'gzip' });
    assert.equal(res.status, 400);
    assert.match(fromBinary(StatusSchema, res.body).message, /cannot decompress/);
  });

  test('unknown path: 404; GET: 405', async () => {
    const res = await post(`${h.url}/v1/spans`, '{}', JSON_TYPE);
    assert.equal(res.status, 404);
    assert.match(JSON.parse(new TextDecoder().decode(res.body)).message as string, /unknown path \/v1\/spans/);
    const get = await fetch(`${h.url}/v1/traces`);
    assert.equal(get.status, 405);
    await get.arrayBuffer();
  });

  test('full pipeline: 503 with Retry-After, counted; accepted again once there is room', async () => {
    h.traces.full = true;
    const res = await post(`${h.url}/v1/traces`, toBinary(ExportTraceServiceRequestSchema, sampleTraces(1)), PROTO);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.ok((await requests('capacity')) >= 1);
    h.traces.full = false;
    const ok = await post(`${h.url}/v1/traces`, toBinary(ExportTraceServiceRequestSchema, sampleTraces(1)), PROTO);
    assert.equal(ok.status, 200);
  });
});

describe('OTLP/HTTP receiver with TLS and a bearer token', () => {
  let h: Harness;
  before(async () => {
    h = await startReceiver({
      http: {
        endpoint: '127.0.0.1:0',
        tls: { cert_file: join(TESTDATA, 'server.crt'), key_file: join(TESTDATA, 'server.key') },
        auth: { token: 's3cret' },
      },
    });
  });
  after(() => h.receiver.shutdown());

  const send = (token: string | undefined) =>
    new Promise<number>((resolve, reject) => {
      const body = Buffer.from(toBinary(ExportTraceServiceRequestSchema, sampleTraces(1)));
      const req = httpsRequest(
        `https://${h.receiver.addresses.http}/v1/traces`,
        {
          method: 'POST',
          ca: readFileSync(join(TESTDATA, 'server.crt')),
          headers: { ...PROTO, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  test('401 without the token or with a wrong one, 200 with it, over HTTPS', async () => {
    assert.equal(await send(undefined), 401);
    assert.equal(await send('wrong'), 401);
    assert.equal(await send('s3cret'), 200);
    assert.equal(h.traces.received.length, 1);
  });
});

function grpcExport(target: string, body: Uint8Array, metadata = new grpc.Metadata(), credentials = grpc.credentials.createInsecure()) {
  const client = new grpc.Client(target, credentials);
  return new Promise<{ err: grpc.ServiceError | null; response?: Buffer }>((resolve) => {
    client.makeUnaryRequest(
      GRPC_EXPORT_PATH.traces,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      metadata,
      (err, response) => {
        client.close();
        resolve({ err, response });
      },
    );
  });
}

describe('OTLP/gRPC receiver', () => {
  let h: Harness;
  before(async () => {
    h = await startReceiver({ grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 } });
  });
  after(() => h.receiver.shutdown());

  test('accepts an export', async () => {
    const { err, response } = await grpcExport(h.grpcTarget, toBinary(ExportTraceServiceRequestSchema, sampleTraces(4)));
    assert.equal(err, null);
    assert.equal(fromBinary(ExportTraceServiceResponseSchema, response!).partialSuccess, undefined);
    assert.equal(spanCount(h.traces.received.at(-1)!), 4);
  });

  test('truncated protobuf: INVALID_ARGUMENT with the reason', async () => {
    const full = toBinary(ExportTraceServiceRequestSchema, sampleTraces(2));
    const { err } = await grpcExport(h.grpcTarget, full.subarray(0, full.length - 5));
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err?.details ?? '', /cannot decode protobuf/);
  });

  test('oversize message: RESOURCE_EXHAUSTED', async () => {
    const { err } = await grpcExport(h.grpcTarget, new Uint8Array(2 * 1024 * 1024));
    assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
  });

  test('full pipeline: UNAVAILABLE with RetryInfo', async () => {
    h.traces.full = true;
    try {
      const { err } = await grpcExport(h.grpcTarget, toBinary(ExportTraceServiceRequestSchema, sampleTraces(1)));
      assert.equal(err?.code, grpc.status.UNAVAILABLE);
      const details = err!.metadata.get('grpc-status-details-bin')[0] as Buffer;
      const status = fromBinary(StatusSchema, details);
      const retry = anyUnpack(status.details[0]!, RetryInfoSchema);
      assert.equal(retry?.retryDelay?.seconds, 1n);
    } finally {
      h.traces.full = false;
    }
  });

  test('partial success for ids of the wrong length', async () => {
    const mixed = sampleTraces(2);
    mixed.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId = new Uint8Array(16);
    const { err, response } = await grpcExport(h.grpcTarget, toBinary(ExportTraceServiceRequestSchema, mixed));
    assert.equal(err, null);
    const reply = fromBinary(ExportTraceServiceResponseSchema, response!);
    assert.equal(reply.partialSuccess?.rejectedSpans, 1n);
    assert.match(reply.partialSuccess?.errorMessage ?? '', /all zeros/);
  });
});

describe('OTLP/gRPC receiver with TLS and a bearer token', () => {
  let h: Harness;
  before(async () => {
    h = await startReceiver({
      grpc: {
        endpoint: '127.0.0.1:0',
        tls: { cert_file: join(TESTDATA, 'server.crt'), key_file: join(TESTDATA, 'server.key') },
        auth: { token: 's3cret' },
      },
    });
  });
  after(() => h.receiver.shutdown());

  test('UNAUTHENTICATED without the token, OK with it', async () => {
    const creds = grpc.credentials.createSsl(readFileSync(join(TESTDATA, 'server.crt')));
    const body = toBinary(ExportTraceServiceRequestSchema, sampleTraces(1));
    const target = h.grpcTarget.replace('127.0.0.1', 'localhost');
    const denied = await grpcExport(target, body, new grpc.Metadata(), creds);
    assert.equal(denied.err?.code, grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer s3cret');
    const ok = await grpcExport(target, body, md, creds);
    assert.equal(ok.err, null);
    assert.equal(h.traces.received.length, 1);
  });
});

describe('OTLP receiver config', () => {
  test('defaults to loopback on the standard ports', () => {
    const c = otlpReceiverConfigSchema.parse({ protocols: { grpc: null, http: null } });
    assert.equal(c.protocols.grpc?.endpoint, '127.0.0.1:4317');
    assert.equal(c.protocols.http?.endpoint, '127.0.0.1:4318');
    assert.equal(c.protocols.http?.max_request_body_size, 20 * 1024 * 1024);
  });
  test('needs at least one protocol', () => {
    assert.equal(otlpReceiverConfigSchema.safeParse({ protocols: {} }).success, false);
  });
});
