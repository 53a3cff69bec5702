/** The agent's self-metrics, in one place so the names stay consistent (README "netspan agent" lists them). */
import type { SelfMetrics } from '../core/telemetry/metrics.js';
import type { ObservationKind } from '../model/observation.js';

export class AgentReport {
  constructor(private readonly metrics: SelfMetrics) {}

  /** Packets a source read; `interface` is the capture interface, or the file's interface name ('' when none). */
  packets(interfaceName: string, n = 1): void {
    this.metrics
      .counter('netspan_agent_packets_captured_total', 'Packets read from live captures and files, by interface.', ['interface'])
      .inc({ interface: interfaceName }, n);
  }

  observations(kind: ObservationKind, n = 1): void {
    this.metrics
      .counter('netspan_agent_observations_total', 'Observations made from packets, by kind (ioam, http).', ['kind'])
      .inc({ kind }, n);
  }

  /** Something a decoder could not read in full (`decoder`: packet, ioam, capture_file, capture_stream). */
  decodeIssue(decoder: string, code: string): void {
    this.metrics
      .counter('netspan_agent_decode_issues_total', 'Decode problems, by decoder and code.', ['decoder', 'code'])
      .inc({ decoder, code });
  }

  captureExit(interfaceName: string): void {
    this.metrics
      .counter('netspan_agent_capture_exits_total', 'tcpdump processes that ended while the agent ran.', ['interface'])
      .inc({ interface: interfaceName });
  }

  captureRestart(interfaceName: string): void {
    this.metrics
      .counter('netspan_agent_capture_restarts_total', 'tcpdump processes started again after one ended.', ['interface'])
      .inc({ interface: interfaceName });
  }

  /** What tcpdump said at exit it could not take from the kernel (its "dropped by kernel" line). */
  kernelDrops(interfaceName: string, n: number): void {
    if (n > 0)
      this.metrics
        .counter('netspan_agent_kernel_dropped_packets_total', 'Packets the kernel dropped before tcpdump read them.', ['interface'])
        .inc({ interface: interfaceName }, n);
  }

  /** Observations lost: `reason` is queue_full (the exporter's bounded queue), shutdown, output_error. */
  dropped(reason: string, n: number): void {
    if (n > 0)
      this.metrics.counter('netspan_agent_observations_dropped_total', 'Observations dropped, by reason.', ['reason']).inc({ reason }, n);
  }

  /** The sources still running (live captures and unfinished files). */
  sourcesRunning(n: number): void {
    this.metrics.gauge('netspan_agent_sources_running', 'Sources that are running.', []).set(n);
  }
}
