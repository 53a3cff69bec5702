/**
 * In-process throughput of the OTLP codec netspan uses (protobuf-es v2) on the benchmark's
 * 100-span request: binary decode (fromBinary), binary encode (toBinary), and OTLP/JSON decode
 * (codec.ts decodeJson: JSON.parse, hex ids to base64, fromJson). Each runs for a fixed time
 * after a warm-up; MB are 10^6 bytes of the encoded form (protobuf or JSON text).
 *
 * For scale, the same payload is also decoded with protobufjs (a dev dependency, reflection
 * over the .proto files in proto/), which netspan does not use; skipped if it cannot load.
 */
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { decodeJson, decodeProtobuf, encodeJson, encodeProtobuf } from '../../src/wire/otlp/codec.js';
import { spanCount, type Traces } from '../../src/model/otlp.js';

export interface CodecResult {
  name: string;
  /** Size of one request in the measured encoding, bytes. */
  bytes: number;
  spansPerRequest: number;
  opsPerSecond: number;
  mbPerSecond: number;
  spansPerSecond: number;
  /** Mean time per request, µs. */
  microsPerOp: number;
}

/** Runs `fn` in batches until `seconds` have passed; returns operations per second. */
function rate(fn: () => unknown, seconds: number): number {
  let ops = 0;
  let sink: unknown;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 20; i++) sink = fn();
    ops += 20;
    now = performance.now();
  }
  if (sink === undefined) throw new Error('unreachable');
  return ops / ((now - start) / 1000);
}

function measure(name: string, bytes: number, spans: number, fn: () => unknown, seconds: number, warmupSeconds: number): CodecResult {
  rate(fn, warmupSeconds);
  const ops = rate(fn, seconds);
  return {
    name,
    bytes,
    spansPerRequest: spans,
    opsPerSecond: ops,
    mbPerSecond: (ops * bytes) / 1e6,
    spansPerSecond: ops * spans,
    microsPerOp: 1e6 / ops,
  };
}

/** protobufjs's decoder for ExportTraceServiceRequest, built from the repository's proto/ files. */
async function protobufjsDecoder(protoRoot: string): Promise<((bytes: Uint8Array) => unknown) | undefined> {
  try {
    const { default: protobuf } = await import('protobufjs');
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(protoRoot, target);
    await root.load('opentelemetry/proto/collector/trace/v1/trace_service.proto');
    const type = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    return (bytes) => type.decode(bytes);
  } catch {
    return undefined;
  }
}

export async function codecBenchmarks(payload: Uint8Array, protoRoot: string, seconds = 3, warmupSeconds = 1): Promise<CodecResult[]> {
  const message: Traces = fromBinary(ExportTraceServiceRequestSchema, payload);
  const spans = spanCount(message);
  const json = encodeJson('traces', message);
  const jsonBytes = Buffer.byteLength(json);
  const check = decodeJson('traces', json);
  if (spanCount(check) !== spans) throw new Error('OTLP/JSON round trip lost spans');
  const results = [
    measure(
      'netspan codec decodeProtobuf (decode, used)',
      payload.byteLength,
      spans,
      () => decodeProtobuf('traces', payload),
      seconds,
      warmupSeconds,
    ),
    measure(
      'netspan codec encodeProtobuf (encode, used)',
      payload.byteLength,
      spans,
      () => encodeProtobuf('traces', message),
      seconds,
      warmupSeconds,
    ),
    measure(
      'protobuf-es fromBinary (decode, reference)',
      payload.byteLength,
      spans,
      () => fromBinary(ExportTraceServiceRequestSchema, payload),
      seconds,
      warmupSeconds,
    ),
    measure(
      'protobuf-es toBinary (encode, reference)',
      payload.byteLength,
      spans,
      () => toBinary(ExportTraceServiceRequestSchema, message),
      seconds,
      warmupSeconds,
    ),
    measure('OTLP/JSON decodeJson (decode)', jsonBytes, spans, () => decodeJson('traces', json), seconds, warmupSeconds),
  ];
  const pbjs = await protobufjsDecoder(protoRoot);
  if (pbjs)
    results.push(
      measure('protobufjs decode (reference, not used)', payload.byteLength, spans, () => pbjs(payload), seconds, warmupSeconds),
    );
  return results;
}
