/** The debug exporter: writes what the pipeline carries as readable text (render.ts) to a stream. */
import type { Writable } from 'node:stream';
import type { Component, Consumer, CreateSettings } from '../../core/component.js';
import { CapacityError } from '../../core/errors.js';
import { ExporterReport } from '../../core/obsreport.js';
import { itemCount, type Signal, type SignalData } from '../../model/otlp.js';
import type { DebugExporterConfig, Verbosity } from './config.js';
import { render } from './render.js';

/** Text waiting in the output stream above which batches are refused (a reader that stopped reading). */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface DebugExporterOptions {
  /** Where the text goes; the factory uses process.stdout. */
  output: Writable;
  maxBufferedBytes?: number;
}

export class DebugExporter<S extends Signal> implements Component, Consumer<S> {
  private readonly id: string;
  private readonly report: ExporterReport;
  private readonly verbosity: Verbosity;
  private readonly output: Writable;
  private readonly maxBufferedBytes: number;

  constructor(
    settings: CreateSettings,
    config: DebugExporterConfig,
    private readonly signal: S,
    options: DebugExporterOptions,
  ) {
    this.id = settings.id;
    this.report = new ExporterReport(settings.metrics, settings.id, signal);
    this.verbosity = config.verbosity;
    this.output = options.output;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  async start(): Promise<void> {}

  /** The output stream is not ours to close (stdout); everything is already handed to it. */
  async shutdown(): Promise<void> {}

  canAccept(): boolean {
    return this.output.writableLength < this.maxBufferedBytes;
  }

  async consume(data: SignalData[S]): Promise<void> {
    const items = itemCount(this.signal, data);
    if (!this.canAccept()) {
      this.report.enqueueFailed(items);
      throw new CapacityError(this.id, `${this.output.writableLength} bytes of output are not written yet`);
    }
    this.output.write(render(this.signal, data, this.verbosity));
    this.report.sent(items);
  }
}
