/**
 * The collector's exporterhelper in one class: a bounded sending queue drained by a pool of
 * consumers, each retrying its batch with exponential backoff until the backend takes it or
 * the retry budget runs out. Every batch ends in exactly one of: sent, rejected by the backend
 * (partial success), or dropped — and a drop is always counted and logged with its reason.
 */
import type { Component, Consumer, CreateSettings } from '../../core/component.js';
import { CapacityError, NetspanError, errorMessage } from '../../core/errors.js';
import { ExporterReport } from '../../core/obsreport.js';
import type { Logger } from '../../core/telemetry/logger.js';
import { ITEM_UNIT, itemCount, type Signal, type SignalData } from '../../model/otlp.js';
import { ExponentialBackoff } from './backoff.js';
import { DEFAULT_TIMEOUT_MS, type ExporterHelperConfig } from './config.js';
import { permanentFailure, retryableFailure, type ExportResult, type ExportTransport } from './result.js';

/** Waits `ms`, or less when `wake` fires (shutdown wants every batch to have its last attempt now). */
export type SleepFn = (ms: number, wake: AbortSignal) => Promise<void>;

export const sleepUnlessWoken: SleepFn = (ms, wake) =>
  new Promise<void>((resolve) => {
    if (wake.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      wake.removeEventListener('abort', done);
      resolve();
    };
    // Unref'd: a pending retry alone should not keep the process alive.
    const timer = setTimeout(done, ms).unref();
    wake.addEventListener('abort', done, { once: true });
  });

export interface QueuedRetryOptions {
  /** Replaces the backoff wait, so tests can see the delays asked for without waiting them out. */
  sleep?: SleepFn;
  /** Jitter source for the backoff, in [0, 1). */
  random?: () => number;
  /** The clock max_elapsed_time is measured with (epoch ms), replaceable together with `sleep`. */
  now?: () => number;
}

interface Batch<D> {
  data: D;
  items: number;
}

type Delivery = { delivered: true } | { delivered: false; error: Error };

