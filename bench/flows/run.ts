/**
 * bench/flows: NetFlow v5 / v9 / IPFIX throughput on softflowd export captures.
 *
 * 1. Decode: in-process, one core, no socket: the capture's datagrams decoded over and over with
 *    netspan's decoder session (a fresh one per pass, templates first): straight into evidence
 *    store rows (the evidence path of `netspan run`), into FlowRecord objects with keepAllFields
 *    off, and with it on (OTLP logs): records/s, µs/record, MB/s.
 * 2. End to end: the same datagrams replayed over UDP on 127.0.0.1 into `netspan run` (netflow
 *    receiver → evidence store, traces pipeline with the debug exporter) and, side by side in the
 *    same run, into nfcapd (nfdump 1.7, C), at a ladder of paced rates; the highest rate with zero
 *    loss for each, and the ratio netspan / nfcapd.
 *
 *   npm run build && node dist/bench/flows/run.js [options]     (npm run bench:flows)
 *
 * Prints markdown tables and writes bench/flows/results/latest.json. Loopback only; every phase
 * is bounded in time. As root it raises net.core.rmem_max to the socket buffer for the run and
 * restores it afterwards (--no-raise-rmem to leave it).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { busyPercentOver, clockTicks, warnIfBusy } from '../common/procstat.js';
import { machineBanner, machineInfo } from '../common/machine.js';
import { defaultResultsFile, num, parseOptions, repoRoot, requireBuild, runMain } from '../common/cli.js';
import { markdownTable, writeResultsText } from '../common/results.js';
import { round } from '../common/util.js';
import { CAPTURE_FILES, loadCapture, type FlowCapture, type FlowFormat } from './captures.js';
import {
  NetspanCollector,
  NfcapdCollector,
  nfcapdVersion,
  type Collector,
  type CollectorName,
  type CollectorOptions,
  type StepResult,
} from './collectors.js';
import { decodeThroughput, type DecodeResult } from './decode-bench.js';
import { profileInProcess, summarizeProfile, summarizeProfileFile, type ProfileSummary } from './profile.js';
import { stageCosts, type StageResult } from './stages.js';
import { raiseRmemMax, rmemMax, setRmemMax } from './udpstat.js';
import { defaultSender, type ReplaySender } from './replay.js';

/** Published figures netspan is compared with (other machines: indicative only). */
export const ANCHORS = {
  goflow2: {
    what: 'Akvorado / goflow2 NetFlow v9 decode (Go), Ryzen 5600X',
    microsPerRecord: 1.9,
    recordsPerSecondPerCore: 500_000,
  },
  elastiflow: { what: 'ElastiFlow flow collector', recordsPerSecondPerCore: 5_000 },
  logstash: { what: 'Logstash netflow codec', recordsPerSecondPerCore: 1_000 },
  goals: { decodeRecordsPerSecondPerCore: 1_000_000, endToEnd: '≥ nfcapd on the same replay' },
} as const;

const FORMATS: FlowFormat[] = ['v5', 'v9', 'ipfix'];
const FORMAT_LABEL: Record<FlowFormat, string> = { v5: 'NetFlow v5', v9: 'NetFlow v9', ipfix: 'IPFIX' };

