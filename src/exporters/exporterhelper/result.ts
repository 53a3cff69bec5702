/** What one send attempt reports back to the helper, which decides about retries and counting. */

export type ExportResult =
  /** Accepted; `rejected` items of it were refused by the backend (OTLP partial success). */
  | { kind: 'success'; rejected?: number; message?: string }
  /** Will never succeed (bad request, unauthorized...): dropped at once. */
  | { kind: 'failure'; error: Error }
  /** May succeed later; `retryAfterMs` is the server's own request (Retry-After, RetryInfo). */
  | { kind: 'retryable'; error: Error; retryAfterMs?: number };

export const success = (rejected = 0, message = ''): ExportResult =>
  rejected > 0 || message ? { kind: 'success', rejected, message } : { kind: 'success' };

export const permanentFailure = (error: Error): ExportResult => ({ kind: 'failure', error });

export const retryableFailure = (error: Error, retryAfterMs?: number): ExportResult =>
  retryAfterMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, retryAfterMs };

/**
 * The exporter-specific part: one attempt at delivering a batch. `abort` fires when the attempt
 * timed out or the exporter is shutting down; `deadline` (epoch ms, Infinity for none) is the
 * same limit for transports that carry it on the wire, like gRPC. Failures are returned, not
 * thrown; a throw counts as a permanent failure.
 */
export interface ExportTransport<D> {
  /** Opens connections or loads certificates; errors stop the service from starting. */
  start?(): Promise<void>;
  send(data: D, abort: AbortSignal, deadline: number): Promise<ExportResult>;
  /** Releases connections; called once, after the queue is drained. */
  close?(): Promise<void>;
}
