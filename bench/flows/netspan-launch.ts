/**
 * Starts `netspan run` as a child process, like test/e2e/netspan-process.ts, with room for node
 * flags (--cpu-prof is not allowed in NODE_OPTIONS): writes the config, learns the flow
 * receiver's UDP port ("flow receiver listening" → udp) and the telemetry address ("netspan
 * started") from its JSON logs, and stops it with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

interface LogLine {
  level?: unknown;
  msg?: string;
  [key: string]: unknown;
}

export class NetspanRun {
  private readonly logs: LogLine[] = [];
  private readonly exit: Promise<number | null>;
  telemetry = '';
  udpPort = 0;

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ msg: line });
      }
    });
    child.stdout!.resume(); // the debug exporter's output: not needed
    this.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static async start(cli: string, configYaml: string, nodeArgs: string[] = []): Promise<NetspanRun> {
    const dir = mkdtempSync(join(tmpdir(), 'netspan-bench-flows-run-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, configYaml);
    const child = spawn(process.execPath, [...nodeArgs, cli, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run = new NetspanRun(child, dir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const started = run.logs.find((l) => l.msg === 'netspan started');
      const listening = run.logs.find((l) => l.msg === 'flow receiver listening');
      if (started && listening) {
        run.telemetry = started.telemetry as string;
        const udp = (listening.udp as string[])[0]!;
        run.udpPort = Number(udp.slice(udp.lastIndexOf(':') + 1));
        return run;
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        const text = run.logs.map((l) => JSON.stringify(l)).join('\n');
        await run.stop();
        throw new Error(`netspan run did not start (exit ${child.exitCode}):\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Log lines at warn level or above. */
  warnings(): LogLine[] {
    return this.logs.filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exit;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}
