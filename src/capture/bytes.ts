/**
 * Byte helpers for the capture hot path: views and text without Buffer's per-call costs. Plain
 * Uint8Array views (not Buffer#subarray, which runs Buffer's JavaScript constructor for each one),
 * and Node's Buffer#latin1Slice / #hexSlice (what buf.toString(...) calls, without the argument
 * checks), which take any Uint8Array and make a flat string at once.
 */

/** b[start, end) as a plain Uint8Array view of the same memory (a Buffer in, a Uint8Array out). */
export function view(b: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + start, Math.max(0, end - start));
}

type SliceToString = (this: Uint8Array, start: number, end: number) => string;
const { latin1Slice, hexSlice } = Buffer.prototype as { latin1Slice?: SliceToString; hexSlice?: SliceToString };

/** b[start, end) as latin1 text (every byte one character). */
export const latin1 = (b: Uint8Array, start: number, end: number): string =>
  latin1Slice !== undefined
    ? latin1Slice.call(b, start, end)
    : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', start, end);

/** b[start, end) as lower-case hex. */
export const hex = (b: Uint8Array, start: number, end: number): string =>
  hexSlice !== undefined ? hexSlice.call(b, start, end) : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex', start, end);

// Buffer#indexOf searches natively (memchr); on a plain Uint8Array, TypedArray#indexOf is about three
// times slower per HTTP head (and b.indexOf goes polymorphic when both kinds come by).
const bufferIndexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: number, byteOffset: number) => number;

/** The offset of the first byte `value` in b at or after `from` (0 or more), or -1. */
export const indexOfByte = (b: Uint8Array, value: number, from: number): number => bufferIndexOf.call(b, value, from);
