/**
 * Test helpers shared by the capture and sFlow tests: a seeded PRNG, a byte mutator for fuzzing,
 * JSON for golden files, and the golden-file assertion (UPDATE_GOLDEN=1 rewrites).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { repoPath } from '../testutil/index.js';
import { mulberry32Uint32 } from '../testutil/prng.js';

/** mulberry32: a small, fast, seeded PRNG; returns uint32 values. */
export const prng = mulberry32Uint32;

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x11, 0x3a, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_WORDS = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 0x3fffffff, 0x40000000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 0x10000,
];

/**
 * A mutated copy of `src`: one to four edits among bit flips, interesting bytes, interesting
 * 32-bit words at 4-aligned offsets (length and count fields), 16-bit lengths, truncation,
 * deletion, duplication, random overwrite.
 */
export function mutate(rand: () => number, src: Uint8Array): Uint8Array {
  let b = Uint8Array.from(src);
  const edits = 1 + (rand() % 4);
  for (let e = 0; e < edits; e++) {
    const n = b.length;
    if (n === 0) return b;
    const at = rand() % n;
    switch (rand() % 9) {
      case 0:
        b[at] = b[at]! ^ (1 << (rand() % 8));
        break;
      case 1:
        b[at] = INTERESTING_BYTES[rand() % INTERESTING_BYTES.length]!;
        break;
      case 2:
      case 3: {
        const o = at & ~3;
        if (o + 4 <= n) {
          const w = rand() % 3 === 0 ? rand() % 2048 : INTERESTING_WORDS[rand() % INTERESTING_WORDS.length]!;
          new DataView(b.buffer).setUint32(o, w >>> 0, false);
        }
        break;
      }
      case 4:
        if (at + 2 <= n)
          new DataView(b.buffer).setUint16(at, rand() % 3 === 0 ? rand() % 2048 : INTERESTING_WORDS[rand() % 7]! & 0xffff, false);
        break;
      case 5:
        b = b.slice(0, at);
        break;
      case 6: {
        const len = 1 + (rand() % Math.min(16, n - at));
        const out = new Uint8Array(n - len);
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + len), at);
        b = out;
        break;
      }
      case 7: {
        const len = 1 + (rand() % Math.min(16, n - at));
        const out = new Uint8Array(n + len);
        out.set(b.subarray(0, at + len));
        out.set(b.subarray(at), at + len);
        b = out;
        break;
      }
      default: {
        const len = 1 + (rand() % Math.min(8, n - at));
        for (let i = 0; i < len; i++) b[at + i] = rand() & 0xff;
        break;
      }
    }
  }
  return b;
}

/** JSON with bigint as "<digits>n" and bytes as hex, indented, with a final newline. */
export function toJson(value: unknown): string {
  return (
    JSON.stringify(
      value,
      (_k, v: unknown) => {
        if (typeof v === 'bigint') return `${v}n`;
        if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
        return v;
      },
      2,
    ) + '\n'
  );
}

/** Compares with src/<dir...>/testdata/<name>; UPDATE_GOLDEN=1 rewrites the file instead. */
export async function assertGolden(dir: string[], name: string, actual: string): Promise<void> {
  const path = repoPath('src', ...dir, 'testdata', name);
  if (process.env.UPDATE_GOLDEN === '1') {
    await writeFile(path, actual);
    return;
  }
  assert.equal(actual, await readFile(path, 'utf8'), `${name} differs (UPDATE_GOLDEN=1 rewrites it after a deliberate change)`);
}

export const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/[\s:]/g, ''), 'hex'));

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export type TsharkRow = Record<string, string> & { file: string };

/**
 * TShark's decode of the shared and local test captures (decode/testdata/tshark-fields.tsv),
 * grouped by file key ("shared:<path under ../shared/data>", "testdata:<pcap testdata file>",
 * "decode:<decode testdata file>").
 */
export async function loadTsharkFields(): Promise<Map<string, TsharkRow[]>> {
  const text = await readFile(repoPath('src', 'capture', 'decode', 'testdata', 'tshark-fields.tsv'), 'utf8');
  const [head, ...lines] = text.trimEnd().split('\n');
  const cols = head!.split('\t');
  const byFile = new Map<string, TsharkRow[]>();
  for (const line of lines) {
    const cells = line.split('\t');
    const row = Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? ''])) as TsharkRow;
    let rows = byFile.get(row.file);
    if (!rows) byFile.set(row.file, (rows = []));
    rows.push(row);
  }
  return byFile;
}

/** "1795301092.514912000" → Unix nanoseconds. */
export function epochToNanos(text: string): bigint {
  const [s, f = ''] = text.split('.');
  return BigInt(s!) * 1_000_000_000n + BigInt(f.padEnd(9, '0').slice(0, 9));
}
