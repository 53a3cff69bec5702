import type { Component, Consumers, CreateSettings } from '../../core/component.js';
import { ReceiverReport } from '../../core/obsreport.js';
import { formatAddress } from '../../core/net/server.js';
import { OtlpGrpcServer } from './grpc.js';
import { OtlpHttpServer } from './http.js';
import type { OtlpReceiverConfig } from './config.js';
import { ObservationIntake } from './observations.js';

/** The OTLP receiver: gRPC and/or HTTP servers feeding the pipelines that list it. */
export class OtlpReceiver implements Component {
  private http: OtlpHttpServer | undefined;
  private grpc: OtlpGrpcServer | undefined;
  /** Bound addresses once started ("host:port"), e.g. to learn the port chosen for port 0. */
  readonly addresses: { http?: string; grpc?: string } = {};

  private readonly consumers: Consumers;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: OtlpReceiverConfig,
    consumers: Consumers,
  ) {
    this.consumers = config.agent_observations
      ? { ...consumers, logs: new ObservationIntake(settings.evidence, consumers.logs) }
      : consumers;
  }

  async start(): Promise<void> {
    const report = new ReceiverReport(this.settings.metrics, this.settings.id);
    const { logger } = this.settings;
    const { grpc, http } = this.config.protocols;
    if (grpc) {
      this.grpc = new OtlpGrpcServer(grpc, this.consumers, report, logger, this.config.retry_after_seconds);
      const bound = await this.grpc.start();
      this.addresses.grpc = formatAddress({
        address: bound.address,
        port: bound.port,
        family: bound.address.includes(':') ? 'IPv6' : 'IPv4',
      });
      logger.info({ endpoint: this.addresses.grpc, tls: !!grpc.tls, auth: !!grpc.auth }, 'OTLP/gRPC receiver listening');
    }
    if (http) {
      this.http = new OtlpHttpServer(http, this.consumers, report, logger, this.config.retry_after_seconds);
      try {
        this.addresses.http = formatAddress(await this.http.start());
      } catch (err) {
        await this.grpc?.shutdown();
        throw err;
      }
      logger.info({ endpoint: this.addresses.http, tls: !!http.tls, auth: !!http.auth }, 'OTLP/HTTP receiver listening');
    }
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.http?.shutdown(), this.grpc?.shutdown()]);
    this.http = undefined;
    this.grpc = undefined;
  }
}
