/** `netspan agent` inside a lab namespace: capture (and kernel IOAM events), sent to a collector over OTLP/HTTP. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../netspan-process.js';
import type { Lab } from './netns.js';
import type { LabProcess } from './proc.js';

export interface AgentOptions {
  /** The observer name its observations carry (the device it runs on). */
  observer: string;
  interfaces: readonly string[];
  /** The collector's OTLP/HTTP base URL, e.g. http://[fd00:2::2]:4318. */
  otlpEndpoint: string;
  /** BPF filter of the capture. */
  filter: string;
  /** Also read the kernel's IOAM events (the node's own data for packets it receives). */
  ioamEvents: boolean;
  /** Where its config and its observations (JSON lines) go. */
  dir: string;
  maxLifetimeMs?: number;
}

/** Starts the agent (the caller waits for "netspan agent started"); its observations are in `<dir>/observations-<observer>.jsonl`. */
export function startAgentIn(lab: Lab, ns: string, o: AgentOptions): LabProcess {
  const config = join(o.dir, `agent-${o.observer}.yaml`);
  writeFileSync(
    config,
    `
capture:
  interfaces: [${o.interfaces.join(', ')}]
  filter: "${o.filter}"
  ioam_events: ${o.ioamEvents}
observer: { name: ${o.observer} }
exporter:
  otlphttp: { endpoint: "${o.otlpEndpoint}" }
  batch: { send_batch_size: 256, timeout: 100ms }
output: { path: ${agentObservationsPath(o.dir, o.observer)} }
telemetry: { logs: { level: info } }
`,
  );
  return lab.spawn(ns, [process.execPath, CLI, 'agent', '--config', config], { maxLifetimeMs: o.maxLifetimeMs ?? 600_000 });
}

export function agentObservationsPath(dir: string, observer: string): string {
  return join(dir, `observations-${observer}.jsonl`);
}
