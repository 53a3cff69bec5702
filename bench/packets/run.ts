/**
 * bench/packets: packets/s and MB/s parsing a large pcap of IOAM + HTTP traffic, netspan beside
 * tcpdump and tshark on the same file in the same run.
 *
 *   npm run build && npm run bench:packets [-- --packets N --repetitions N --profile DIR ...]
 *
 * The file is the committed seed capture (seed/ioam-http.pcap, made by make-seed.ts) repeated to
 * --packets packets in a temporary folder (expand.ts). Every tool reads it from the page cache, one
 * after the other, --repetitions times in turn; each figure is the median. Each run is a process of
 * its own, timed from outside (wall clock, and the user + system CPU and peak RSS of wait4, by
 * rusage.py), so start-up is included for every tool alike; netspan also reports its loop alone.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseOptions, defaultResultsFile, repoRoot, runMain } from '../common/cli.js';
import { machineBanner, machineInfo } from '../common/machine.js';
import { busyPercentOver, clockTicks, warnIfBusy } from '../common/procstat.js';
import { markdownTable, writeResults } from '../common/results.js';
import { median, round } from '../common/util.js';
import { summarizeProfileFile, type ProfileSummary } from '../flows/profile.js';
import { run } from '../../test/e2e/lab/proc.js';
import { missingCommands } from '../../test/e2e/lab/netns.js';
import { expandSeed } from './expand.js';
import { PARSE_PATH, type ParseLayer, type ParseResult } from './parse.js';
import { describeCapture, SEED_FILE, SEED_TRAFFIC, type CaptureMix } from './seed.js';

const USAGE = `npm run bench:packets -- [options]
  --packets N        packets in the large capture, whole copies of the seed (default 1000000)
  --repetitions N    runs of each tool; figures are medians (default 3)
  --work-dir DIR     where the large capture is written (default: a new temporary folder, removed after)
  --profile DIR      also write a V8 CPU profile of netspan's observe run there and summarize it
  --out FILE         results JSON (default bench/packets/results/latest.json)`;

/** tshark's names of the fields netspan's observations carry (addresses, ports, IOAM node fields, HTTP). */
const TSHARK_FIELDS = [
  'frame.time_epoch',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'ipv6.opt.ioam.trace.ns',
  'ipv6.opt.ioam.trace.type',
  'ipv6.opt.ioam.trace.flag.o',
  ...[
    'hlim',
    'id',
    'iif',
    'eif',
    'tss',
    'tsf',
    'trdelay',
    'nsdata',
    'qdepth',
    'csum',
    'id_wide',
    'iif_wide',
    'eif_wide',
    'nsdata_wide',
  ].map((f) => `ipv6.opt.ioam.trace.node.${f}`),
  'http.request.method',
  'http.request.uri',
  'http.host',
  'http.response.code',
  'http.request.line',
];

interface Tool {
  id: string;
  /** The command as the table shows it (F is the capture). */
  label: string;
  what: string;
  argv: (file: string) => string[];
  /** netspan's own layers: the parse process prints its result on stdout. */
  layer?: ParseLayer;
}

const TOOLS: Tool[] = [
  ...(['observe', 'decode', 'read'] as const).map((layer): Tool => ({
    id: `netspan-${layer}`,
    label: `netspan ${layer === 'observe' ? 'PacketObserver' : layer === 'decode' ? 'decodePacket' : 'pcap reader'}`,
    what: {
      observe: 'pcap reader + PacketObserver: IOAM traces with every node field, HTTP heads with traceparent (what the agent does)',
      decode: 'pcap reader + decodePacket (link, IPv6 and its extension headers, TCP; addresses as text)',
      read: 'pcap reader alone (1 MiB chunks, one record at a time)',
    }[layer],
    argv: (file) => [process.execPath, PARSE_PATH, '--file', file, '--layer', layer],
    layer,
  })),
  {
    id: 'tcpdump-read',
    label: '`tcpdump -r F -w /dev/null`',
    what: 'libpcap read floor: every record read and written back, nothing decoded',
    argv: (file) => ['tcpdump', '-r', file, '-w', '/dev/null'],
  },
  {
    id: 'tcpdump-v',
    label: '`tcpdump -nn -v -r F > /dev/null`',
    what: 'full decode and print: IPv6 with its Hop-by-Hop options, TCP (checksums), the HTTP first line',
    argv: (file) => ['tcpdump', '-nn', '-v', '-r', file],
  },
  {
    id: 'tshark',
    label: '`tshark -r F > /dev/null`',
    what: 'Wireshark dissection of every layer (IOAM, TCP analysis, HTTP), one summary line per packet',
    argv: (file) => ['tshark', '-r', file],
  },
  {
    id: 'tshark-fields',
    label: '`tshark -r F -T fields -e ... > /dev/null`',
    what: `the fields of netspan's observations: addresses, ports, IOAM trace and node fields, HTTP method, URI, host, status, request lines (${TSHARK_FIELDS.length} fields)`,
    argv: (file) => ['tshark', '-r', file, '-T', 'fields', ...TSHARK_FIELDS.flatMap((f) => ['-e', f])],
  },
];

