/**
 * The groupbytrace processor: holds spans per trace id and releases each trace downstream whole,
 * `wait_duration` after its first span arrived (OpenTelemetry Collector contrib semantics).
 * Memory is bounded by `num_traces`: beyond it the oldest trace is released early.
 *
 * Unlike the collector's, it does not send one request per trace. Due traces are released in
 * sweeps (at most one per RELEASE_SWEEP_INTERVAL_MS), and the traces released together — due in
 * one sweep, evicted by one request, or flushed at shutdown — go downstream as one request of
 * several whole traces, up to `max_release_batch_spans` spans. A trace is never split over
 * requests; one larger than the bound goes alone. So the exporter gets about as many requests
 * as arrive, not one per trace.
 *
 * A release (one such batch) the next consumer refuses goes, whole, to a bounded pending list
 * that is retried periodically; while anything is pending, this processor refuses new data with
 * CapacityError, so the refusal reaches the sender instead of data being lost. Whatever is ever
 * dropped (a permanent downstream error, the pending list overflowing, shutdown giving up) is
 * logged with its count and counted in netspan_processor_groupbytrace_dropped_spans_total.
 */
import type { Component, Consumer, CreateSettings } from '../../core/component.js';
import { CapacityError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/telemetry/logger.js';
import { hexId, type Traces } from '../../model/otlp.js';
import { RELEASE_SWEEP_INTERVAL_MS, type GroupByTraceConfig } from './config.js';
import { batchRequest, forEachSpan, TraceGroup } from './groups.js';
import { DropLog, GroupByTraceMetrics } from './telemetry.js';

/** How often releases refused downstream are tried again. */
export const DEFAULT_RETRY_INTERVAL_MS = 200;
/** How long shutdown keeps retrying refused releases before it drops them (logged and counted). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
/** A timer may fire up to a millisecond early (it rounds): treat traces due that soon as due. */
const TIMER_SLACK_MS = 1;

/** Knobs that are not part of the config, for tests and embedding. */
export interface GroupByTraceOptions {
  retryIntervalMs?: number;
  shutdownTimeoutMs?: number;
  /** Least time between two release sweeps (RELEASE_SWEEP_INTERVAL_MS by default). */
  sweepIntervalMs?: number;
}

/** Whole traces released together, on their way downstream as one request. */
interface Release {
  request: Traces;
  traces: number;
  spans: number;
}

type State = 'running' | 'stopping' | 'closed';

/** A FIFO with O(1) removal at the head, since the pending list may hold many traces. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): void {
    this.head++;
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  drain(): T[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}

/** Shutdown's waits keep the process alive on purpose: exiting early would lose the traces. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for `work`, or `ms` at most, leaving no timer behind. */
async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export class GroupByTraceProcessor implements Component, Consumer<'traces'> {
  private readonly id: string;
  private readonly logger: Logger;
  private readonly report: GroupByTraceMetrics;
  private readonly dropLog: DropLog;
  private readonly waitMs: number;
  private readonly maxTraces: number;
  private readonly maxBatchSpans: number;
  /**
   * Traces (not batches) pending at most, bounded like the held traces: num_traces, or one batch
   * when a single one is larger. Reaching it needs a whole num_traces to be released into a
   * refusing consumer while releases already in flight come back refused too.
   */
  private readonly maxPending: number;
  private readonly retryIntervalMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly sweepIntervalMs: number;

  /** Held traces by trace id, in arrival order: the first is the oldest and the first due. */
  private readonly held = new Map<string, TraceGroup>();
  private heldSpans = 0;
  private readonly pending = new Fifo<Release>();
  /** Traces in the pending releases (the gauge and the bound count traces, the list batches). */
  private pendingTraces = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private dueTimer: NodeJS.Timeout | undefined;
  /** When the last release sweep ran (performance.now()); the next runs no sooner than sweepIntervalMs later. */
  private lastSweep = -Infinity;
  private retryTimer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private state: State = 'running';
  private stopped: Promise<void> | undefined;

  constructor(
    settings: CreateSettings,
    config: GroupByTraceConfig,
    private readonly next: Consumer<'traces'>,
    options: GroupByTraceOptions = {},
  ) {
    this.id = settings.id;
    this.logger = settings.logger;
    this.dropLog = new DropLog(settings.logger);
    this.report = new GroupByTraceMetrics(settings.metrics, settings.id);
    this.waitMs = config.wait_duration;
    this.maxTraces = config.num_traces;
    this.maxBatchSpans = config.max_release_batch_spans;
    this.maxPending = config.num_traces;
    this.retryIntervalMs = options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.sweepIntervalMs = options.sweepIntervalMs ?? RELEASE_SWEEP_INTERVAL_MS;
  }

  async start(): Promise<void> {
    // Timers are armed by the data itself; nothing to open.
  }

  canAccept(): boolean {
    return this.state === 'running' && this.pending.length === 0;
  }

  async consume(traces: Traces): Promise<void> {
    if (this.state !== 'running') throw new CapacityError(this.id, 'shutting down');
    if (this.pending.length > 0)
      throw new CapacityError(
        this.id,
        `${this.pendingTraces} released trace(s) in ${this.pending.length} request(s) wait for the next consumer`,
        Math.max(1, Math.ceil(this.retryIntervalMs / 1000)),
      );
    const now = performance.now();
    /** Traces this request pushes out of memory early, released together once it is grouped. */
    const evicted: TraceGroup[] = [];
    try {
      forEachSpan(traces, (origin, span) => {
        const key = hexId(span.traceId);
        let group = this.held.get(key);
        if (!group) {
          if (this.held.size >= this.maxTraces) this.evictOldest(evicted);
          group = new TraceGroup(now + this.waitMs);
          this.held.set(key, group);
        }
        group.add(origin, span);
        this.heldSpans++;
      });
    } finally {
      if (evicted.length > 0) {
        this.report.evicted(evicted.length);
        this.releaseTogether(evicted);
      }
      this.publishOccupancy();
      this.armDueTimer();
    }
  }

  /** Releases every held trace now and waits (a bounded time) until they are delivered. */
  shutdown(): Promise<void> {
    return (this.stopped ??= this.stop());
  }

  private async stop(): Promise<void> {
    this.state = 'stopping';
    clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    const all = [...this.held.values()];
    this.held.clear();
    this.heldSpans = 0;
    this.releaseTogether(all);
    this.publishOccupancy();

    const deadline = performance.now() + this.shutdownTimeoutMs;
    for (;;) {
      await this.settleInFlight(deadline);
      await this.drainPending();
      const remaining = deadline - performance.now();
      if ((this.pending.length === 0 && this.inFlight.size === 0) || remaining <= 0) break;
      await sleep(Math.min(this.retryIntervalMs, remaining));
    }
    this.stopRetryTimer();
    this.state = 'closed';
    const refused = this.pending.drain();
    this.pendingTraces = 0;
    if (refused.length > 0) this.drop(refused, `the next consumer still refused after ${this.shutdownTimeoutMs} ms of shutdown`);
    this.dropLog.flush();
    if (this.inFlight.size > 0)
      this.logger.warn({ requests: this.inFlight.size }, 'shutdown ends with releases still unanswered by the next consumer');
    this.publishOccupancy();
  }

  /** Waits for the deliveries under way, but not past the deadline (a stuck consumer must not hang shutdown). */
  private async settleInFlight(deadline: number): Promise<void> {
    while (this.inFlight.size > 0) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return;
      await waitAtMost(Promise.all(this.inFlight), remaining);
    }
  }

  /** Takes the oldest held trace out of memory, into `into`. */
  private evictOldest(into: TraceGroup[]): void {
    const oldest = this.held.entries().next();
    if (oldest.done) return;
    const [key, group] = oldest.value;
    this.held.delete(key);
    this.heldSpans -= group.spanCount;
    into.push(group);
  }

  /**
   * The timer fires when the oldest trace is due, but no sooner than sweepIntervalMs after the
   * last sweep: under steady load that is one sweep per interval, each releasing a batch, with
   * every trace released at most one interval after it fell due.
   */
  private armDueTimer(): void {
    if (this.dueTimer !== undefined || this.state !== 'running') return;
    const oldest = this.held.values().next();
    if (oldest.done) return;
    const at = Math.max(oldest.value.dueAt, this.lastSweep + this.sweepIntervalMs);
    this.dueTimer = setTimeout(
      () => {
        this.dueTimer = undefined;
        this.releaseDue();
      },
      Math.max(0, at - performance.now()),
    ).unref();
  }

  /** Traces are due in arrival order (one wait_duration for all), so the sweep stops at the first not due. */
  private releaseDue(): void {
    const now = performance.now();
    this.lastSweep = now;
    const horizon = now + TIMER_SLACK_MS;
    const due: TraceGroup[] = [];
    for (const [key, group] of this.held) {
      if (group.dueAt > horizon) break;
      this.held.delete(key);
      this.heldSpans -= group.spanCount;
      due.push(group);
    }
    this.releaseTogether(due);
    this.publishOccupancy();
    this.armDueTimer();
  }

  /**
   * Sends traces already taken out of memory as few requests as the bound allows: in order,
   * whole traces into a batch until the next would take it past max_release_batch_spans. A trace
   * larger than the bound is a batch of its own.
   */
  private releaseTogether(groups: readonly TraceGroup[]): void {
    let batch: TraceGroup[] = [];
    let spans = 0;
    const flush = () => {
      if (batch.length === 0) return;
      this.release({ request: batchRequest(batch), traces: batch.length, spans });
      batch = [];
      spans = 0;
    };
    for (const group of groups) {
      if (spans > 0 && spans + group.spanCount > this.maxBatchSpans) flush();
      batch.push(group);
      spans += group.spanCount;
    }
    flush();
  }

  private release(release: Release): void {
    // Behind a backlog, wait in line: going first would make the retries starve.
    if (this.pending.length > 0 || !this.next.canAccept()) {
      this.addPending(release);
      return;
    }
    const delivery = this.send(release).then((delivered) => {
      if (!delivered) this.addPending(release);
    });
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  /** False when the next consumer refused for capacity (try again later); true when done with it either way. */
  private async send(release: Release): Promise<boolean> {
    try {
      await this.next.consume(release.request);
      this.report.released(release.traces, release.spans);
      return true;
    } catch (err) {
      if (err instanceof CapacityError) return false;
      this.drop([release], `the next consumer failed: ${errorMessage(err)}`);
      return true;
    }
  }

  private addPending(release: Release): void {
    if (this.state === 'closed') {
      this.drop([release], 'the next consumer refused it after shutdown');
      return;
    }
    // One batch is always let in, even a larger one, so that the list can make progress.
    if (this.pending.length > 0 && this.pendingTraces + release.traces > this.maxPending) {
      this.drop([release], `the pending list is full (${this.maxPending} traces)`);
      return;
    }
    this.pending.push(release);
    this.pendingTraces += release.traces;
    this.publishOccupancy();
    this.retryTimer ??= setInterval(() => void this.drainPending(), this.retryIntervalMs).unref();
  }

  private stopRetryTimer(): void {
    clearInterval(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Delivers pending releases in order until the list is empty or the next consumer refuses; one run at a time. */
  private drainPending(): Promise<void> {
    this.draining ??= this.deliverPending().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async deliverPending(): Promise<void> {
    try {
      for (let release = this.pending.peek(); release && this.next.canAccept(); release = this.pending.peek()) {
        if (!(await this.send(release))) break;
        this.pending.shift();
        this.pendingTraces -= release.traces;
      }
    } finally {
      if (this.pending.length === 0) this.stopRetryTimer();
      this.publishOccupancy();
    }
  }

  private drop(releases: Release[], reason: string): void {
    const traces = releases.reduce((n, r) => n + r.traces, 0);
    const spans = releases.reduce((n, r) => n + r.spans, 0);
    this.report.dropped(spans);
    this.dropLog.record(reason, traces, spans);
  }

  private publishOccupancy(): void {
    this.report.occupancy(this.held.size, this.heldSpans, this.pendingTraces);
  }
}
