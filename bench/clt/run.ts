/**
 * bench/clt: what Cross-Layer Telemetry (`enableHttpClt`, netspan/clt) costs an instrumented
 * HTTP client, on the real Linux IPv6 IOAM data plane:
 *
 *   client ── router (IOAM transit, node 1001) ── server (IOAM, node 1002)   (test/e2e/lab/ioam.ts)
 *
 * The client is the lab's OpenTelemetry application (test/e2e/lab/clt-app.ts `load`: the real
 * SDK, the http instrumentation, a root and a CLIENT span per request, spans exported over
 * OTLP/HTTP to a sink in the client's namespace), keep-alive HTTP GETs to a plain node:http
 * server. Each scenario runs the client without CLT and with `--clt` (everything else the same),
 * in alternating order over the rounds (A B, B A, ...):
 *
 *   - rate: open loop at the paper's load (200 requests/s), latency from when each request was due;
 *   - busy: open loop at a rate the client sustains but that keeps it busy (1,000 requests/s):
 *     CPU per request at the same throughput with and without, which saturation cannot give
 *     (there a slower mode also does fewer requests per wake-up, so each costs more);
 *   - saturation: closed loop, C requests at a time, as fast as they come back.
 *
 * Per run: achieved requests/s, latency p50/p90/p99/max, the client process's CPU per request
 * (getrusage over the window), and proof of what was on the wire: ip6tables counters on the
 * server count the client's TCP segments and those with the IOAM option (hbh option 0x31), and
 * a short tcpdump at the start of each run is decoded with netspan's own decoders (the router's
 * node filled in, the trace context present; none of it without CLT). A "with" run whose packets
 * carry no IOAM, or a "without" run whose packets do, fails the benchmark.
 *
 *   npm run build && flock <lock> npm run bench:clt [-- --seconds 10 --rounds 2 ...]
 *
 * Prints a markdown table and writes bench/clt/results/latest.json. Needs root, network
 * namespaces, tcpdump, ip6tables-legacy and the native addon.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Lab } from '../../test/e2e/lab/netns.js';
import { captureIpv6, ioamLab, ioamLabUnavailable, type IoamLab } from '../../test/e2e/lab/ioam.js';
import { CLT_APP_PATH, type LoadSummary } from '../../test/e2e/lab/clt-app.js';
import { CLT_PEER_PATH } from '../../test/e2e/lab/clt-peer.js';
import { readPcap } from '../../src/capture/pcap/index.js';
import { decodePacket } from '../../src/capture/decode/index.js';
import { decodeIoamOptions } from '../../src/capture/ioam/decode.js';
import { decodeTraceContextOption } from '../../src/clt/index.js';
import { busyPercentOver, clockTicks, cpuTicks, systemTicks, warnIfBusy } from '../common/procstat.js';
import { machineBanner, machineInfo } from '../common/machine.js';
import { defaultResultsFile, num, parseOptions, runMain } from '../common/cli.js';
import { markdownTable, writeResults } from '../common/results.js';
import { median, round } from '../common/util.js';

const USAGE = `usage: node dist/bench/clt/run.js [options]
  --rate N           open-loop load of the rate scenario, requests/s (default 200, the paper's)
  --busy-rate N      open-loop load of the busy scenario, requests/s (default 1000)
  --concurrency N    requests in flight in the saturation scenario (default 8)
  --seconds N        length of each run, s, warm-up included (default 8)
  --warmup N         first seconds of each run not measured (default 2)
  --rounds N         runs per scenario and mode, in alternating order (default 3)
  --scenarios LIST   rate,busy,saturation (default all three)
  --nodes N          IOAM nodes the trace has room for (default 4)
  --sample N         packets tcpdump decodes at the start of each run (default 200)
  --out FILE         results JSON (default bench/clt/results/latest.json)`;

const IOAM_NAMESPACE = 123;
const HTTP_PORT = 7102;
const TCP_PORT = 7101;
const OTLP_PORT = 4318;
/** The IPv6 option type of IOAM (RFC 9486); ip6tables' hbh match checks options in order, after our leading PadN (1:0). */
const IOAM_OPTION = 0x31;

type Scenario = 'rate' | 'busy' | 'saturation';
const SCENARIOS: readonly Scenario[] = ['rate', 'busy', 'saturation'];
type Mode = 'without' | 'with';

interface Options {
  rate: number;
  busyRate: number;
  concurrency: number;
  seconds: number;
  warmup: number;
  rounds: number;
  scenarios: Scenario[];
  nodes: number;
  sample: number;
  out: string;
}

