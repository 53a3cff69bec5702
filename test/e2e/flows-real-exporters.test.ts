/**
 * Real NetFlow/IPFIX exporters in network namespaces export real traffic to `netspan run`.
 *
 *   client ── router ── server          (IPv4 198.18.x.0/24, IPv6 fd00:x::/64, no way out)
 *               │
 *           collector: netspan run (netflow receiver → logs pipeline → file exporter)
 *
 * Per variant, in a lab of its own: the exporter runs in the router sniffing the client-facing
 * interface and exports to netspan; tcpdump in the collector namespace captures the export
 * datagrams; the client makes HTTP (TCP) and UDP-echo exchanges with the server over IPv4 and
 * IPv6; the exporter is made to expire everything and stopped.
 *
 * The exporters' own view, the reference:
 *   - nfdump 1.7.1: the captured datagrams are re-sent, from the exporter's address, to nfcapd
 *     in the collector namespace; `nfdump -o json` lists the flows;
 *   - tshark 4.0 decodes the same capture (`-d udp.port==2055,cflow`); its records carry the
 *     exported port fields as they are (nfdump shows ICMP type/code instead) and its times,
 *     made absolute from the headers as each format defines, are the time reference where
 *     nfdump 1.7.1 cannot decode the time elements (see `nfdumpTimes` below).
 * nfdump and tshark must agree with each other, every flow the client made must be among them
 * (IPv6 too for v9/IPFIX), and netspan's output must hold exactly the reference's flows: same
 * addresses, ports, protocol, bytes and packets, start and end within the time resolution of
 * the format (the one netspan states in flow.time_resolution_ns, which is checked too; plus 1 ms
 * against nfdump, which keeps milliseconds). No flow may be missing or extra.
 *
 * Needs root, iproute2, tcpdump, tshark, softflowd, pmacct, nfdump, fprobe, gcc and libpcap-dev
 * (softflowd gets an LD_PRELOAD shim compiled here, see lab/pcap_immediate.c). Outside CI it
 * skips, saying why, when something is missing; in CI (CI=true) that is a failure.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/testutil/index.js';
import { CLI } from './netspan-process.js';
import { IN_CI, Lab, missingCommands, namespaceSupport, routedStar, type RoutedStar } from './lab/netns.js';
import { run, sleep, poll, type LabProcess } from './lab/proc.js';
import { TOOL_PATH, type GeneratedFlow } from './lab/tool.js';
import { readUdpDatagrams } from './lab/pcap.js';
import { describeFlow, msText, readNetspanFlows, readNfdumpFlows, readTsharkFlows, type FlowView } from './lab/flow-views.js';
import { largestTimeDelta, matchFlows, matchProblems } from './lab/match.js';
import { startNetspanIn } from './lab/netspan.js';

const EXPORT_PORT = 2055;
const NFCAPD_PORT = 9995;
const HTTP_PORT = 8080;
const UDP_PORT = 9999;
const MS = 1_000_000n;
/** Variants run side by side (each in its own lab); NETSPAN_LAB_CONCURRENCY overrides. */
const CONCURRENCY = Math.max(1, Number(process.env.NETSPAN_LAB_CONCURRENCY ?? 3) || 1);

const REQUIRED_COMMANDS = ['ip', 'tcpdump', 'tshark', 'softflowd', 'softflowctl', 'pmacctd', 'fprobe', 'nfcapd', 'nfdump', 'gcc'];
const DEBIAN_PACKAGES = 'iproute2 tcpdump tshark softflowd pmacct nfdump fprobe libpcap-dev gcc';

interface Variant {
  id: string;
  exporter: 'softflowd' | 'pmacctd' | 'fprobe';
  version: 5 | 9 | 10;
  flowType: 'netflow_v5' | 'netflow_v9' | 'ipfix';
  /** The time resolution the records have (and netspan must state). */
  resolutionNano: bigint;
  /** softflowd -A: IPFIX absolute times in seconds/milli/micro/nanoseconds (IE 150-157); none: sysUpTime-relative. */
  softflowdTime?: 'sec' | 'milli' | 'micro' | 'nano';
  /** Why nfdump's times are not a reference for this variant; tshark's are compared instead. */
  nfdumpTimes?: string;
  /** Why tshark does not show every record of this variant (nfdump is the reference for those). */
  tsharkMisses?: string;
}

