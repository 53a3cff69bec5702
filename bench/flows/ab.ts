/**
 * bench/flows A/B: this checkout's flow decoder (into store rows) and evidence store insert against
 * another checkout's, both loaded in one process and measured in alternating rounds, so that the
 * drift of a shared machine (which moves a single figure by tens of per cent from minute to minute)
 * falls on both alike. What a change to the decoder or the store saves shows as the median ratio of
 * the pairs of rounds, which holds still where the separate figures do not.
 *
 *   npm run build && node dist/bench/flows/ab.js --baseline ../main-before [--formats v5,v9,ipfix] [--rounds 40]
 *
 * The baseline is a checkout whose `dist/` is built (`git worktree add ../main-before HEAD~1`, then
 * `npm run build` there). The captures are this checkout's. Each round is 100 ms of decoding (or of
 * inserting), timed by the CPU time of this process; the decoder runs in one long-lived session, as
 * in a worker (templates learnt once), and the store is filled to netspan's default capacity first.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CAPTURE_FILES, loadCapture, type FlowCapture, type FlowFormat } from './captures.js';
import { num, parseOptions, repoRoot, runMain } from '../common/cli.js';
import { median } from '../common/util.js';

const USAGE = `node dist/bench/flows/ab.js --baseline DIR [options]
  --baseline DIR   a checkout with its dist/ built: the "before" side
  --formats LIST   v5,v9,ipfix (default all)
  --rounds N       pairs of rounds per measurement (default 40)`;

/** µs of CPU per record over about `ms` of work. */
type Round = (ms: number) => number;

interface Side {
  decode: Round;
  insert: Round;
}

/** The modules of one checkout's build, by their path below dist/src. */
async function load<T>(root: string, path: string): Promise<T> {
  return (await import(pathToFileURL(join(root, 'dist', 'src', path)).href)) as T;
}

interface DecoderModules {
  session: typeof import('../../src/receivers/netflow/session.js');
  rows: typeof import('../../src/evidence/memory/rows.js');
  store: typeof import('../../src/evidence/memory/store.js');
}

/** Datagrams per batch handed to the store, as a decoding worker's reply holds a few rounds. */
const BATCH_DATAGRAMS = 32;

async function side(root: string, capture: FlowCapture): Promise<Side> {
  const m: DecoderModules = {
    session: await load(root, 'receivers/netflow/session.js'),
    rows: await load(root, 'evidence/memory/rows.js'),
    store: await load(root, 'evidence/memory/store.js'),
  };
  const writer = new m.rows.RowWriter();
  const session = m.session.createDecoderSession('netflow', false, writer);
  const timed =
    (work: () => number): Round =>
    (ms) => {
      let records = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      while (performance.now() - t0 < ms) records += work();
      const cpu = process.cpuUsage(cpu0);
      return (cpu.user + cpu.system) / records;
    };
  const decode = timed(() => {
    for (const p of capture.payloads) session('127.0.0.1', 0, p);
    const taken = writer.take();
    writer.recycle(taken.packed.data);
    return taken.packed.rows;
  });
  // the store's input: three passes of the capture as batches of rows, inserted over and over
  const batches: import('../../src/evidence/memory/rows.js').PackedFlows[] = [];
  for (let pass = 0; pass < 3; pass++)
    for (let k = 0; k < capture.payloads.length; k += BATCH_DATAGRAMS) {
      for (const p of capture.payloads.slice(k, k + BATCH_DATAGRAMS)) session('127.0.0.1', 0, p);
      batches.push(writer.take().packed);
    }
  // the captures' flows are old: a retention that keeps them, as bench/flows does
  const store = new m.store.MemoryFlowStore({ retentionMs: 1e15 });
  const insertAll = (): number => {
    let rows = 0;
    for (const b of batches) {
      store.insertPacked(b);
      rows += b.rows;
    }
    return rows;
  };
  // filled to capacity first, so that each insert also pays for an eviction now and then, as in a running collector
  while ((await store.stats()).evicted.capacity === 0) insertAll();
  return { decode, insert: timed(insertAll) };
}

/** Alternating rounds of a and b (which goes first alternates too); medians and the median ratio b/a. */
function interleave(a: Round, b: Round, rounds: number): { a: number; b: number; ratio: number } {
  for (let i = 0; i < 3; i++) {
    a(200);
    b(200);
  }
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let x: number;
    let y: number;
    if (i % 2 === 0) {
      x = a(100);
      y = b(100);
    } else {
      y = b(100);
      x = a(100);
    }
    as.push(x);
    bs.push(y);
    ratios.push(y / x);
  }
  return { a: median(as), b: median(bs), ratio: median(ratios) };
}

async function main(): Promise<void> {
  const { values } = parseOptions(USAGE, {
    baseline: { type: 'string' },
    formats: { type: 'string', default: 'v5,v9,ipfix' },
    rounds: { type: 'string', default: '40' },
  });
  if (!values.baseline) throw new Error(`--baseline is required\n${USAGE}`);
  const baseline = resolve(values.baseline);
  if (!existsSync(join(baseline, 'dist', 'src', 'receivers', 'netflow', 'session.js')))
    throw new Error(`${baseline}: no dist/ build there (npm run build in it first)`);
  const rounds = num('rounds', values.rounds, 4, 10_000);
  const root = repoRoot();
  const formats = values.formats.split(',').map((f) => f.trim()) as FlowFormat[];
  for (const format of formats) {
    if (!(format in CAPTURE_FILES)) throw new Error(`--formats: unknown "${format}" (v5, v9, ipfix)`);
    const capture = loadCapture(format, join(root, 'bench', 'flows', 'captures', CAPTURE_FILES[format]));
    const before = await side(baseline, capture);
    const after = await side(root, capture);
    for (const stage of ['decode', 'insert'] as const) {
      const r = interleave(before[stage], after[stage], rounds);
      const what = stage === 'decode' ? 'decode into store rows' : 'store insertPacked     ';
      console.log(
        `${format.padEnd(5)} ${what}: baseline ${r.a.toFixed(4)} µs/record, this ${r.b.toFixed(4)} µs/record, this / baseline ${r.ratio.toFixed(3)} (median of ${rounds} pairs)`,
      );
    }
  }
}

runMain(main);
