/** Config of the groupbytrace processor, with the OpenTelemetry Collector contrib names and defaults. */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** How long a trace is held after its first span arrived. */
export const DEFAULT_WAIT_DURATION_MS = 1_000;
/** Traces held at most before the oldest is released early. */
export const DEFAULT_NUM_TRACES = 1_000_000;
/** Accepted for collector configs; netspan groups on one thread whatever it says. */
export const DEFAULT_NUM_WORKERS = 1;
/**
 * Spans at most in one request released downstream. Traces that fall due together are sent as
 * one request of several whole traces up to this bound; a single trace larger than it is sent
 * alone, never split. Under steady load a sweep holds far fewer (10,000 spans/s × 20 ms = 200),
 * so the bound matters for bursts, evictions and shutdown. It is a quarter of the collector batch
 * processor's 8192: at a few hundred bytes a span that keeps a request well under the 4 MiB a
 * gRPC server accepts by default (the collector's OTLP receiver among them), and keeps the
 * encoding of one request from holding the event loop for long.
 */
export const DEFAULT_MAX_RELEASE_BATCH_SPANS = 2_048;
/**
 * How often at most the release timer fires. Each firing releases every trace due by then, so a
 * trace goes downstream between wait_duration and wait_duration + this after its first span
 * (plus event-loop lateness). Coarser sweeps make fewer, larger downstream requests.
 */
export const RELEASE_SWEEP_INTERVAL_MS = 20;

export const groupByTraceConfigSchema = z
  .object({
    /**
     * Time from a trace's first span to its release downstream: at least this, at most
     * RELEASE_SWEEP_INTERVAL_MS (20 ms) more, since due traces are released in sweeps. Spans of
     * the trace arriving after the release start a new group, released one wait_duration later.
     */
    wait_duration: duration()
      .default(`${DEFAULT_WAIT_DURATION_MS}ms`)
      .refine((ms) => ms > 0, { message: 'wait_duration must be more than 0 (e.g. 1s)' }),
    /**
     * Traces held in memory at most. A new trace beyond it releases the oldest one early
     * (counted in netspan_processor_groupbytrace_traces_evicted_total); nothing is discarded.
     */
    num_traces: z.number().int().positive().default(DEFAULT_NUM_TRACES),
    /** Accepted for compatibility with collector configs; it has no effect. */
    num_workers: z.number().int().positive().default(DEFAULT_NUM_WORKERS),
    /**
     * netspan's own: spans at most per downstream request. Traces released together (due in the
     * same sweep, evicted by one request, or flushed at shutdown) go out as one request holding
     * several whole traces, up to this many spans; a trace with more spans goes alone, whole.
     * 1 releases every trace as its own request, as the collector's groupbytrace does.
     */
    max_release_batch_spans: z.number().int().positive().default(DEFAULT_MAX_RELEASE_BATCH_SPANS),
  })
  .strict();

export type GroupByTraceConfig = z.infer<typeof groupByTraceConfigSchema>;
