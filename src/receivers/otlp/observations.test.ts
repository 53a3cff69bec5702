/**
 * Agent observations over OTLP logs: the OTLP receiver turns netspan observation records into
 * evidence (also without a logs pipeline), refuses malformed ones by partial success, and
 * refuses other records when no logs pipeline takes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { OtlpReceiver } from './receiver.js';
import { otlpReceiverConfigSchema } from './config.js';
import { RecordingConsumer, RecordingEvidence, testSettings } from '../../testutil/index.js';
import { observationsToLogs } from '../../model/observation-logs.js';
import type { IoamObservation, HttpObservation, Observation } from '../../model/observation.js';
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from '../../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import type { Logs } from '../../model/otlp.js';

const IOAM: IoamObservation = {
  kind: 'ioam',
  source: 'capture',
  timeUnixNano: 1_763_000_000_123_456_000n,
  observer: 'aramis',
  interfaceName: 'ara0',
  sourceAddress: 'fd00:1::10',
  sourcePort: 40000,
  destinationAddress: 'fd00:3::20',
  destinationPort: 8080,
  protocol: 6,
  optionType: 0,
  namespaceId: 123,
  traceType: 0xf3000a,
  overflow: false,
  nodes: [
    {
      hop_limit: 63,
      node_id: 1,
      ingress_if_id: 11,
      egress_if_id: null,
      timestamp_seconds: 1_763_000_000,
      timestamp_subseconds: 123_000,
      queue_depth: 0,
      namespace_data_wide: 0xffeeddccbbaa9988n,
      opaque_state_snapshot: { length: 1, schema_id: 777, data: new Uint8Array([1, 2, 3, 4]) },
    },
  ],
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
};
const HTTP: HttpObservation = {
  kind: 'http',
  timeUnixNano: 1_763_000_000_100_000_000n,
  observer: 'porthos',
  interfaceName: 'por0',
  sourceAddress: 'fd00:1::10',
  sourcePort: 40000,
  destinationAddress: 'fd00:3::20',
  destinationPort: 8080,
  protocol: 6,
  direction: 'ingress',
  message: 'request',
  method: 'GET',
  target: '/api/cart',
  host: 'aramis:8080',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

async function withReceiver(
  logsPipeline: boolean,
  run: (
    post: (logs: Logs) => Promise<{ status: number; rejected: bigint; message: string }>,
    evidence: RecordingEvidence,
    next: RecordingConsumer<'logs'>,
  ) => Promise<void>,
) {
  const evidence = new RecordingEvidence();
  const next = new RecordingConsumer<'logs'>();
  const config = otlpReceiverConfigSchema.parse({ protocols: { http: { endpoint: '127.0.0.1:0' } } });
  const receiver = new OtlpReceiver(
    testSettings('otlp', evidence),
    config,
    logsPipeline ? { logs: next } : { traces: new RecordingConsumer<'traces'>() },
  );
  await receiver.start();
  try {
    await run(
      async (logs) => {
        const res = await fetch(`http://${receiver.addresses.http}/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body: toBinary(ExportLogsServiceRequestSchema, logs),
        });
        const body = new Uint8Array(await res.arrayBuffer());
        const msg = res.status === 200 ? fromBinary(ExportLogsServiceResponseSchema, body) : undefined;
        return {
          status: res.status,
          rejected: msg?.partialSuccess?.rejectedLogRecords ?? 0n,
          message: msg?.partialSuccess?.errorMessage ?? '',
        };
      },
      evidence,
      next,
    );
  } finally {
    await receiver.shutdown();
  }
}

const agentLogs = (observations: Observation[]) =>
  observationsToLogs(observations, { 'service.name': 'netspan-agent' }, 'netspan/agent', 1n);

test('observations sent as OTLP logs become evidence, field for field, without a logs pipeline', async () => {
  await withReceiver(false, async (post, evidence) => {
    const res = await post(agentLogs([IOAM, HTTP]));
    assert.equal(res.status, 200);
    assert.equal(res.rejected, 0n);
    assert.deepEqual(evidence.observations, [IOAM, HTTP]);
  });
});

test('the log records carry the ids of the span the packet named', () => {
  const [rec] = agentLogs([IOAM]).resourceLogs[0]!.scopeLogs[0]!.logRecords;
  assert.equal(Buffer.from(rec!.traceId).toString('hex'), IOAM.traceId);
  assert.equal(Buffer.from(rec!.spanId).toString('hex'), IOAM.spanId);
  assert.equal(rec!.eventName, 'netspan.ioam.trace');
});

test('a malformed observation and a plain log record without a logs pipeline are refused by partial success', async () => {
  await withReceiver(false, async (post, evidence) => {
    const logs = agentLogs([IOAM, HTTP]);
    const records = logs.resourceLogs[0]!.scopeLogs[0]!.logRecords;
    records[0]!.attributes = records[0]!.attributes.filter((a) => a.key !== 'ioam.nodes');
    records.push({ ...records[1]!, eventName: 'app.log' });
    const res = await post(logs);
    assert.equal(res.status, 200);
    assert.equal(res.rejected, 2n);
    assert.match(res.message, /log_records\[0\]: malformed netspan\.ioam\.trace: ioam\.nodes: expected an array/);
    assert.deepEqual(evidence.observations, [HTTP]);
  });
});

test('with a logs pipeline, observation records become evidence and every record goes on', async () => {
  await withReceiver(true, async (post, evidence, next) => {
    const logs = agentLogs([HTTP]);
    logs.resourceLogs[0]!.scopeLogs[0]!.logRecords.push({ ...logs.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!, eventName: 'app.log' });
    const res = await post(logs);
    assert.equal(res.rejected, 0n);
    assert.deepEqual(evidence.observations, [HTTP]);
    assert.equal(next.received.flatMap((l) => l.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords))).length, 2);
  });
});
