/**
 * The top-level config shape (the OpenTelemetry Collector's): receivers, processors and
 * exporters by id, and service.pipelines wiring them per signal. Validation checks every
 * component block against its factory's schema and every pipeline reference, and reports
 * all problems at once with their paths.
 */
import { z, type ZodIssue } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { componentType, type ComponentKind, type Factory } from '../component.js';
import { SIGNALS, type Signal } from '../../model/otlp.js';
import { LOG_LEVELS, type LogLevel } from '../telemetry/logger.js';
import { endpoint } from './types.js';
import { evidenceConfigSchema, type EvidenceConfig } from '../evidence-hub.js';

/** Default address of the self-telemetry server (/metrics, /health), the collector's own port. */
export const DEFAULT_TELEMETRY_ADDRESS = '127.0.0.1:8888';

const idList = z.array(z.string().min(1));

const pipelineSchema = z
  .object({
    receivers: idList.min(1, 'a pipeline needs at least one receiver'),
    processors: idList.default([]),
    exporters: idList.min(1, 'a pipeline needs at least one exporter'),
  })
  .strict();

const telemetrySchema = z
  .object({
    logs: z
      .object({
        /** Minimum level written to stderr. */
        level: z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]).default('info'),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        /** Where /metrics and /health are served; "" turns the server off. */
        address: z.union([endpoint(), z.literal('')]).default(DEFAULT_TELEMETRY_ADDRESS),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const componentBlocks = z.record(z.string(), z.unknown()).default({});

/** Only the outline: each part below is checked on its own, so one bad part hides no other. */
const outlineSchema = z
  .object({
    receivers: componentBlocks,
    processors: componentBlocks,
    exporters: componentBlocks,
    evidence: z.unknown(),
    service: z.object({ pipelines: z.unknown(), telemetry: z.unknown() }).strict(),
  })
  .strict();

const pipelinesSchema = z.record(z.string(), pipelineSchema);

export interface ComponentConfig {
  id: string;
  factory: Factory;
  config: unknown;
}

export interface PipelineConfig {
  /** The pipeline's name as written, e.g. "traces" or "traces/network". */
  name: string;
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ServiceConfig {
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  pipelines: PipelineConfig[];
  telemetry: z.infer<typeof telemetrySchema>;
  evidence: EvidenceConfig;
}

function zodPath(prefix: string, path: readonly (string | number)[]): string {
  return [prefix, ...path.map(String)].filter((p) => p !== '').join('.');
}

export function zodIssues(prefix: string, issues: readonly ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: zodPath(prefix, [...issue.path, key]), message: 'unknown key' });
    } else if (issue.code === 'invalid_union' && issue.unionErrors.length > 0) {
      // Report the branch that got furthest rather than "invalid input".
      const best = issue.unionErrors.reduce((a, b) => (b.issues.length < a.issues.length ? b : a));
      out.push(...zodIssues(prefix, best.issues));
    } else {
      out.push({ path: zodPath(prefix, issue.path), message: issue.message });
    }
  }
  return out;
}

const SECTION_KIND: Record<'receivers' | 'processors' | 'exporters', ComponentKind> = {
  receivers: 'receiver',
  processors: 'processor',
  exporters: 'exporter',
};

/** Validates a parsed config against the registered factories; throws ConfigError listing every problem. */
export function validateServiceConfig(raw: unknown, factories: readonly Factory[], source = 'config'): ServiceConfig {
  const issues: ConfigIssue[] = [];
  const outline = outlineSchema.safeParse(raw ?? {});
  if (!outline.success) issues.push(...zodIssues('', outline.error.issues));
  const root = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const serviceBlock = (root.service && typeof root.service === 'object' ? root.service : {}) as Record<string, unknown>;
  const parsedPipelines = pipelinesSchema.safeParse(serviceBlock.pipelines);
  if (!parsedPipelines.success) issues.push(...zodIssues('service.pipelines', parsedPipelines.error.issues));
  const telemetry = telemetrySchema.safeParse(serviceBlock.telemetry);
  if (!telemetry.success) issues.push(...zodIssues('service.telemetry', telemetry.error.issues));
  const evidence = evidenceConfigSchema.safeParse(root.evidence);
  if (!evidence.success) issues.push(...zodIssues('evidence', evidence.error.issues));

  const sections = { receivers: new Map(), processors: new Map(), exporters: new Map() } as Record<
    'receivers' | 'processors' | 'exporters',
    Map<string, ComponentConfig>
  >;
  for (const section of ['receivers', 'processors', 'exporters'] as const) {
    const blocks = root[section];
    if (!blocks || typeof blocks !== 'object' || Array.isArray(blocks)) continue;
    const kind = SECTION_KIND[section];
    for (const [id, block] of Object.entries(blocks)) {
      const type = componentType(id);
      const factory = factories.find((f) => f.kind === kind && f.type === type);
      if (!factory) {
        const known = factories.filter((f) => f.kind === kind).map((f) => f.type);
        issues.push({ path: `${section}.${id}`, message: `unknown ${kind} type "${type}" (known: ${known.join(', ')})` });
        continue;
      }
      const result = factory.configSchema.safeParse(block ?? {});
      if (!result.success) issues.push(...zodIssues(`${section}.${id}`, result.error.issues));
      else sections[section].set(id, { id, factory, config: result.data });
    }
  }

  const pipelines: PipelineConfig[] = [];
  const rawPipelines = parsedPipelines.success ? parsedPipelines.data : {};
  for (const [name, p] of Object.entries(rawPipelines)) {
    const signal = componentType(name) as Signal;
    const path = `service.pipelines.${name}`;
    if (!SIGNALS.includes(signal)) {
      issues.push({ path, message: `pipeline name must start with one of ${SIGNALS.join(', ')} (e.g. traces/2)` });
      continue;
    }
    for (const section of ['receivers', 'processors', 'exporters'] as const) {
      const seen = new Set<string>();
      p[section].forEach((id, i) => {
        const at = `${path}.${section}.${i}`;
        if (seen.has(id)) issues.push({ path: at, message: `"${id}" is listed twice` });
        seen.add(id);
        const blocks = root[section] as Record<string, unknown> | undefined;
        if (!blocks || !(id in blocks)) {
          issues.push({ path: at, message: `"${id}" is not defined under ${section}` });
          return;
        }
        // Checked even when the block itself is invalid, so both problems show in one pass.
        const factory = factories.find((f) => f.kind === SECTION_KIND[section] && f.type === componentType(id));
        if (factory && !factory.signals.includes(signal))
          issues.push({ path: at, message: `${factory.type} does not support ${signal} (only ${factory.signals.join(', ')})` });
      });
    }
    pipelines.push({ name, signal, ...p });
  }
  if (parsedPipelines.success && pipelines.length === 0 && issues.length === 0)
    issues.push({ path: 'service.pipelines', message: 'at least one pipeline is needed' });

  if (issues.length > 0) throw new ConfigError(issues, { source });
  return {
    ...sections,
    pipelines,
    telemetry: telemetry.success ? telemetry.data : telemetrySchema.parse({}),
    evidence: evidence.success ? evidence.data : evidenceConfigSchema.parse({}),
  };
}