function options(): Options {
  const { values } = parseOptions(USAGE, {
    rate: { type: 'string', default: '200' },
    'busy-rate': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    nodes: { type: 'string', default: '4' },
    sample: { type: 'string', default: '200' },
    out: { type: 'string', default: defaultResultsFile('clt') },
  });
  const scenarios = values.scenarios.split(',').map((s) => s.trim());
  for (const s of scenarios) if (!SCENARIOS.includes(s as Scenario)) throw new Error(`--scenarios: unknown scenario ${s}`);
  const seconds = num('seconds', values.seconds, 2, 600);
  return {
    rate: num('rate', values.rate, 1, 100_000),
    busyRate: num('busy-rate', values['busy-rate'], 1, 100_000),
    concurrency: num('concurrency', values.concurrency, 1, 1024),
    seconds,
    warmup: num('warmup', values.warmup, 0, seconds - 1),
    rounds: num('rounds', values.rounds, 1, 20),
    scenarios: scenarios as Scenario[],
    nodes: num('nodes', values.nodes, 1, 15),
    sample: num('sample', values.sample, 10, 100_000),
    out: values.out,
  };
}

/** What reached the server from the client during a run. */
interface WireCheck {
  /** ip6tables counters on the server: the client's TCP segments to the HTTP port, and those carrying the IOAM option. */
  segments: number;
  segmentsWithIoam: number;
  /** tcpdump sample at the start of the run: client-to-server segments decoded, and how many carried what. */
  sampled: number;
  sampledWithRouterNode: number;
  sampledWithTraceContext: number;
}

interface Run {
  scenario: Scenario;
  mode: Mode;
  round: number;
  client: LoadSummary;
  wire: WireCheck;
  /** The whole machine's busy time during the run, % of one core (this lab's processes included). */
  machineBusyPercent: number;
  /** The server's and the OTLP sink's CPU during the run, % of one core. */
  serverCpuPercent: number;
  /** What the rest of the machine (other work, kernel threads) used, roughly: busy − client − server, % of one core. */
  othersPercent: number;
}

class ClientLab {
  private constructor(
    readonly lab: Lab,
    readonly L: IoamLab,
    private readonly dir: string,
    /** The server's and the sink's pids. */
    private readonly peers: number[],
  ) {}

  static async start(): Promise<ClientLab> {
    const lab = Lab.create('bench-clt');
    const L = await ioamLab(lab, IOAM_NAMESPACE);
    const dir = mkdtempSync(join(tmpdir(), 'netspan-bench-clt-'));
    const lifetime = { maxLifetimeMs: 3_600_000 };
    const server = lab.spawn(
      L.server.ns,
      [process.execPath, CLT_PEER_PATH, 'serve', '--tcp-port', String(TCP_PORT), '--http-port', String(HTTP_PORT)],
      lifetime,
    );
    const sink = lab.spawn(L.client.ns, [process.execPath, CLT_APP_PATH, 'sink', '--port', String(OTLP_PORT)], lifetime);
    await Promise.all([server.waitForLine(/"ready"/, 20_000), sink.waitForLine(/"ready"/, 20_000)]);
    const self = new ClientLab(lab, L, dir, [server.pid!, sink.pid!]);
    for (const match of [['-m', 'hbh', '--hbh-opts', `1:0,${IOAM_OPTION}`], []])
      await self.iptables(['-A', 'INPUT', '-s', L.client.ipv6, '-p', 'tcp', '--dport', String(HTTP_PORT), ...match]);
    return self;
  }

  private iptables(args: string[]): Promise<{ stdout: string }> {
    return this.lab.exec(this.L.server.ns, ['ip6tables-legacy', ...args]);
  }

  /** The two counters' packets, in rule order (IOAM, all). */
  private async counters(): Promise<[number, number]> {
    const out = (await this.iptables(['-L', 'INPUT', '-v', '-x', '-n'])).stdout;
    const rows = out.split('\n').filter((l) => l.includes(`dpt:${HTTP_PORT}`));
    const packets = rows.map((l) => Number(l.trim().split(/\s+/)[0]));
    if (packets.length !== 2 || packets.some((n) => !Number.isFinite(n))) throw new Error(`unexpected ip6tables output:\n${out}`);
    return [packets[0]!, packets[1]!];
  }

