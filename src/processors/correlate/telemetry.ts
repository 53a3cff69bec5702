/** What the correlate processor reports about itself. */
import type { Counter } from 'prom-client';
import type { Logger } from '../../core/telemetry/logger.js';
import type { SelfMetrics } from '../../core/telemetry/metrics.js';

/**
 * Outcome of one connection (a client span, a server span, or a client/server pair):
 *  - flows: flow evidence attached;
 *  - no_flows: a summary without device data (its netspan.no_evidence.reason says why);
 *  - incomplete_quartet: a part of the quartet is in no attribute;
 *  - unresolved_host: a part is a host name not in `hosts`;
 *  - malformed: a part is there but not an address / port;
 *  - not_ip: the span's transport is not IP (unix, pipe, inproc);
 *  - already_enriched: its summary span is already in the batch (re-processing, a span delivered twice).
 */
export type ConnectionOutcome =
  'flows' | 'packets_only' | 'no_flows' | 'incomplete_quartet' | 'unresolved_host' | 'malformed' | 'not_ip' | 'already_enriched';

export class CorrelateMetrics {
  private readonly connections: Counter<'processor' | 'outcome'>;
  private readonly synthesized: Counter<'processor'>;
  private readonly rejected: Counter<'processor'>;
  private readonly ambiguous: Counter<'processor'>;
  private readonly ambiguousStreams: Counter<'processor'>;
  private readonly unresolved: Counter<'processor'>;
  private readonly lookupFailures: Counter<'processor'>;
  private readonly unknown: Counter<'processor'>;
  private readonly verdicts: Counter<'processor' | 'rule'>;
  private readonly labels: { processor: string };

  constructor(metrics: SelfMetrics, id: string) {
    this.labels = { processor: id };
    this.connections = metrics.counter(
      'netspan_correlate_connections_total',
      'Connections found in spans, by outcome (flows, no_flows, incomplete_quartet, unresolved_host, malformed, not_ip, already_enriched).',
      ['processor', 'outcome'],
    );
    this.synthesized = metrics.counter('netspan_correlate_spans_synthesized_total', 'Network spans added to traces.', ['processor']);
    this.rejected = metrics.counter(
      'netspan_correlate_candidates_rejected_total',
      'Flows found in a connection window but not attached: another session of the same quartet (port reuse).',
      ['processor'],
    );
    this.ambiguous = metrics.counter(
      'netspan_correlate_candidates_ambiguous_total',
      'Flows of sessions that fitted a span but were not attached because another session of the same quartet fitted too (cannot be told apart); included in candidates_rejected.',
      ['processor'],
    );
    this.ambiguousStreams = metrics.counter(
      'netspan_correlate_ambiguous_streams_total',
      'Device/direction streams left without a span because more than one session of the quartet fitted the span.',
      ['processor'],
    );
    this.unresolved = metrics.counter(
      'netspan_correlate_unresolved_hosts_total',
      'Host names in span attributes that are not in `hosts` (the span had no IP address for that end).',
      ['processor'],
    );
    this.unknown = metrics.counter(
      'netspan_correlate_unknown_device_spans_total',
      'Device spans made from flows of an exporter the `devices` inventory does not list (named by its address, no interface names).',
      ['processor'],
    );
    this.verdicts = metrics.counter('netspan_correlate_verdicts_total', 'Verdicts written on summary spans, by the rule that fired.', [
      'processor',
      'rule',
    ]);
    this.lookupFailures = metrics.counter(
      'netspan_correlate_lookup_failures_total',
      'Batches whose flow evidence lookup failed (their connections got no flow evidence).',
      ['processor'],
    );
  }

  verdict(rule: string, n: number): void {
    if (n > 0) this.verdicts.inc({ ...this.labels, rule }, n);
  }
  connection(outcome: ConnectionOutcome, n = 1): void {
    if (n > 0) this.connections.inc({ ...this.labels, outcome }, n);
  }
  spans(n: number): void {
    if (n > 0) this.synthesized.inc(this.labels, n);
  }
  candidatesRejected(n: number): void {
    if (n > 0) this.rejected.inc(this.labels, n);
  }
  candidatesAmbiguous(flows: number, streams: number): void {
    if (flows > 0) this.ambiguous.inc(this.labels, flows);
    if (streams > 0) this.ambiguousStreams.inc(this.labels, streams);
  }
  unknownDevices(n: number): void {
    if (n > 0) this.unknown.inc(this.labels, n);
  }
  unresolvedHosts(n: number): void {
    if (n > 0) this.unresolved.inc(this.labels, n);
  }
  lookupFailed(): void {
    this.lookupFailures.inc(this.labels);
  }
}

/** Logs a repeated failure at once, then at most once per interval with the count since. */
export class RateLimitedLog {
  private last = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = performance.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.logger.warn(this.suppressed > 0 ? { ...fields, suppressed: this.suppressed } : fields, msg);
    this.last = now;
    this.suppressed = 0;
  }
}
