/** Helpers shared by the tests: component settings, a recording consumer, repo paths. */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Consumer, CreateSettings, EvidenceSink, EvidenceStores } from '../core/component.js';
import type { FlowRecord, InterfaceCounters } from '../model/flow.js';
import type { Observation } from '../model/observation.js';
import { CapacityError } from '../core/errors.js';
import { unpackFlows, type PackedFlows } from '../evidence/memory/rows.js';
import { Writable } from 'node:stream';
import { createLogger, silentLogger, type Logger } from '../core/telemetry/logger.js';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import type { Signal, SignalData } from '../model/otlp.js';

/** Evidence that receivers produced in a test. */
export class RecordingEvidence implements EvidenceSink {
  readonly flows: FlowRecord[] = [];
  readonly counters: InterfaceCounters[] = [];
  readonly observations: Observation[] = [];
  /** Batches that came packed (addPackedFlows); their records are in `flows` too, as the store would give them back. */
  packedBatches = 0;
  addFlows(records: readonly FlowRecord[]): void {
    for (const r of records) this.flows.push(r);
  }
  addPackedFlows(batch: PackedFlows): void {
    this.packedBatches++;
    this.addFlows(unpackFlows(batch));
  }
  addInterfaceCounters(samples: readonly InterfaceCounters[]): void {
    for (const c of samples) this.counters.push(c);
  }
  addObservations(observations: readonly Observation[]): void {
    for (const o of observations) this.observations.push(o);
  }
}

/** Settings for a component under test; `stores` gives processors evidence to read (e.g. a MemoryFlowStore as `flows`). */
export function testSettings(id: string, evidence: EvidenceSink = new RecordingEvidence(), stores?: EvidenceStores): CreateSettings {
  const settings: CreateSettings = { id, logger: silentLogger(), metrics: new SelfMetrics(), evidence };
  if (stores) settings.evidenceStores = stores;
  return settings;
}

/** A structured log line as the logger wrote it. */
export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** Component settings whose logs are kept (as parsed JSON lines) for assertions. */
export function recordingSettings(id: string): CreateSettings & { logs: LogLine[] } {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger: Logger = createLogger('debug', sink);
  return { id, logger, metrics: new SelfMetrics(), evidence: new RecordingEvidence(), logs };
}

/** A consumer that records what it receives; `full = true` makes it refuse like a full queue. */
export class RecordingConsumer<S extends Signal> implements Consumer<S> {
  readonly received: SignalData[S][] = [];
  full = false;
  private waiters: (() => void)[] = [];

  canAccept(): boolean {
    return !this.full;
  }

  async consume(data: SignalData[S]): Promise<void> {
    if (this.full) throw new CapacityError('recording consumer', 'full');
    this.received.push(data);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `count` batches have arrived. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} batches, have ${this.received.length}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

/** The repository root (the folder with package.json), found from the compiled file's place. */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
})();

/** ../shared beside the checkout, where the lab notes and real captures live. */
export const SHARED_DIR = resolve(REPO_ROOT, '..', 'shared');

/** A path under the repository's source tree (testdata stays in src/, next to its tests). */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}
