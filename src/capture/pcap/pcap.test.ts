import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath, SHARED_DIR } from '../../testutil/index.js';
import { concat, epochToNanos, loadTsharkFields, mutate, prng } from '../testkit.test.util.js';
import { buildPcap, PcapngBuilder } from './build.test.util.js';
import { CaptureFormatError, CaptureStreamParser, LINKTYPE, readPcap, type CapturedPacket } from './index.js';

const testdata = (name: string) => new Uint8Array(readFileSync(repoPath('src', 'capture', 'pcap', 'testdata', name)));
const SHARED_DATA = join(SHARED_DIR, 'data');
const hasShared = existsSync(SHARED_DATA);

function expectCaptureError(fn: () => unknown, code: string, offset: number): CaptureFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CaptureFormatError, `expected a CaptureFormatError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.offset, offset, caught.message);
  assert.match(caught.message, new RegExp(`offset ${offset}\\b`));
  return caught;
}

/** Feeds `bytes` to a stream parser in the given chunk sizes (cycled). */
function streamPackets(bytes: Uint8Array, sizes: number[]): { packets: CapturedPacket[]; parser: CaptureStreamParser } {
  const parser = new CaptureStreamParser();
  const packets: CapturedPacket[] = [];
  let pos = 0;
  for (let i = 0; pos < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    parser.push(bytes.subarray(pos, pos + size), (p) => packets.push(p));
    pos += size;
  }
  return { packets, parser };
}

function comparable(p: CapturedPacket) {
  return { ...p, data: Buffer.from(p.data).toString('hex') };
}

// ---- real files against TShark ----

test(
  'every shared pcap reads with the packet count, timestamps and lengths TShark reports',
  { skip: !hasShared && 'no ../shared' },
  async () => {
    const tshark = await loadTsharkFields();
    let files = 0;
    let packets = 0;
    for (const [key, rows] of tshark) {
      if (!key.startsWith('shared:')) continue;
      const bytes = new Uint8Array(readFileSync(join(SHARED_DATA, key.slice('shared:'.length))));
      const r = readPcap(bytes);
      assert.equal(r.format, 'pcap', key);
      assert.equal(r.truncated, undefined, key);
      assert.equal(r.packets.length, rows.length, key);
      r.packets.forEach((p, i) => {
        const row = rows[i]!;
        assert.equal(p.timestampUnixNano, epochToNanos(row['frame.time_epoch']!), `${key} #${i + 1}`);
        assert.equal(p.capturedLength, Number(row['frame.cap_len']), `${key} #${i + 1}`);
        assert.equal(p.data.length, p.capturedLength);
        assert.equal(p.originalLength, Number(row['frame.len']), `${key} #${i + 1}`);
        assert.equal(p.linkType, LINKTYPE.ETHERNET);
        assert.equal(p.interfaceIndex, 0);
        // zero copy: a view into the input
        assert.equal(p.data.buffer, bytes.buffer);
      });
      files++;
      packets += r.packets.length;
    }
    assert.ok(files >= 80 && packets >= 130, `${files} files, ${packets} packets`);
  },
);

const LOCAL_FILES: { name: string; format: 'pcap' | 'pcapng'; linkTypes: number[]; unitsPerSecond: bigint }[] = [
  { name: 'lo-sll.pcap', format: 'pcap', linkTypes: [LINKTYPE.LINUX_SLL], unitsPerSecond: 1_000_000n },
  { name: 'lo-sll2-nsec.pcap', format: 'pcap', linkTypes: [LINKTYPE.LINUX_SLL2], unitsPerSecond: 1_000_000_000n },
  { name: 'lo-sll2.pcapng', format: 'pcapng', linkTypes: [LINKTYPE.LINUX_SLL2], unitsPerSecond: 1_000_000_000n },
  { name: 'loghub-sflow.pcapng', format: 'pcapng', linkTypes: [LINKTYPE.ETHERNET], unitsPerSecond: 1_000_000n },
  { name: 'ioam-full_supp_trace_x5.nsec.pcap', format: 'pcap', linkTypes: [LINKTYPE.ETHERNET], unitsPerSecond: 1_000_000_000n },
  { name: 'merged-2if.pcapng', format: 'pcapng', linkTypes: [LINKTYPE.LINUX_SLL, LINKTYPE.ETHERNET], unitsPerSecond: 1_000_000n },
];

