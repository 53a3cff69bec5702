/**
 * A backend that is down: netspan's OTLP exporter retries, its bounded queue fills, and then
 * netspan refuses upstream (503 + Retry-After, which the SDK sees) instead of growing. When the
 * backend comes up, every span netspan accepted arrives: nothing is dropped silently.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, toBinary } from '@bufbuild/protobuf';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { InMemorySpanExporter, SimpleSpanProcessor, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { ExportTraceServiceRequestSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { decodeProtobuf } from '../../src/wire/otlp/codec.js';
import { spanCount } from '../../src/model/otlp.js';
import { NetspanProcess } from './netspan-process.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

let traceSeq = 0;
function batch(spans: number): Uint8Array {
  const traceId = new Uint8Array(16);
  new DataView(traceId.buffer).setUint32(12, ++traceSeq);
  return toBinary(
    ExportTraceServiceRequestSchema,
    create(ExportTraceServiceRequestSchema, {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: Array.from({ length: spans }, (_, i) => ({
                traceId,
                spanId: Uint8Array.of(0, 0, 0, 0, 0, 0, 1, i + 1),
                name: `op ${i}`,
                startTimeUnixNano: 1n,
                endTimeUnixNano: 2n,
              })),
            },
          ],
        },
      ],
    }),
  );
}

describe('backpressure when the backend is down', () => {
  let netspan: NetspanProcess;
  let backendPort: number;
  let sink: Server | undefined;
  before(async () => {
    backendPort = await freePort();
    netspan = await NetspanProcess.start(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
processors:
  groupbytrace: { wait_duration: 50ms, num_traces: 1000 }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${backendPort}
    compression: none
    sending_queue: { queue_size: 2, num_consumers: 1 }
    retry_on_failure: { initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 0s }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [groupbytrace], exporters: [otlphttp] }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`);
  });
  after(async () => {
    assert.equal(await netspan.stop(), 0);
    if (sink) await new Promise((r) => sink!.close(r));
  });

  test('refuses upstream once the queue is full, then delivers everything it accepted', async () => {
    const url = `http://${netspan.endpoint('OTLP/HTTP receiver listening')}/v1/traces`;
    let accepted = 0;
    let refusal: Response | undefined;
    for (let i = 0; i < 500 && !refusal; i++) {
      const res = await fetch(url, { method: 'POST', body: batch(10), headers: { 'content-type': 'application/x-protobuf' } });
      await res.arrayBuffer();
      if (res.status === 200) accepted += 10;
      else if (res.status === 503) refusal = res;
      else assert.fail(`unexpected status ${res.status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(refusal, 'netspan refused with 503 once full');
    assert.equal(refusal.headers.get('retry-after'), '1');
    assert.ok(accepted > 0);

    // Bounded: the queue holds its configured 2 batches, the rest waits in groupbytrace, counted.
    assert.equal(await netspan.metric('netspan_exporter_queue_size'), 2);
    assert.ok((await netspan.metric('netspan_exporter_retried_spans_total')) > 0, 'the exporter retried');
    assert.ok((await netspan.metric('netspan_receiver_refused_spans_total', { reason: 'capacity' })) >= 0);
    assert.ok((await netspan.metric('netspan_receiver_requests_total', { outcome: 'capacity' })) >= 1);
    assert.equal(await netspan.metric('netspan_exporter_sent_spans_total'), 0);

    // The real SDK exporter treats the 503 as retryable, retries, and reports the export as failed.
    const sdkExporter = new OTLPTraceExporter({ url, timeoutMillis: 3000 });
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    provider.getTracer('bp').startSpan('refused').end();
    const result = await new Promise<{ code: ExportResultCode; error?: Error }>((resolve) =>
      sdkExporter.export(memory.getFinishedSpans(), resolve),
    );
    assert.equal(result.code, ExportResultCode.FAILED);
    assert.match(result.error?.message ?? '', /retryable status/);
    await sdkExporter.shutdown();

    // The backend comes up: everything accepted arrives, nothing was given up.
    let received = 0;
    sink = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received += spanCount(decodeProtobuf('traces', Buffer.concat(chunks)));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => sink!.listen(backendPort, '127.0.0.1', r));
    for (let i = 0; i < 300 && received < accepted; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(received, accepted, 'every accepted span reached the backend');
    assert.equal(await netspan.metric('netspan_exporter_send_failed_spans_total'), 0);
    assert.equal(await netspan.metric('netspan_processor_groupbytrace_dropped_spans_total'), 0);
  });
});
