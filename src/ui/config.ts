/** Config of the `ui` exporter: the built-in trace store behind the web UI and the query API. */
import { z } from 'zod';
import { bearerAuth, endpoint, serverTls } from '../core/config/types.js';

/** Where the UI and the API listen: loopback, port 8686 (next to the collector's 8888 telemetry port). */
export const DEFAULT_UI_ENDPOINT = '127.0.0.1:8686';
/** Traces kept at most; beyond it the oldest received go first (counted). */
export const DEFAULT_MAX_TRACES = 10_000;
/** Spans kept at most over all traces; beyond it the oldest traces go first (counted). */
export const DEFAULT_MAX_SPANS = 500_000;
/** Evidence records the explorer looks at per request at most (the newest first). */
export const DEFAULT_MAX_EVIDENCE_SCAN = 200_000;

export const uiExporterConfigSchema = z
  .object({
    /** host:port of the web UI and the /api endpoints; port 0 picks a free port. */
    endpoint: endpoint().default(DEFAULT_UI_ENDPOINT),
    /** Traces kept in memory at most (the oldest received are evicted first). */
    max_traces: z.number().int().positive().max(10_000_000).default(DEFAULT_MAX_TRACES),
    /** Spans kept in memory at most, over all traces (whole traces are evicted, oldest first). */
    max_spans: z.number().int().positive().max(100_000_000).default(DEFAULT_MAX_SPANS),
    /** Evidence records (flows, observations) one evidence request looks at, at most, newest first. */
    max_evidence_scan: z.number().int().positive().max(10_000_000).default(DEFAULT_MAX_EVIDENCE_SCAN),
    /** Serve HTTPS with these files (mTLS with client_ca_file). */
    tls: serverTls().optional(),
    /** Require `Authorization: Bearer <token>` on every /api request (the static app loads without it). */
    auth: bearerAuth().optional(),
  })
  .strict();

export type UiExporterConfig = z.infer<typeof uiExporterConfigSchema>;
