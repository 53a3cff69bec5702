/** Config of the file exporter: OTLP/JSON lines appended to a file, like the collector's file exporter. */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** How often buffered lines are written out. */
export const DEFAULT_FLUSH_INTERVAL_MS = 1_000;
export const DEFAULT_FORMAT = 'json';

export const fileExporterConfigSchema = z
  .object({
    /** The file to append to; missing folders are created. Existing content is kept. */
    path: z.string({ required_error: 'path is required (the file to append to)' }).min(1, 'path must not be empty'),
    /** `json`: one OTLP/JSON Export*ServiceRequest per line (hex ids, int64 as strings). */
    format: z
      .enum([DEFAULT_FORMAT], {
        errorMap: () => ({ message: 'only "json" is supported (one OTLP/JSON request per line)' }),
      })
      .default(DEFAULT_FORMAT),
    /** Lines are buffered and written at this interval (0: written as each batch arrives); shutdown writes the rest. */
    flush_interval: duration().default(`${DEFAULT_FLUSH_INTERVAL_MS}ms`),
  })
  .strict();

export type FileExporterConfig = z.infer<typeof fileExporterConfigSchema>;