const VARIANTS: Variant[] = [
  // NetFlow v5 records times in ms of sysUpTime; the header anchors them to ns.
  { id: 'softflowd-v5', exporter: 'softflowd', version: 5, flowType: 'netflow_v5', resolutionNano: MS },
  // softflowd's v9 records use FIRST/LAST_SWITCHED (sysUpTime ms); the v9 header's export time has whole seconds only.
  {
    id: 'softflowd-v9',
    exporter: 'softflowd',
    version: 9,
    flowType: 'netflow_v9',
    resolutionNano: 1000n * MS,
    tsharkMisses:
      "softflowd's first v9 packet carries templates and data but its header Count counts only the templates; " +
      'tshark stops after Count records (nfdump and netspan read the whole packet)',
  },
  { id: 'softflowd-ipfix-milli', exporter: 'softflowd', version: 10, flowType: 'ipfix', resolutionNano: MS, softflowdTime: 'milli' },
  {
    id: 'softflowd-ipfix-uptime',
    exporter: 'softflowd',
    version: 10,
    flowType: 'ipfix',
    resolutionNano: MS,
    nfdumpTimes:
      'softflowd exports flowStart/EndSysUpTime (IE 22/21) with systemInitTimeMilliseconds (IE 160) in an options record; ' +
      'nfdump 1.7.1 does not use IE 160: its start times are off by milliseconds and its durations read -2147483648 days',
  },
  {
    id: 'softflowd-ipfix-sec',
    exporter: 'softflowd',
    version: 10,
    flowType: 'ipfix',
    resolutionNano: 1000n * MS,
    softflowdTime: 'sec',
    nfdumpTimes: 'nfdump 1.7.1 does not decode flowStart/EndSeconds (IE 150/151): it prints 1970-01-01',
  },
  // dateTimeMicroseconds is NTP: netspan drops the fraction's low 11 bits as RFC 7011 §6.1.9 says, tshark
  // converts all 32, so they differ by up to 0.48 µs, within the resolution.
  {
    id: 'softflowd-ipfix-micro',
    exporter: 'softflowd',
    version: 10,
    flowType: 'ipfix',
    resolutionNano: 1000n,
    softflowdTime: 'micro',
    nfdumpTimes: 'nfdump 1.7.1 does not decode flowStart/EndMicroseconds (IE 154/155): it prints 1970-01-01',
  },
  {
    id: 'softflowd-ipfix-nano',
    exporter: 'softflowd',
    version: 10,
    flowType: 'ipfix',
    resolutionNano: 1n,
    softflowdTime: 'nano',
    nfdumpTimes: 'nfdump 1.7.1 does not decode flowStart/EndNanoseconds (IE 156/157): it prints 1970-01-01',
  },
  { id: 'pmacctd-v5', exporter: 'pmacctd', version: 5, flowType: 'netflow_v5', resolutionNano: MS },
  // pmacct's nfprobe puts flowStart/EndMilliseconds (IE 152/153) into its v9 templates.
  { id: 'pmacctd-v9', exporter: 'pmacctd', version: 9, flowType: 'netflow_v9', resolutionNano: MS },
  { id: 'pmacctd-ipfix', exporter: 'pmacctd', version: 10, flowType: 'ipfix', resolutionNano: MS },
  { id: 'fprobe-v5', exporter: 'fprobe', version: 5, flowType: 'netflow_v5', resolutionNano: MS },
];

async function unavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root for network namespaces (CI runs it as root)';
  const missing = await missingCommands(REQUIRED_COMMANDS);
  if (!existsSync('/usr/include/pcap/pcap.h')) missing.push('libpcap-dev (pcap/pcap.h)');
  if (missing.length) return `missing ${missing.join(', ')} (Debian: apt-get install ${DEBIAN_PACKAGES})`;
  if (!existsSync(CLI)) return `${CLI} is missing: build first (npx tsc -p .)`;
  return namespaceSupport();
}