  async run(o: Options, scenario: Scenario, mode: Mode, roundIndex: number, ticksPerSecond: number): Promise<Run> {
    const { lab, L } = this;
    await this.iptables(['-Z', 'INPUT']);
    const pcap = join(this.dir, `${scenario}-${mode}-${roundIndex}.pcap`);
    const capture = await captureIpv6(lab, L.server.ns, L.server.ifname, pcap, o.sample);
    const argv = [
      process.execPath,
      CLT_APP_PATH,
      'load',
      '--url',
      `http://[${L.server.ipv6}]:${HTTP_PORT}/`,
      '--otlp',
      `http://[::1]:${OTLP_PORT}/v1/traces`,
      '--seconds',
      String(o.seconds),
      '--warmup',
      String(o.warmup),
      ...(scenario === 'saturation'
        ? ['--concurrency', String(o.concurrency)]
        : ['--rate', String(scenario === 'rate' ? o.rate : o.busyRate)]),
      ...(mode === 'with' ? ['--clt', String(IOAM_NAMESPACE), '--nodes', String(o.nodes)] : []),
    ];
    const peerTicks = (): number => this.peers.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    const sys0 = systemTicks();
    const peers0 = peerTicks();
    const t0 = performance.now();
    const result = await lab.exec(L.client.ns, argv, { timeoutMs: (o.seconds + 60) * 1000 });
    const percent = (ticks: number): number => round((ticks / ticksPerSecond / ((performance.now() - t0) / 1000)) * 100, 1);
    const machineBusyPercent = percent(systemTicks().busy - sys0.busy);
    const serverCpuPercent = percent(peerTicks() - peers0);
    const client = JSON.parse(result.stdout.trim().split('\n').pop()!) as LoadSummary;
    const othersPercent = round(Math.max(0, machineBusyPercent - serverCpuPercent - client.cpuPercent), 1);
    await capture.stop('SIGINT');
    const [segmentsWithIoam, segments] = await this.counters();
    const wire = { segments, segmentsWithIoam, ...this.sampled(pcap) };
    rmSync(pcap, { force: true });
    return { scenario, mode, round: roundIndex, client, wire, machineBusyPercent, serverCpuPercent, othersPercent };
  }

  /** The captured client-to-server segments: how many carry the router's IOAM node and the trace context. */
  private sampled(pcap: string): Pick<WireCheck, 'sampled' | 'sampledWithRouterNode' | 'sampledWithTraceContext'> {
    const { L } = this;
    let sampled = 0;
    let sampledWithRouterNode = 0;
    let sampledWithTraceContext = 0;
    for (const p of readPcap(readFileSync(pcap)).packets) {
      const d = decodePacket(p.data, p.linkType);
      if (d.sourceAddress !== L.client.ipv6 || d.destinationPort !== HTTP_PORT) continue;
      sampled++;
      if (!d.hopByHopOptions) continue;
      const { traces } = decodeIoamOptions(d.hopByHopOptions);
      const router = traces[0]?.nodes[0];
      if (traces[0]?.namespaceId === IOAM_NAMESPACE && router?.node_id === L.router.nodeId) sampledWithRouterNode++;
      if (decodeTraceContextOption(d.hopByHopOptions)) sampledWithTraceContext++;
    }
    return { sampled, sampledWithRouterNode, sampledWithTraceContext };
  }