interface Measurement {
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  maxRssKiB: number;
  /** CPU the rest of the machine used during the run, % of one core. */
  otherCpuPercent: number;
  /** netspan: what the parse process reported (its loop alone, and what it produced). */
  parse?: ParseResult;
}

interface Row {
  id: string;
  label: string;
  what: string;
  runs: number;
  /** Medians over the runs. */
  wallSeconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
  packetsPerSecond: number;
  /** File bytes (10^6) per second of wall time. */
  megabytesPerSecond: number;
  microsecondsPerPacket: number;
  cpuMicrosecondsPerPacket: number;
  /** netspan's observe rate over this tool's (wall clock, packets/s, from the medians). */
  netspanOverThis: number;
  /** The same ratio in each round (the tools of a round run minutes apart at most, so under similar load). */
  netspanOverThisPerRound: number[];
  /** Its median: steadier than the ratio of medians when the machine's load changes between rounds. */
  netspanOverThisRoundMedian: number;
  /** This tool's CPU per packet over netspan observe's (medians): the ratio without waiting for a CPU. */
  netspanOverThisCpu: number;
  /** netspan only: the parse loop alone, without Node's start-up and module loading. */
  loop?: { wallSeconds: number; cpuSeconds: number; packetsPerSecond: number; cpuMicrosecondsPerPacket: number };
  otherCpuPercentMax: number;
}

