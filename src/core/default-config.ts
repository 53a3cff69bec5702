/**
 * The configuration `netspan run` uses when given none: OTLP in on the standard ports, on
 * loopback only; traces grouped and printed as trees on the console.
 */
export const DEFAULT_CONFIG_YAML = `# netspan's embedded default configuration
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:4317 }
      http: { endpoint: 127.0.0.1:4318 }
processors:
  groupbytrace: { wait_duration: 2s, num_traces: 100000 }
exporters:
  debug: { verbosity: normal }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [groupbytrace], exporters: [debug] }
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:8888 }
`;
