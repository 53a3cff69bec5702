/**
 * Counter arithmetic: the increase of a 32- or 64-bit counter between two readings, telling a
 * wrap from a reset, and whether sysUpTime says the device restarted in between.
 */

const TWO_32 = 2n ** 32n;
const TWO_64 = 2n ** 64n;

/** What happened to a counter between two readings. */
export type CounterDelta = { kind: 'delta'; delta: bigint; wrapped: boolean } | { kind: 'reset' };

/**
 * The increase from `prev` to `cur` of a counter of `bits` width. A counter that went back
 * wrapped if the wrapped increase is plausible: no more than `maxDelta` when the caller knows
 * an upper bound (octets at line rate over the interval), else less than half the counter's
 * range; otherwise it was reset (reboot, counters cleared, interface re-created).
 */
export function counterDelta(prev: bigint, cur: bigint, bits: 32 | 64, maxDelta?: bigint): CounterDelta {
  if (cur >= prev) return { kind: 'delta', delta: cur - prev, wrapped: false };
  const modulus = bits === 64 ? TWO_64 : TWO_32;
  if (prev >= modulus) return { kind: 'reset' };
  const wrapped = modulus - prev + cur;
  const bound = maxDelta ?? modulus / 2n;
  return wrapped <= bound ? { kind: 'delta', delta: wrapped, wrapped: true } : { kind: 'reset' };
}

/** sysUpTime is TimeTicks (hundredths of a second, 32 bits): it wraps after about 497 days. */
const UPTIME_MODULUS = 2 ** 32;

/**
 * Whether the device restarted between two readings `elapsedMs` apart, by sysUpTime: it went
 * back (and not by wrapping at 2^32), or it advanced clearly less than the time that passed
 * (the device restarted and has been up for less than the interval). The tolerance allows for
 * the agent's own delays: 10% of the interval plus 2 s.
 */
export function uptimeRestarted(prevTicks: number, curTicks: number, elapsedMs: number): boolean {
  const elapsedTicks = Math.max(0, elapsedMs / 10);
  const slack = elapsedTicks * 0.1 + 200;
  let advanced = curTicks - prevTicks;
  if (advanced < 0) {
    // A wrap at 2^32 only when the previous reading was close enough to it.
    const wrapped = UPTIME_MODULUS - prevTicks + curTicks;
    if (wrapped <= elapsedTicks + slack) advanced = wrapped;
    else return true;
  }
  return advanced + slack < elapsedTicks;
}

/** A Counter64 as the SNMP library gives it (big-endian bytes, any length up to 8, or more with leading zeros). */
export function counter64FromBytes(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}
