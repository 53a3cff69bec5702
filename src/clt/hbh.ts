/**
 * The IPv6 Hop-by-Hop options header Cross-Layer Telemetry puts on a socket (IPV6_HOPOPTS):
 * an IOAM pre-allocated trace that IOAM nodes fill on the way, and the W3C trace context of the
 * request, so a packet and the IOAM data it collected can be joined to the span that sent it.
 *
 * Byte layout (offsets from the start of the Hop-by-Hop header; D = nodes * nodeLength * 4):
 *
 *   0       Next Header (the kernel writes it)
 *   1       Hdr Ext Len: header length in 8-octet units, minus 1
 *   2..3    PadN, 0 data bytes (01 00): the IOAM option must start 4n-aligned (RFC 9486 4n)
 *   4       0x31 IOAM option (RFC 9486: act 00, chg 1)
 *   5       Opt Data Len = 10 + D
 *   6       reserved, 0
 *   7       IOAM option-type 0, pre-allocated trace (RFC 9197)
 *   8..9    Namespace-ID
 *   10..11  NodeLen (5 bits) | Flags (4 bits, 0) | RemainingLen (7 bits) = D / 4
 *   12..14  IOAM trace type (24 bits)
 *   15      reserved, 0
 *   16      D zero bytes: room for `nodes` nodes (each node writes at the end of the free room)
 *   16+D    0x1E trace context option (RFC 4727 experimental: act 00 skip, chg 0 unchanged en route)
 *   17+D    Opt Data Len = 26
 *   18+D    version 0x00, the W3C traceparent version
 *   19+D    trace id, 16 bytes
 *   35+D    span id (traceparent parent-id), 8 bytes
 *   43+D    trace flags, 1 byte
 *   44+D    padding to a multiple of 8: PadN of 4 bytes (01 02 00 00) when D % 8 == 0, none when D % 8 == 4
 *
 * The trace context is an option of its own rather than part of the IOAM option: an unmodified
 * kernel fills nodes from the end of the room RemainingLen announces, so bytes after the trace
 * header belong to the nodes; and the experimental type with act 00 makes every node that does
 * not know it skip it.
 */
import { NetspanError } from '../core/errors.js';
import { IPV6_OPTION_IOAM, traceTypeNodeLength } from '../capture/ioam/decode.js';
import { IPV6_OPTION_TRACE_CONTEXT, TRACE_CONTEXT_DATA_LENGTH } from '../capture/ioam/trace-context.js';

export {
  IPV6_OPTION_TRACE_CONTEXT,
  TRACE_CONTEXT_DATA_LENGTH,
  decodeTraceContextOption,
  type TraceContext,
} from '../capture/ioam/trace-context.js';

/** The most node data an IOAM pre-allocated trace option can hold (1 + option data length <= 255: 255 - 10 rounded to 4). */
export const IOAM_TRACE_DATA_MAX = 244;
/** Trace type used when none is given: bits 0-3, hop limit + node id, interface ids, timestamp seconds and fraction. */
export const DEFAULT_TRACE_TYPE = 0xf00000;

const IOAM_OPTION_START = 4;
const IOAM_HEADER = 12;
const TRACE_CONTEXT_OPTION = 2 + TRACE_CONTEXT_DATA_LENGTH;
const BIT22 = 1 << 1;
const BIT23 = 1;

export interface HopByHopOptionsInput {
  /** IOAM namespace (16 bits) the IOAM nodes on the path are configured with. */
  namespaceId: number;
  /** IOAM trace type, 24 bits (default DEFAULT_TRACE_TYPE). Bits 22 (opaque snapshot) and 23 are refused. */
  traceType?: number;
  /** Nodes the trace has room for; a node without room sets the Overflow flag instead. */
  nodes: number;
  /** W3C trace id, 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** W3C span id (the sender's span), 16 hex digits, not all zero. */
  spanId: string;
  /** W3C trace flags (default 0x01, sampled). */
  traceFlags?: number;
}

/** Input buildHopByHopOptions cannot encode. */
export class CltOptionsError extends NetspanError {
  override readonly name = 'CltOptionsError';
  constructor(message: string) {
    super('CLT_INVALID_OPTIONS', message);
  }
}

const HEX = /^[0-9a-f]+$/;

