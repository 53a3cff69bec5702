/**
 * Bounded child processes for lab tests: every command has a timeout, every long-running
 * process a maximum lifetime after which it is killed, and output is kept (capped) for
 * assertions and failure reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Output kept per stream at most (tshark's JSON of a few datagrams is well below it). */
const MAX_OUTPUT = 64 * 1024 * 1024;

/** The environment for lab commands: this process's, with the sbin folders on PATH (ip, tcpdump, softflowd live there). */
export function labEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!path.includes(dir)) path.push(dir);
  return { ...process.env, PATH: path.join(':'), ...extra };
}

export interface RunOptions {
  /** Killed (SIGKILL) and rejected after this long. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Fed to stdin. */
  input?: string | Uint8Array;
  /** Reject when the exit code is not 0 (default true). */
  check?: boolean;
  cwd?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function describeCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a command to completion within timeoutMs (default 30 s). */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { timeoutMs = 30_000, check = true } = options;
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty command');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? labEnv(),
      cwd: options.cwd,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (b: Buffer) => {
      if ((outLen += b.length) <= MAX_OUTPUT) out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      if ((errLen += b.length) <= MAX_OUTPUT) err.push(b);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${describeCommand(argv)}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (timedOut) reject(new Error(`timed out after ${timeoutMs} ms: ${describeCommand(argv)}\n${tail(result.stderr)}`));
      else if (check && code !== 0)
        reject(new Error(`exit ${code ?? signal}: ${describeCommand(argv)}\n${tail(result.stderr)}\n${tail(result.stdout, 10)}`));
      else resolve(result);
    });
  });
}

export interface SpawnOptions {
  /** Killed (SIGKILL) after this long whatever happens (default 120 s). */
  maxLifetimeMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running child (a daemon, a capture): its output lines, readiness by output, bounded stop. */
export class LabProcess {
  readonly child: ChildProcess;
  /** stdout and stderr lines, interleaved as they came. */
  readonly lines: string[] = [];
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;
  private waiters: (() => void)[] = [];
  private readonly lifetime: NodeJS.Timeout;

  constructor(
    readonly argv: readonly string[],
    options: SpawnOptions = {},
  ) {
    const [file, ...args] = argv;
    if (!file) throw new Error('spawn: empty command');
    this.child = spawn(file, args, { env: options.env ?? labEnv(), cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let outLen = 0;
    const onData = (partial: { text: string }) => (b: Buffer) => {
      outLen += b.length;
      if (outLen > MAX_OUTPUT) return;
      partial.text += b.toString();
      const parts = partial.text.split('\n');
      partial.text = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    };
    const out = { text: '' };
    const err = { text: '' };
    this.child.stdout!.on('data', onData(out));
    this.child.stderr!.on('data', onData(err));
    this.lifetime = setTimeout(() => this.child.kill('SIGKILL'), options.maxLifetimeMs ?? 120_000);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.lines.push(`spawn error: ${e.message}`);
        this.status = { code: null, signal: null };
        clearTimeout(this.lifetime);
        this.wake();
        resolve(this.status);
      });
      this.child.on('close', (code, signal) => {
        for (const p of [out, err]) if (p.text) this.lines.push(p.text);
        this.status = { code, signal };
        clearTimeout(this.lifetime);
        this.wake();
        resolve(this.status);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.status === undefined;
  }

  get output(): string {
    return this.lines.join('\n');
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first output line matching `re`; rejects on exit or after timeoutMs. */
  async waitForLine(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((l) => re.test(l));
      if (found !== undefined) return found;
      if (!this.running)
        throw new Error(
          `${describeCommand(this.argv)} exited (${JSON.stringify(this.status)}) before printing ${re}:\n${tail(this.output)}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${describeCommand(this.argv)}:\n${tail(this.output)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits for the process to exit by itself, at most timeoutMs; then kills it (SIGKILL) and reports it. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus & { killed: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return { ...first, killed: false };
    this.child.kill('SIGKILL');
    return { ...(await this.exited), killed: true };
  }

  /** Sends `signal`, waits up to graceMs, then SIGKILL. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<ExitStatus & { killed: boolean }> {
    if (!this.running) return { ...this.status!, killed: false };
    this.child.kill(signal);
    return this.waitForExit(graceMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined, at most timeoutMs. */
export async function poll<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(intervalMs);
  }
}
