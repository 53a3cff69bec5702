/**
 * Live capture on one interface: a `tcpdump -i IF --immediate-mode -U -w - -s SNAPLEN [filter]`
 * child whose stdout (a pcap stream) goes through CaptureStreamParser. Its stderr lines are
 * logged; when it exits while the agent runs (interface gone, crash, killed) that is logged and
 * counted, and it is started again after an exponential backoff capped at restart.max_interval.
 * close() sends SIGTERM (tcpdump then flushes what it has and prints its counters), and SIGKILL
 * if it does not go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CaptureStreamParser } from '../capture/pcap/index.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/telemetry/logger.js';
import { ExponentialBackoff } from '../exporters/exporterhelper/backoff.js';
import type { Observation } from '../model/observation.js';
import { AgentError, observePacket, type Emit, type ObservationSource, type PacketSourceContext } from './source.js';

/** How long a tcpdump may take to exit after SIGTERM before it is killed. */
export const TCPDUMP_STOP_GRACE_MS = 3_000;
/** How long start() waits for tcpdump's "listening on" before it goes on regardless. */
export const TCPDUMP_READY_WAIT_MS = 10_000;
/** stderr lines kept for the exit log. */
const STDERR_TAIL = 5;

export interface TcpdumpOptions {
  interfaceName: string;
  filter: string;
  snapLength: number;
  tcpdump: string;
  restart: { initial_interval: number; max_interval: number };
}

export interface TcpdumpFeatures {
  /** Whether this tcpdump knows --immediate-mode (4.7 and later); without it -U still writes each packet. */
  immediateMode: boolean;
}

/** Runs `tcpdump --help` once to learn what it supports; AgentError when it cannot run at all. */
export async function probeTcpdump(tcpdump: string): Promise<TcpdumpFeatures> {
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn(tcpdump, ['--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', (err) =>
      reject(new AgentError('TCPDUMP_UNAVAILABLE', `cannot run "${tcpdump}": ${err.message}`, { cause: err, context: { tcpdump } })),
    );
    child.on('close', () => resolve(out));
  });
  return { immediateMode: text.includes('--immediate-mode') };
}

/** The tcpdump command line for one interface. */
export function tcpdumpArgs(options: TcpdumpOptions, features: TcpdumpFeatures): string[] {
  return [
    '-i',
    options.interfaceName,
    ...(features.immediateMode ? ['--immediate-mode'] : []),
    // Packet-buffered output: each packet is written to the pipe as it is captured.
    '-U',
    '-w',
    '-',
    '-s',
    String(options.snapLength),
    ...(options.filter ? [options.filter] : []),
  ];
}

export class TcpdumpSource implements ObservationSource {
  readonly name: string;
  private readonly logger: Logger;
  private backoff: ExponentialBackoff;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private emit: Emit = () => undefined;
  private onReady: (() => void) | undefined;

  constructor(
    private readonly options: TcpdumpOptions,
    private readonly features: TcpdumpFeatures,
    private readonly ctx: PacketSourceContext,
  ) {
    this.name = `tcpdump:${options.interfaceName}`;
    this.logger = ctx.logger.child({ interface: options.interfaceName });
    this.backoff = this.newBackoff();
    if (!features.immediateMode) this.logger.warn('this tcpdump has no --immediate-mode: packets may reach the agent late');
  }

  private newBackoff(): ExponentialBackoff {
    return new ExponentialBackoff({ ...this.options.restart, multiplier: 2, randomization_factor: 0.2 });
  }

  /** Resolves once tcpdump says it listens, or has exited (it is then restarted), or after TCPDUMP_READY_WAIT_MS. */
  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.onReady = resolve;
      timer = setTimeout(() => {
        this.logger.warn({ waited_ms: TCPDUMP_READY_WAIT_MS }, 'tcpdump has not said it is listening yet; going on');
        resolve();
      }, TCPDUMP_READY_WAIT_MS);
      this.run();
    });
    clearTimeout(timer);
    this.onReady = undefined;
  }

  private ready(): void {
    this.onReady?.();
  }

  private run(): void {
    const { options, ctx, logger } = this;
    const args = tcpdumpArgs(options, this.features);
    const startedAt = Date.now();
    const child = spawn(options.tcpdump, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    logger.info({ pid: child.pid, command: [options.tcpdump, ...args].join(' ') }, 'capture started');

    const parser = new CaptureStreamParser();
    let broken = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (broken) return;
      const out: Observation[] = [];
      try {
        parser.push(chunk, (p) => observePacket(ctx, out, p.data, p.linkType, p.timestampUnixNano, options.interfaceName));
      } catch (err) {
        // Not a pcap stream any more: nothing after this point can be trusted, so this run ends.
        broken = true;
        ctx.report.decodeIssue('capture_stream', (err as { code?: string }).code ?? 'CAPTURE_ERROR');
        logger.error({ err: errorMessage(err) }, 'tcpdump output is not a readable pcap stream; stopping this tcpdump');
        child.kill('SIGKILL');
      }
      if (out.length > 0) this.emit(out);
    });

    const stderrTail: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!line.trim()) return;
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      if (/^tcpdump: listening on /.test(line)) this.ready();
      const drops = /^(\d+) packets? dropped by kernel/.exec(line);
      if (drops) ctx.report.kernelDrops(options.interfaceName, Number(drops[1]));
      logger.info({ pid: child.pid, stderr: line }, 'tcpdump stderr');
    });

    let spawnError: Error | undefined;
    child.on('error', (err) => (spawnError = err));
    this.exited = new Promise<void>((resolve) =>
      child.on('close', (code, signal) => {
        resolve();
        if (this.child === child) this.child = undefined;
        const ranMs = Date.now() - startedAt;
        if (this.closing) {
          logger.info({ pid: child.pid, code, signal }, 'capture stopped');
          return;
        }
        ctx.report.captureExit(options.interfaceName);
        // A run that lasted past the longest wait was healthy: the next failure starts the backoff afresh.
        if (ranMs > options.restart.max_interval) this.backoff = this.newBackoff();
        const delay = this.backoff.next();
        logger.warn(
          { pid: child.pid, code, signal, ran_ms: ranMs, stderr: stderrTail, err: spawnError?.message, restart_in_ms: delay },
          'tcpdump exited; restarting it',
        );
        this.ready();
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          if (this.closing) return;
          ctx.report.captureRestart(options.interfaceName);
          this.run();
        }, delay);
      }),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => {
      this.logger.warn({ pid: child.pid, grace_ms: TCPDUMP_STOP_GRACE_MS }, 'tcpdump did not stop on SIGTERM; killing it');
      child.kill('SIGKILL');
    }, TCPDUMP_STOP_GRACE_MS);
    await this.exited;
    clearTimeout(killer);
  }
}