for (const f of LOCAL_FILES) {
  test(`${f.name}: ${f.format}, packets and timestamps as TShark reads them`, async () => {
    const rows = (await loadTsharkFields()).get(`testdata:${f.name}`)!;
    const bytes = testdata(f.name);
    const r = readPcap(bytes);
    assert.equal(r.format, f.format);
    assert.equal(r.truncated, undefined);
    assert.deepEqual(
      r.interfaces.map((i) => i.linkType),
      f.linkTypes,
    );
    assert.ok(r.interfaces.every((i) => i.timestampUnitsPerSecond === f.unitsPerSecond));
    assert.equal(r.packets.length, rows.length);
    r.packets.forEach((p, i) => {
      const row = rows[i]!;
      assert.equal(p.timestampUnixNano, epochToNanos(row['frame.time_epoch']!), `#${i + 1}`);
      assert.equal(p.capturedLength, Number(row['frame.cap_len']));
      assert.equal(p.originalLength, Number(row['frame.len']));
      assert.equal(p.linkType, f.linkTypes[p.interfaceIndex]);
    });
  });
}

test('merged pcapng: each packet carries its own interface and link type', () => {
  const r = readPcap(testdata('merged-2if.pcapng'));
  const perInterface = r.packets.reduce<Record<number, number[]>>((acc, p) => {
    (acc[p.interfaceIndex] ??= []).push(p.linkType);
    return acc;
  }, {});
  assert.deepEqual(Object.keys(perInterface), ['0', '1']);
  assert.ok(perInterface[0]!.every((lt) => lt === LINKTYPE.LINUX_SLL) && perInterface[0]!.length === 22);
  assert.ok(perInterface[1]!.every((lt) => lt === LINKTYPE.ETHERNET) && perInterface[1]!.length === 9);
});

test('pcapng written by editcap holds the same packets as the pcap it came from', { skip: !hasShared && 'no ../shared' }, () => {
  const a = readPcap(new Uint8Array(readFileSync(join(SHARED_DATA, 'sflow', 'loghub', 'sflow.pcap'))));
  const b = readPcap(testdata('loghub-sflow.pcapng'));
  assert.deepEqual(b.packets.map(comparable), a.packets.map(comparable));
});

// ---- built files: byte orders, resolutions, blocks ----

const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);

test('classic pcap: both byte orders, microsecond and nanosecond magic give the same packets', () => {
  const packets = [
    { seconds: 1_700_000_000, fraction: 123_456, data: frame(60, 1) },
    { seconds: 1_700_000_001, fraction: 999_999, data: frame(61, 2), originalLength: 1514 },
  ];
  for (const le of [true, false]) {
    const us = readPcap(buildPcap({ le, linkType: 1, packets }));
    assert.deepEqual(
      us.packets.map((p) => [p.timestampUnixNano, p.capturedLength, p.originalLength, p.data[0]]),
      [
        [1_700_000_000_123_456_000n, 60, 60, 1],
        [1_700_000_001_999_999_000n, 61, 1514, 2],
      ],
    );
    const ns = readPcap(
      buildPcap({ le, nanos: true, linkType: 229, packets: packets.map((p) => ({ ...p, fraction: p.fraction * 1000 + 7 })) }),
    );
    assert.deepEqual(
      ns.packets.map((p) => [p.timestampUnixNano, p.linkType]),
      [
        [1_700_000_000_123_456_007n, 229],
        [1_700_000_001_999_999_007n, 229],
      ],
    );
  }
});

test('pcapng: little- and big-endian sections, if_tsresol 6/9/2^-20, if_tsoffset, SPB, obsolete PB, skipped blocks', () => {
  const build = (le: boolean) =>
    new PcapngBuilder(le)
      .shb([{ code: 4, value: new TextEncoder().encode('netspan test') }])
      .idb({ linkType: LINKTYPE.ETHERNET, snapLength: 0, name: 'eth0' }) // default: microseconds
      .idb({ linkType: LINKTYPE.IPV6, snapLength: 65535, tsresol: 9 })
      .idb({ linkType: LINKTYPE.LINUX_SLL2, tsresol: 0x80 | 20, tsoffset: 10n })
      .block(4, new Uint8Array(8)) // name resolution block: skipped
      .epb(0, 1_700_000_000_000_001n, frame(64, 0xa))
      .epb(1, 1_700_000_000_123_456_789n, frame(41, 0xb), 1280)
      .epb(2, 3n << 20n, frame(20, 0xc))
      .block(5, new Uint8Array(12)) // interface statistics: skipped
      .block(0x40000bad, new Uint8Array(7)) // custom block: skipped
      .spb(frame(30, 0xd), 30)
      .epb(1, 5n, frame(3, 0xe), 3, 2) // obsolete packet block
      .bytes();
  const expected = [
    [0, LINKTYPE.ETHERNET, 1_700_000_000_000_001_000n, 64, 64, 0xa],
    [1, LINKTYPE.IPV6, 1_700_000_000_123_456_789n, 41, 1280, 0xb],
    [2, LINKTYPE.LINUX_SLL2, 13_000_000_000n, 20, 20, 0xc],
    [0, LINKTYPE.ETHERNET, 0n, 30, 30, 0xd],
    [1, LINKTYPE.IPV6, 5n, 3, 3, 0xe],
  ];
  for (const le of [true, false]) {
    const r = readPcap(build(le));
    assert.equal(r.format, 'pcapng');
    assert.equal(r.interfaces[0]!.name, 'eth0');
    assert.deepEqual(
      r.packets.map((p) => [p.interfaceIndex, p.linkType, p.timestampUnixNano, p.capturedLength, p.originalLength, p.data[0]]),
      expected,
      le ? 'little-endian' : 'big-endian',
    );
  }
});

