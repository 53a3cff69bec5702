/**
 * Builds the pipeline graph from a validated config and runs it. Exporters are created once per
 * (id, signal), processors once per (pipeline, id), receivers once per id. Start order is
 * exporters, then processors from the end of each pipeline to its start, then receivers;
 * shutdown runs the other way, so each component can flush into a consumer that still runs.
 */
import type {
  Component,
  Consumer,
  Consumers,
  CreateSettings,
  EvidenceSink,
  EvidenceStores,
  ExporterFactory,
  ProcessorFactory,
  ReceiverFactory,
} from './component.js';
import type { ServiceConfig } from './config/service.js';
import { fanout } from './fanout.js';
import type { Logger } from './telemetry/logger.js';
import type { SelfMetrics } from './telemetry/metrics.js';
import type { Signal } from '../model/otlp.js';
import { errorMessage } from './errors.js';

interface Running {
  id: string;
  kind: string;
  component: Component;
}

export class Service {
  /** Components in start order. */
  private readonly ordered: Running[] = [];
  private readonly byId = new Map<string, Component>();
  private started = false;

  constructor(
    config: ServiceConfig,
    private readonly logger: Logger,
    private readonly metrics: SelfMetrics,
    private readonly evidence: EvidenceSink,
    /** What processors read evidence from (the collector passes its evidence hub). */
    private readonly evidenceStores?: EvidenceStores,
  ) {
    const exporters = new Map<string, Component & Consumer<Signal>>();
    const receiverInputs = new Map<string, { [S in Signal]?: Consumer<S>[] }>();
    const processors: Running[] = [];

    for (const pipeline of config.pipelines) {
      const signal = pipeline.signal;
      const exporterConsumers = pipeline.exporters.map((id) => {
        const key = `${id}#${signal}`;
        let exporter = exporters.get(key);
        if (!exporter) {
          const c = config.exporters.get(id)!;
          exporter = (c.factory as ExporterFactory).create(this.settings(id), c.config, signal);
          exporters.set(key, exporter);
          this.ordered.push({ id, kind: 'exporter', component: exporter });
          this.byId.set(`exporter/${key}`, exporter);
        }
        return exporter as Consumer<typeof signal>;
      });
      let next: Consumer<Signal> = fanout(signal, exporterConsumers);
      for (let i = pipeline.processors.length - 1; i >= 0; i--) {
        const id = pipeline.processors[i]!;
        const c = config.processors.get(id)!;
        const processor = (c.factory as ProcessorFactory).create(this.settings(id, pipeline.name), c.config, signal, next);
        processors.push({ id, kind: 'processor', component: processor });
        this.byId.set(`processor/${pipeline.name}/${id}`, processor);
        next = processor;
      }
      for (const id of pipeline.receivers) {
        const inputs = receiverInputs.get(id) ?? {};
        ((inputs[signal] ??= []) as Consumer<Signal>[]).push(next);
        receiverInputs.set(id, inputs);
      }
    }
    this.ordered.push(...processors);
    for (const [id, inputs] of receiverInputs) {
      const c = config.receivers.get(id)!;
      const consumers: Consumers = {};
      for (const [signal, list] of Object.entries(inputs) as [Signal, Consumer<Signal>[]][])
        (consumers as Record<Signal, Consumer<Signal>>)[signal] = fanout(signal, list);
      const receiver = (c.factory as ReceiverFactory).create(this.settings(id), c.config, consumers);
      this.ordered.push({ id, kind: 'receiver', component: receiver });
      this.byId.set(`receiver/${id}`, receiver);
    }
  }

  private settings(id: string, pipeline?: string): CreateSettings {
    return {
      id,
      logger: this.logger.child(pipeline ? { component: id, pipeline } : { component: id }),
      metrics: this.metrics,
      evidence: this.evidence,
      evidenceStores: this.evidenceStores,
    };
  }

  /** A running component, for tests and the CLI: `receiver/otlp`, `exporter/file#traces`, `processor/traces/batch`. */
  component<T extends Component = Component>(key: string): T | undefined {
    return this.byId.get(key) as T | undefined;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (let i = 0; i < this.ordered.length; i++) {
      const r = this.ordered[i]!;
      try {
        await r.component.start();
      } catch (err) {
        this.logger.error({ component: r.id, kind: r.kind, err: errorMessage(err) }, 'component failed to start');
        // Stop what already runs, in reverse, then report the failure.
        for (let j = i; j >= 0; j--) await this.ordered[j]!.component.shutdown().catch(() => undefined);
        this.started = false;
        throw err;
      }
    }
  }

  async shutdown(): Promise<void> {
    for (let i = this.ordered.length - 1; i >= 0; i--) {
      const r = this.ordered[i]!;
      try {
        await r.component.shutdown();
      } catch (err) {
        this.logger.error({ component: r.id, kind: r.kind, err: errorMessage(err) }, 'component failed to shut down');
      }
    }
    this.started = false;
  }
}