const skipReason = await unavailable();

/** An exporter started in the router namespace, and how to make it export everything and stop. */
interface RunningExporter {
  process: LabProcess;
  flush(): Promise<void>;
}

async function startExporter(v: Variant, lab: Lab, topo: RoutedStar, dir: string, shim: string): Promise<RunningExporter> {
  const iface = topo.legs.client!.routerIfname;
  const collector = `${topo.legs.collector!.ipv4}:${EXPORT_PORT}`;
  const router = topo.router;
  if (v.exporter === 'softflowd') {
    const ctl = join(dir, 'softflowd.ctl');
    // -d: foreground; IPv6 is tracked for v9/IPFIX (v5 cannot carry it). Short timeouts expire
    // finished TCP flows while the test runs; expire-all and shutdown export the rest.
    const p = lab.spawn(
      router,
      [
        'env',
        `LD_PRELOAD=${shim}`,
        'softflowd',
        '-d',
        '-i',
        iface,
        '-n',
        collector,
        '-v',
        String(v.version),
        ...(v.softflowdTime ? ['-A', v.softflowdTime] : []),
        ...['-t', 'maxlife=10', '-t', 'expint=1', '-t', 'tcp=5', '-t', 'tcp.fin=1', '-t', 'tcp.rst=1', '-t', 'udp=5', '-t', 'icmp=5'],
        ...['-t', 'general=5', '-p', join(dir, 'softflowd.pid'), '-c', ctl],
      ],
      { maxLifetimeMs: 60_000 },
    );
    await p.waitForLine(/Exporting flows from/, 10_000);
    return {
      process: p,
      flush: async () => {
        await lab.exec(router, ['softflowctl', '-c', ctl, 'expire-all'], { timeoutMs: 10_000 });
        await lab.exec(router, ['softflowctl', '-c', ctl, 'shutdown'], { timeoutMs: 10_000 });
        await p.waitForExit(10_000);
      },
    };
  }
  if (v.exporter === 'pmacctd') {
    const conf = join(dir, 'pmacctd.conf');
    writeFileSync(
      conf,
      [
        'daemonize: false',
        `pcap_interface: ${iface}`,
        'aggregate: src_host, dst_host, src_port, dst_port, proto, tos',
        'plugins: nfprobe',
        `nfprobe_receiver: ${collector}`,
        `nfprobe_version: ${v.version}`,
        'nfprobe_timeouts: tcp=5:tcp.fin=1:tcp.rst=1:udp=5:icmp=5:general=5:maxlife=10:expint=1',
        '',
      ].join('\n'),
    );
    const p = lab.spawn(router, ['pmacctd', '-f', conf], { maxLifetimeMs: 60_000 });
    await p.waitForLine(/Exporting flows to/, 10_000);
    // SIGINT: the nfprobe plugin exports its whole cache and exits.
    return { process: p, flush: async () => void (await p.stop('SIGINT', 10_000)) };
  }
  // fprobe: -l 2 logs to stdout and stays in the foreground; -s scan, -d idle, -e active timers.
  const p = lab.spawn(router, ['fprobe', '-i', iface, '-n', '5', '-s', '1', '-d', '2', '-e', '5', '-l', '2', collector], {
    maxLifetimeMs: 60_000,
  });
  await p.waitForLine(/collector #1/, 10_000);
  // SIGTERM: "Emitting flows cache..." then exit.
  return { process: p, flush: async () => void (await p.stop('SIGTERM', 10_000)) };
}

/** Reference flows lacking a port field carry 0 in netspan (the record has no port). */
function withZeroPorts(f: FlowView): FlowView {
  return { ...f, sourcePort: f.sourcePort ?? 0, destinationPort: f.destinationPort ?? 0 };
}

function table(flows: readonly FlowView[]): string {
  return flows
    .map((f) => `  ${describeFlow(f)} ${f.bytes} B ${f.packets} pkt ${msText(f.startUnixNano)} .. ${msText(f.endUnixNano)}`)
    .join('\n');
}

async function runVariant(v: Variant, shim: string, t: TestContext): Promise<void> {
  const t0 = Date.now();
  const phase: Record<string, number> = {};
  const mark = (name: string) => (phase[name] = Date.now() - t0);
  const dir = mkdtempSync(join(tmpdir(), `netspan-flows-${v.id}-`));
  const lab = Lab.create(v.id);
  let ok = false;
  const context: string[] = [];
  let exporterProc: LabProcess | undefined;
  let netspanLogs: (() => string) | undefined;
  let netspanDir: string | undefined;
  try {
    const topo = await routedStar(lab, ['client', 'server', 'collector']);
    const { client, server, collector } = topo.legs as Record<'client' | 'server' | 'collector', NonNullable<RoutedStar['legs'][string]>>;
    mark('lab');

    const netspan = await startNetspanIn(
      collector.ns,
      `
receivers:
  netflow:
    endpoints: [${collector.ipv4}:${EXPORT_PORT}]
    tcp_endpoint: ""
    workers: 1
exporters:
  file: { path: $DIR/flows.jsonl, flush_interval: 100ms }
service:
  pipelines:
    logs: { receivers: [netflow], exporters: [file] }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`,
    );
    const listening = await netspan.waitForLog((l) => l.msg === 'flow receiver listening', 10_000);
    assert.deepEqual(listening.udp, [`${collector.ipv4}:${EXPORT_PORT}`]);
    netspanLogs = () => netspan.logs.map((l) => JSON.stringify(l)).join('\n');
    netspanDir = netspan.dir;
    const netspanOut = join(netspan.dir, 'flows.jsonl');
    context.push(`netspan output: ${netspanOut}`);
    mark('netspan');

    const serverProc = lab.spawn(server.ns, [
      process.execPath,
      TOOL_PATH,
      'serve',
      '--http-port',
      String(HTTP_PORT),
      '--udp-port',
      String(UDP_PORT),
    ]);
    await serverProc.waitForLine(/"ready":true/, 10_000);

    const pcap = join(dir, 'export.pcap');
    const capture = lab.spawn(collector.ns, [
      'tcpdump',
      '-Z',
      'root',
      '--immediate-mode',
      '-U',
      '-n',
      '-i',
      collector.ifname,
      '-w',
      pcap,
      'udp',
      'and',
      'dst',
      'port',
      String(EXPORT_PORT),
    ]);
    await capture.waitForLine(/listening on/, 10_000);

    const exporter = await startExporter(v, lab, topo, dir, shim);
    exporterProc = exporter.process;
    await sleep(300); // the capture is open once the exporter says so; a little margin for its first read
    mark('exporter');

    const traffic = await lab.exec(
      client.ns,
      [
        process.execPath,
        TOOL_PATH,
        'traffic',
        '--to',
        `${server.ipv4},${server.ipv6}`,
        '--http-port',
        String(HTTP_PORT),
        '--udp-port',
        String(UDP_PORT),
      ],
      { timeoutMs: 30_000 },
    );
    const generated = JSON.parse(traffic.stdout) as GeneratedFlow[];
    mark('traffic');

    await sleep(1_000); // the exporter reads the last packets; finished TCP flows expire on their own
    await exporter.flush();
    const exporterLog = exporter.process.output;
    await sleep(300);
    await capture.stop('SIGINT', 5_000);
    mark('export');

    // ---- the reference: nfcapd/nfdump (datagrams replayed from the exporter's address) and tshark
    const datagrams = readUdpDatagrams(pcap).filter((d) => d.destinationPort === EXPORT_PORT);
    assert.ok(datagrams.length > 0, `no export datagram captured; exporter output:\n${exporterLog}`);
    const nfdir = join(dir, 'nfcapd');
    mkdirSync(nfdir);
    const nfcapd = lab.spawn(
      collector.ns,
      ['nfcapd', '-w', nfdir, '-S', '0', '-t', '3600', '-b', collector.ipv4, '-p', String(NFCAPD_PORT)],
      {
        maxLifetimeMs: 60_000,
      },
    );
    await nfcapd.waitForLine(/Startup nfcapd|Bound to/, 10_000);
    await sleep(200);
    const replay = await lab.exec(
      topo.router,
      [process.execPath, TOOL_PATH, 'replay', '--pcap', pcap, '--dport', String(EXPORT_PORT), '--to', `${collector.ipv4}:${NFCAPD_PORT}`],
      { timeoutMs: 30_000 },
    );
    assert.equal((JSON.parse(replay.stdout) as { sent: number }).sent, datagrams.length);
    await sleep(300);
    await nfcapd.stop('SIGTERM', 10_000);
    const nf = await readNfdumpFlows(nfdir);
    const ts = await readTsharkFlows(pcap, EXPORT_PORT);
    mark('reference');
    writeFileSync(join(dir, 'nfdump.json'), nf.text);
    writeFileSync(join(dir, 'tshark.json'), ts.text);
    context.push(`nfcapd:\n${nfcapd.output}`, `tshark view:\n${table(ts.flows)}`, `nfdump view:\n${table(nf.flows)}`);

    // The two references agree: tshark's records are nfdump's (counters, ports, and times where
    // nfdump decodes them). nfdump's records tshark lacks are allowed only where the variant says why.
    const refs = matchFlows(nf.flows, ts.flows, v.nfdumpTimes ? {} : { timeTolerance: () => MS });
    const refProblems = matchProblems({ ...refs, missing: v.tsharkMisses ? [] : refs.missing }, 'nfdump', 'tshark');
    assert.deepEqual(refProblems, [], `tshark and nfdump disagree (${v.id})`);
    if (v.nfdumpTimes) assert.deepEqual(refs.missing, [], `${v.id}: tshark is the time reference, but misses flows`);
    const reference = nf.flows;
    assert.ok(reference.length > 0, `${v.id}: the exporter exported no flow`);
    for (const f of [...reference, ...ts.flows]) {
      assert.equal(f.exporter, collector.routerIpv4, `reference flow from ${f.exporter}: ${describeFlow(f)}`);
      if (!v.nfdumpTimes || ts.flows.includes(f))
        assert.ok(f.startUnixNano !== undefined && f.endUnixNano !== undefined, `no times in a reference view: ${describeFlow(f)}`);
    }

    // Every exchange the client made is in the exporter's view (both directions; IPv6 where the format carries it).
    const absent: string[] = [];
    for (const g of generated) {
      const v6 = g.server.includes(':');
      if (v.version === 5 && v6) continue;
      const protocol = g.protocol === 'tcp' ? 6 : 17;
      const has = (s: string, sp: number | undefined, d: string, dp: number | undefined, p: number) =>
        reference.some(
          (f) =>
            f.source === s &&
            f.destination === d &&
            f.protocol === p &&
            (sp === undefined || (f.sourcePort === sp && f.destinationPort === dp)),
        );
      if (!has(g.client, g.clientPort, g.server, g.serverPort, protocol))
        absent.push(`${g.protocol} ${g.client}:${g.clientPort} → ${g.server}:${g.serverPort}`);
      if (g.protocol !== 'udp-closed') {
        if (!has(g.server, g.serverPort, g.client, g.clientPort, protocol))
          absent.push(`${g.protocol} ${g.server}:${g.serverPort} → ${g.client}:${g.clientPort}`);
      } else if (!has(g.server, undefined, g.client, undefined, v6 ? 58 : 1))
        absent.push(`${v6 ? 'icmpv6' : 'icmp'} ${g.server} → ${g.client}`);
    }
    assert.deepEqual(absent, [], `flows the client made are not in the exporter's view (${v.id})`);
    if (v.version !== 5) {
      for (const protocol of [6, 17])
        assert.ok(
          reference.some((f) => f.protocol === protocol && f.source.includes(':')),
          `${v.id}: no IPv6 ${protocol === 6 ? 'TCP' : 'UDP'} flow exported`,
        );
    }

    // ---- netspan's view: wait until it has as many flows as the reference (bounded), then stop it (drains).
    await poll(() => (readNetspanFlows(netspanOut).length >= reference.length ? true : undefined), 15_000, 100);
    await sleep(300); // anything extra would arrive now
    assert.equal(await netspan.stop(), 0, 'netspan exits 0 on SIGTERM');
    const got = readNetspanFlows(netspanOut);
    mark('netspan-output');
    context.push(`netspan view:\n${table(got)}`);

    const problems: string[] = [];
    for (const f of got) {
      if (f.type !== v.flowType) problems.push(`flow.type ${f.type}, expected ${v.flowType}: ${describeFlow(f)}`);
      if (BigInt(f.timeResolutionNano ?? -1) !== v.resolutionNano)
        problems.push(`flow.time_resolution_ns ${f.timeResolutionNano}, expected ${v.resolutionNano}: ${describeFlow(f)}`);
      if (f.exporter !== collector.routerIpv4) problems.push(`flow.sampler_address ${f.exporter}: ${describeFlow(f)}`);
    }
    // Exactly nfdump's flows: quartet, protocol, bytes, packets; times within the format's
    // resolution plus 1 ms (nfdump keeps whole milliseconds) where nfdump decodes them.
    const vsNfdump = matchFlows(reference, got, v.nfdumpTimes ? {} : { timeTolerance: () => v.resolutionNano + MS });
    problems.push(...matchProblems(vsNfdump, 'nfdump', 'netspan'));
    // And tshark's records: the exported port fields as they are (0 where a record has none, as
    // ICMP records mostly; nfdump shows ICMP type/code instead) and times within the resolution.
    const vsTshark = matchFlows(ts.flows.map(withZeroPorts), got, { timeTolerance: () => v.resolutionNano });
    const unseen = matchFlows(refs.missing, vsTshark.extra); // netspan's flows of the records tshark skipped
    problems.push(...matchProblems({ ...vsTshark, extra: unseen.extra }, 'tshark', 'netspan'));
    assert.deepEqual(problems, [], `netspan's flows differ from the exporter's (${v.id})`);

    const v6 = got.filter((f) => f.source.includes(':')).length;
    t.diagnostic(
      `${v.id}: ${datagrams.length} export datagrams, ${reference.length} flows (${v6} IPv6) match` +
        (refs.missing.length ? ` (${refs.missing.length} not in tshark's view: ${v.tsharkMisses})` : '') +
        `; largest time delta vs tshark ` +
        `${Number(largestTimeDelta(vsTshark)) / 1e6} ms` +
        (v.nfdumpTimes
          ? ` (nfdump times not compared: ${v.nfdumpTimes.split(':')[0]})`
          : `, vs nfdump ${Number(largestTimeDelta(vsNfdump)) / 1e6} ms`) +
        `; phases (ms since start) ${JSON.stringify(phase)}`,
    );
    ok = true;
  } catch (err) {
    const e = err as Error;
    if (exporterProc) context.push(`exporter output:\n${exporterProc.output}`);
    if (netspanLogs) context.push(`netspan logs:\n${netspanLogs()}`);
    e.message += `\n--- artifacts kept in ${dir}\n${context.join('\n')}`;
    throw e;
  } finally {
    await lab.destroy();
    if (ok) for (const d of [dir, netspanDir]) if (d) rmSync(d, { recursive: true, force: true });
  }
}

describe('real exporters in network namespaces → netspan run (netflow receiver)', { concurrency: CONCURRENCY }, () => {
  if (skipReason) {
    if (IN_CI) test('prerequisites', () => assert.fail(`CI must run the namespace lab: ${skipReason}`));
    else test('real exporters (skipped)', { skip: skipReason }, () => {});
    return;
  }
  let shimDir: string;
  let shim: string;
  before(async () => {
    shimDir = mkdtempSync(join(tmpdir(), 'netspan-pcap-shim-'));
    shim = join(shimDir, 'pcap_immediate.so');
    await run(['gcc', '-O2', '-shared', '-fPIC', '-o', shim, join(REPO_ROOT, 'test', 'e2e', 'lab', 'pcap_immediate.c'), '-ldl', '-lpcap'], {
      timeoutMs: 60_000,
    });
  });
  after(async () => {
    await Lab.destroyAll();
    if (shimDir) rmSync(shimDir, { recursive: true, force: true });
  });
  for (const v of VARIANTS) test(v.id, { timeout: 120_000 }, (t) => runVariant(v, shim, t));
});
