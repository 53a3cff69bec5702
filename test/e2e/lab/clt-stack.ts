/**
 * The application side of an IOAM lab (ioam.ts): `netspan agent` reporting packets to a
 * collector, runs of the instrumented CLT client (clt-app.ts) whose packets carry IOAM traces,
 * and the wait for their traces to come out of `netspan run` enriched.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../netspan-process.js';
import { CLT_APP_PATH, type ClientRecord } from './clt-app.js';
import type { Lab } from './netns.js';
import { readTraceFile, type FileSpan } from './otlp-file.js';
import { labEnv, poll, type LabProcess } from './proc.js';

export interface IoamAgentOptions {
  ns: string;
  observer: string;
  /** Interfaces to capture on. */
  interfaces: readonly string[];
  /** The agent's JSON lines output file. */
  output: string;
  /** Also read the kernel's IOAM events (the namespace's own node). */
  ioamEvents: boolean;
  /** The collector's OTLP/HTTP base URL, and its port (the capture leaves that traffic out). */
  collectorUrl: string;
  otlpPort: number;
  /** Where the agent's config file goes. */
  dir: string;
  /** Other TCP ports whose traffic carries no IOAM and is left out of the capture (bulk load). */
  excludeTcpPorts?: readonly number[];
  /** Default 10 min. */
  maxLifetimeMs?: number;
}

/** Starts `netspan agent` in a namespace; resolve `waitForLine(/netspan agent started/)` on it. */
export function startIoamAgent(lab: Lab, o: IoamAgentOptions): LabProcess {
  const config = join(o.dir, `agent-${o.observer}.yaml`);
  const excluded = [o.otlpPort, ...(o.excludeTcpPorts ?? [])].map((port) => ` and not tcp port ${port}`).join('');
  writeFileSync(
    config,
    `
capture:
  interfaces: [${o.interfaces.join(', ')}]
  # BPF "tcp port" does not look past IPv6 extension headers (the Hop-by-Hop header), so the
  # filter only leaves out traffic that carries none (the OTLP traffic to the collector).
  filter: "ip6${excluded}"
  ioam_events: ${o.ioamEvents}
observer: { name: ${o.observer} }
exporter:
  otlphttp: { endpoint: "${o.collectorUrl}" }
  batch: { send_batch_size: 256, timeout: 100ms }
output: { path: ${o.output} }
telemetry: { logs: { level: info } }
`,
  );
  return lab.spawn(o.ns, [process.execPath, CLI, 'agent', '--config', config], { maxLifetimeMs: o.maxLifetimeMs ?? 600_000 });
}

export interface CltClientOptions {
  /** The server's URL and the collector's OTLP traces URL. */
  url: string;
  otlp: string;
  /** IOAM namespace and trace type of the packets' traces, room for `nodes` nodes. */
  namespaceId: number;
  traceType: number;
  nodes: number;
}

function clientArgv(o: CltClientOptions, extra: readonly string[]): string[] {
  return [
    process.execPath,
    CLT_APP_PATH,
    'client',
    ...['--url', o.url, '--otlp', o.otlp, '--clt', String(o.namespaceId), '--trace-type', String(o.traceType)],
    ...['--nodes', String(o.nodes), ...extra],
  ];
}

/** The client's per-request records from its output; fails unless it finished with CLT on and every request answered 200. */
export function cltRecords(output: string): ClientRecord[] {
  const lines = output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ClientRecord & { done?: boolean; warnings?: string[] });
  const done = lines.find((l) => l.done);
  assert.ok(done, `client did not finish:\n${output.slice(-3000)}`);
  assert.deepEqual(done.warnings, [], 'CLT must be on in the client (root, IPv6, addon)');
  const records = lines.filter((l) => !l.done);
  assert.ok(
    records.every((x) => x.status === 200),
    'every request answered 200',
  );
  return records;
}

/** Runs the client to its end (`extra`: --requests, --concurrency, ...); its records. */
export async function runCltClient(lab: Lab, ns: string, o: CltClientOptions, extra: readonly string[]): Promise<ClientRecord[]> {
  const r = await lab.exec(ns, clientArgv(o, extra), { timeoutMs: 300_000 });
  return cltRecords(`${r.stdout}\n${r.stderr}`);
}

/**
 * Starts the client in the background, for requests that must run while something else happens;
 * `stopCltClient` ends it (no new request, the ones in flight finish) and gives its records.
 */
export function startCltClient(
  lab: Lab,
  ns: string,
  o: CltClientOptions,
  extra: readonly string[],
  env: NodeJS.ProcessEnv = {},
): LabProcess {
  return lab.spawn(ns, clientArgv(o, extra), { maxLifetimeMs: 300_000, env: labEnv(env) });
}

export async function stopCltClient(p: LabProcess): Promise<ClientRecord[]> {
  await p.stop('SIGTERM', 60_000);
  return cltRecords(p.output);
}

/** Records a background client has printed so far (requests done). */
export function cltRecordsSoFar(p: LabProcess): number {
  return p.lines.filter((l) => l.startsWith('{"seq"')).length;
}

/** The enriched spans once every request's client span has its network summary in the trace file (or the timeout). */
export async function enrichedSummaries(
  tracesPath: string,
  records: readonly ClientRecord[],
  timeoutMs = 60_000,
): Promise<{ spans: FileSpan[]; summaries: Map<string, FileSpan> }> {
  const want = new Set(records.map((r) => r.clientSpanId));
  let spans: FileSpan[] = [];
  const summaries = new Map<string, FileSpan>();
  await poll(
    () => {
      spans = readTraceFile(tracesPath);
      summaries.clear();
      for (const s of spans)
        if (s.scope === 'netspan' && s.name.startsWith('network ') && want.has(s.parentSpanId)) summaries.set(s.parentSpanId, s);
      return summaries.size >= want.size ? true : undefined;
    },
    timeoutMs,
    500,
  );
  return { spans, summaries };
}

/** The IOAM hop spans under a summary. */
export const ioamHopsOf = (spans: readonly FileSpan[], summary: FileSpan): FileSpan[] =>
  spans.filter((s) => s.parentSpanId === summary.spanId && s.name.endsWith('(IOAM)'));
