/**
 * The backends netspan exports to during the benchmark: an OTLP/HTTP sink (node:http) and an
 * OTLP/gRPC sink (grpc-js), both on 127.0.0.1. Each decodes every request it gets (gzip
 * included), counts spans, and notes per trace id how many spans arrived in how many pieces,
 * so the report can say whether groupbytrace delivered whole traces.
 */
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzip as gunzipCallback } from 'node:zlib';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { decodeJson } from '../../src/wire/otlp/codec.js';
import type { Traces } from '../../src/model/otlp.js';

const gunzip = promisify(gunzipCallback);

/** What a sink received since the last reset. */
export class SinkStats {
  requests = 0;
  spans = 0;
  /** Bytes as received (compressed when the exporter compresses). */
  wireBytes = 0;
  /** Bytes of the protobuf / JSON after decompression. */
  bodyBytes = 0;
  errors = 0;
  /** Per trace id (hex): spans received and the number of requests they came in. */
  readonly traces = new Map<string, { spans: number; pieces: number }>();

  record(req: Traces, wireBytes: number, bodyBytes: number): void {
    this.requests++;
    this.wireBytes += wireBytes;
    this.bodyBytes += bodyBytes;
    const inThisRequest = new Map<string, number>();
    for (const rs of req.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const span of ss.spans) {
          this.spans++;
          const id = Buffer.from(span.traceId.buffer, span.traceId.byteOffset, span.traceId.byteLength).toString('hex');
          inThisRequest.set(id, (inThisRequest.get(id) ?? 0) + 1);
        }
    for (const [id, n] of inThisRequest) {
      const t = this.traces.get(id);
      if (t) {
        t.spans += n;
        t.pieces++;
      } else this.traces.set(id, { spans: n, pieces: 1 });
    }
  }

  /** Traces received whole in one request with `spansPerTrace` spans, and those split over several. */
  traceIntegrity(spansPerTrace: number): { traces: number; whole: number; split: number; incomplete: number } {
    let whole = 0;
    let split = 0;
    let incomplete = 0;
    for (const t of this.traces.values()) {
      if (t.pieces > 1) split++;
      if (t.spans !== spansPerTrace) incomplete++;
      else if (t.pieces === 1) whole++;
    }
    return { traces: this.traces.size, whole, split, incomplete };
  }
}

export interface Sink {
  /** host:port it listens on. */
  readonly address: string;
  stats: SinkStats;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startHttpSink(): Promise<Sink> {
  const sink = { stats: new SinkStats() } as { stats: SinkStats };
  const server: HttpServer = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const wire = await readBody(req);
        const body = req.headers['content-encoding'] === 'gzip' ? await gunzip(wire) : wire;
        const json = (req.headers['content-type'] ?? '').startsWith('application/json');
        const decoded = json ? decodeJson('traces', body.toString('utf8')) : fromBinary(ExportTraceServiceRequestSchema, body);
        sink.stats.record(decoded, wire.length, body.length);
        // An empty ExportTraceServiceResponse: full success.
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
      } catch {
        sink.stats.errors++;
        res.writeHead(400).end();
      }
    })();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return Object.assign(sink, {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export async function startGrpcSink(): Promise<Sink> {
  const sink = { stats: new SinkStats() } as { stats: SinkStats };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const definition: grpc.ServiceDefinition = {
    Export: {
      path: TRACE_EXPORT,
      requestStream: false,
      responseStream: false,
      // grpc-js hands over the message already decompressed; keep the bytes to count them.
      requestDeserialize: (bytes: Buffer) => bytes,
      requestSerialize: (bytes: Buffer) => bytes,
      responseSerialize: (bytes: Buffer) => bytes,
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  };
  server.addService(definition, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      try {
        const decoded = fromBinary(ExportTraceServiceRequestSchema, call.request);
        sink.stats.record(decoded, call.request.length, call.request.length);
        callback(null, Buffer.alloc(0));
      } catch (err) {
        sink.stats.errors++;
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return Object.assign(sink, {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  });
}