function checkHex(what: string, hex: string, bytes: number): void {
  if (typeof hex !== 'string' || hex.length !== bytes * 2 || !HEX.test(hex))
    throw new CltOptionsError(`${what} must be ${bytes * 2} lowercase hex digits: ${String(hex)}`);
  if (/^0+$/.test(hex)) throw new CltOptionsError(`${what} must not be all zero (invalid in W3C trace context)`);
}

function integer(what: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CltOptionsError(`${what} must be an integer in 0..${max}: ${v}`);
  return v;
}

/**
 * The header for one set of options, with the ids left to write: built once, then each
 * request's ids are written into a copy (no re-encoding, no allocation for a socket's own copy).
 */
export class HopByHopOptionsTemplate {
  /** The header with all-zero ids. */
  readonly bytes: Buffer;
  /** Offset of the trace id; the span id follows it. */
  private readonly idsAt: number;

  /** Throws CltOptionsError. */
  constructor(input: Omit<HopByHopOptionsInput, 'traceId' | 'spanId'>) {
    const namespaceId = integer('namespaceId', input.namespaceId, 0xffff);
    const traceType = integer('traceType', input.traceType ?? DEFAULT_TRACE_TYPE, 0xffffff);
    if (traceType & (BIT22 | BIT23))
      throw new CltOptionsError('trace type bits 22 (opaque state snapshot, variable size) and 23 (reserved) are not supported');
    const nodeLength = traceTypeNodeLength(traceType);
    if (nodeLength === 0) throw new CltOptionsError('trace type selects no node data');
    if (!Number.isInteger(input.nodes) || input.nodes < 1) throw new CltOptionsError(`nodes must be a positive integer: ${input.nodes}`);
    const dataLength = input.nodes * nodeLength * 4;
    if (dataLength > IOAM_TRACE_DATA_MAX)
      throw new CltOptionsError(
        `${input.nodes} nodes of ${nodeLength * 4} bytes exceed the ${IOAM_TRACE_DATA_MAX} bytes an IOAM trace holds`,
      );
    const traceFlags = integer('traceFlags', input.traceFlags ?? 1, 0xff);

    const contextAt = IOAM_OPTION_START + IOAM_HEADER + dataLength;
    const optionsEnd = contextAt + TRACE_CONTEXT_OPTION;
    const total = Math.ceil(optionsEnd / 8) * 8;
    const b = Buffer.alloc(total);
    b[1] = total / 8 - 1;
    b[2] = 0x01; // PadN, no data bytes
    b[3] = 0;
    let o = IOAM_OPTION_START;
    b[o] = IPV6_OPTION_IOAM;
    b[o + 1] = 10 + dataLength;
    b[o + 3] = 0; // IOAM option-type: pre-allocated trace
    b.writeUInt16BE(namespaceId, o + 4);
    b.writeUInt16BE((nodeLength << 11) | (dataLength / 4), o + 6);
    b.writeUInt32BE(traceType * 256, o + 8);
    o = contextAt;
    b[o] = IPV6_OPTION_TRACE_CONTEXT;
    b[o + 1] = TRACE_CONTEXT_DATA_LENGTH;
    b[o + 2] = 0; // traceparent version
    b[o + 27] = traceFlags;
    const pad = total - optionsEnd;
    // Pad1 is a zero byte already; PadN's data bytes are zero already.
    if (pad > 1) {
      b[optionsEnd] = 0x01;
      b[optionsEnd + 1] = pad - 2;
    }
    this.bytes = b;
    this.idsAt = contextAt + 3;
  }

  /** Writes the ids into `header` (a copy of `bytes`). Throws CltOptionsError when they are not valid W3C ids. */
  writeIds(header: Buffer, traceId: string, spanId: string): void {
    checkHex('traceId', traceId, 16);
    checkHex('spanId', spanId, 8);
    header.write(traceId, this.idsAt, 16, 'hex');
    header.write(spanId, this.idsAt + 16, 8, 'hex');
  }

  /** A new header with the ids. Throws CltOptionsError. */
  build(traceId: string, spanId: string): Buffer {
    const header = Buffer.from(this.bytes);
    this.writeIds(header, traceId, spanId);
    return header;
  }
}

/** The whole Hop-by-Hop header (a multiple of 8 bytes), ready for setsockopt(IPV6_HOPOPTS). Throws CltOptionsError. */
export function buildHopByHopOptions(input: HopByHopOptionsInput): Buffer {
  return new HopByHopOptionsTemplate(input).build(input.traceId, input.spanId);
}
