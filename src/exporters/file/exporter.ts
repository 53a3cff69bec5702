/**
 * The file exporter: appends each batch as one line of OTLP/JSON (the Export*ServiceRequest,
 * with the OTLP/JSON mapping: hex ids, integer enums, int64 as strings), so the file can be
 * replayed or read by anything that reads OTLP/JSON.
 */
import type { Component, Consumer, CreateSettings } from '../../core/component.js';
import { CapacityError, NetspanError, errorMessage } from '../../core/errors.js';
import { ExporterReport } from '../../core/obsreport.js';
import type { Logger } from '../../core/telemetry/logger.js';
import { itemCount, type Signal, type SignalData } from '../../model/otlp.js';
import { encodeJson } from '../../wire/otlp/codec.js';
import type { FileExporterConfig } from './config.js';
import { SharedFileWriter } from './writer.js';

/** Bytes waiting to be written above which batches are refused (the disk cannot keep up). */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Knobs that are not part of the config, for tests and embedding. */
export interface FileExporterOptions {
  maxBufferedBytes?: number;
}

export class FileExporter<S extends Signal> implements Component, Consumer<S> {
  private readonly id: string;
  private readonly logger: Logger;
  private readonly report: ExporterReport;
  private readonly maxBufferedBytes: number;
  private writer: SharedFileWriter | undefined;
  private stopping: Promise<void> | undefined;
  /** Items lost in the current streak of failed writes: a broken disk logs at its start and end, not per batch. */
  private failedInStreak = 0;

  constructor(
    settings: CreateSettings,
    private readonly config: FileExporterConfig,
    private readonly signal: S,
    options: FileExporterOptions = {},
  ) {
    this.id = settings.id;
    this.logger = settings.logger;
    this.report = new ExporterReport(settings.metrics, settings.id, signal);
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  async start(): Promise<void> {
    if (this.writer) return;
    try {
      this.writer = await SharedFileWriter.acquire(this.config.path, this.config.flush_interval);
    } catch (err) {
      throw new NetspanError('FILE_OPEN_FAILED', `${this.id}: cannot open ${this.config.path}: ${errorMessage(err)}`, {
        cause: err,
        context: { component: this.id, path: this.config.path },
      });
    }
  }

  canAccept(): boolean {
    return this.writer !== undefined && this.writer.bufferedBytes() < this.maxBufferedBytes;
  }

  async consume(data: SignalData[S]): Promise<void> {
    const items = itemCount(this.signal, data);
    const writer = this.writer;
    if (!writer) throw new CapacityError(this.id, this.stopping ? 'shut down' : 'not started');
    if (writer.failure) {
      this.report.sendFailed(items);
      throw new NetspanError('FILE_WRITE_FAILED', `${this.id}: cannot write ${writer.path}: ${writer.failure.message}`, {
        cause: writer.failure,
        context: { component: this.id, path: writer.path },
      });
    }
    if (!this.canAccept()) {
      this.report.enqueueFailed(items);
      throw new CapacityError(this.id, `${writer.bufferedBytes()} bytes wait to be written to ${writer.path}`);
    }
    writer.append(`${encodeJson(this.signal, data)}\n`, (err) => this.written(items, err));
  }

  /** Writes what is buffered and closes the file (once its last user is done). */
  shutdown(): Promise<void> {
    return (this.stopping ??= this.stop());
  }

  private async stop(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    await writer?.release();
  }

  private written(items: number, err: Error | undefined): void {
    if (!err) {
      if (this.failedInStreak > 0)
        this.logger.warn({ path: this.config.path, items: this.failedInStreak }, 'file exporter writes again after losing items');
      this.failedInStreak = 0;
      this.report.sent(items);
      return;
    }
    this.report.sendFailed(items);
    if (this.failedInStreak === 0)
      this.logger.error({ path: this.config.path, items, err: err.message }, 'file exporter cannot write; items are dropped');
    this.failedInStreak += items;
  }
}