  async stop(): Promise<void> {
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Throws when a run's packets say it was not what its mode claims. */
function checkWire(r: Run): void {
  const w = r.wire;
  const what = `${r.scenario} ${r.mode} round ${r.round}`;
  if (r.client.warnings.length) throw new Error(`${what}: CLT warned: ${r.client.warnings.join('; ')}`);
  if (r.client.failed > 0) throw new Error(`${what}: ${r.client.failed} requests failed`);
  if (w.sampled === 0 || w.segments === 0) throw new Error(`${what}: no client segment reached the server`);
  if (r.mode === 'without' && (w.segmentsWithIoam > 0 || w.sampledWithTraceContext > 0))
    throw new Error(`${what}: packets carried IOAM without CLT`);
  // Each request's head and the segments up to its response carry it; the SYN of a connection
  // and the ACKs after a response may not (set on connect, cleared when the response ended).
  if (r.mode === 'with' && (w.segmentsWithIoam < w.segments / 2 || w.sampledWithRouterNode === 0 || w.sampledWithTraceContext === 0))
    throw new Error(`${what}: too few packets carried IOAM (${JSON.stringify(w)})`);
}

/** One mode's figures over its rounds: the median of each. */
interface ModeFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuMicrosPerRequest: number;
  cpuPercent: number;
  ioamShare: number;
  /** What the rest of the machine used meanwhile (see Run.othersPercent). */
  othersPercent: number;
}

function figures(runs: Run[]): ModeFigures {
  const m = (f: (r: Run) => number): number => round(median(runs.map(f)), 3);
  return {
    requestsPerSecond: m((r) => r.client.requestsPerSecond),
    p50Ms: m((r) => r.client.latencyMs.p50),
    p90Ms: m((r) => r.client.latencyMs.p90),
    p99Ms: m((r) => r.client.latencyMs.p99),
    maxMs: m((r) => r.client.latencyMs.max),
    cpuMicrosPerRequest: m((r) => r.client.cpuMicrosPerRequest),
    cpuPercent: m((r) => r.client.cpuPercent),
    ioamShare: m((r) => r.wire.segmentsWithIoam / r.wire.segments),
    othersPercent: m((r) => r.othersPercent),
  };
}

const ratio = (a: number, b: number): number => round(a / b, 3);

async function main(): Promise<void> {
  const o = options();
  const why = await ioamLabUnavailable(['ip', 'tcpdump', 'ip6tables-legacy']);
  if (why) throw new Error(`bench/clt cannot run here: ${why}`);
  const machine = machineInfo();
  const ticksPerSecond = clockTicks();
  const busyBeforeRunPercent = await busyPercentOver(1000, ticksPerSecond);
  warnIfBusy(busyBeforeRunPercent);
  console.error(machineBanner('bench/clt', machine));

  const lab = await ClientLab.start();
  const runs: Run[] = [];
  try {
    for (const scenario of o.scenarios)
      for (let pass = 0; pass < o.rounds; pass++) {
        // Alternate which mode goes first, so neither always runs on a warmer (or busier) machine.
        const order: Mode[] = pass % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
        for (const mode of order) {
          const r = await lab.run(o, scenario, mode, pass, ticksPerSecond);
          checkWire(r);
          const c = r.client;
          console.error(
            `${scenario} ${mode} #${pass}: ${c.requestsPerSecond} req/s, p50 ${c.latencyMs.p50} ms, p99 ${c.latencyMs.p99} ms, ` +
              `${c.cpuMicrosPerRequest} µs CPU/request; IOAM on ${r.wire.segmentsWithIoam}/${r.wire.segments} segments; machine ${r.machineBusyPercent} %, others ≈ ${r.othersPercent} %`,
          );
          runs.push(r);
        }
      }
  } finally {
    await lab.stop();
  }

  const summary = o.scenarios.map((scenario) => {
    const of = (mode: Mode) => figures(runs.filter((r) => r.scenario === scenario && r.mode === mode));
    const without = of('without');
    const withClt = of('with');
    return {
      scenario,
      load:
        scenario === 'saturation'
          ? `${o.concurrency} in flight, closed loop`
          : `${scenario === 'rate' ? o.rate : o.busyRate} req/s, open loop`,
      without,
      with: withClt,
      ratio: {
        requestsPerSecond: ratio(withClt.requestsPerSecond, without.requestsPerSecond),
        p50: ratio(withClt.p50Ms, without.p50Ms),
        p90: ratio(withClt.p90Ms, without.p90Ms),
        p99: ratio(withClt.p99Ms, without.p99Ms),
        cpuPerRequest: ratio(withClt.cpuMicrosPerRequest, without.cpuMicrosPerRequest),
      },
      cpuMicrosPerRequestAdded: round(withClt.cpuMicrosPerRequest - without.cpuMicrosPerRequest, 1),
    };
  });

  const rows = summary.flatMap((s) => {
    const row = (label: string, f: ModeFigures) => [
      s.load,
      label,
      f.requestsPerSecond.toFixed(1),
      f.p50Ms.toFixed(3),
      f.p90Ms.toFixed(3),
      f.p99Ms.toFixed(3),
      f.maxMs.toFixed(3),
      f.cpuMicrosPerRequest.toFixed(1),
      `${round(f.ioamShare * 100, 1)} %`,
      `${round(f.othersPercent, 0)} %`,
    ];
    const r = s.ratio;
    return [
      row('without CLT', s.without),
      row('with CLT', s.with),
      [
        s.load,
        '**with / without**',
        `**${r.requestsPerSecond}×**`,
        `${r.p50}×`,
        `${r.p90}×`,
        `${r.p99}×`,
        '',
        `${r.cpuPerRequest}× (${s.cpuMicrosPerRequestAdded >= 0 ? '+' : ''}${s.cpuMicrosPerRequestAdded} µs)`,
        '',
        '',
      ],
    ];
  });
  console.log(
    markdownTable(
      [
        'load',
        'client',
        'requests/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'client CPU µs/request',
        'client segments with IOAM',
        'rest of the machine, % of a core',
      ],
      rows,
    ),
  );
  console.log(`\nmedians of ${o.rounds} round(s) per mode, ${o.seconds - o.warmup} s measured each; see ${relative(process.cwd(), o.out)}`);
  writeResults(o.out, {
    benchmark: 'bench/clt',
    date: new Date().toISOString(),
    machine: {
      ...machine,
      busyBeforeRunPercent,
      note: 'a shared machine: other work may have been running; machineBusyPercent per run includes this lab',
    },
    settings: { ...o, out: relative(process.cwd(), o.out), ioamNamespace: IOAM_NAMESPACE, traceType: '0xf00000' },
    summary,
    runs,
  });
}

runMain(main);
