/**
 * OTLP/HTTP: POST protobuf or JSON (optionally gzip/deflate) to /v1/{traces,logs,metrics}.
 * Statuses follow the OTLP spec: 200 with partial success, 400 malformed, 401 without the
 * token, 404/405 wrong path or method, 413 oversize (after decompression), 415 unsupported
 * media type or encoding, 503 + Retry-After when the pipeline is full.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toBinary, toJson } from '@bufbuild/protobuf';
import { CapacityError, DecodeError, errorMessage } from '../../core/errors.js';
import type { Consumers } from '../../core/component.js';
import type { ReceiverReport } from '../../core/obsreport.js';
import type { Logger } from '../../core/telemetry/logger.js';
import { BodyError, bearerTokenMatches, closeServer, createHttpOrHttpsServer, listen, readBody } from '../../core/net/server.js';
import { decodeJson, decodeProtobuf } from '../../wire/otlp/codec.js';
import type { Signal } from '../../model/otlp.js';
import { ingest, exportResponse, AllRejectedError, type IngestResult } from './ingest.js';
import { statusBinary, statusJson } from './status.js';
import type { OtlpHttpConfig } from './config.js';

type Encoding = 'protobuf' | 'json';

const GRPC_CODE = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNAUTHENTICATED: 16,
  UNAVAILABLE: 14,
  INTERNAL: 13,
  UNIMPLEMENTED: 12,
} as const;

function mediaEncoding(contentType: string | undefined): Encoding | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

export class OtlpHttpServer {
  private server: Server | undefined;
  private readonly paths: Map<string, Signal>;

  constructor(
    private readonly config: OtlpHttpConfig,
    private readonly consumers: Consumers,
    private readonly report: ReceiverReport,
    private readonly logger: Logger,
    private readonly retryAfterSeconds: number,
  ) {
    this.paths = new Map([
      [config.traces_url_path, 'traces'],
      [config.logs_url_path, 'logs'],
      [config.metrics_url_path, 'metrics'],
    ]);
  }

  async start(): Promise<AddressInfo> {
    this.server = createHttpOrHttpsServer((req, res) => void this.handle(req, res), this.config.tls);
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 60_000;
    this.server.requestTimeout = 120_000;
    return await listen(this.server, this.config.endpoint);
  }

  async shutdown(): Promise<void> {
    if (this.server) await closeServer(this.server);
    this.server = undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const encoding = mediaEncoding(req.headers['content-type']) ?? 'json';
    const fail = (status: number, code: number, message: string, outcome: string, headers: Record<string, string> = {}) => {
      this.report.request('http', outcome);
      this.logger.debug({ status, path: req.url, message }, 'OTLP/HTTP request refused');
      const body = encoding === 'protobuf' ? statusBinary(code, message) : statusJson(code, message);
      res.writeHead(status, {
        'content-type': encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json',
        'content-length': body.length,
        ...headers,
      });
      res.end(body);
      // An unread body must not be parsed as the next request on a kept-alive connection.
      if (!req.complete) req.resume();
    };

    const path = (req.url ?? '').split('?')[0]!;
    const signal = this.paths.get(path);
    if (!signal) return fail(404, GRPC_CODE.NOT_FOUND, `unknown path ${path} (POST to ${[...this.paths.keys()].join(', ')})`, 'not_found');
    if (req.method !== 'POST')
      return fail(405, GRPC_CODE.UNIMPLEMENTED, `method ${req.method} not allowed, use POST`, 'bad_method', { allow: 'POST' });
    if (!bearerTokenMatches(this.config.auth, req.headers.authorization))
      return fail(401, GRPC_CODE.UNAUTHENTICATED, 'missing or wrong bearer token', 'unauthorized', { 'www-authenticate': 'Bearer' });
    if (!mediaEncoding(req.headers['content-type']))
      return fail(
        415,
        GRPC_CODE.INVALID_ARGUMENT,
        `unsupported Content-Type "${req.headers['content-type'] ?? ''}" (use application/x-protobuf or application/json)`,
        'bad_media_type',
      );
    const consumer = this.consumers[signal];
    if (!consumer) return fail(404, GRPC_CODE.NOT_FOUND, `no ${signal} pipeline takes data from this receiver`, 'no_pipeline');
    if (!consumer.canAccept())
      return fail(503, GRPC_CODE.UNAVAILABLE, `${signal} pipeline is full, retry later`, 'capacity', {
        'retry-after': String(this.retryAfterSeconds),
        connection: 'close',
      });

    let body: Buffer;
    try {
      body = await readBody(req, this.config.max_request_body_size);
    } catch (err) {
      if (err instanceof BodyError) {
        // The rest of an oversize body is not worth reading: close the connection after answering.
        const headers: Record<string, string> = err.status === 413 ? { connection: 'close' } : {};
        return fail(
          err.status,
          err.status === 413 ? GRPC_CODE.RESOURCE_EXHAUSTED : GRPC_CODE.INVALID_ARGUMENT,
          err.message,
          err.code.toLowerCase(),
          headers,
        );
      }
      return fail(400, GRPC_CODE.INVALID_ARGUMENT, errorMessage(err), 'body_error');
    }

    let result: IngestResult;
    try {
      const data = encoding === 'protobuf' ? decodeProtobuf(signal, body) : decodeJson(signal, body.toString('utf8'));
      result = await ingest(signal, data, consumer as never, this.report, 'http');
    } catch (err) {
      if (err instanceof DecodeError) return fail(400, GRPC_CODE.INVALID_ARGUMENT, err.message, 'malformed');
      if (err instanceof AllRejectedError)
        return fail(400, GRPC_CODE.INVALID_ARGUMENT, `all items rejected: ${err.message}`, 'all_rejected');
      if (err instanceof CapacityError)
        return fail(503, GRPC_CODE.UNAVAILABLE, err.message, 'capacity', {
          'retry-after': String(err.retryAfterSeconds || this.retryAfterSeconds),
        });
      this.logger.error({ err: errorMessage(err), signal }, 'pipeline failed on OTLP/HTTP data');
      return fail(500, GRPC_CODE.INTERNAL, `pipeline error: ${errorMessage(err)}`, 'pipeline_error');
    }

    this.report.request('http', result.rejected > 0 ? 'partial_success' : 'ok');
    const { schema, message: response } = exportResponse(signal, result);
    const out = encoding === 'protobuf' ? Buffer.from(toBinary(schema, response)) : Buffer.from(JSON.stringify(toJson(schema, response)));
    res.writeHead(200, {
      'content-type': encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json',
      'content-length': out.length,
    });
    res.end(out);
  }
}