const USAGE = `usage: node dist/bench/flows/run.js [options]
  --formats LIST        v5,v9,ipfix (default all)
  --decode-seconds N    decode measurement per format and mode, s (default 3; 0 skips the decode part)
  --decode-warmup N     decode warm-up, s (default 1)
  --stage-seconds N     per-stage cost measurement (batch, decode into rows, store insert), s (default 1; 0 skips)
  --quiet N             before each measurement wait until the rest of the machine uses at most N % of a core (default 30)
  --quiet-wait N        ... but at most N s (default 20; 0 never waits)
  --collectors LIST     netspan,nfcapd (default both; none skips the end-to-end part)
  --ladder LIST         records/s to try, ascending (default 50000,100000,200000,400000,800000,1600000,3200000,6400000)
  --step-seconds N      replay length of one rung, s (default 4)
  --refine N            bisection steps between the last loss-free and the first lossy rung (default 2)
  --retries N           a lossy step is tried again this many times before it counts (default 1)
  --warmup-seconds N    netspan JIT warm-up replay before a ladder, s (default 2, at 50,000 records/s)
  --socket-buffer N     SO_RCVBUF for both collectors, bytes (default 16777216, netspan's default)
  --workers N           netspan's netflow receiver workers (default: netspan's default)
  --sender MODE         the replay generator's sends: native (sendmmsg through the addon, the default when it is built) or dgram (node:dgram, one send per datagram)
  --udp-receive MODE    netspan's UDP receive: native (recvmmsg in the workers, the default when the addon is built) or dgram (node:dgram on the main thread)
  --no-raise-rmem       do not raise net.core.rmem_max (as root it is raised to --socket-buffer and restored)
  --profile DIR         also write CPU profiles (decode in-process; netspan run with --cpu-prof) and summarize them
  --profile-rate N      records/s of the profiled netspan replay (default: netspan's loss-free v9 rate)
  --captures DIR        where the pcaps are (default bench/flows/captures)
  --out FILE            results JSON (default bench/flows/results/latest.json)`;

const log = (line: string) => console.error(line);
/** 1234567 → "1.23 M", 45600 → "45.6 k". */
function si(n: number): string {
  if (n >= 1e6) return `${round(n / 1e6, 2)} M`;
  if (n >= 1e3) return `${round(n / 1e3, 1)} k`;
  return String(Math.round(n));
}

interface Options {
  formats: FlowFormat[];
  decodeSeconds: number;
  decodeWarmup: number;
  stageSeconds: number;
  quiet: number;
  quietWait: number;
  collectors: CollectorName[];
  ladder: number[];
  stepSeconds: number;
  refine: number;
  retries: number;
  warmupSeconds: number;
  socketBuffer: number;
  workers: number | undefined;
  udpReceive: 'native' | 'dgram';
  sender: ReplaySender;
  raiseRmem: boolean;
  profile: string | undefined;
  profileRate: number | undefined;
  captures: string;
  out: string;
}

