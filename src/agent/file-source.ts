/**
 * Reads pcap and pcapng files once, in order, streaming (a file is never held whole in memory),
 * and waits for the pipeline between chunks so that a slow or absent collector holds the reading
 * back instead of losing observations. A file that cannot be read or parsed is logged and
 * counted, and the next one is read.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { CaptureStreamParser, CaptureFormatError } from '../capture/pcap/index.js';
import { errorMessage } from '../core/errors.js';
import type { Observation } from '../model/observation.js';
import { observePacket, type Emit, type ObservationSource, type PacketSourceContext } from './source.js';

/** Bytes read at a time. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

export class FileSource implements ObservationSource {
  readonly name = 'files';
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private closed = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly paths: readonly string[],
    private readonly ctx: PacketSourceContext,
  ) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  async start(emit: Emit): Promise<void> {
    this.running ??= this.run(emit).finally(() => this.resolveFinished());
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running;
    this.resolveFinished();
  }

  private async run(emit: Emit): Promise<void> {
    for (const path of this.paths) {
      if (this.closed) return;
      await this.readFile(path, emit);
    }
  }

  private async readFile(path: string, emit: Emit): Promise<void> {
    const { ctx } = this;
    const logger = ctx.logger.child({ file: path });
    const parser = new CaptureStreamParser();
    let packets = 0;
    let observations = 0;
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: FILE_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
        const out: Observation[] = [];
        parser.push(chunk, (p) => {
          packets++;
          const name = parser.interfaces[p.interfaceIndex]?.name ?? '';
          observePacket(ctx, out, p.data, p.linkType, p.timestampUnixNano, name);
        });
        observations += out.length;
        if (out.length > 0) emit(out);
        if (this.closed) break;
        await ctx.ready();
      }
      const truncated = parser.end();
      if (truncated && !this.closed) {
        ctx.report.decodeIssue('capture_file', 'CAPTURE_TRUNCATED');
        logger.warn({ offset: truncated.offset, packets }, `capture file ends early: ${truncated.message}`);
      }
    } catch (err) {
      const code = err instanceof CaptureFormatError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'READ_ERROR');
      ctx.report.decodeIssue('capture_file', code);
      logger.error({ code, packets, err: errorMessage(err) }, 'cannot read the capture file; going on with the next');
      return;
    }
    logger.info({ packets, observations, name: basename(path) }, 'capture file read');
  }
}
