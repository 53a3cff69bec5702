/**
 * `netspan agent`: captures packets (tcpdump per interface, pcap files), turns them into
 * observations and sends them to a netspan collector as OTLP logs (one record per observation),
 * and/or prints them as JSON lines. Sources → observer → (output, batcher → OTLP exporter with
 * its bounded queue and retries). Shutdown runs the other way: sources stop and emit what they
 * still have, the batcher hands over its last batch, the exporter drains within its timeout.
 */
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import type { Component, Consumer, CreateSettings, EvidenceSink } from '../core/component.js';
import { errorMessage } from '../core/errors.js';
import { createLogger, type Logger } from '../core/telemetry/logger.js';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import { TelemetryServer } from '../core/telemetry/server.js';
import { otlpHttpExporterFactory } from '../exporters/otlphttp/factory.js';
import { otlpGrpcExporterFactory } from '../exporters/otlpgrpc/factory.js';
import type { FlatAttributes, Observation } from '../model/observation.js';
import { ObservationBatcher } from './batcher.js';
import { AGENT_SERVICE_NAME, type AgentConfig } from './config.js';
import { FileSource } from './file-source.js';
import { createObserver } from './observe.js';
import { IoamEventsObservationSource, IoamJoiner } from './ioam-events.js';
import { JsonLinesOutput } from './output.js';
import { AgentReport } from './report.js';
import type { ObservationSource, PacketSourceContext } from './source.js';
import { probeTcpdump, TcpdumpSource } from './tcpdump-source.js';

/** Exporters do not write evidence; the agent has no evidence store. */
const NO_EVIDENCE: EvidenceSink = { addFlows: () => undefined, addInterfaceCounters: () => undefined, addObservations: () => undefined };

export interface AgentOptions {
  logger?: Logger;
  metrics?: SelfMetrics;
  /** Where `output.path: "-"` writes (default process.stdout). */
  stdout?: Writable;
  /** More sources besides the configured ones (the kernel's IOAM events, tests). */
  sources?: (ctx: PacketSourceContext) => ObservationSource[];
}

/** Resource attributes of the agent's logs. */
export function agentResource(): FlatAttributes {
  return { 'service.name': AGENT_SERVICE_NAME, 'host.name': hostname() };
}

export class Agent {
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly report: AgentReport;
  readonly exporter: (Component & Consumer<'logs'>) | undefined;
  private readonly batcher: ObservationBatcher | undefined;
  private readonly output: JsonLinesOutput | undefined;
  private readonly telemetry: TelemetryServer | undefined;
  private readonly ctx: PacketSourceContext;
  private sources: ObservationSource[] = [];
  private joiner: IoamJoiner | undefined;
  private running = false;
  private stopping: Promise<void> | undefined;
  private sourcesLeft = 0;
  /** Resolves when every source has finished by itself (only files): the agent's work is done. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(
    readonly config: AgentConfig,
    private readonly options: AgentOptions = {},
  ) {
    this.metrics = options.metrics ?? new SelfMetrics({ processMetrics: true });
    this.logger = options.logger ?? createLogger(config.telemetry.logs.level);
    this.report = new AgentReport(this.metrics);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    const e = config.exporter;
    if (e) {
      const settings: CreateSettings = {
        id: e.type,
        logger: this.logger.child({ component: e.type }),
        metrics: this.metrics,
        evidence: NO_EVIDENCE,
      };
      this.exporter =
        e.type === 'otlphttp'
          ? otlpHttpExporterFactory.create(settings, e.config, 'logs')
          : otlpGrpcExporterFactory.create(settings, e.config, 'logs');
      this.batcher = new ObservationBatcher(
        this.exporter,
        e.batch,
        agentResource(),
        this.report,
        this.logger.child({ component: 'batcher' }),
      );
    }
    if (config.output) this.output = new JsonLinesOutput(config.output.path, this.report, this.logger, options.stdout);
    const address = config.telemetry.metrics.address;
    this.telemetry = address ? new TelemetryServer(address, this.metrics, () => this.running) : undefined;
    const observerLogger = this.logger.child({ component: 'observer' });
    this.ctx = {
      observer: createObserver({
        observer: this.observerName,
        cltIds: config.observer.clt_ids,
        onIssue: (i) => {
          this.report.decodeIssue(i.decoder, i.code);
          if (observerLogger.isLevelEnabled('debug')) observerLogger.debug({ decoder: i.decoder, code: i.code }, i.message);
        },
      }),
      report: this.report,
      logger: this.logger.child({ component: 'capture' }),
      ready: async () => {
        await this.batcher?.ready();
        await this.output?.ready();
      },
    };
  }

  /** `observer.name` of this agent's observations. */
  get observerName(): string {
    return this.config.observer.name ?? hostname();
  }

  get telemetryAddress(): string | undefined {
    return this.telemetry?.address;
  }

