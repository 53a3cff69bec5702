/** Config of the in-memory flow evidence store. */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';
import { DEFAULT_FLOW_RETENTION_MS, DEFAULT_MAX_FLOWS } from '../store.js';

/** The most flows one store may be configured for (about 33 GiB at ~130 bytes per flow). */
export const MAX_MAX_FLOWS = 2 ** 28;

export const memoryFlowStoreConfigSchema = z
  .object({
    /**
     * How long a flow stays evidence, counted from its end time. Older flows are never
     * returned; their memory is reclaimed a chunk at a time. It should cover the exporters'
     * active timeout plus export delay plus the trace grouping wait.
     */
    retention: duration()
      .default(`${DEFAULT_FLOW_RETENTION_MS}ms`)
      .refine((ms) => ms > 0, { message: 'retention must be more than 0 (e.g. 15m)' }),
    /**
     * Flows held at most (about 130 bytes each, index included). Beyond it the oldest
     * inserted go first, counted in netspan_evidence_flows_evicted_total{reason="capacity"}.
     */
    max_flows: z.number().int().positive().max(MAX_MAX_FLOWS).default(DEFAULT_MAX_FLOWS),
  })
  .strict();

export type MemoryFlowStoreConfig = z.infer<typeof memoryFlowStoreConfigSchema>;