type State = 'created' | 'started' | 'draining' | 'stopped';

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class QueuedRetryExporter<S extends Signal> implements Component, Consumer<S> {
  private readonly report: ExporterReport;
  private readonly logger: Logger;
  private readonly unit: string;
  private readonly sleep: SleepFn;
  private readonly random: () => number;
  private readonly now: () => number;

  private state: State = 'created';
  private readonly queue: Batch<SignalData[S]>[] = [];
  /** Consumers waiting for a batch. */
  private idle: (() => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  /** Deliveries not run by a queue consumer (sending_queue disabled), awaited at shutdown. */
  private readonly direct = new Set<Promise<Delivery>>();
  /*
   * Shutdown reaches the waits and sends under way through their own AbortControllers, kept in
   * these sets while they last, rather than through one shared AbortSignal that each of them
   * listens to: with more than 10 consumers, 11 listeners on one signal make Node warn
   * (MaxListenersExceededWarning), and a per-operation signal needs only its own listeners.
   */
  /** One per backoff wait in progress; aborted when shutdown begins, so each batch has its last attempt now. */
  private readonly backoffWaits = new Set<AbortController>();
  /** One per send in progress; aborted when the shutdown drain time is up, abandoning the send. */
  private readonly sends = new Set<AbortController>();
  /** Set when the shutdown drain time is up: why sends still under way or not yet begun are abandoned. */
  private haltReason: Error | undefined;
  private stopping?: Promise<void>;

  constructor(
    private readonly settings: CreateSettings,
    private readonly signal: S,
    private readonly config: ExporterHelperConfig,
    private readonly transport: ExportTransport<SignalData[S]>,
    options: QueuedRetryOptions = {},
  ) {
    this.report = new ExporterReport(settings.metrics, settings.id, signal);
    this.logger = settings.logger.child({ signal });
    this.unit = ITEM_UNIT[signal];
    this.sleep = options.sleep ?? sleepUnlessWoken;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.reportQueue();
  }

  private get queueCapacity(): number {
    return this.config.sending_queue.enabled ? this.config.sending_queue.queue_size : 0;
  }

  private reportQueue(): void {
    this.report.queue(this.queue.length, this.queueCapacity);
  }

  private get acceptingData(): boolean {
    return this.state === 'created' || this.state === 'started';
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    await this.transport.start?.();
    if (this.state !== 'created') return; // shut down while the transport was starting
    this.state = 'started';
    if (this.config.sending_queue.enabled) for (let i = 0; i < this.config.sending_queue.num_consumers; i++) this.workers.push(this.work());
  }

  canAccept(): boolean {
    return this.acceptingData && (!this.config.sending_queue.enabled || this.queue.length < this.queueCapacity);
  }

  async consume(data: SignalData[S]): Promise<void> {
    const batch = { data, items: itemCount(this.signal, data) };
    if (!this.acceptingData) {
      this.report.enqueueFailed(batch.items);
      throw new CapacityError(this.settings.id, 'exporter is shutting down');
    }
    if (!this.config.sending_queue.enabled) return this.consumeDirectly(batch);
    if (this.queue.length >= this.queueCapacity) {
      this.report.enqueueFailed(batch.items);
      throw new CapacityError(this.settings.id, `sending queue is full (${this.queueCapacity} batches)`);
    }
    this.queue.push(batch);
    this.reportQueue();
    this.idle.shift()?.();
  }

  /** Without a queue the caller waits for the outcome, and hears about a drop as an error. */
  private async consumeDirectly(batch: Batch<SignalData[S]>): Promise<void> {
    const delivery = this.deliver(batch);
    this.direct.add(delivery);
    try {
      const outcome = await delivery;
      if (!outcome.delivered)
        throw new NetspanError('EXPORT_FAILED', `${this.settings.id}: ${batch.items} ${this.unit} dropped: ${outcome.error.message}`, {
          cause: outcome.error,
          context: { component: this.settings.id },
        });
    } finally {
      this.direct.delete(delivery);
    }
  }

  /** One queue consumer: takes batches until shutdown has emptied the queue or ran out of time. */
  private async work(): Promise<void> {
    for (;;) {
      const batch = await this.take();
      if (!batch) return;
      await this.deliver(batch);
    }
  }

  private async take(): Promise<Batch<SignalData[S]> | undefined> {
    for (;;) {
      if (this.haltReason) return undefined;
      const batch = this.queue.shift();
      if (batch) {
        this.reportQueue();
        return batch;
      }
      if (this.state !== 'started') return undefined;
      await new Promise<void>((resolve) => this.idle.push(resolve));
    }
  }

  /** Sends one batch, retrying as configured, and counts how it ended. Never throws. */
  private async deliver(batch: Batch<SignalData[S]>): Promise<Delivery> {
    const retry = this.config.retry_on_failure;
    const giveUpAt = retry.max_elapsed_time > 0 ? this.now() + retry.max_elapsed_time : Infinity;
    const backoff = new ExponentialBackoff(retry, this.random);
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(batch.data);
      if (result.kind === 'success') {
        this.countSuccess(batch, result.rejected ?? 0, result.message ?? '');
        return { delivered: true };
      }
      if (result.kind === 'failure') return this.drop(batch, result.error, 'permanent error', attempt);
      if (!retry.enabled) return this.drop(batch, result.error, 'retry_on_failure is disabled', attempt);
      if (!this.acceptingData) return this.drop(batch, result.error, 'exporter shut down before it could retry', attempt);
      // A server's own delay wins when it asks for more than the backoff would wait.
      const delay = Math.max(backoff.next(), result.retryAfterMs ?? 0);
      if (this.now() + delay > giveUpAt)
        return this.drop(batch, result.error, `no more retries left: max_elapsed_time (${retry.max_elapsed_time}ms) reached`, attempt);
      this.logger.info(
        { error: result.error.message, interval_ms: delay, attempt, items: batch.items, server_delay_ms: result.retryAfterMs },
        'exporting failed, will retry',
      );
      await this.backoffWait(delay);
      if (this.haltReason) return this.drop(batch, result.error, 'exporter shut down before it could retry', attempt);
      this.report.retried(batch.items);
    }
  }

  private countSuccess(batch: Batch<SignalData[S]>, rejected: number, message: string): void {
    const refused = Math.min(Math.max(0, rejected), batch.items);
    this.report.sent(batch.items - refused);
    this.report.rejectedByBackend(refused);
    // A message without rejections is the server's warning, which the OTLP spec says to surface.
    if (refused > 0 || message)
      this.logger.warn(
        { rejected_items: refused, items: batch.items, message },
        'backend accepted the data only in part (partial success)',
      );
  }

  private drop(batch: Batch<SignalData[S]>, error: Error, reason: string, attempts: number): Delivery {
    this.report.sendFailed(batch.items);
    this.logger.error(
      { dropped_items: batch.items, reason, error: error.message, attempts },
      `exporting failed, dropping ${batch.items} ${this.unit}`,
    );
    return { delivered: false, error: new NetspanError('EXPORT_DROPPED', `${reason}: ${error.message}`, { cause: error }) };
  }

  /** The backoff wait before a retry, ended early when shutdown begins. */
  private async backoffWait(ms: number): Promise<void> {
    const wake = new AbortController();
    if (!this.acceptingData) wake.abort();
    this.backoffWaits.add(wake);
    try {
      await this.sleep(ms, wake.signal);
    } finally {
      this.backoffWaits.delete(wake);
    }
  }

  /** One call to the transport, bounded by `timeout` and cut short when shutdown gives up. */
  private async attempt(data: SignalData[S]): Promise<ExportResult> {
    if (this.haltReason) return retryableFailure(this.haltReason);
    const timeoutMs = this.config.timeout;
    const abort = new AbortController();
    this.sends.add(abort);
    // Kept ref'd: it lives only as long as a send in progress, which is work worth waiting for.
    const timer =
      timeoutMs > 0
        ? setTimeout(() => abort.abort(new NetspanError('EXPORT_TIMEOUT', `send timed out after ${timeoutMs}ms`)), timeoutMs)
        : undefined;
    // Settles on abort even if a transport ignores the signal, so a consumer can never hang.
    const aborted = new Promise<ExportResult>((resolve) =>
      abort.signal.addEventListener('abort', () => resolve(retryableFailure(asError(abort.signal.reason))), { once: true }),
    );
    try {
      const sent = Promise.resolve()
        .then(() => this.transport.send(data, abort.signal, timeoutMs > 0 ? Date.now() + timeoutMs : Infinity))
        .catch((err: unknown) => permanentFailure(asError(err)));
      return await Promise.race([sent, aborted]);
    } finally {
      clearTimeout(timer);
      this.sends.delete(abort);
    }
  }

  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  /**
   * Stops taking data, gives what is queued or waiting for a retry one last attempt within
   * about one `timeout`, then abandons the rest, counted and logged as dropped.
   */
  private async stop(): Promise<void> {
    this.state = 'draining';
    for (const wait of this.backoffWaits) wait.abort();
    for (const wake of this.idle.splice(0)) wake();

    const pending = Promise.all([...this.workers, ...this.direct]);
    const budgetMs = this.config.timeout > 0 ? this.config.timeout : DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = await Promise.race([
      pending.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), budgetMs))),
    ]);
    clearTimeout(timer);
    if (outOfTime) {
      this.haltReason = new NetspanError('EXPORTER_SHUTDOWN', `exporter shut down before the send completed (drain time ${budgetMs}ms)`);
      for (const send of this.sends) send.abort(this.haltReason);
      await pending;
    }

    const left = this.queue.splice(0);
    this.reportQueue();
    if (left.length > 0) {
      const items = left.reduce((n, b) => n + b.items, 0);
      this.report.sendFailed(items);
      this.logger.error(
        {
          dropped_items: items,
          dropped_batches: left.length,
          reason: this.workers.length > 0 ? 'drain time ran out' : 'exporter was never started',
        },
        `exporter shut down with data still queued, dropping ${items} ${this.unit}`,
      );
    }
    this.state = 'stopped';
    try {
      await this.transport.close?.();
    } catch (err) {
      this.logger.warn({ error: errorMessage(err) }, 'closing the exporter transport failed');
    }
  }
}
