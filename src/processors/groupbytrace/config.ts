/** Config of the groupbytrace processor, with the OpenTelemetry Collector contrib names and defaults. */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** How long a trace is held after its first span arrived. */
export const DEFAULT_WAIT_DURATION_MS = 1_000;
/** Traces held at most before the oldest is released early. */
export const DEFAULT_NUM_TRACES = 1_000_000;
/** Accepted for collector configs; netspan groups on one thread whatever it says. */
export const DEFAULT_NUM_WORKERS = 1;

export const groupByTraceConfigSchema = z
  .object({
    /**
     * Time from a trace's first span to its release downstream. Spans of the trace arriving
     * after the release start a new group, released one wait_duration later.
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
  })
  .strict();

export type GroupByTraceConfig = z.infer<typeof groupByTraceConfigSchema>;
