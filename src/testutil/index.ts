/** Helpers shared by the tests: component settings, a recording consumer, repo paths. */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Consumer, CreateSettings } from '../core/component.js';
import { CapacityError } from '../core/errors.js';
import { silentLogger } from '../core/telemetry/logger.js';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import type { Signal, SignalData } from '../model/otlp.js';

export function testSettings(id: string): CreateSettings {
  return { id, logger: silentLogger(), metrics: new SelfMetrics() };
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