test('pcapng: a file with sections of both byte orders; interfaces restart per section', () => {
  const a = new PcapngBuilder(true).shb().idb({ linkType: 1 }).epb(0, 1n, frame(14, 1)).bytes();
  const b = new PcapngBuilder(false).shb().idb({ linkType: 229, tsresol: 9 }).epb(0, 2n, frame(40, 2)).bytes();
  const r = readPcap(concat(a, b, a));
  assert.deepEqual(
    r.packets.map((p) => [p.linkType, p.timestampUnixNano]),
    [
      [1, 1000n],
      [229, 2n],
      [1, 1000n],
    ],
  );
});

test('a timestamp above 2^53 units keeps every nanosecond', () => {
  const ts = 0x1234_5678_9abc_def0n;
  const r = readPcap(new PcapngBuilder(false).shb().idb({ linkType: 1, tsresol: 9 }).epb(0, ts, frame(1, 0)).bytes());
  assert.equal(r.packets[0]!.timestampUnixNano, ts);
});

// ---- streams ----

test('stream parser: any chunking gives the packets readPcap gives, split packets reassembled', () => {
  const files = [
    testdata('lo-sll.pcap'),
    testdata('lo-sll2.pcapng'),
    testdata('merged-2if.pcapng'),
    testdata('ioam-full_supp_trace_x5.nsec.pcap'),
  ];
  for (const bytes of files) {
    const whole = readPcap(bytes).packets.map(comparable);
    for (const sizes of [[1], [2], [3], [7], [13], [64], [1000], [bytes.length], [1, 100, 5, 4096, 3]]) {
      const { packets, parser } = streamPackets(bytes, sizes);
      assert.deepEqual(packets.map(comparable), whole, `chunks ${sizes.join(',')}`);
      assert.equal(parser.end(), undefined);
      assert.equal(parser.offset, bytes.length);
    }
    const rand = prng(bytes.length);
    for (let run = 0; run < 50; run++) {
      const sizes = Array.from({ length: 16 }, () => 1 + (rand() % 300));
      assert.deepEqual(streamPackets(bytes, sizes).packets.map(comparable), whole);
    }
  }
});

test('stream parser: packets inside one chunk are views of it; split ones are fresh buffers', () => {
  const bytes = testdata('lo-sll.pcap');
  const parser = new CaptureStreamParser();
  const got: CapturedPacket[] = [];
  const first = bytes.slice(0, 200);
  const rest = bytes.slice(200);
  parser.push(first, (p) => got.push(p));
  const inFirst = got.length;
  parser.push(rest, (p) => got.push(p));
  assert.ok(inFirst >= 1);
  assert.equal(got[0]!.data.buffer, first.buffer);
  assert.notEqual(got[inFirst]!.data.buffer, first.buffer);
  assert.notEqual(got[inFirst]!.data.buffer, rest.buffer);
  assert.equal(got.at(-1)!.data.buffer, rest.buffer);
});

// ---- truncation and malformed files ----

test('a file cut at any offset: earlier packets kept, the cut reported, never a throw past the header', () => {
  for (const name of ['lo-sll.pcap', 'lo-sll2.pcapng', 'merged-2if.pcapng']) {
    const bytes = testdata(name);
    const full = readPcap(bytes).packets;
    // end offset of every packet's unit, from the stream parser's progress
    for (let cut = 0; cut < bytes.length; cut++) {
      const part = bytes.subarray(0, cut);
      let r;
      try {
        r = readPcap(part);
      } catch (err) {
        assert.ok(err instanceof CaptureFormatError && err.code === 'CAPTURE_TRUNCATED', `${name} cut at ${cut}: ${String(err)}`);
        continue;
      }
      assert.ok(r.packets.length <= full.length);
      r.packets.forEach((p, i) => assert.deepEqual(comparable(p), comparable(full[i]!)));
      if (r.truncated) {
        assert.ok(r.truncated.offset <= cut && r.truncated.available === cut - r.truncated.offset, `${name} cut at ${cut}`);
        assert.match(r.truncated.message, /offset \d+/);
      }
    }
  }
});

