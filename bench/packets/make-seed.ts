/**
 * Makes the benchmark's seed capture, bench/packets/seed/ioam-http.pcap: real IOAM + HTTP
 * traffic from the Linux IPv6 IOAM data plane, captured with tcpdump. Run once, by hand, as root:
 *
 *   npm run build && node dist/bench/packets/make-seed.js
 *
 *   client ── router (IOAM node 1001) ── server (IOAM node 1002; tcpdump on its interface)
 *
 * The client and the server are the OpenTelemetry-instrumented application of the packet-evidence
 * end-to-end test (test/e2e/lab/clt-app.ts): every request carries a traceparent header, and with
 * netspan's CLT module every packet the client sends carries a pre-allocated IOAM trace (room for
 * 3 nodes, every trace-type bit the kernel fills or marks unavailable: 0-10) that the router fills
 * on the way. The capture on the server's interface sees the router's node data (the server's
 * own node writes after AF_PACKET has seen the packet).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Lab } from '../../test/e2e/lab/netns.js';
import { ioamLab, ioamLabUnavailable } from '../../test/e2e/lab/ioam.js';
import { CLT_APP_PATH } from '../../test/e2e/lab/clt-app.js';
import { sleep } from '../../test/e2e/lab/proc.js';
import { startNetspanIn } from '../../test/e2e/lab/netspan.js';
import { repoRoot, runMain } from '../common/cli.js';
import { describeCapture, SEED_FILE, SEED_TRAFFIC } from './seed.js';

async function main(): Promise<void> {
  const problem = await ioamLabUnavailable(['ip', 'tcpdump']);
  if (problem) throw new Error(`cannot make the seed capture: ${problem}`);

  const work = mkdtempSync(join(tmpdir(), 'netspan-packets-seed-'));
  const lab = Lab.create('pktseed');
  try {
    const L = await ioamLab(lab, SEED_TRAFFIC.namespaceId, SEED_TRAFFIC.namespaceData);
    // Each SDK exports to a collector in its own namespace, over loopback: no OTLP traffic in the capture.
    const otlp = 'http://[::1]:4318/v1/traces';
    const collectorConfig = `
receivers: { otlp: { protocols: { http: { endpoint: "[::1]:4318" } } } }
exporters: { file: { path: $DIR/traces.jsonl } }
service:
  telemetry: { metrics: { address: "" } }
  pipelines: { traces: { receivers: [otlp], exporters: [file] } }
`;
    const collectors = await Promise.all([L.client.ns, L.server.ns].map((ns) => startNetspanIn(ns, collectorConfig)));
    const server = lab.spawn(L.server.ns, [process.execPath, CLT_APP_PATH, 'server', '--port', String(SEED_TRAFFIC.port), '--otlp', otlp], {
      maxLifetimeMs: 300_000,
    });
    await server.waitForLine(/"ready":true/, 20_000);
    const capture = join(work, 'seed.pcap');
    const tcpdump = lab.spawn(L.server.ns, ['tcpdump', '-i', L.server.ifname, '-s', '0', '-U', '-w', capture, 'ip6'], {
      maxLifetimeMs: 300_000,
    });
    await tcpdump.waitForLine(/listening on/, 10_000);
    for (const w of SEED_TRAFFIC.workloads) {
      const url = `http://[${L.server.ipv6}]:${SEED_TRAFFIC.port}${w.path}`;
      const args = [
        '--requests',
        String(w.requests),
        '--concurrency',
        String(w.concurrency),
        ...(w.body ? ['--body', String(w.body)] : []),
      ];
      const clt = ['--clt', String(SEED_TRAFFIC.namespaceId), '--trace-type', String(SEED_TRAFFIC.traceType), '--nodes', '3'];
      const r = await lab.exec(L.client.ns, [process.execPath, CLT_APP_PATH, 'client', '--url', url, '--otlp', otlp, ...clt, ...args], {
        timeoutMs: 120_000,
      });
      if (!r.stdout.includes('"warnings":[]')) throw new Error(`the client ran without CLT:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    }
    await sleep(500);
    await tcpdump.stop('SIGINT', 5_000);
    await server.stop('SIGTERM', 5_000);
    await Promise.all(collectors.map((c) => c.stop()));

    const out = join(repoRoot(), 'bench', 'packets', SEED_FILE);
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(capture, out);
    const mix = describeCapture(readFileSync(out));
    console.log(`${relative(process.cwd(), out)}: ${statSync(out).size} bytes`);
    console.log(JSON.stringify(mix, null, 2));
  } finally {
    await lab.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

runMain(main);
