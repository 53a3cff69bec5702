/** Config of the debug exporter, in the OpenTelemetry Collector's shape. */
import { z } from 'zod';

export const VERBOSITIES = ['basic', 'normal', 'detailed'] as const;
export type Verbosity = (typeof VERBOSITIES)[number];

/** One line per span, log record or metric: readable without being a wall of text. */
export const DEFAULT_VERBOSITY: Verbosity = 'normal';

export const debugExporterConfigSchema = z
  .object({
    /**
     * basic: one summary line per batch. normal: traces as a tree per trace, one line per
     * span; one line per log record or metric. detailed: normal plus attributes, events,
     * links and data points.
     */
    verbosity: z.enum(VERBOSITIES).default(DEFAULT_VERBOSITY),
  })
  .strict();

export type DebugExporterConfig = z.infer<typeof debugExporterConfigSchema>;
