/** Element values: address text (RFC 5952), integers of any length, times, strings, raw bytes. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../../testutil/prng.js';
import { IeType } from './ie-types.js';
import { decodeValue, ipv4ToString, ipv6ToString, isoTime, ntpSecondsToUnix, readUnsigned } from './values.js';

const value = (type: number, bytes: number[]): unknown => {
  const b = Uint8Array.from(bytes);
  return decodeValue(type, new DataView(b.buffer), b, 0, b.length);
};

function v6(text: string): Uint8Array {
  // test helper: expand "a:b::c" into 16 bytes
  const [head = '', tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = text.includes('::') && tail ? tail.split(':') : [];
  const groups = text.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Uint8Array.from(groups.flatMap((g) => [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 255]));
}

describe('addresses', () => {
  test('IPv4', () => {
    assert.equal(ipv4ToString(0xc0000201), '192.0.2.1');
    assert.equal(ipv4ToString(0), '0.0.0.0');
    assert.equal(ipv4ToString(0xffffffff), '255.255.255.255');
  });

  test('IPv6 text per RFC 5952', () => {
    for (const [input, text] of [
      ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'], // IPv4-mapped
      ['2001:DB8:0:0:0:0:2:1', '2001:db8::2:1'],
    ] as const) {
      assert.equal(ipv6ToString(v6(input), 0), text, input);
    }
  });

  test('IPv6 text agrees with the WHATWG URL serializer (RFC 5952 but for IPv4-mapped), repeats and memo slots included', () => {
    const random = mulberry32(5952);
    // groups from a small set with many zeros, so that runs of zeros and repeated addresses are common
    const groups = [0, 0, 0, 1, 0xdb8, 0x2001, 0xfe80, 0xffff, 0xabcd, 0x10];
    const pool: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(18); // at offset 1, with a byte either side
      for (let g = 0; g < 8; g++) {
        const v = groups[Math.floor(random() * groups.length)]!;
        b[1 + 2 * g] = v >> 8;
        b[2 + 2 * g] = v & 255;
      }
      pool.push(b);
    }
    for (let i = 0; i < 20_000; i++) {
      const b = pool[Math.floor(random() * pool.length)]!;
      const mapped = b.subarray(1, 11).every((x) => x === 0) && b[11] === 0xff && b[12] === 0xff;
      if (mapped) continue;
      const hex = Array.from({ length: 8 }, (_, g) => ((b[1 + 2 * g]! << 8) | b[2 + 2 * g]!).toString(16)).join(':');
      assert.equal(ipv6ToString(b, 1), new URL(`http://[${hex}]/`).hostname.slice(1, -1), hex);
    }
  });

  test('IPv4 text of random addresses, repeated (memo slots shared)', () => {
    const random = mulberry32(791);
    const pool = Array.from({ length: 500 }, () => Math.floor(random() * 2 ** 32));
    for (let i = 0; i < 20_000; i++) {
      const a = pool[Math.floor(random() * pool.length)]!;
      assert.equal(ipv4ToString(a), [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.'));
    }
  });
});

describe('integers', () => {
  test('unsigned of any length 1..8 (reduced-size encoding)', () => {
    const b = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const view = new DataView(b.buffer);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => readUnsigned(view, 0, n)),
      [0x01, 0x0102, 0x010203, 0x01020304, 0x0102030405, 0x010203040506, 0x01020304050607, 0x01020304 * 2 ** 32 + 0x05060708],
    );
    assert.equal(readUnsigned(view, 0, 9), -1);
  });

  test('signed values are sign-extended at their wire length', () => {
    assert.equal(value(IeType.signed32, [0xff, 0xfe]), -2);
    assert.equal(value(IeType.signed32, [0xff, 0xff, 0xff]), -1);
    assert.equal(value(IeType.signed64, [0x80, 0, 0, 0, 0, 0, 0, 0]), -(2n ** 63n));
    assert.equal(value(IeType.signed8, [0x7f]), 127);
  });

  test('unsigned64 above 2^53 as bigint', () => {
    assert.equal(value(IeType.unsigned64, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 2n ** 64n - 1n);
    assert.equal(value(IeType.unsigned64, [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 2 ** 53 - 1);
  });
});

describe('other types', () => {
  test('floats, reduced float64, booleans (1 true, 2 false)', () => {
    assert.equal(value(IeType.float32, [0x40, 0x49, 0x0f, 0xdb]), Math.fround(Math.PI));
    assert.equal(value(IeType.float64, [0x3f, 0x80, 0, 0]), 1); // float64 sent as float32
    assert.deepEqual([value(IeType.boolean, [1]), value(IeType.boolean, [2]), value(IeType.boolean, [0])], [true, false, 0]);
  });

  test('strings: UTF-8, ending at the first NUL', () => {
    assert.equal(value(IeType.string, [0x6b, 0x65, 0x72, 0x62, 0, 0, 0]), 'kerb');
    assert.equal(value(IeType.string, [0, 0xc1, 0x41]), '');
    assert.equal(value(IeType.string, [0xc3, 0xa9, 0x74, 0xc3, 0xa9]), 'été');
  });

  test('MAC addresses, and raw bytes for lengths a type cannot have', () => {
    assert.equal(value(IeType.macAddress, [0, 0x50, 0x56, 0xc0, 0, 1]), '00:50:56:c0:00:01');
    assert.deepEqual(value(IeType.macAddress, [1, 2]), Uint8Array.from([1, 2]));
    assert.deepEqual(value(IeType.ipv4Address, [10, 0]), Uint8Array.from([10, 0]));
    assert.deepEqual(value(IeType.basicList, [255, 0, 1]), Uint8Array.from([255, 0, 1]));
  });

  test('times as ISO-8601; zero is "not set"', () => {
    assert.equal(value(IeType.dateTimeSeconds, [0x65, 0x53, 0xf1, 0x00]), '2023-11-14T22:13:20.000Z');
    assert.equal(value(IeType.dateTimeMilliseconds, [0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01]), '2023-11-14T22:13:20.001Z');
    // NTP 2023-11-14T22:13:20 + 0.5 s
    const ntp = 1_700_000_000 + 2_208_988_800;
    assert.equal(
      value(IeType.dateTimeNanoseconds, [ntp >>> 24, (ntp >>> 16) & 255, (ntp >>> 8) & 255, ntp & 255, 0x80, 0, 0, 0]),
      '2023-11-14T22:13:20.500000000Z',
    );
    assert.equal(value(IeType.dateTimeMilliseconds, [0, 0, 0, 0, 0, 0, 0, 0]), 0);
    assert.equal(value(IeType.dateTimeMicroseconds, [0, 0, 0, 0, 0, 0, 0, 0]), 0);
  });

  test('NTP seconds below 2^31 are era 1 (after 2036)', () => {
    assert.equal(ntpSecondsToUnix(0x80000000), 0x80000000 - 2_208_988_800);
    assert.equal(ntpSecondsToUnix(0), 4_294_967_296 - 2_208_988_800);
  });

  test('raw bytes are copies', () => {
    const b = Uint8Array.from([1, 2, 3]);
    const v = decodeValue(IeType.octetArray, new DataView(b.buffer), b, 0, 3) as Uint8Array;
    b[0] = 9;
    assert.equal(v[0], 1);
  });
});

test('isoTime gives the text of Date.toISOString: day boundaries of 1970-9999, random instants, the edges', () => {
  const check = (ms: number, nanos?: number): void => {
    const text = new Date(ms).toISOString();
    assert.equal(isoTime(ms, nanos), nanos === undefined ? text : `${text.slice(0, -4)}${String(nanos).padStart(9, '0')}Z`, `${ms}`);
  };
  const lastMs = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
  // every day to 2298, then every 13th (all months and leap days come round) to the end of 9999
  for (let day = 0; day * 86_400_000 <= lastMs; day += day < 120_000 ? 1 : 13) {
    check(day * 86_400_000);
    check(day * 86_400_000 + 86_399_999);
  }
  const random = mulberry32(7011);
  for (let i = 0; i < 100_000; i++) check(Math.floor(random() * (lastMs + 1)), i % 3 === 0 ? Math.floor(random() * 1e9) : undefined);
  // the per-second memo: instants of one second, and seconds that share its slots, alternating
  for (let i = 0; i < 2_000; i++) {
    const base = Math.floor(random() * (lastMs - 100_000));
    for (const step of [0, 16_000, 1, 32_000, 999, 16_500, 0, 48_000]) check(base - (base % 1000) + step + (i % 7));
  }
  // outside the table-driven range: Date's own text (negative, years past 9999, fractions)
  for (const ms of [-1, -86_400_001, lastMs + 1, 8.64e15, 1_700_000_000_000.5]) check(ms);
  assert.equal(isoTime(Number.NaN), Number.NaN);
  assert.equal(isoTime(8.64e15 + 1), 8.64e15 + 1);
});
