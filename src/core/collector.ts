/**
 * One running netspan: config → logger, self-metrics, the pipeline service and the telemetry
 * server. The CLI and the end-to-end tests both drive this class.
 */
import { ConfigError } from './errors.js';
import type { Factory } from './component.js';
import { expandEnv, parseYaml, readConfigFile } from './config/load.js';
import { validateServiceConfig, type ServiceConfig } from './config/service.js';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { Service } from './service.js';
import { EvidenceHub } from './evidence-hub.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { SelfMetrics } from './telemetry/metrics.js';
import { TelemetryServer } from './telemetry/server.js';

export interface LoadedConfig {
  config: ServiceConfig;
  /** Environment variables referenced but unset (expanded to ""). */
  unsetVariables: string[];
  source: string;
}

/** Reads (or takes the embedded default), expands ${env:...}, validates. Throws ConfigError with every problem. */
export async function loadConfig(path: string | undefined, factories: readonly Factory[], env = process.env): Promise<LoadedConfig> {
  const source = path ?? '(embedded default)';
  const raw = path ? await readConfigFile(path) : parseYaml(DEFAULT_CONFIG_YAML, source);
  const { value, unset } = expandEnv(raw, env);
  return { config: validateServiceConfig(value, factories, source), unsetVariables: unset, source };
}

export class Collector {
  readonly metrics = new SelfMetrics({ processMetrics: true });
  readonly logger: Logger;
  readonly service: Service;
  readonly evidence: EvidenceHub;
  private readonly telemetry: TelemetryServer | undefined;
  private running = false;

  constructor(
    readonly loaded: LoadedConfig,
    logger?: Logger,
  ) {
    const { config } = loaded;
    this.logger = logger ?? createLogger(config.telemetry.logs.level);
    this.evidence = new EvidenceHub(config.evidence, this.metrics, this.logger);
    this.service = new Service(config, this.logger, this.metrics, this.evidence, this.evidence);
    const address = config.telemetry.metrics.address;
    this.telemetry = address ? new TelemetryServer(address, this.metrics, () => this.running) : undefined;
  }

  get telemetryAddress(): string | undefined {
    return this.telemetry?.address;
  }

  async start(): Promise<void> {
    for (const name of this.loaded.unsetVariables)
      this.logger.warn({ variable: name }, 'config references an unset environment variable; it expanded to ""');
    await this.telemetry?.start();
    try {
      await this.service.start();
    } catch (err) {
      await this.telemetry?.shutdown();
      throw err;
    }
    this.running = true;
    this.logger.info({ config: this.loaded.source, telemetry: this.telemetry?.address }, 'netspan started');
  }

  async shutdown(): Promise<void> {
    this.running = false;
    await this.service.shutdown();
    await this.evidence.close();
    await this.telemetry?.shutdown();
    this.logger.info('netspan stopped');
  }
}

export { ConfigError };
