/**
 * `--output FILE|-`: each observation as one JSON line, `{"kind": "ioam"|"http", ...flat attributes}`
 * (the form `netspan decode` prints). Files are appended to. What the stream has not written yet
 * is bounded: beyond OUTPUT_MAX_BUFFERED_BYTES lines are dropped and counted.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { observationAttributes, type Observation } from '../model/observation.js';
import type { AgentReport } from './report.js';
import type { Logger } from '../core/telemetry/logger.js';
import { errorMessage } from '../core/errors.js';

export const OUTPUT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Sources that can wait (files) hold back while more than this is waiting to be written. */
export const OUTPUT_READY_BYTES = 1024 * 1024;

export function observationJson(o: Observation): string {
  return JSON.stringify({ kind: o.kind, ...observationAttributes(o) });
}

export class JsonLinesOutput {
  private readonly stream: Writable;
  private failed = false;

  constructor(
    readonly path: string,
    private readonly report: AgentReport,
    private readonly logger: Logger,
    stdout: Writable = process.stdout,
  ) {
    this.stream = path === '-' ? stdout : createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => {
      if (!this.failed) logger.error({ path, err: errorMessage(err) }, 'cannot write the observation output; dropping what goes there');
      this.failed = true;
    });
  }

  write(observations: readonly Observation[]): void {
    if (this.failed || this.stream.writableLength > OUTPUT_MAX_BUFFERED_BYTES) {
      this.report.dropped(this.failed ? 'output_error' : 'output_full', observations.length);
      return;
    }
    let text = '';
    for (const o of observations) text += `${observationJson(o)}\n`;
    this.stream.write(text);
  }

  /** Resolves when little is waiting to be written (for sources that can wait). */
  async ready(): Promise<void> {
    while (!this.failed && this.stream.writableLength > OUTPUT_READY_BYTES)
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('error', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('error', done);
      });
  }

  /** Waits until everything is written (files are closed; stdout stays open). */
  async close(): Promise<void> {
    if (this.failed) return;
    await new Promise<void>((resolve) => {
      if (this.path === '-') {
        if (this.stream.writableLength === 0) resolve();
        else this.stream.once('drain', () => resolve());
      } else this.stream.end(() => resolve());
    });
  }
}
