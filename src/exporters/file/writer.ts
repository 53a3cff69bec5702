/**
 * An append-only file shared by every exporter that writes to the same path (the traces, logs
 * and metrics instances of one exporter, usually), so that their lines never interleave.
 * Lines are buffered and written together every flush interval, as the collector does.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';

/** Lines buffered beyond this size are written at once rather than at the next interval. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/** Called once the line reached the file, or with the error that kept it out. */
export type WriteCallback = (err: Error | undefined) => void;

const open = new Map<string, SharedFileWriter>();

export class SharedFileWriter {
  private users = 0;
  private stream: WriteStream | undefined;
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private chunks: string[] = [];
  private callbacks: WriteCallback[] = [];
  private chunkBytes = 0;
  private lastWrite: Promise<void> = Promise.resolve();
  /** The error that broke the stream; every later write fails. */
  failure: Error | undefined;

  private constructor(
    readonly path: string,
    private readonly flushIntervalMs: number,
  ) {}

  /**
   * The writer for `path`, opened. The first user's flush interval applies to all of them.
   * Every successful acquire needs one release.
   */
  static async acquire(path: string, flushIntervalMs: number): Promise<SharedFileWriter> {
    const key = resolve(path);
    let writer = open.get(key);
    if (!writer) {
      writer = new SharedFileWriter(key, flushIntervalMs);
      open.set(key, writer);
    }
    writer.users++;
    try {
      await (writer.opening ??= writer.open());
    } catch (err) {
      await writer.release();
      throw err;
    }
    return writer;
  }

  private async open(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const stream = createWriteStream(this.path, { flags: 'a' });
    await once(stream, 'open');
    // Write errors reach the callbacks of the lines; this keeps the first for later consumers.
    stream.on('error', (err) => (this.failure ??= err));
    this.stream = stream;
    if (this.flushIntervalMs > 0) this.flushTimer = setInterval(() => void this.flush(), this.flushIntervalMs).unref();
  }

  /** Bytes accepted but not yet handed to the operating system. */
  bufferedBytes(): number {
    return this.chunkBytes + (this.stream?.writableLength ?? 0);
  }

  append(line: string, done: WriteCallback): void {
    this.chunks.push(line);
    this.callbacks.push(done);
    this.chunkBytes += Buffer.byteLength(line);
    if (this.flushIntervalMs === 0 || this.chunkBytes >= WRITE_CHUNK_BYTES) void this.flush();
  }

  /** Writes what is buffered; resolves once everything appended so far is written (or failed). */
  flush(): Promise<void> {
    const stream = this.stream;
    if (this.chunks.length === 0 || !stream) return this.lastWrite;
    const text = this.chunks.join('');
    const callbacks = this.callbacks;
    this.chunks = [];
    this.callbacks = [];
    this.chunkBytes = 0;
    this.lastWrite = new Promise<void>((resolve) => {
      const settle = (err: Error | null | undefined) => {
        // The stream emits 'error' only after this callback; later consumers must see the failure already.
        if (err) this.failure ??= err;
        for (const done of callbacks) done(err ?? undefined);
        resolve();
      };
      if (stream.destroyed) settle(this.failure ?? new Error(`${this.path} is closed`));
      else stream.write(text, settle);
    });
    return this.lastWrite;
  }

  /** Flushes; the last user closes the file. */
  async release(): Promise<void> {
    await this.flush();
    if (--this.users > 0) return;
    if (open.get(this.path) === this) open.delete(this.path);
    await (this.closing ??= this.close());
  }

  private async close(): Promise<void> {
    clearInterval(this.flushTimer);
    const stream = this.stream;
    if (!stream) return;
    stream.end();
    // A failed stream rejects here; its lines were reported through their callbacks.
    await finished(stream).catch(() => undefined);
  }
}