function options(root: string): Options {
  const { values } = parseOptions(USAGE, {
    formats: { type: 'string', default: FORMATS.join(',') },
    'decode-seconds': { type: 'string', default: '3' },
    'decode-warmup': { type: 'string', default: '1' },
    'stage-seconds': { type: 'string', default: '1' },
    quiet: { type: 'string', default: '30' },
    'quiet-wait': { type: 'string', default: '20' },
    collectors: { type: 'string', default: 'netspan,nfcapd' },
    ladder: { type: 'string', default: '50000,100000,200000,400000,800000,1600000,3200000,6400000' },
    'step-seconds': { type: 'string', default: '4' },
    refine: { type: 'string', default: '2' },
    retries: { type: 'string', default: '1' },
    'warmup-seconds': { type: 'string', default: '2' },
    'socket-buffer': { type: 'string', default: String(16 * 1024 * 1024) },
    workers: { type: 'string' },
    'udp-receive': { type: 'string', default: 'native' },
    sender: { type: 'string' },
    'no-raise-rmem': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'profile-rate': { type: 'string' },
    captures: { type: 'string', default: join(root, 'bench', 'flows', 'captures') },
    out: { type: 'string', default: defaultResultsFile('flows') },
  });
  const list = <T extends string>(name: string, v: string, allowed: readonly T[]): T[] => {
    const items = v === 'none' ? [] : v.split(',').map((s) => s.trim());
    for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${name}: unknown "${i}" (${allowed.join(', ')})`);
    return items as T[];
  };
  const ladder = values.ladder.split(',').map((s) => num('ladder', s.trim(), 1_000, 20_000_000));
  for (let i = 1; i < ladder.length; i++) if (ladder[i]! <= ladder[i - 1]!) throw new Error('--ladder must be ascending');
  return {
    formats: list('formats', values.formats, FORMATS),
    decodeSeconds: num('decode-seconds', values['decode-seconds'], 0, 120),
    decodeWarmup: num('decode-warmup', values['decode-warmup'], 0, 60),
    stageSeconds: num('stage-seconds', values['stage-seconds'], 0, 60),
    quiet: num('quiet', values.quiet, 0, 10_000),
    quietWait: num('quiet-wait', values['quiet-wait'], 0, 600),
    collectors: list('collectors', values.collectors, ['netspan', 'nfcapd'] as const),
    ladder,
    stepSeconds: num('step-seconds', values['step-seconds'], 0.5, 120),
    refine: num('refine', values.refine, 0, 10),
    retries: num('retries', values.retries, 0, 5),
    warmupSeconds: num('warmup-seconds', values['warmup-seconds'], 0, 60),
    socketBuffer: num('socket-buffer', values['socket-buffer'], 65_536, 1 << 30),
    workers: values.workers === undefined ? undefined : num('workers', values.workers, 1, 64),
    udpReceive: list('udp-receive', values['udp-receive'], ['native', 'dgram'] as const)[0] ?? 'native',
    sender:
      values.sender === undefined ? defaultSender() : (list('sender', values.sender, ['native', 'dgram'] as const)[0] ?? defaultSender()),
    raiseRmem: !values['no-raise-rmem'],
    profile: values.profile,
    profileRate: values['profile-rate'] === undefined ? undefined : num('profile-rate', values['profile-rate'], 1_000, 20_000_000),
    captures: values.captures,
    out: values.out,
  };
}

let TICKS = 100;

/**
 * The machine is shared: before a measurement, wait (at most quietWait s) until the rest of the
 * machine uses at most `quiet` % of a core over 1 s. Returns the last 1 s figure and the wait.
 */
async function waitForQuiet(opts: Options): Promise<{ busyPercent: number; waitedSeconds: number }> {
  const start = performance.now();
  for (;;) {
    const busyPercent = await busyPercentOver(1000, TICKS);
    const waitedSeconds = round((performance.now() - start) / 1000 - 1, 1);
    if (busyPercent <= opts.quiet || waitedSeconds >= opts.quietWait) {
      if (busyPercent > opts.quiet)
        log(`  (the machine is still busy: ${busyPercent} % of a core after waiting ${waitedSeconds} s; measuring anyway)`);
      return { busyPercent, waitedSeconds };
    }
  }
}

interface LadderResult {
  collector: CollectorName;
  format: FlowFormat;
  /** Records one pass of the capture gives this collector (nfcapd: measured by a calibration pass). */
  recordsPerPass: number;
  /** Highest rate with zero loss (0 when even the first rung lost). */
  lossFreeRecordsPerSecond: number;
  /** True when every rung of the ladder was loss-free (the real limit is higher). */
  toppedOut: boolean;
  /** The ladder stopped because the generator could not keep this rate. */
  generatorLimitedAt?: number;
  /** Lowest rate that lost records (after retries), if any. */
  firstLossyRecordsPerSecond?: number;
  /** The step at the loss-free rate (CPU, generator figures). */
  atLossFree?: StepResult;
  /** Warnings the collector logged (netspan), e.g. a capped socket buffer. */
  warnings?: string[];
  /** How netspan read UDP, as it logged it. */
  udpReceive?: string;
  steps: StepResult[];
}

/** Rounds a rate to 2 significant digits for the bisection rungs. */
const roundRate = (x: number) => {
  const p = 10 ** Math.max(0, Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
};

async function runLadder(c: Collector, format: FlowFormat, opts: Options): Promise<LadderResult> {
  const steps: StepResult[] = [];
  const attempt = async (rate: number): Promise<StepResult> => {
    let r: StepResult | undefined;
    for (let a = 1; a <= 1 + opts.retries; a++) {
      const q = opts.quietWait > 0 ? await waitForQuiet(opts) : undefined;
      r = await c.step(rate, a);
      if (q) {
        r.busyBeforePercent = q.busyPercent;
        r.waitedForQuietSeconds = q.waitedSeconds;
      }
      steps.push(r);
      const g = r.replay;
      log(
        `  ${c.name.padEnd(7)} ${FORMAT_LABEL[format].padEnd(10)} ${si(rate).padStart(8)}/s` +
          `${a > 1 ? ` (retry ${a - 1})` : ''}: sent ${r.expectedRecords} records in ${g.datagrams} datagrams over ${round(g.seconds, 2)} s` +
          ` (achieved ${si(g.achievedRecordsPerSecond)}/s, max lag ${round(g.maxLagMs, 1)} ms, generator CPU ${round(g.cpuPercent)} %)` +
          ` → ${r.records} ${c.name === 'nfcapd' ? 'stored' : 'decoded'}, kernel drops ${r.kernelDrops}` +
          `${r.queueDrops !== undefined ? `, queue drops ${r.queueDrops}` : ''}, drain ${Math.round(r.drainMs)} ms,` +
          ` CPU ${round(r.cpuPercent)} % (rest of the machine ${round(r.otherCpuPercent)} %) → ${r.lossless ? 'loss-free' : `LOST ${r.lostRecords}`}`,
      );
      if (r.lossless) break;
    }
    return r!;
  };
  let best = 0;
  let bestStep: StepResult | undefined;
  let firstBad: number | undefined;
  let generatorLimitedAt: number | undefined;
  for (const rate of opts.ladder) {
    const r = await attempt(rate);
    if (r.generatorLimited) {
      // the replay could not keep the rate: what the collector took is only a lower bound
      generatorLimitedAt = rate;
      log(
        `  ⚠ the generator fell behind at ${si(rate)}/s (achieved ${si(r.replay.achievedRecordsPerSecond)}/s, max lag ${round(r.replay.maxLagMs)} ms): ladder stopped`,
      );
      if (r.lossless) {
        best = Math.floor(r.replay.achievedRecordsPerSecond);
        bestStep = r;
      } else firstBad = rate;
      break;
    }
    if (r.lossless) {
      best = rate;
      bestStep = r;
    } else {
      firstBad = rate;
      break;
    }
  }
  if (firstBad !== undefined && generatorLimitedAt === undefined) {
    let lo = best;
    let hi = firstBad;
    for (let i = 0; i < opts.refine; i++) {
      const mid = roundRate(lo === 0 ? hi / 2 : (lo + hi) / 2);
      if (mid <= lo || mid >= hi) break;
      const r = await attempt(mid);
      if (r.lossless) {
        lo = mid;
        bestStep = r;
      } else hi = mid;
    }
    best = lo;
    firstBad = hi;
  }
  await c.close();
  const warnings = c instanceof NetspanCollector && c.warnings.length > 0 ? { warnings: c.warnings } : {};
  const udpReceive = c instanceof NetspanCollector ? { udpReceive: c.udpReceivePath } : {};
  return {
    ...warnings,
    ...udpReceive,
    collector: c.name,
    format,
    recordsPerPass: c.recordsPerPass,
    lossFreeRecordsPerSecond: best,
    toppedOut: firstBad === undefined,
    ...(generatorLimitedAt === undefined ? {} : { generatorLimitedAt }),
    ...(firstBad === undefined ? {} : { firstLossyRecordsPerSecond: firstBad }),
    ...(bestStep ? { atLossFree: bestStep } : {}),
    steps,
  };
}

function decodeTable(captures: FlowCapture[], decode: DecodeResult[]): string {
  const header = [
    'format',
    'capture: datagrams, records (IPv4 / IPv6), records per datagram',
    'all fields kept / output',
    'records/s (one core)',
    'µs per record',
    'MB/s',
    'vs goflow2 0.5 M/s',
    'vs goal 1 M/s',
  ];
  const rows = decode.map((d) => {
    const c = captures.find((x) => x.format === d.format)!;
    return [
      FORMAT_LABEL[c.format],
      `${c.payloads.length}, ${c.records} (${c.ipv4Records} / ${c.ipv6Records}), ${round(c.records / c.payloads.length, 1)}`,
      d.mode === 'rows' ? 'off, into store rows (evidence path)' : d.keepAllFields ? 'on' : 'off, FlowRecord objects',
      `**${si(d.recordsPerSecond)}**`,
      String(round(d.microsPerRecord, 3)),
      String(round(d.mbPerSecond)),
      `${round(d.recordsPerSecond / ANCHORS.goflow2.recordsPerSecondPerCore, 2)}×`,
      `${round(d.recordsPerSecond / ANCHORS.goals.decodeRecordsPerSecondPerCore, 2)}×`,
    ];
  });
  return markdownTable(header, rows);
}

function stageTable(stages: StageResult[]): string {
  const header = [
    'format',
    'main: batch the datagrams',
    'worker: decode into store rows',
    'main: evidence store insertPacked',
    'worker total (→ records/s)',
    'main thread total (→ records/s), without the UDP receive loop',
    'before the row writer: decode into objects + packFlows',
  ];
  const rows = stages.map((s) => [
    FORMAT_LABEL[s.format as FlowFormat],
    String(round(s.batchBuildMicros, 3)),
    String(round(s.decodeRowsMicros, 3)),
    String(round(s.storeInsertMicros, 3)),
    `${round(s.workerMicros, 3)} (${si(1e6 / s.workerMicros)})`,
    `${round(s.mainMicros, 3)} (${si(1e6 / s.mainMicros)})`,
    `${round(s.decodeObjectsMicros, 3)} + ${round(s.packMicros, 3)}`,
  ]);
  return markdownTable(header, rows);
}

function e2eTable(ladders: LadderResult[], formats: FlowFormat[]): string {
  const header = [
    'format',
    'netspan loss-free records/s',
    'nfcapd loss-free records/s',
    'netspan / nfcapd',
    'CPU at that rate, % of a core: netspan / nfcapd',
    'CPU µs per record: netspan / nfcapd',
    'first lossy rate: netspan / nfcapd',
    'generator CPU (max over steps)',
  ];
  const fmt = (l: LadderResult | undefined) =>
    !l
      ? '–'
      : l.toppedOut
        ? `≥ ${si(l.lossFreeRecordsPerSecond)}`
        : l.lossFreeRecordsPerSecond === 0
          ? `< ${si(l.firstLossyRecordsPerSecond!)}`
          : si(l.lossFreeRecordsPerSecond);
  const rows = formats.map((f) => {
    const n = ladders.find((l) => l.format === f && l.collector === 'netspan');
    const k = ladders.find((l) => l.format === f && l.collector === 'nfcapd');
    const ratio =
      n && k && k.lossFreeRecordsPerSecond > 0
        ? `${round(n.lossFreeRecordsPerSecond / k.lossFreeRecordsPerSecond, 2)}×${n.toppedOut || k.toppedOut ? ' (a ladder topped out)' : ''}`
        : '–';
    const cpu = (l: LadderResult | undefined) => (l?.atLossFree ? `${round(l.atLossFree.cpuPercent)} %` : '–');
    const perRecord = (l: LadderResult | undefined) => (l?.atLossFree ? String(round(1e6 / l.atLossFree.recordsPerCpuSecond, 2)) : '–');
    const gen = Math.max(0, ...[...(n?.steps ?? []), ...(k?.steps ?? [])].map((s) => s.replay.cpuPercent));
    return [
      FORMAT_LABEL[f],
      `**${fmt(n)}**`,
      `**${fmt(k)}**`,
      ratio,
      `${cpu(n)} / ${cpu(k)}`,
      `${perRecord(n)} / ${perRecord(k)}`,
      `${n?.firstLossyRecordsPerSecond ? si(n.firstLossyRecordsPerSecond) : '–'} / ${k?.firstLossyRecordsPerSecond ? si(k.firstLossyRecordsPerSecond) : '–'}`,
      `${round(gen)} %`,
    ];
  });
  return markdownTable(header, rows);
}

function profileText(name: string, s: ProfileSummary): string {
  const lines = [`${name}: ${s.totalMs} ms sampled, idle ${s.idlePercent} %, GC ${s.gcPercent} % of busy time`];
  for (const t of s.top) lines.push(`  ${String(t.selfPercent).padStart(5)} %  ${t.function}  ${t.location}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const root = repoRoot();
  const opts = options(root);
  requireBuild(root);
  const machine = machineInfo();
  const ticksPerSecond = clockTicks();
  TICKS = ticksPerSecond;
  const busyBeforeRunPercent = await busyPercentOver(1000, ticksPerSecond);
  warnIfBusy(busyBeforeRunPercent, log);

  const captures = opts.formats.map((f) => loadCapture(f, join(opts.captures, CAPTURE_FILES[f])));
  log(machineBanner('bench/flows', machine));
  for (const c of captures)
    log(
      `  ${relative(root, c.file)}: ${c.fileBytes} bytes, ${c.payloads.length} datagrams (${c.templateDatagrams} with templates), ` +
        `${c.records} records (${c.ipv4Records} IPv4, ${c.ipv6Records} IPv6), ${c.optionsRecords} options records, ${c.issues} issues`,
    );

  // ---- 1. decode throughput
  const decode: DecodeResult[] = [];
  if (opts.decodeSeconds > 0) {
    log(`\n▶ decode throughput, in process, one core (${opts.decodeSeconds} s each after ${opts.decodeWarmup} s warm-up)`);
    for (const c of captures)
      for (const [keep, mode] of [
        [false, 'rows'],
        [false, 'objects'],
        [true, 'objects'],
      ] as const) {
        if (opts.quietWait > 0) await waitForQuiet(opts);
        const d = decodeThroughput(c, keep, opts.decodeSeconds, opts.decodeWarmup, mode);
        decode.push(d);
        log(
          `  ${FORMAT_LABEL[c.format].padEnd(10)} ${mode === 'rows' ? 'into store rows    ' : `keepAllFields ${String(keep).padEnd(5)}`}: ${si(d.recordsPerSecond)} records/s, ` +
            `${round(d.microsPerRecord, 3)} µs/record, ${round(d.mbPerSecond)} MB/s (${si(d.recordsPerCpuSecond)} records per CPU-second incl. GC threads; rest of the machine ${round(d.otherCpuPercent)} %)`,
        );
      }
  }

  const stages: StageResult[] = [];
  if (opts.stageSeconds > 0) {
    log(`\n▶ cost per record of each stage after the socket (in process, ${opts.stageSeconds} s each)`);
    for (const c of captures) {
      if (opts.quietWait > 0) await waitForQuiet(opts);
      const st = stageCosts(c, opts.stageSeconds);
      stages.push(st);
      log(
        `  ${FORMAT_LABEL[c.format].padEnd(10)}: main: batch ${round(st.batchBuildMicros, 3)} + store insertPacked ${round(st.storeInsertMicros, 3)} µs; ` +
          `worker: decode into rows ${round(st.decodeRowsMicros, 3)} µs per record ` +
          `(before: objects ${round(st.decodeObjectsMicros, 3)} + packFlows ${round(st.packMicros, 3)})`,
      );
    }
  }

  // ---- 2. end to end
  const ladders: LadderResult[] = [];
  let rmem: { before: number; during: number; raised: boolean } | undefined;
  let nfcapd: string | undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'netspan-bench-flows-'));
  const cOpts: CollectorOptions = {
    stepSeconds: opts.stepSeconds,
    socketBufferBytes: opts.socketBuffer,
    workers: opts.workers,
    udpReceive: opts.udpReceive,
    sender: opts.sender,
    warmupSeconds: opts.warmupSeconds,
    warmupRate: 50_000,
    ticksPerSecond,
    workDir,
    log,
  };
  let restoreRmem: number | undefined;
  const restore = () => {
    if (restoreRmem !== undefined) {
      setRmemMax(restoreRmem);
      log(`net.core.rmem_max restored to ${restoreRmem}`);
      restoreRmem = undefined;
    }
  };
  const onSignal = () => {
    restore();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const profiles: Record<string, ProfileSummary> = {};
  try {
    if (opts.collectors.length > 0) {
      if (opts.collectors.includes('nfcapd')) nfcapd = nfcapdVersion();
      const before = rmemMax();
      if (opts.raiseRmem && before < opts.socketBuffer) {
        if (process.getuid?.() === 0) {
          restoreRmem = raiseRmemMax(opts.socketBuffer);
          log(`\nnet.core.rmem_max raised from ${before} to ${opts.socketBuffer} for the run (restored at the end)`);
        } else
          log(
            `⚠ net.core.rmem_max is ${before} < --socket-buffer ${opts.socketBuffer} and this is not root: the kernel caps both collectors' buffers`,
          );
      }
      rmem = { before, during: rmemMax(), raised: restoreRmem !== undefined };
      log(`\n▶ end to end over UDP on 127.0.0.1: ladder ${opts.ladder.map(si).join(', ')} records/s, ${opts.stepSeconds} s per rung`);
      for (const c of captures) {
        for (const name of opts.collectors) {
          let collector: Collector;
          if (name === 'netspan') collector = new NetspanCollector(c, cOpts);
          else {
            const k = new NfcapdCollector(c, cOpts);
            const perPass = await k.calibrate();
            log(`  nfcapd stores ${perPass} flows from one pass of ${CAPTURE_FILES[c.format]} (netspan decodes ${c.records})`);
            collector = k;
          }
          ladders.push(await runLadder(collector, c.format, opts));
        }
      }
    }

    // ---- 3. profiles (optional)
    if (opts.profile) {
      const dir = opts.profile;
      mkdirSync(dir, { recursive: true });
      const v9 = captures.find((c) => c.format === 'v9') ?? captures[0]!;
      log(`\n▶ profiles in ${dir}`);
      const { profile } = await profileInProcess(() => decodeThroughput(v9, false, 2, 0.5, 'rows'));
      writeFileSync(join(dir, `decode-${v9.format}.cpuprofile`), JSON.stringify(profile));
      profiles[`decode ${v9.format} (in process, into store rows)`] = summarizeProfile(profile, root);
      const rate =
        opts.profileRate ?? (ladders.find((l) => l.collector === 'netspan' && l.format === v9.format)?.lossFreeRecordsPerSecond || 100_000);
      const pdir = join(dir, 'netspan');
      rmSync(pdir, { recursive: true, force: true });
      mkdirSync(pdir, { recursive: true });
      const profiled = new NetspanCollector(v9, {
        ...cOpts,
        stepSeconds: Math.max(opts.stepSeconds, 5),
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${pdir}`],
      });
      const s = await profiled.step(rate, 1);
      await profiled.close();
      log(
        `  netspan ${v9.format} replay at ${si(rate)}/s under --cpu-prof: ${s.lossless ? 'loss-free' : `lost ${s.lostRecords}`}, CPU ${round(s.cpuPercent)} %`,
      );
      // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread (receive loop,
      // evidence store), the others the decoding workers (only one gets datagrams: one exporter)
      for (const f of readdirSync(pdir)
        .filter((x) => x.endsWith('.cpuprofile'))
        .sort()) {
        const tid = Number(f.split('.')[4]);
        const summary = summarizeProfileFile(join(pdir, f), root);
        const thread = tid === 0 ? 'main thread' : `worker thread ${tid}`;
        if (summary.idlePercent > 95) {
          log(`  (${thread}: ${summary.idlePercent} % idle, not summarized)`);
          continue;
        }
        profiles[`netspan run, ${v9.format} replay at ${si(rate)}/s, ${thread}`] = { ...summary, file: relative(root, join(pdir, f)) };
      }
      for (const [name, s2] of Object.entries(profiles)) log(profileText(name, s2));
    }
  } finally {
    restore();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(workDir, { recursive: true, force: true });
  }

  const tables = [
    decode.length > 0 ? decodeTable(captures, decode) : '',
    stages.length > 0 ? stageTable(stages) : '',
    ladders.length > 0 ? e2eTable(ladders, opts.formats) : '',
  ]
    .filter(Boolean)
    .join('\n\n');
  console.log(`\n${tables}\n`);

  const results = {
    benchmark: 'bench/flows',
    date: new Date().toISOString(),
    machine: { ...machine, busyBeforeRunPercent, clockTicksPerSecond: ticksPerSecond },
    settings: {
      decodeSeconds: opts.decodeSeconds,
      decodeWarmupSeconds: opts.decodeWarmup,
      stageSeconds: opts.stageSeconds,
      quietPercent: opts.quiet,
      quietWaitSeconds: opts.quietWait,
      ladder: opts.ladder,
      stepSeconds: opts.stepSeconds,
      refineSteps: opts.refine,
      retries: opts.retries,
      netspanWarmupSeconds: opts.warmupSeconds,
      socketBufferBytes: opts.socketBuffer,
      netspanWorkers: opts.workers ?? 'default',
      netspanUdpReceive: opts.udpReceive,
      generatorSender: opts.sender,
      rmemMax: rmem,
      nfcapd,
    },
    captures: captures.map((c) => ({
      format: c.format,
      file: relative(root, c.file),
      fileBytes: c.fileBytes,
      datagrams: c.payloads.length,
      templateDatagrams: c.templateDatagrams,
      payloadBytes: c.payloadBytes,
      records: c.records,
      ipv4Records: c.ipv4Records,
      ipv6Records: c.ipv6Records,
      optionsRecords: c.optionsRecords,
      recordsPerDatagram: round(c.records / c.payloads.length, 2),
      version: c.version,
    })),
    decode: decode.map((d) => ({
      ...d,
      wallSeconds: round(d.wallSeconds, 3),
      cpuSeconds: round(d.cpuSeconds, 3),
      recordsPerSecond: Math.round(d.recordsPerSecond),
      microsPerRecord: round(d.microsPerRecord, 4),
      mbPerSecond: round(d.mbPerSecond, 2),
      datagramsPerSecond: Math.round(d.datagramsPerSecond),
      recordsPerCpuSecond: Math.round(d.recordsPerCpuSecond),
      otherCpuPercent: round(d.otherCpuPercent),
    })),
    stages: stages.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, typeof v === 'number' ? round(v, 4) : v]))),
    endToEnd: opts.formats.map((f) => {
      const n = ladders.find((l) => l.format === f && l.collector === 'netspan');
      const k = ladders.find((l) => l.format === f && l.collector === 'nfcapd');
      return {
        format: f,
        netspanLossFreeRecordsPerSecond: n?.lossFreeRecordsPerSecond,
        nfcapdLossFreeRecordsPerSecond: k?.lossFreeRecordsPerSecond,
        ratioNetspanToNfcapd:
          n && k && k.lossFreeRecordsPerSecond > 0 ? round(n.lossFreeRecordsPerSecond / k.lossFreeRecordsPerSecond, 3) : undefined,
        netspanToppedOut: n?.toppedOut,
        nfcapdToppedOut: k?.toppedOut,
        netspanCpuPercentAtLossFree: n?.atLossFree?.cpuPercent,
        nfcapdCpuPercentAtLossFree: k?.atLossFree?.cpuPercent,
        netspanCpuMicrosPerRecord: n?.atLossFree ? 1e6 / n.atLossFree.recordsPerCpuSecond : undefined,
        nfcapdCpuMicrosPerRecord: k?.atLossFree ? 1e6 / k.atLossFree.recordsPerCpuSecond : undefined,
        generatorCpuPercentMax: Math.max(0, ...[...(n?.steps ?? []), ...(k?.steps ?? [])].map((x) => x.replay.cpuPercent)),
      };
    }),
    ladders,
    profiles,
    anchors: ANCHORS,
  };
  // numbers to 3 decimals; arrays of numbers on one line, as prettier writes them
  const json = JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? round(v, 3) : v), 2).replace(
    /\[\n\s+(-?[\d.e+]+(?:,\n\s+-?[\d.e+]+)*)\n\s+\]/g,
    (_m, body: string) => `[${body.split(/,\s+/).join(', ')}]`,
  );
  writeResultsText(opts.out, json);
}

runMain(main);
