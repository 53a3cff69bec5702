/**
 * The trace context option netspan's Cross-Layer Telemetry module puts in the Hop-by-Hop options
 * beside the IOAM trace (src/clt/README.md has the layout): option type 0x1E (RFC 4727
 * experimental, action 00 so every node skips it), 26 data bytes: version, 16-byte trace id,
 * 8-byte span id, trace flags. Pure: bytes in, ids or undefined out.
 */
import { hex } from '../bytes.js';

/** RFC 4727 experimental IPv6 option type 0x1E: action 00 (skip if unknown), change 0 (not changed en route). */
export const IPV6_OPTION_TRACE_CONTEXT = 0x1e;
/** Trace context option data: version, trace id, span id, flags. */
export const TRACE_CONTEXT_DATA_LENGTH = 26;

export interface TraceContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

/**
 * The trace context option in Hop-by-Hop options (the bytes after the 2-byte header, as
 * `DecodedPacket.hopByHopOptions`), or undefined when there is none or it is not valid (wrong
 * length, version 0xff, all-zero ids). Never throws.
 */
export function decodeTraceContextOption(hopByHopOptions: Uint8Array): TraceContext | undefined {
  const b = hopByHopOptions;
  for (let i = 0; i < b.length;) {
    const type = b[i]!;
    if (type === 0) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) return undefined;
    const len = b[i + 1]!;
    const d = i + 2;
    if (d + len > b.length) return undefined;
    if (type === IPV6_OPTION_TRACE_CONTEXT) {
      const version = b[d]!;
      // Later versions may append fields (as traceparent does); version 0 is exactly 26 bytes.
      const fits = version === 0 ? len === TRACE_CONTEXT_DATA_LENGTH : version !== 0xff && len >= TRACE_CONTEXT_DATA_LENGTH;
      if (fits) {
        const traceId = hex(b, d + 1, d + 17);
        const spanId = hex(b, d + 17, d + 25);
        if (!/^0+$/.test(traceId) && !/^0+$/.test(spanId)) return { traceId, spanId, traceFlags: b[d + 25]! };
      }
    }
    i = d + len;
  }
  return undefined;
}
