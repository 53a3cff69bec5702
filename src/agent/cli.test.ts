/** `netspan agent` as a user runs it: the compiled CLI in a child process. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labEnv } from '../../test/e2e/lab/proc.js';
import { AgentProcess, CLI } from './agent_testkit.test.util.js';

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'agent', ...args], { encoding: 'utf8', timeout: 60_000 });
const dir = mkdtempSync(join(tmpdir(), 'netspan-agent-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n'));
  return path;
};

describe('netspan agent CLI', () => {
  test('--help prints the usage with every flag', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    for (const flag of ['--config', '--interface', '--filter', '--file', '--endpoint', '--protocol', '--output', '--observer', '--clt-ids'])
      assert.ok(r.stdout.includes(flag), flag);
  });

  test('a bad config file: every problem with its path on stderr, exit 1', () => {
    const path = config('bad.yaml', [
      'capture: { interfaces: [eth0, eth0], snap_length: 1 }',
      'exporter: { otlphttp: { endpoint: "ftp://x" }, batch: { timeout: 5 } }',
      'telemetry: { logs: { level: loud } }',
    ]);
    const r = run('--config', path);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /invalid configuration \(5 problems\)/);
    for (const want of [
      /capture\.interfaces\.1: "eth0" is listed twice/,
      /capture\.snap_length: /,
      /exporter\.otlphttp\.endpoint: must be an http:\/\/ or https:\/\/ URL/,
      /exporter\.batch\.timeout: duration needs a unit/,
      /telemetry\.logs\.level: /,
    ])
      assert.match(r.stderr, want);
  });

  test('no flags at all: what is missing, exit 1; a stray argument is a usage error, exit 2', () => {
    const r = run();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /capture: name at least one of capture\.interfaces/);
    assert.match(r.stderr, /\(root\): nowhere to send observations/);
    const u = run('eth0');
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unexpected argument "eth0"/);
    assert.equal(run('--interface').status, 2);
  });

  test('a tcpdump that cannot be run stops the start, exit 1', () => {
    const path = config('no-tcpdump.yaml', ['capture: { interfaces: [eth0], tcpdump: /nonexistent/tcpdump }', 'output: { path: "-" }']);
    const r = run('--config', path);
    assert.equal(r.status, 1);
    const fatal = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.level === 'fatal');
    assert.equal(fatal?.code, 'TCPDUMP_UNAVAILABLE');
    assert.match(String(fatal?.err), /cannot run "\/nonexistent\/tcpdump"/);
  });

  test('a tcpdump that keeps failing (no such interface) is logged, counted and restarted with backoff until SIGTERM', async (t) => {
    const probe = spawnSync('tcpdump', ['--version'], { env: labEnv(), encoding: 'utf8' });
    if (probe.status !== 0) {
      t.skip('tcpdump is not installed');
      return;
    }
    const path = config('restart.yaml', [
      'capture: { interfaces: [nsagent-none0], restart: { initial_interval: 20ms, max_interval: 80ms } }',
      'output: { path: "-" }',
    ]);
    const agent = new AgentProcess(['--config', path], { env: { PATH: labEnv().PATH } });
    try {
      await agent.waitForLog((l) => l.msg === 'netspan agent started');
      // Three exits mean two restarts happened in between.
      await agent.waitForLog((l) => l.msg === 'tcpdump exited; restarting it' && agent.logs.filter((x) => x.msg === l.msg).length >= 3);
      const exit = agent.logs.find((l) => l.msg === 'tcpdump exited; restarting it')!;
      assert.equal(exit.level, 'warn');
      assert.equal(exit.interface, 'nsagent-none0');
      assert.ok(
        (exit.stderr as string[]).some((line) => /nsagent-none0/.test(line)),
        JSON.stringify(exit),
      );
      assert.equal(await agent.stop(), 0, agent.dump());
      const stopped = agent.logs.find((l) => l.msg === 'netspan agent stopped');
      assert.ok((stopped?.capture_restarts as number) >= 2, JSON.stringify(stopped));
    } finally {
      await agent.stop();
    }
  });
});
