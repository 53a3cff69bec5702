/**
 * The exporter helper's settings, with the collector's names and defaults (exporterhelper's
 * `timeout`, `sending_queue` and `retry_on_failure`), to spread into an exporter's config schema.
 */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** How long one send attempt may take before it is abandoned (0: no limit). */
export const DEFAULT_TIMEOUT_MS = 5_000;

export const DEFAULT_SENDING_QUEUE = {
  enabled: true,
  num_consumers: 10,
  /** Counted in batches, as the collector does without `sizer`. */
  queue_size: 1_000,
} as const;

export const DEFAULT_RETRY_ON_FAILURE = {
  enabled: true,
  initial_interval_ms: 5_000,
  max_interval_ms: 30_000,
  /** 0 retries for ever. */
  max_elapsed_time_ms: 300_000,
  multiplier: 1.5,
  randomization_factor: 0.5,
} as const;

export const sendingQueueConfig = () =>
  z
    .object({
      /** Off: consume() sends (with retries) before it resolves, and nothing is buffered. */
      enabled: z.boolean().default(DEFAULT_SENDING_QUEUE.enabled),
      /** Batches sent in parallel. */
      num_consumers: z.number().int().positive().default(DEFAULT_SENDING_QUEUE.num_consumers),
      /** Batches waiting at most; beyond it consume() refuses with a CapacityError. */
      queue_size: z.number().int().positive().default(DEFAULT_SENDING_QUEUE.queue_size),
    })
    .strict()
    .default({});
export type SendingQueueConfig = z.infer<ReturnType<typeof sendingQueueConfig>>;

export const retryOnFailureConfig = () =>
  z
    .object({
      enabled: z.boolean().default(DEFAULT_RETRY_ON_FAILURE.enabled),
      initial_interval: duration().default(`${DEFAULT_RETRY_ON_FAILURE.initial_interval_ms}ms`),
      max_interval: duration().default(`${DEFAULT_RETRY_ON_FAILURE.max_interval_ms}ms`),
      /** Time from the first attempt after which a batch is given up (0: never). */
      max_elapsed_time: duration().default(`${DEFAULT_RETRY_ON_FAILURE.max_elapsed_time_ms}ms`),
      multiplier: z.number().min(1).default(DEFAULT_RETRY_ON_FAILURE.multiplier),
      randomization_factor: z.number().min(0).max(1).default(DEFAULT_RETRY_ON_FAILURE.randomization_factor),
    })
    .strict()
    .default({});
export type RetryOnFailureConfig = z.infer<ReturnType<typeof retryOnFailureConfig>>;

/** The helper's keys, to spread into an exporter's `z.object({...})`. */
export const exporterHelperFields = () => ({
  timeout: duration().default(`${DEFAULT_TIMEOUT_MS}ms`),
  sending_queue: sendingQueueConfig(),
  retry_on_failure: retryOnFailureConfig(),
});

/** The validated helper settings, durations in milliseconds. */
export interface ExporterHelperConfig {
  timeout: number;
  sending_queue: SendingQueueConfig;
  retry_on_failure: RetryOnFailureConfig;
}

/** The helper settings with every default filled in, for code that builds an exporter without YAML. */
export function defaultExporterHelperConfig(): ExporterHelperConfig {
  return z.object(exporterHelperFields()).parse({});
}
