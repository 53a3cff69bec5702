/**
 * Config of `netspan agent`: a YAML file (`--config FILE`) and flags for the common case, merged
 * into one raw document (flags win) and validated together, so every problem is reported with
 * the path of its key. Sections: capture, observer, exporter (an `otlphttp` or `otlp` exporter
 * block, validated by that exporter's own schema, plus the batcher), output, telemetry.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { expandEnv, parseYaml, readConfigFile } from '../core/config/load.js';
import { zodIssues } from '../core/config/service.js';
import { duration, endpoint } from '../core/config/types.js';
import { LOG_LEVELS, type LogLevel } from '../core/telemetry/logger.js';
import { otlpHttpConfigSchema, type OtlpHttpConfig } from '../exporters/otlphttp/config.js';
import { otlpGrpcConfigSchema, type OtlpGrpcConfig } from '../exporters/otlpgrpc/config.js';

/** Bytes tcpdump keeps of each packet: enough for the headers, Hop-by-Hop options and an HTTP head. */
export const DEFAULT_SNAP_LENGTH = 2048;
/** The capture program; a path when it is not on PATH. */
export const DEFAULT_TCPDUMP = 'tcpdump';
/** Wait before the first restart of a tcpdump that exited; doubles up to the maximum. */
export const DEFAULT_RESTART_INITIAL_INTERVAL_MS = 1_000;
export const DEFAULT_RESTART_MAX_INTERVAL_MS = 30_000;
/** Observations per Logs request at most. */
export const DEFAULT_BATCH_SIZE = 512;
/** How long the first observation of a batch waits for more before the batch is sent. */
export const DEFAULT_BATCH_TIMEOUT_MS = 200;
/** The agent serves no /metrics unless asked: it runs on hosts where a port is not free to take. */
export const DEFAULT_AGENT_METRICS_ADDRESS = '';
/** How long a captured IOAM trace waits for the kernel's event of the same packet, and the other way round. */
export const DEFAULT_IOAM_JOIN_WINDOW_MS = 200;

/** `resource.service.name` of the agent's logs. */
export const AGENT_SERVICE_NAME = 'netspan-agent';

