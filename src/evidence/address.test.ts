import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { canonicalAddress, formatAddress, parseAddress } from './address.js';

test('address: canonical text (dotted quad, RFC 5952)', () => {
  const cases: [string, string][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::A', '2001:db8::a'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::FFFF:c000:0201', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['fe80::abcd:1', 'fe80::abcd:1'],
  ];
  for (const [input, canonical] of cases) assert.equal(canonicalAddress(input), canonical, input);
});

test('address: IPv4 and IPv4-mapped IPv6 share a value, not a text form', () => {
  const a = new Uint32Array(8);
  assert.equal(parseAddress('10.0.0.1', a, 0), 4);
  assert.equal(parseAddress('::ffff:10.0.0.1', a, 4), 6);
  assert.deepEqual([...a.subarray(0, 4)], [...a.subarray(4, 8)]);
  assert.equal(formatAddress(a, 0, 4), '10.0.0.1');
  assert.equal(formatAddress(a, 4, 6), '::ffff:10.0.0.1');
});

test('address: what is refused', () => {
  const bad = [
    '',
    'x',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..2.3',
    '1.2.3.',
    ':',
    ':::',
    '1:2',
    '1::2::3',
    ':1::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    'g::1',
    'fe80::1%eth0',
    '[::1]',
    '::ffff:1.2.3',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::1.2.3.4:5',
    '1::2:',
  ];
  for (const text of bad) assert.equal(canonicalAddress(text), undefined, JSON.stringify(text));
});

test('address: agrees with node:net on random and edge inputs', () => {
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const alphabet = '0123456789abcdefABCDEF:.';
  for (let i = 0; i < 20_000; i++) {
    const length = 1 + Math.floor(random() * 20);
    let text = '';
    for (let k = 0; k < length; k++) text += alphabet[Math.floor(random() * alphabet.length)];
    const ours = canonicalAddress(text);
    // node accepts nothing we refuse, except IPv4 octets with leading zeros, which we refuse on purpose.
    if (isIP(text) !== 0 && !/(^|[.:])0\d/.test(text.split(':').pop() ?? '')) assert.notEqual(ours, undefined, text);
    if (ours !== undefined) assert.notEqual(isIP(text), 0, text);
  }
  // Round trip of random 128-bit values through text.
  const words = new Uint32Array(4);
  const back = new Uint32Array(4);
  for (let i = 0; i < 5_000; i++) {
    for (let k = 0; k < 4; k++) words[k] = random() < 0.4 ? 0 : Math.floor(random() * 2 ** 32) & (random() < 0.5 ? 0xffff : 0xffffffff);
    const text = formatAddress(words, 0, 6);
    assert.equal(parseAddress(text, back, 0), 6, text);
    assert.deepEqual([...back], [...words], text);
    assert.equal(isIP(text), 6, text);
  }
});
