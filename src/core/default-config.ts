/**
 * The configuration `netspan run` uses when given none: OTLP in on the standard ports and flow
 * exports on theirs, all on loopback only; flows kept in memory as evidence; traces grouped,
 * enriched with network spans and printed as trees on the console.
 */
export const DEFAULT_CONFIG_YAML = `# netspan's embedded default configuration
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:4317 }
      http: { endpoint: 127.0.0.1:4318 }
  netflow:
    scheme: netflow
    endpoints: [127.0.0.1:2055, 127.0.0.1:4739]
    tcp_endpoint: 127.0.0.1:4739
processors:
  groupbytrace: { wait_duration: 2s, num_traces: 100000 }
  correlate: { window: 2s, reparent: true }
exporters:
  debug: { verbosity: normal }
evidence:
  flows: { retention: 15m, max_flows: 2000000 }
service:
  pipelines:
    traces: { receivers: [otlp, netflow], processors: [groupbytrace, correlate], exporters: [debug] }
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:8888 }
`;
