/**
 * OTLP/gRPC: the collector's three Export services. Requests are deserialized inside the
 * handler (not by grpc-js) so a malformed message gets INVALID_ARGUMENT with a reason; grpc-js
 * enforces the message limit after decompression (RESOURCE_EXHAUSTED).
 */
import {
  Metadata,
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { toBinary } from '@bufbuild/protobuf';
import { CapacityError, DecodeError, NetspanError, errorMessage } from '../../core/errors.js';
import type { Consumers } from '../../core/component.js';
import type { ReceiverReport } from '../../core/obsreport.js';
import type { Logger } from '../../core/telemetry/logger.js';
import { bearerTokenMatches, loadServerTls } from '../../core/net/server.js';
import { parseHostPort } from '../../core/config/types.js';
import { decodeProtobuf, rawExportServiceDefinition } from '../../wire/otlp/codec.js';
import type { Signal } from '../../model/otlp.js';
import { ingest, exportResponse, AllRejectedError } from './ingest.js';
import { statusBinary } from './status.js';
import type { OtlpGrpcConfig } from './config.js';

interface GrpcFailure {
  code: GrpcStatus;
  details: string;
  metadata?: Metadata;
}

export class OtlpGrpcServer {
  private server: Server | undefined;

  constructor(
    private readonly config: OtlpGrpcConfig,
    private readonly consumers: Consumers,
    private readonly report: ReceiverReport,
    private readonly logger: Logger,
    private readonly retryAfterSeconds: number,
  ) {}

  async start(): Promise<{ address: string; port: number }> {
    const server = new Server({
      'grpc.max_receive_message_length': Math.floor(this.config.max_recv_msg_size_mib * 1024 * 1024),
    });
    for (const signal of Object.keys(this.consumers) as Signal[]) {
      const impl: UntypedServiceImplementation = {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
          void this.handle(signal, call).then(
            (response) => callback(null, response),
            (failure: GrpcFailure) => callback(failure as never),
          ),
      };
      server.addService(rawExportServiceDefinition(signal), impl);
    }
    const hp = parseHostPort(this.config.endpoint)!;
    const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${hp.port}`, this.credentials(), (err, p) =>
        err
          ? reject(new NetspanError('LISTEN_FAILED', `cannot listen on ${this.config.endpoint}: ${err.message}`, { cause: err }))
          : resolve(p),
      ),
    );
    this.server = server;
    return { address: hp.host, port };
  }

  async shutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 5_000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private credentials(): ServerCredentials {
    if (!this.config.tls) return ServerCredentials.createInsecure();
    const m = loadServerTls(this.config.tls);
    return ServerCredentials.createSsl(m.ca ?? null, [{ cert_chain: m.cert, private_key: m.key }], m.ca !== undefined);
  }

  private fail(code: GrpcStatus, details: string, outcome: string, retryAfterSeconds?: number): GrpcFailure {
    this.report.request('grpc', outcome);
    this.logger.debug({ code, details }, 'OTLP/gRPC request refused');
    const failure: GrpcFailure = { code, details };
    if (retryAfterSeconds !== undefined) {
      failure.metadata = new Metadata();
      failure.metadata.set('grpc-status-details-bin', Buffer.from(statusBinary(code, details, retryAfterSeconds)));
    }
    return failure;
  }

  private async handle(signal: Signal, call: ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const auth = call.metadata.get('authorization')[0];
    if (!bearerTokenMatches(this.config.auth, typeof auth === 'string' ? auth : auth?.toString()))
      throw this.fail(GrpcStatus.UNAUTHENTICATED, 'missing or wrong bearer token', 'unauthorized');
    const consumer = this.consumers[signal]!;
    try {
      const data = decodeProtobuf(signal, call.request);
      const result = await ingest(signal, data, consumer as never, this.report, 'grpc');
      this.report.request('grpc', result.rejected > 0 ? 'partial_success' : 'ok');
      const { schema, message: response } = exportResponse(signal, result);
      return Buffer.from(toBinary(schema, response));
    } catch (err) {
      if (err instanceof DecodeError) throw this.fail(GrpcStatus.INVALID_ARGUMENT, err.message, 'malformed');
      if (err instanceof AllRejectedError)
        throw this.fail(GrpcStatus.INVALID_ARGUMENT, `all items rejected: ${err.message}`, 'all_rejected');
      if (err instanceof CapacityError)
        throw this.fail(GrpcStatus.UNAVAILABLE, err.message, 'capacity', err.retryAfterSeconds || this.retryAfterSeconds);
      this.logger.error({ err: errorMessage(err), signal }, 'pipeline failed on OTLP/gRPC data');
      throw this.fail(GrpcStatus.INTERNAL, `pipeline error: ${errorMessage(err)}`, 'pipeline_error');
    }
  }
}
