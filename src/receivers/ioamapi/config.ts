/** Config of the ioam_api receiver: the gRPC IOAMService the Cross-Layer Telemetry IOAM agents report to. */
import { z } from 'zod';
import { bearerAuth, endpoint, serverTls } from '../../core/config/types.js';

/** The agents' collector port (IOAM_COLLECTOR=host:7123), on loopback: exposing it is a deliberate choice. */
export const DEFAULT_IOAM_API_ENDPOINT = '127.0.0.1:7123';
/** Largest IOAMTrace message, in MiB. One trace of 64 nodes with full snapshots is about 70 KiB. */
export const DEFAULT_MAX_RECV_MSG_SIZE_MIB = 1;
/** Nodes one trace may have. A trace in an IPv6 Hop-by-Hop option has room for at most 61 nodes. */
export const DEFAULT_MAX_NODES_PER_TRACE = 64;
/** Report streams one agent connection may have open at a time (an agent uses one). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 16;
/** Traces handed on together at most; a stream's traces are handed on at least once per event-loop turn. */
export const DEFAULT_MAX_BATCH_TRACES = 512;

export const ioamApiReceiverConfigSchema = z
  .object({
    /** host:port to listen on. */
    endpoint: endpoint().default(DEFAULT_IOAM_API_ENDPOINT),
    /** Largest IOAMTrace message accepted, in MiB; a larger one ends the stream with RESOURCE_EXHAUSTED. */
    max_recv_msg_size_mib: z.number().positive().default(DEFAULT_MAX_RECV_MSG_SIZE_MIB),
    /** A trace with more nodes is refused (counted as malformed). */
    max_nodes_per_trace: z.number().int().positive().max(4096).default(DEFAULT_MAX_NODES_PER_TRACE),
    /** HTTP/2 streams per connection (grpc.max_concurrent_streams). */
    max_concurrent_streams: z.number().int().positive().max(1024).default(DEFAULT_MAX_CONCURRENT_STREAMS),
    /** Traces per batch handed to the evidence store and the logs pipeline. */
    max_batch_traces: z.number().int().positive().max(65536).default(DEFAULT_MAX_BATCH_TRACES),
    /**
     * Where BitField keeps the 24-bit trace type: `low_24_bits` (the Python agent), `high_24_bits`
     * (the Go agent: the header's 32-bit type word), or `auto` (above 0xffffff: high, else low).
     */
    bit_field: z.enum(['auto', 'low_24_bits', 'high_24_bits']).default('auto'),
    /** Serve TLS with these files (mTLS with client_ca_file). */
    tls: serverTls().optional(),
    /** Require `authorization: Bearer <token>` metadata. */
    auth: bearerAuth().optional(),
  })
  .strict();

export type IoamApiReceiverConfig = z.infer<typeof ioamApiReceiverConfigSchema>;
