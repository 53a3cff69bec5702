import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counter64FromBytes, counterDelta, uptimeRestarted } from './counters.js';

test('counterDelta: plain increase', () => {
  assert.deepEqual(counterDelta(100n, 250n, 32), { kind: 'delta', delta: 150n, wrapped: false });
  assert.deepEqual(counterDelta(7n, 7n, 64), { kind: 'delta', delta: 0n, wrapped: false });
});

test('counterDelta: a 32-bit wrap is an increase', () => {
  const prev = 2n ** 32n - 1000n;
  assert.deepEqual(counterDelta(prev, 500n, 32), { kind: 'delta', delta: 1500n, wrapped: true });
});

test('counterDelta: a 64-bit wrap is an increase', () => {
  const prev = 2n ** 64n - 10n;
  assert.deepEqual(counterDelta(prev, 5n, 64), { kind: 'delta', delta: 15n, wrapped: true });
});

test('counterDelta: going far back is a reset, not a wrap', () => {
  // A 64-bit counter from 10^12 back to 5: "wrapping" would be ~1.8e19 octets.
  assert.deepEqual(counterDelta(10n ** 12n, 5n, 64), { kind: 'reset' });
  // A 32-bit counter from 3e9 to 1e3 would be a plausible wrap without a bound, not with the line-rate bound.
  assert.equal(counterDelta(3_000_000_000n, 1000n, 32).kind, 'delta');
  assert.deepEqual(counterDelta(3_000_000_000n, 1000n, 32, 1_000_000n), { kind: 'reset' });
  // A value beyond the width is no wrap either.
  assert.deepEqual(counterDelta(2n ** 33n, 1n, 32), { kind: 'reset' });
});

test('uptimeRestarted: uptime going back, or advancing much less than the time passed', () => {
  assert.equal(uptimeRestarted(100_000, 103_000, 30_000), false);
  assert.equal(uptimeRestarted(100_000, 500, 30_000), true);
  // Restarted 10 s ago, 30 s after the previous reading at uptime 5 s: uptime advanced by only 5 s.
  assert.equal(uptimeRestarted(500, 1000, 30_000), true);
  // The 2^32 wrap of TimeTicks after 497 days is no restart.
  assert.equal(uptimeRestarted(2 ** 32 - 1000, 2000, 30_000), false);
});

test('counter64FromBytes: big-endian of any length', () => {
  assert.equal(counter64FromBytes(new Uint8Array([])), 0n);
  assert.equal(counter64FromBytes(new Uint8Array([0x03, 0x1c])), 796n);
  assert.equal(counter64FromBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), 2n ** 64n - 1n);
  assert.equal(counter64FromBytes(new Uint8Array([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), 2n ** 64n - 1n);
});
