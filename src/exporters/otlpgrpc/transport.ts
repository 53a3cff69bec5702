/**
 * OTLP/gRPC transport: one unary Export call per batch on a grpc-js channel, messages
 * serialized with protobuf-es, the status turned into an ExportResult.
 */
import { create, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import {
  Client,
  Metadata,
  compressionAlgorithms,
  credentials,
  type ChannelCredentials,
  type ChannelOptions,
  type ServiceError,
} from '@grpc/grpc-js';
import type { ClientTlsConfig } from '../../core/config/types.js';
import type { Signal, SignalData } from '../../model/otlp.js';
import { encodeProtobuf, GRPC_EXPORT_PATH, RESPONSE_SCHEMA } from '../../wire/otlp/codec.js';
import {
  loadClientTls,
  resultFromResponse,
  success,
  type Compression,
  type ExportResult,
  type ExportTransport,
  type SignalResponse,
} from '../exporterhelper/index.js';
import { resultFromGrpcError } from './status.js';

export interface OtlpGrpcTransportOptions {
  /** host:port */
  endpoint: string;
  tls: ClientTlsConfig;
  headers: Record<string, string>;
  compression: Compression;
}

async function channelCredentials(tls: ClientTlsConfig): Promise<ChannelCredentials> {
  if (tls.insecure) return credentials.createInsecure();
  const m = await loadClientTls(tls);
  return credentials.createSsl(
    m.ca ?? null,
    m.key ?? null,
    m.cert ?? null,
    m.verify ? {} : { rejectUnauthorized: false, checkServerIdentity: () => undefined },
  );
}

export class OtlpGrpcTransport<S extends Signal> implements ExportTransport<SignalData[S]> {
  private client?: Promise<Client>;
  private readonly metadata = new Metadata();
  private readonly serialize: (data: SignalData[S]) => Buffer;
  private readonly deserialize: (bytes: Buffer) => SignalResponse[S];

  constructor(
    private readonly signal: S,
    private readonly options: OtlpGrpcTransportOptions,
  ) {
    for (const [key, value] of Object.entries(options.headers)) this.metadata.set(key.toLowerCase(), value);
    const response = RESPONSE_SCHEMA[signal] as DescMessage;
    this.serialize = (data) => {
      const bytes = encodeProtobuf(signal, data);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    this.deserialize = (bytes) => {
      try {
        return fromBinary(response, bytes) as unknown as SignalResponse[S];
      } catch {
        // The call succeeded, so the data was accepted; an unreadable response does not undo that.
        return create(response) as unknown as SignalResponse[S];
      }
    };
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private connect(): Promise<Client> {
    this.client ??= channelCredentials(this.options.tls).then((creds) => {
      const channelOptions: ChannelOptions = {
        'grpc.primary_user_agent': 'netspan',
        ...(this.options.compression === 'gzip' ? { 'grpc.default_compression_algorithm': compressionAlgorithms.gzip } : {}),
      };
      return new Client(this.options.endpoint, creds, channelOptions);
    });
    return this.client;
  }

  async send(data: SignalData[S], abort: AbortSignal, deadline: number): Promise<ExportResult> {
    const client = await this.connect();
    return new Promise<ExportResult>((resolve) => {
      const call = client.makeUnaryRequest(
        GRPC_EXPORT_PATH[this.signal],
        this.serialize,
        this.deserialize,
        data,
        this.metadata.clone(),
        { deadline },
        (err: ServiceError | null, response?: SignalResponse[S]) => {
          abort.removeEventListener('abort', cancel);
          if (err) resolve(resultFromGrpcError(err));
          else resolve(response ? resultFromResponse(this.signal, response) : success());
        },
      );
      const cancel = () => call.cancel();
      if (abort.aborted) cancel();
      else abort.addEventListener('abort', cancel, { once: true });
    });
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    client?.close();
  }
}
