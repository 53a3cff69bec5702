/**
 * Runs the real `netspan run` CLI as a child process for end-to-end tests: writes the config,
 * learns the bound ports from its structured logs, and stops it with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../src/testutil/index.js';

export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export class NetspanProcess {
  readonly logs: LogLine[] = [];
  readonly stdout: string[] = [];
  private exit: Promise<number | null>;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ level: 'raw', msg: line });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.stdout.push(line));
    this.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /**
   * Starts `netspan run` with the YAML config; resolves once it logged "netspan started".
   * `commandPrefix` runs it through another command, e.g. `['ip', 'netns', 'exec', ns]`.
   */
  static async start(
    configYaml: string,
    env: NodeJS.ProcessEnv = {},
    options: { commandPrefix?: readonly string[]; nodeArgs?: readonly string[] } = {},
  ): Promise<NetspanProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'netspan-e2e-'));
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, configYaml.replaceAll('$DIR', dir));
    const [file, ...prefixArgs] = [...(options.commandPrefix ?? []), process.execPath];
    const child = spawn(file!, [...prefixArgs, ...(options.nodeArgs ?? []), CLI, 'run', '--config', configPath], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new NetspanProcess(child, dir);
    await p.waitForLog((l) => l.msg === 'netspan started', 20_000);
    return p;
  }

  async waitForLog(match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (this.child.exitCode !== null)
        throw new Error(`netspan exited (${this.child.exitCode}):\n${this.logs.map((l) => JSON.stringify(l)).join('\n')}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for a log line; have:\n${this.logs.map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** The endpoint a receiver logged when it started listening ("host:port"). */
  endpoint(message: string): string {
    const line = this.logs.find((l) => l.msg === message);
    if (!line) throw new Error(`no "${message}" log line`);
    return line.endpoint as string;
  }

  get telemetry(): string {
    return this.logs.find((l) => l.msg === 'netspan started')!.telemetry as string;
  }

  /** SIGTERM, then the exit code (a graceful shutdown exits 0). */
  /** Log lines at warn level or above. */
  warnings(): LogLine[] {
    return this.logs.filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`http://${this.telemetry}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
    }
    return sum;
  }
}

export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
