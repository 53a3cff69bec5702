/**
 * Groups observations into OTLP Logs requests — one per `send_batch_size` observations, or
 * whatever has gathered `timeout` after the first of a batch — and hands them to the exporter,
 * whose bounded sending queue and retries carry them to the collector. When the queue is full
 * (the collector is away for long) the batch is dropped, counted and logged: the capture does not
 * stop for it.
 */
import type { Consumer } from '../core/component.js';
import { CapacityError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/telemetry/logger.js';
import type { FlatAttributes, Observation } from '../model/observation.js';
import { observationsToLogs } from '../model/observation-logs.js';
import type { BatchConfig } from './config.js';
import type { AgentReport } from './report.js';

/** Instrumentation scope of the agent's log records. */
export const AGENT_SCOPE_NAME = 'netspan-agent';
/** Batches being handed over at once at most (matters when the exporter has no queue and consume waits for delivery). */
export const MAX_BATCHES_IN_FLIGHT = 4;
/** Drops are logged at most this often, with the count since the last such log. */
export const DROP_LOG_INTERVAL_MS = 5_000;
/** How often ready() looks whether the exporter has room again. */
const READY_POLL_MS = 20;

export class ObservationBatcher {
  private pending: Observation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private unloggedDrops = 0;
  private lastDropLog = -Infinity;
  private released = false;

  constructor(
    private readonly exporter: Consumer<'logs'>,
    private readonly config: BatchConfig,
    private readonly resource: FlatAttributes,
    private readonly report: AgentReport,
    private readonly logger: Logger,
  ) {}

  add(observations: readonly Observation[]): void {
    for (const o of observations) {
      this.pending.push(o);
      if (this.pending.length >= this.config.send_batch_size) this.flush();
    }
    if (this.pending.length > 0 && !this.timer) this.timer = setTimeout(() => this.flush(), this.config.timeout);
  }

  /** Whether a batch handed over now would be taken. */
  canAccept(): boolean {
    return this.inFlight.size < MAX_BATCHES_IN_FLIGHT && this.exporter.canAccept();
  }

  /** Resolves when the exporter has room for another batch (for sources that can wait), or once release() was called. */
  async ready(): Promise<void> {
    while (!this.released && !this.canAccept()) await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }

  /** Ends every ready() wait, now and later: shutdown must not wait for room that may never come. */
  release(): void {
    this.released = true;
  }

  /** Sends what is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (this.inFlight.size >= MAX_BATCHES_IN_FLIGHT) {
      this.drop('queue_full', batch.length, `${MAX_BATCHES_IN_FLIGHT} batches are still being handed to the exporter`);
      return;
    }
    const logs = observationsToLogs(batch, this.resource, AGENT_SCOPE_NAME, BigInt(Date.now()) * 1_000_000n);
    const handed = this.exporter.consume(logs).catch((err: unknown) => {
      if (err instanceof CapacityError) this.drop('queue_full', batch.length, err.message);
      // Without a sending queue consume() waits for the delivery: a failure was counted (send_failed) and logged by the exporter.
      else this.logger.debug({ observations: batch.length, err: errorMessage(err) }, 'the exporter gave up on a batch');
    });
    this.inFlight.add(handed);
    void handed.finally(() => this.inFlight.delete(handed));
  }

  /** Sends what is pending and waits until every batch is with the exporter. */
  async close(): Promise<void> {
    this.flush();
    await Promise.all(this.inFlight);
    this.logDrops(true);
  }

  private drop(reason: string, n: number, why: string): void {
    this.report.dropped(reason, n);
    this.unloggedDrops += n;
    this.lastReason = `${reason}: ${why}`;
    this.logDrops(false);
  }

  private lastReason = '';

  private logDrops(force: boolean): void {
    if (this.unloggedDrops === 0) return;
    const now = Date.now();
    if (!force && now - this.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.logger.warn(
      { dropped_observations: this.unloggedDrops, reason: this.lastReason },
      `dropping observations: the exporter cannot take them (${this.unloggedDrops} since the last such message)`,
    );
    this.lastDropLog = now;
    this.unloggedDrops = 0;
  }
}
