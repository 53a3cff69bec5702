/**
 * Live capture, as root, in a pair of network namespaces: `netspan agent --interface` runs inside
 * one (so its tcpdump sees only the lab's veth), plain UDP and TCP come from the other, and the
 * agent's /metrics (read from inside its namespace) must count exactly the packets the BPF filter
 * lets through — before and after its tcpdump is killed and restarted. IOAM on live traffic is
 * tested where the IOAM sender exists.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, missingCommands, namespaceSupport } from '../../test/e2e/lab/netns.js';
import { labEnv } from '../../test/e2e/lab/proc.js';
import { fetchInside, metricValue, sendUdp, tryTcp } from '../../test/e2e/lab/inside.js';
import { AgentProcess, eventually } from './agent_testkit.test.util.js';

const PORT = 9999;
const BURST = 20;

async function unsupported(): Promise<string | undefined> {
  const reason = await namespaceSupport();
  if (reason) return reason;
  const missing = await missingCommands(['tcpdump']);
  return missing.length > 0 ? `missing ${missing.join(', ')}` : undefined;
}

const isGone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

after(() => Lab.destroyAll());

test('live capture: tcpdump per interface, BPF filter, packets on /metrics, restart after tcpdump dies, clean stop', async (t) => {
  const reason = await unsupported();
  if (reason) {
    process.stdout.write(`# live capture test skipped: ${reason}\n`);
    t.skip(reason);
    return;
  }
  const lab = Lab.create('agent');
  const dir = mkdtempSync(join(tmpdir(), 'netspan-agent-live-'));
  try {
    const a = await lab.addNamespace('a');
    const b = await lab.addNamespace('b');
    await lab.veth(a, 'veth-a', b, 'veth-b');
    await lab.address(a, 'veth-a', 'fd00:a::1/64');
    await lab.address(b, 'veth-b', 'fd00:a::2/64');
    const output = join(dir, 'observations.jsonl');
    const agent = new AgentProcess(
      [
        '--interface',
        'veth-a',
        '--filter',
        `udp port ${PORT}`,
        '--output',
        output,
        '--metrics-address',
        '127.0.0.1:0',
        '--observer',
        'live',
      ],
      { commandPrefix: ['ip', 'netns', 'exec', a], env: { PATH: labEnv().PATH } },
    );
    try {
      const started = await agent.waitForLog((l) => l.msg === 'netspan agent started');
      const listening = agent.logs.find((l) => l.msg === 'tcpdump stderr' && /listening on veth-a/.test(String(l.stderr)));
      assert.ok(listening, `tcpdump said it listens before the agent said it started:\n${agent.dump()}`);
      const metricsUrl = `http://${started.telemetry as string}/metrics`;
      const metric = async (name: string, labels: Record<string, string> = {}) =>
        metricValue(await fetchInside(lab, a, metricsUrl), name, labels);
      const packets = () => metric('netspan_agent_packets_captured_total', { interface: 'veth-a' });

      // Only the datagrams to PORT pass the filter: the others and the TCP attempt must not be counted.
      await sendUdp(lab, b, 'fd00:a::1', PORT, BURST);
      await sendUdp(lab, b, 'fd00:a::1', PORT + 1, 5);
      await tryTcp(lab, b, 'fd00:a::1', 80);
      await eventually(async () => (await packets()) >= BURST, `${BURST} packets counted`);
      // One more datagram that passes marks the end: everything sent before it has been through the filter.
      await sendUdp(lab, b, 'fd00:a::1', PORT, 1);
      await eventually(async () => (await packets()) >= BURST + 1, 'the marker counted');
      assert.equal(await packets(), BURST + 1);

      // tcpdump dies: logged, counted, started again, and the capture goes on.
      const first = agent.logs.find((l) => l.msg === 'capture started')!.pid as number;
      process.kill(first, 'SIGKILL');
      await agent.waitForLog((l) => l.msg === 'tcpdump exited; restarting it' && l.pid === first);
      const second = (await agent.waitForLog((l) => l.msg === 'capture started' && l.pid !== first)).pid as number;
      await agent.waitForLog((l) => l.msg === 'tcpdump stderr' && l.pid === second && /listening on/.test(String(l.stderr)));
      assert.equal(await metric('netspan_agent_capture_exits_total', { interface: 'veth-a' }), 1);
      assert.equal(await metric('netspan_agent_capture_restarts_total', { interface: 'veth-a' }), 1);
      await sendUdp(lab, b, 'fd00:a::1', PORT, BURST);
      await eventually(async () => (await packets()) >= 2 * BURST + 1, 'packets after the restart');
      assert.equal(await packets(), 2 * BURST + 1);
      assert.equal(await metric('netspan_agent_observations_total'), 0, 'plain UDP carries no IOAM');

      // SIGTERM: tcpdump is stopped with the agent, which reports its totals and exits 0.
      assert.equal(await agent.stop(), 0, agent.dump());
      assert.ok(isGone(second), 'tcpdump stopped with the agent');
      const stopped = agent.logs.find((l) => l.msg === 'netspan agent stopped');
      assert.equal(stopped?.packets, 2 * BURST + 1);
      assert.equal(stopped?.capture_restarts, 1);
      assert.equal(readFileSync(output, 'utf8'), '');
    } finally {
      await agent.stop();
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