test('the header of a pcap or pcapng file must be complete', () => {
  expectCaptureError(() => readPcap(new Uint8Array(0)), 'CAPTURE_TRUNCATED', 0);
  expectCaptureError(() => readPcap(testdata('lo-sll.pcap').subarray(0, 23)), 'CAPTURE_TRUNCATED', 0);
  expectCaptureError(() => readPcap(testdata('lo-sll2.pcapng').subarray(0, 27)), 'CAPTURE_TRUNCATED', 0);
});

test('malformed files raise typed errors that say the offset; packets before stay delivered', () => {
  expectCaptureError(() => readPcap(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')), 'CAPTURE_BAD_MAGIC', 0);

  const v3 = buildPcap({ le: true, linkType: 1, packets: [] });
  new DataView(v3.buffer).setUint16(4, 3, true);
  expectCaptureError(() => readPcap(v3), 'CAPTURE_BAD_HEADER', 4);

  const two = buildPcap({
    le: false,
    linkType: 1,
    packets: [
      { seconds: 1, fraction: 0, data: frame(10, 0) },
      { seconds: 2, fraction: 0, data: frame(10, 0) },
    ],
  });
  new DataView(two.buffer).setUint32(24 + 26 + 8, 0x7fffffff, false);
  const err = expectCaptureError(() => readPcap(two), 'CAPTURE_BAD_LENGTH', 24 + 26 + 8);
  assert.equal(err.packetsBefore, 1);

  const ng = new PcapngBuilder(true).shb().idb({ linkType: 1 }).epb(0, 1n, frame(10, 0)).bytes();
  const shbLen = 28;
  const idbLen = 20;
  const badLen = ng.slice();
  new DataView(badLen.buffer).setUint32(shbLen + idbLen + 4, 45, true);
  expectCaptureError(() => readPcap(badLen), 'CAPTURE_BAD_LENGTH', shbLen + idbLen + 4);

  const badTrailer = ng.slice();
  new DataView(badTrailer.buffer).setUint32(badTrailer.length - 4, 8, true);
  expectCaptureError(() => readPcap(badTrailer), 'CAPTURE_BAD_LENGTH', badTrailer.length - 4);

  const noIface = new PcapngBuilder(true).shb().idb({ linkType: 1 }).epb(3, 1n, frame(10, 0)).bytes();
  expectCaptureError(() => readPcap(noIface), 'CAPTURE_UNKNOWN_INTERFACE', shbLen + idbLen + 8);

  const bom = ng.slice();
  new DataView(bom.buffer).setUint32(8, 0x11223344, true);
  expectCaptureError(() => readPcap(bom), 'CAPTURE_BAD_HEADER', 8);

  const capTooBig = new PcapngBuilder(false).shb().idb({ linkType: 1 }).epb(0, 1n, frame(8, 0)).bytes();
  new DataView(capTooBig.buffer).setUint32(shbLen + idbLen + 20, 9, false);
  expectCaptureError(() => readPcap(capTooBig), 'CAPTURE_BAD_LENGTH', shbLen + idbLen + 20);
});

test('a failed stream parser keeps failing with the same error', () => {
  const parser = new CaptureStreamParser();
  const bad = new Uint8Array(32).fill(0x55);
  assert.throws(() => parser.push(bad, () => {}), CaptureFormatError);
  let again: unknown;
  try {
    parser.push(testdata('lo-sll.pcap'), () => assert.fail('no packets after a failure'));
  } catch (err) {
    again = err;
  }
  assert.ok(again instanceof CaptureFormatError && again.code === 'CAPTURE_BAD_MAGIC');
  assert.throws(() => parser.end(), CaptureFormatError);
});

test('the block length limit stops a stream from waiting for a corrupt length', () => {
  const ng = new PcapngBuilder(true).shb().idb({ linkType: 1 }).epb(0, 1n, frame(2000, 0)).bytes();
  expectCaptureError(() => readPcap(ng, { maxBlockLength: 1024 }), 'CAPTURE_BAD_LENGTH', 28 + 20 + 4);
});

test('mutated capture files: only CaptureFormatError, and within bounded time', () => {
  const seeds = [testdata('lo-sll.pcap'), testdata('lo-sll2.pcapng'), testdata('merged-2if.pcapng')];
  const rand = prng(0x5eed);
  const started = Date.now();
  let errors = 0;
  for (let i = 0; i < 30_000; i++) {
    const bytes = mutate(rand, seeds[i % seeds.length]!);
    try {
      const r = readPcap(bytes, { maxBlockLength: 1 << 16 });
      for (const p of r.packets) assert.equal(p.data.length, p.capturedLength);
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
      assert.ok(err.offset >= 0 && err.offset <= bytes.length, err.message);
      errors++;
    }
  }
  assert.ok(errors > 0);
  assert.ok(Date.now() - started < 60_000);
});