function toolVersion(argv: string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch (err) {
    return `unknown (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Runs `tool` on `file` once under rusage.py; netspan's parse result comes back through a file. */
async function measure(tool: Tool, file: string, work: string): Promise<Measurement> {
  const stdout = join(work, `${tool.id}.out`);
  const helper = join(repoRoot(), 'bench', 'packets', 'rusage.py');
  const r = await run(['python3', helper, ...(tool.layer ? ['--stdout', stdout] : []), '--', ...tool.argv(file)], {
    timeoutMs: 900_000,
  });
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<Measurement, 'otherCpuPercent'> & {
    exitCode: number;
    machineBusySeconds: number;
  };
  if (m.exitCode !== 0) throw new Error(`${tool.label} exited with ${m.exitCode}:\n${r.stderr.slice(-2000)}`);
  const own = m.userSeconds + m.systemSeconds;
  const out: Measurement = {
    wallSeconds: m.wallSeconds,
    userSeconds: m.userSeconds,
    systemSeconds: m.systemSeconds,
    maxRssKiB: m.maxRssKiB,
    otherCpuPercent: round((Math.max(0, m.machineBusySeconds - own) / m.wallSeconds) * 100, 1),
  };
  if (tool.layer) out.parse = JSON.parse(readFileSync(stdout, 'utf8')) as ParseResult;
  return out;
}

/** netspan must have seen every packet and made, copy for copy, the seed's observations. */
function checkParse(p: ParseResult, packets: number, copies: number, seed: CaptureMix): void {
  const want: [string, number | undefined, number][] = [['packets', p.packets, packets]];
  if (p.layer === 'observe') {
    want.push(
      ['IOAM observations', p.ioamObservations, copies * seed.ioamObservations],
      ['IOAM observations with a traceparent', p.ioamWithTraceparent, copies * seed.ioamWithTraceparent],
      ['HTTP requests', p.httpRequests, copies * seed.httpRequests],
      ['HTTP responses', p.httpResponses, copies * seed.httpResponses],
      ['HTTP observations with a traceparent', p.httpWithTraceparent, copies * seed.httpWithTraceparent],
      ['issues', p.issues, 0],
    );
  }
  for (const [what, got, expected] of want)
    if (got !== expected) throw new Error(`netspan ${p.layer}: ${what} ${got}, expected ${expected} (${copies} copies of the seed)`);
}

type Ratios = 'netspanOverThis' | 'netspanOverThisPerRound' | 'netspanOverThisRoundMedian' | 'netspanOverThisCpu';

function summarize(tool: Tool, runs: Measurement[], packets: number, fileBytes: number): Omit<Row, Ratios> {
  const wall = median(runs.map((r) => r.wallSeconds));
  const cpu = median(runs.map((r) => r.userSeconds + r.systemSeconds));
  const row: Omit<Row, Ratios> = {
    id: tool.id,
    label: tool.label,
    what: tool.what,
    runs: runs.length,
    wallSeconds: round(wall, 3),
    cpuSeconds: round(cpu, 3),
    maxRssMiB: round(median(runs.map((r) => r.maxRssKiB)) / 1024, 1),
    packetsPerSecond: Math.round(packets / wall),
    megabytesPerSecond: round(fileBytes / 1e6 / wall, 1),
    microsecondsPerPacket: round((wall * 1e6) / packets, 3),
    cpuMicrosecondsPerPacket: round((cpu * 1e6) / packets, 3),
    otherCpuPercentMax: Math.max(...runs.map((r) => r.otherCpuPercent)),
  };
  if (tool.layer) {
    const loopWall = median(runs.map((r) => r.parse!.wallMs / 1000));
    const loopCpu = median(runs.map((r) => r.parse!.cpuMs / 1000));
    row.loop = {
      wallSeconds: round(loopWall, 3),
      cpuSeconds: round(loopCpu, 3),
      packetsPerSecond: Math.round(packets / loopWall),
      cpuMicrosecondsPerPacket: round((loopCpu * 1e6) / packets, 3),
    };
  }
  return row;
}

const count = (n: number): string => (n >= 1e6 ? `${round(n / 1e6, 2)} M` : n >= 1e3 ? `${round(n / 1e3, 1)} k` : String(n));

async function main(): Promise<void> {
  const { values, num } = parseOptions(USAGE, {
    packets: { type: 'string', default: '1000000' },
    repetitions: { type: 'string', default: '3' },
    'work-dir': { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string', default: defaultResultsFile('packets') },
  });
  const targetPackets = num('packets', values.packets, 1000, 50_000_000);
  const repetitions = num('repetitions', values.repetitions, 1, 50);
  const missing = await missingCommands(['tcpdump', 'tshark', 'python3']);
  if (missing.length) throw new Error(`missing commands: ${missing.join(', ')}`);

  const machine = machineInfo();
  const ticks = clockTicks();
  console.log(machineBanner('bench/packets', machine));
  const busyBefore = await busyPercentOver(1000, ticks);
  warnIfBusy(busyBefore);

  const seedPath = join(repoRoot(), 'bench', 'packets', SEED_FILE);
  const seedBytes = readFileSync(seedPath);
  const seed = describeCapture(seedBytes);
  const ownWork = values['work-dir'] === undefined;
  const work = values['work-dir'] ?? mkdtempSync(join(tmpdir(), 'netspan-bench-packets-'));
  try {
    const capture = expandSeed(seedBytes, targetPackets, SEED_TRAFFIC.port, join(work, 'ioam-http-large.pcap'));
    console.log(
      `capture: ${capture.packets} packets (${capture.copies} copies of the seed's ${seed.packets}), ${round(capture.bytes / 1e6, 1)} MB`,
    );
    const runs = new Map<string, Measurement[]>(TOOLS.map((t) => [t.id, []]));
    for (let k = 0; k < repetitions; k++) {
      for (const tool of TOOLS) {
        const m = await measure(tool, capture.path, work);
        if (m.parse) checkParse(m.parse, capture.packets, capture.copies, seed);
        runs.get(tool.id)!.push(m);
        console.error(
          `  run ${k + 1}/${repetitions} ${tool.id}: ${round(m.wallSeconds, 3)} s wall, ${round(m.userSeconds + m.systemSeconds, 3)} s CPU`,
        );
      }
    }
    const partial = TOOLS.map((t) => summarize(t, runs.get(t.id)!, capture.packets, capture.bytes));
    const netspan = partial.find((r) => r.id === 'netspan-observe')!;
    const netspanRuns = runs.get('netspan-observe')!;
    const rows: Row[] = partial.map((r) => {
      const perRound = runs.get(r.id)!.map((m, k) => round(m.wallSeconds / netspanRuns[k]!.wallSeconds, 3));
      return {
        ...r,
        netspanOverThis: round(netspan.packetsPerSecond / r.packetsPerSecond, 3),
        netspanOverThisPerRound: perRound,
        netspanOverThisRoundMedian: round(median(perRound), 3),
        netspanOverThisCpu: round(r.cpuMicrosecondsPerPacket / netspan.cpuMicrosecondsPerPacket, 3),
      };
    });

    let profile: ProfileSummary | undefined;
    if (values.profile !== undefined) {
      const dir = values.profile;
      const observe = TOOLS.find((t) => t.id === 'netspan-observe')!;
      const [node, ...rest] = observe.argv(capture.path);
      await run([node!, '--cpu-prof', '--cpu-prof-dir', dir, ...rest], { timeoutMs: 600_000 });
      const newest = readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort()
        .pop()!;
      // The profile's name only: where it was written is this machine's business.
      profile = { ...summarizeProfileFile(join(dir, newest), repoRoot(), 20), file: newest };
    }

    console.log(
      `\n${capture.packets.toLocaleString('en')} packets, ${round(capture.bytes / 1e6, 1)} MB; medians of ${repetitions} runs, start-up included\n`,
    );
    console.log(
      markdownTable(
        [
          'tool',
          'packets/s',
          'MB/s',
          'µs/packet (wall)',
          'CPU µs/packet',
          'peak RSS MiB',
          'netspan observe / this: wall (rounds)',
          'by CPU',
        ],
        rows.map((r) => [
          r.label,
          count(r.packetsPerSecond),
          String(r.megabytesPerSecond),
          String(r.microsecondsPerPacket),
          String(r.cpuMicrosecondsPerPacket),
          String(r.maxRssMiB),
          `${r.netspanOverThis}× (${r.netspanOverThisPerRound.map((x) => `${x}×`).join(', ')})`,
          `${r.netspanOverThisCpu}×`,
        ]),
      ),
    );
    console.log('\nnetspan, the parse loop alone (no start-up):\n');
    console.log(
      markdownTable(
        ['layer', 'packets/s', 'CPU µs/packet'],
        rows.filter((r) => r.loop).map((r) => [r.label, count(r.loop!.packetsPerSecond), String(r.loop!.cpuMicrosecondsPerPacket)]),
      ),
    );
    const observed = runs.get('netspan-observe')![0]!.parse!;
    console.log(
      `\nnetspan observed ${observed.ioamObservations} IOAM traces (${observed.ioamNodes} nodes) and ${observed.httpRequests} HTTP requests + ${observed.httpResponses} responses`,
    );
    const otherMax = Math.max(...rows.map((r) => r.otherCpuPercentMax));
    if (otherMax > 20) console.log(`⚠ other processes used up to ${otherMax} % of a core during the runs: the figures are noisy`);

    writeResults(values.out, {
      benchmark: 'packets',
      date: new Date().toISOString(),
      machine,
      tools: { tcpdump: toolVersion(['tcpdump', '--version']), tshark: toolVersion(['tshark', '--version']) },
      note: 'The machine is shared: other work may have been running (otherCpuPercent per run, busyBeforeRunPercent).',
      busyBeforeRunPercent: busyBefore,
      options: { packets: targetPackets, repetitions, profile: values.profile !== undefined },
      seed: { file: SEED_FILE, traffic: SEED_TRAFFIC, mix: seed },
      capture: {
        packets: capture.packets,
        bytes: capture.bytes,
        copies: capture.copies,
        durationSeconds: round(capture.durationSeconds, 1),
      },
      observations: observed,
      rows,
      runs: Object.fromEntries(runs),
      ...(profile ? { profile } : {}),
    });
  } finally {
    if (ownWork) rmSync(work, { recursive: true, force: true });
  }
}

runMain(main);
