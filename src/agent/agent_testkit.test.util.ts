/** What the agent tests share: the kernel IOAM captures and what the decoders make of them, a running agent CLI, a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readPcap } from '../capture/pcap/index.js';
import { decodePacket } from '../capture/decode/index.js';
import { decodeIoamOptions } from '../capture/ioam/index.js';
import type { IoamObservation, Observation } from '../model/observation.js';
import { observationFromLogRecord } from '../model/observation-logs.js';
import type { Logs } from '../model/otlp.js';
import { REPO_ROOT, SHARED_DIR, type LogLine } from '../testutil/index.js';
import { observationJson } from './output.js';

export const IOAM_PCAP_DIR = join(SHARED_DIR, 'data', 'ioam', 'linux-kernel-6.18-generated', 'pcap');
export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export function ioamPcaps(): string[] {
  return readdirSync(IOAM_PCAP_DIR)
    .filter((f) => f.endsWith('.pcap'))
    .sort()
    .map((f) => join(IOAM_PCAP_DIR, f));
}

/** What the packet and IOAM decoders give for every packet of the files, as the agent's observations should be. */
export function expectedObservations(files: readonly string[], observer: string): IoamObservation[] {
  const out: IoamObservation[] = [];
  for (const file of files)
    for (const p of readPcap(new Uint8Array(readFileSync(file))).packets) {
      const d = decodePacket(p.data, p.linkType);
      if (!d.hopByHopOptions) continue;
      for (const t of decodeIoamOptions(d.hopByHopOptions).traces)
        out.push({
          kind: 'ioam',
          source: 'capture',
          timeUnixNano: p.timestampUnixNano,
          observer,
          interfaceName: '',
          sourceAddress: d.sourceAddress,
          sourcePort: d.sourcePort,
          destinationAddress: d.destinationAddress,
          destinationPort: d.destinationPort,
          protocol: d.protocol,
          optionType: t.ioamOptionType,
          namespaceId: t.namespaceId,
          traceType: t.traceType,
          overflow: t.overflow,
          nodes: t.nodes,
        });
    }
  return out;
}

/** Every observation log record of the requests, read back. */
export function observationsOf(requests: readonly Logs[]): Observation[] {
  const out: Observation[] = [];
  for (const logs of requests)
    for (const rl of logs.resourceLogs)
      for (const sl of rl.scopeLogs)
        for (const r of sl.logRecords) {
          const o = observationFromLogRecord(r);
          if (o) out.push(o);
        }
  return out;
}

/** Observations keyed by their JSON line (unique here: every capture packet has its own time or file). */
export function byKey(observations: readonly Observation[]): Map<string, Observation[]> {
  const m = new Map<string, Observation[]>();
  for (const o of observations) {
    const k = observationJson(o);
    m.set(k, [...(m.get(k) ?? []), o]);
  }
  return m;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `netspan agent ...` as a child process: its JSON logs, stdout lines, exit code. */
export class AgentProcess {
  readonly logs: LogLine[] = [];
  readonly stdout: string[] = [];
  readonly exit: Promise<number | null>;
  private waiters: (() => void)[] = [];

  constructor(
    args: readonly string[],
    options: { commandPrefix?: readonly string[]; env?: NodeJS.ProcessEnv } = {},
    readonly child: ChildProcess = spawnAgent(args, options),
  ) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ level: 'raw', msg: line });
      }
      this.wake();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.stdout.push(line);
      this.wake();
    });
    this.exit = new Promise((resolve) =>
      child.on('close', (code) => {
        resolve(code);
        this.wake();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first log line that matches; throws with the logs so far when the agent exits first or after timeoutMs. */
  async waitForLog(match: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (!this.running) throw new Error(`agent exited (${this.child.exitCode}):\n${this.dump()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line; have:\n${this.dump()}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  dump(): string {
    return this.logs.map((l) => JSON.stringify(l)).join('\n');
  }

  /** SIGTERM (unless it has exited), then the exit code; SIGKILL if it hangs. */
  async stop(): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }

  /** Waits for the agent to exit by itself (files done); SIGKILL after timeoutMs. */
  async exited(timeoutMs = 60_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

function spawnAgent(args: readonly string[], options: { commandPrefix?: readonly string[]; env?: NodeJS.ProcessEnv }): ChildProcess {
  const [file, ...prefix] = [...(options.commandPrefix ?? []), process.execPath];
  return spawn(file!, [...prefix, CLI, 'agent', ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Polls `check` until it holds; the timeout only bounds a broken run, it measures nothing. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