  /** Where observations go from every source (through the IOAM joiner when kernel events are on). */
  private readonly emit = (observations: Observation[]): void => {
    if (!this.joiner) return this.deliver(observations);
    const rest: Observation[] = [];
    for (const o of observations) {
      if (o.kind !== 'ioam') rest.push(o);
      else if (o.source === 'netlink') this.joiner.event(o);
      else if (o.source === 'capture') this.joiner.capture(o);
      else rest.push(o);
    }
    if (rest.length > 0) this.deliver(rest);
  };

  private readonly deliver = (observations: Observation[]): void => {
    for (const o of observations) this.report.observations(o.kind);
    this.output?.write(observations);
    this.batcher?.add(observations);
  };

  private async buildSources(): Promise<ObservationSource[]> {
    const { capture } = this.config;
    const sources: ObservationSource[] = [];
    if (capture.interfaces.length > 0) {
      const features = await probeTcpdump(capture.tcpdump);
      for (const interfaceName of capture.interfaces)
        sources.push(
          new TcpdumpSource(
            { interfaceName, filter: capture.filter, snapLength: capture.snap_length, tcpdump: capture.tcpdump, restart: capture.restart },
            features,
            this.ctx,
          ),
        );
    }
    if (capture.files.length > 0) sources.push(new FileSource(capture.files, this.ctx));
    if (capture.ioam_events) {
      // Where the kernel or the addon cannot (no IOAM6 family, no CAP_NET_ADMIN), the agent runs without.
      const events = new IoamEventsObservationSource(this.observerName, this.logger.child({ component: 'ioam_events' }), (n) =>
        this.report.kernelDrops('ioam_events', n),
      );
      try {
        await events.start(this.emit);
        this.joiner = new IoamJoiner(this.deliver, capture.ioam_join_window);
        sources.push(events);
      } catch (err) {
        this.logger.warn({ err: errorMessage(err) }, 'kernel IOAM events unavailable; IOAM comes from captures only');
      }
    }
    sources.push(...(this.options.sources?.(this.ctx) ?? []));
    return sources;
  }

  async start(): Promise<void> {
    await this.telemetry?.start();
    try {
      await this.exporter?.start();
      this.sources = await this.buildSources();
      this.running = true;
      this.sourcesLeft = this.sources.length;
      this.report.sourcesRunning(this.sourcesLeft);
      await Promise.all(this.sources.map((s) => s.start(this.emit)));
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    // Only finite sources end by themselves: with one live capture, the agent runs until stopped.
    if (this.sources.every((s) => s.finished)) void Promise.all(this.sources.map((s) => s.finished)).then(() => this.resolveFinished());
    for (const s of this.sources)
      void s.finished?.then(() => {
        this.sourcesLeft--;
        this.report.sourcesRunning(this.sourcesLeft);
      });
    const e = this.config.exporter;
    this.logger.info(
      {
        sources: this.sources.map((s) => s.name),
        observer: this.config.observer.name,
        exporter: e ? { type: e.type, endpoint: 'endpoint' in e.config ? e.config.endpoint : undefined } : undefined,
        output: this.config.output?.path,
        telemetry: this.telemetry?.address,
      },
      'netspan agent started',
    );
  }

  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async stop(): Promise<void> {
    this.running = false;
    // A source waiting for room in the exporter's queue must not hold the shutdown.
    this.batcher?.release();
    const closing = await Promise.allSettled(this.sources.map((s) => s.close()));
    closing.forEach((r, i) => {
      if (r.status === 'rejected')
        this.logger.error({ source: this.sources[i]!.name, err: errorMessage(r.reason) }, 'source failed to close');
    });
    this.joiner?.flush();
    this.report.sourcesRunning(0);
    // close() hands the last batch over at once; the exporter's shutdown then bounds the wait for
    // deliveries still retrying (without a sending queue the batcher waits for those).
    const handedOver = this.batcher?.close();
    await this.exporter?.shutdown();
    await handedOver;
    await this.output?.close();
    this.logger.info(await this.summary(), 'netspan agent stopped');
    await this.telemetry?.shutdown();
  }

  /** Observations that were not delivered: dropped by the agent, or given up on by the exporter. */
  async lost(): Promise<number> {
    const s = await this.summary();
    return s.observations_dropped! + s.send_failed_log_records!;
  }

  /** The totals the shutdown log reports. */
  async summary(): Promise<Record<string, number>> {
    const v = (name: string) => this.metrics.value(name);
    return {
      packets: await v('netspan_agent_packets_captured_total'),
      observations: await v('netspan_agent_observations_total'),
      decode_issues: await v('netspan_agent_decode_issues_total'),
      observations_dropped: await v('netspan_agent_observations_dropped_total'),
      capture_restarts: await v('netspan_agent_capture_restarts_total'),
      sent_log_records: await v('netspan_exporter_sent_log_records_total'),
      send_failed_log_records: await v('netspan_exporter_send_failed_log_records_total'),
    };
  }
}