const captureSchema = z
  .object({
    /** Interfaces to capture on live, one tcpdump each (`any` is allowed). */
    interfaces: z
      .array(z.string().min(1).max(64))
      .superRefine((names, ctx) =>
        names.forEach((name, i) => {
          if (names.indexOf(name) !== i) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `"${name}" is listed twice` });
        }),
      )
      .default([]),
    /** BPF filter expression given to tcpdump, e.g. "ip6 or tcp port 80"; "" captures everything. */
    filter: z.string().default(''),
    /** Bytes kept per packet (tcpdump -s). */
    snap_length: z.number().int().min(64).max(262_144).default(DEFAULT_SNAP_LENGTH),
    /** pcap or pcapng files to read once; with no interfaces the agent exits when they are done. */
    files: z.array(z.string().min(1)).default([]),
    /** The tcpdump program to run. */
    tcpdump: z.string().min(1).default(DEFAULT_TCPDUMP),
    /**
     * Also take the kernel's IOAM events (generic netlink IOAM6, group ioam6_events; needs
     * CAP_NET_ADMIN and the native addon): this host's own node data, which a capture on its
     * ingress interface cannot see. Joined with captured traces of the same packets.
     */
    ioam_events: z.boolean().default(false),
    /** How long a captured IOAM trace and a kernel event wait for each other. */
    ioam_join_window: duration().default(`${DEFAULT_IOAM_JOIN_WINDOW_MS}ms`),
    /** Backoff between restarts of a tcpdump that exited while the agent runs. */
    restart: z
      .object({
        initial_interval: duration().default(`${DEFAULT_RESTART_INITIAL_INTERVAL_MS}ms`),
        max_interval: duration().default(`${DEFAULT_RESTART_MAX_INTERVAL_MS}ms`),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const observerSchema = z
  .object({
    /** `observer.name` of every observation; the host name by default. */
    name: z.string().min(1).optional(),
    /** IOAM traces carry Cross-Layer Telemetry ids (16-byte trace id, 8-byte span id after the trace header). */
    clt_ids: z.boolean().default(false),
  })
  .strict()
  .default({});

const batchSchema = z
  .object({
    /** Observations per Logs request at most. */
    send_batch_size: z.number().int().positive().default(DEFAULT_BATCH_SIZE),
    /** How long a batch waits to fill up before it is sent anyway. */
    timeout: duration().default(`${DEFAULT_BATCH_TIMEOUT_MS}ms`),
  })
  .strict()
  .default({});

/** Only the outline; the exporter block is checked by its own factory schema below. */
const exporterOutlineSchema = z
  .object({
    /** OTLP/HTTP, the `otlphttp` exporter's config (endpoint: http://collector:4318). */
    otlphttp: z.unknown(),
    /** OTLP/gRPC, the `otlp` exporter's config (endpoint: collector:4317). */
    otlp: z.unknown(),
    /** Sent as `Authorization: Bearer <token>` (gRPC metadata `authorization`); usually ${env:...}. */
    bearer_token: z.string().min(1).optional(),
    batch: batchSchema,
  })
  .strict();

const outputSchema = z
  .object({
    /** JSON lines, one per observation: a file path, or "-" for stdout. */
    path: z.string().min(1),
  })
  .strict();

const telemetrySchema = z
  .object({
    logs: z
      .object({ level: z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]).default('info') })
      .strict()
      .default({}),
    metrics: z
      .object({
        /** Where /metrics and /health are served ("host:port", port 0 picks one); "" for none. */
        address: z.union([endpoint(), z.literal('')]).default(DEFAULT_AGENT_METRICS_ADDRESS),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const outlineSchema = z
  .object({
    capture: z.unknown(),
    observer: z.unknown(),
    exporter: z.unknown(),
    output: z.unknown(),
    telemetry: z.unknown(),
  })
  .strict();

export type CaptureConfig = z.infer<typeof captureSchema>;
export type BatchConfig = z.infer<typeof batchSchema>;

export type AgentExporterConfig =
  { type: 'otlphttp'; config: OtlpHttpConfig; batch: BatchConfig } | { type: 'otlp'; config: OtlpGrpcConfig; batch: BatchConfig };

export interface AgentConfig {
  capture: CaptureConfig;
  observer: { name: string; clt_ids: boolean };
  /** Absent: observations only go to `output`. */
  exporter?: AgentExporterConfig;
  output?: { path: string };
  telemetry: z.infer<typeof telemetrySchema>;
}

/** The flags of `netspan agent`, as parsed from the command line. */
export interface AgentFlags {
  interface?: string[];
  filter?: string;
  file?: string[];
  endpoint?: string;
  protocol?: string;
  output?: string;
  observer?: string;
  cltIds?: boolean;
  metricsAddress?: string;
  logLevel?: string;
}

export const AGENT_PROTOCOLS = ['http', 'grpc'] as const;

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

function section(root: Raw, key: string): Raw {
  const v = root[key];
  if (isObject(v)) return v;
  const fresh: Raw = {};
  // A non-object already there stays an error for validation to report; flags then go nowhere.
  if (v === undefined || v === null) root[key] = fresh;
  return fresh;
}

/**
 * Puts the flags into the raw document, where the YAML would have them (flags win). An --endpoint
 * goes to the exporter the --protocol names (default: the one the file configures, else http).
 */
export function applyFlags(raw: unknown, flags: AgentFlags): { value: Raw; issues: ConfigIssue[] } {
  const root: Raw = isObject(raw) ? structuredClone(raw) : {};
  const issues: ConfigIssue[] = [];
  if (flags.interface?.length) section(root, 'capture').interfaces = flags.interface;
  if (flags.filter !== undefined) section(root, 'capture').filter = flags.filter;
  if (flags.file?.length) section(root, 'capture').files = flags.file;
  if (flags.observer !== undefined) section(root, 'observer').name = flags.observer;
  if (flags.cltIds) section(root, 'observer').clt_ids = true;
  if (flags.output !== undefined) section(root, 'output').path = flags.output;
  if (flags.metricsAddress !== undefined) section(section(root, 'telemetry'), 'metrics').address = flags.metricsAddress;
  if (flags.logLevel !== undefined) section(section(root, 'telemetry'), 'logs').level = flags.logLevel;
  if (flags.protocol !== undefined && !(AGENT_PROTOCOLS as readonly string[]).includes(flags.protocol))
    issues.push({ path: '--protocol', message: `must be one of ${AGENT_PROTOCOLS.join(', ')}` });
  if (flags.endpoint !== undefined || flags.protocol !== undefined) {
    const exporter = section(root, 'exporter');
    const configured = 'otlp' in exporter ? 'otlp' : 'otlphttp' in exporter ? 'otlphttp' : undefined;
    const type = flags.protocol === 'grpc' ? 'otlp' : flags.protocol === 'http' ? 'otlphttp' : (configured ?? 'otlphttp');
    const other = type === 'otlp' ? 'otlphttp' : 'otlp';
    // The flag chooses the protocol: the other block (from the file) would make two exporters.
    if (flags.protocol !== undefined && other in exporter) {
      if (!(type in exporter)) exporter[type] = exporter[other];
      delete exporter[other];
    }
    const block = section(exporter, type);
    if (flags.endpoint !== undefined) {
      if (type === 'otlp') {
        // gRPC dials host:port; a URL's scheme says whether it is plain text.
        const m = /^(https?):\/\/([^/]+)\/?$/i.exec(flags.endpoint);
        block.endpoint = m ? m[2] : flags.endpoint;
        if (m && m[1]!.toLowerCase() === 'http') section(block, 'tls').insecure = true;
      } else block.endpoint = flags.endpoint;
    }
  }
  return { value: root, issues };
}

/** Validates a merged raw document; throws ConfigError listing every problem with its path. */
export function validateAgentConfig(raw: unknown, source = 'agent config', extraIssues: ConfigIssue[] = []): AgentConfig {
  const issues: ConfigIssue[] = [...extraIssues];
  const root: Raw = isObject(raw) ? raw : {};
  if (raw !== undefined && raw !== null && !isObject(raw)) issues.push({ path: '', message: 'the config must be a mapping' });
  const outline = outlineSchema.safeParse(root);
  if (!outline.success) issues.push(...zodIssues('', outline.error.issues));

  const parse = <T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, path: string, value: unknown): T | undefined => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    issues.push(...zodIssues(path, r.error.issues));
    return undefined;
  };
  const capture = parse(captureSchema, 'capture', root.capture);
  const observer = parse(observerSchema, 'observer', root.observer);
  const telemetry = parse(telemetrySchema, 'telemetry', root.telemetry);
  const output = root.output === undefined ? undefined : parse(outputSchema, 'output', root.output);

  let exporter: AgentExporterConfig | undefined;
  if (root.exporter !== undefined && root.exporter !== null) {
    const outlineExporter = parse(exporterOutlineSchema, 'exporter', root.exporter);
    const block = isObject(root.exporter) ? root.exporter : {};
    const types = (['otlphttp', 'otlp'] as const).filter((t) => block[t] !== undefined);
    if (types.length === 0) issues.push({ path: 'exporter', message: 'configure otlphttp (OTLP/HTTP) or otlp (OTLP/gRPC)' });
    if (types.length > 1) issues.push({ path: 'exporter', message: 'configure one of otlphttp and otlp, not both' });
    const type = types[0];
    if (type !== undefined) {
      const withToken = (v: unknown): unknown => {
        const token = block.bearer_token;
        if (typeof token !== 'string' || !isObject(v)) return v;
        const headers = isObject(v.headers) ? v.headers : {};
        if (Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
          issues.push({ path: 'exporter.bearer_token', message: `${type}.headers already has an authorization header` });
        return { ...v, headers: { ...headers, authorization: `Bearer ${token}` } };
      };
      const value = withToken(block[type] ?? {});
      const config =
        type === 'otlphttp'
          ? parse(otlpHttpConfigSchema, `exporter.${type}`, value)
          : parse(otlpGrpcConfigSchema, `exporter.${type}`, value);
      if (config && outlineExporter && types.length === 1) exporter = { type, config, batch: outlineExporter.batch } as AgentExporterConfig;
    }
  }

  if (capture && capture.interfaces.length === 0 && capture.files.length === 0)
    issues.push({ path: 'capture', message: 'name at least one of capture.interfaces (--interface) and capture.files (--file)' });
  if (capture && capture.restart.max_interval < capture.restart.initial_interval)
    issues.push({ path: 'capture.restart.max_interval', message: 'must not be below initial_interval' });
  if (root.exporter == null && root.output == null)
    issues.push({ path: '', message: 'nowhere to send observations: configure exporter (--endpoint) or output (--output)' });

  if (issues.length > 0 || !capture || !observer || !telemetry) throw new ConfigError(issues, { source });
  return {
    capture,
    observer: { name: observer.name ?? hostname(), clt_ids: observer.clt_ids },
    ...(exporter ? { exporter } : {}),
    ...(output ? { output } : {}),
    telemetry,
  };
}

export interface LoadedAgentConfig {
  config: AgentConfig;
  /** Environment variables referenced but unset (expanded to ""). */
  unsetVariables: string[];
  source: string;
}

/** Reads the file (if any), expands ${env:...}, applies the flags and validates. Throws ConfigError with every problem. */
export async function loadAgentConfig(path: string | undefined, flags: AgentFlags, env = process.env): Promise<LoadedAgentConfig> {
  const source = path ?? '(flags)';
  const raw = path ? await readConfigFile(path) : {};
  const { value, unset } = expandEnv(raw, env);
  const merged = applyFlags(value, flags);
  return { config: validateAgentConfig(merged.value, source, merged.issues), unsetVariables: unset, source };
}

/** Parses YAML text as an agent config (flags none); for tests and embedding. */
export function parseAgentConfig(yaml: string, source = 'agent config', env = process.env): AgentConfig {
  return validateAgentConfig(expandEnv(parseYaml(yaml, source), env).value, source);
}
