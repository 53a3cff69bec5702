/**
 * Deterministic span ids for synthesised spans: FNV-1a 64 over the trace id, the anchor span's
 * id (the client span, or the server span of a server-only connection), the quartet and the
 * span's role. Processing a trace twice yields the same ids, so re-processing is idempotent
 * (the processor skips connections whose summary is already there) and golden files are
 * stable. No crypto: ids only need to be unique within a trace.
 */

// The 64-bit state as four 16-bit limbs, low first; the FNV prime is 2^40 + 0x1b3.
const h = new Uint32Array(4);

function reset(): void {
  // Offset basis 0xcbf29ce484222325.
  h[0] = 0x2325;
  h[1] = 0x8422;
  h[2] = 0x9ce4;
  h[3] = 0xcbf2;
}

function byte(b: number): void {
  h[0] = h[0]! ^ (b & 0xff);
  const h0 = h[0]!;
  const h1 = h[1]!;
  const h2 = h[2]!;
  const h3 = h[3]!;
  // (h × (2^40 + 0x1b3)) mod 2^64: the 2^40 term shifts limbs 0 and 1 up by 2 limbs + 8 bits.
  let r0 = h0 * 0x1b3;
  let r1 = h1 * 0x1b3;
  let r2 = h2 * 0x1b3 + h0 * 0x100;
  let r3 = h3 * 0x1b3 + h1 * 0x100;
  r1 += r0 >>> 16;
  r0 &= 0xffff;
  r2 += Math.floor(r1 / 0x10000);
  r1 &= 0xffff;
  r3 += Math.floor(r2 / 0x10000);
  r2 &= 0xffff;
  h[0] = r0;
  h[1] = r1;
  h[2] = r2;
  h[3] = r3 & 0xffff;
}

function bytes(b: Uint8Array): void {
  for (let i = 0; i < b.length; i++) byte(b[i]!);
}

function text(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    byte(c);
    if (c > 0xff) byte(c >>> 8);
  }
  byte(0); // separator, so that ("ab","c") and ("a","bc") differ
}

/** An 8-byte span id from the parts, never all zero. */
export function spanIdOf(traceId: Uint8Array, anchorSpanId: Uint8Array, ...parts: string[]): Uint8Array {
  reset();
  bytes(traceId);
  bytes(anchorSpanId);
  for (const p of parts) text(p);
  const id = new Uint8Array(8);
  for (let i = 0; i < 4; i++) {
    const limb = h[3 - i]!;
    id[2 * i] = limb >>> 8;
    id[2 * i + 1] = limb & 0xff;
  }
  if (id.every((b) => b === 0)) id[7] = 1;
  return id;
}

/** FNV-1a 64 of bytes as 16 hex digits (for tests against the reference values). */
export function fnv1a64Hex(data: Uint8Array): string {
  reset();
  bytes(data);
  return [h[3]!, h[2]!, h[1]!, h[0]!].map((l) => l.toString(16).padStart(4, '0')).join('');
}
