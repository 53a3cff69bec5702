/** Config of the `network_metrics` receiver. */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** How often the network metrics are collected into the pipeline. */
export const DEFAULT_COLLECTION_INTERVAL_MS = 15_000;

export const networkMetricsReceiverConfigSchema = z
  .object({
    /** How often the network metrics (cumulative hop durations and verdicts, the device state's latest values) go down the pipeline. */
    collection_interval: duration()
      .default(`${DEFAULT_COLLECTION_INTERVAL_MS}ms`)
      .refine((ms) => ms >= 100, { message: 'collection_interval must be at least 100ms' }),
  })
  .strict();

export type NetworkMetricsReceiverConfig = z.infer<typeof networkMetricsReceiverConfigSchema>;
