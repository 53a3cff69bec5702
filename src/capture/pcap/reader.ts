/**
 * pcap and pcapng readers, for whole files and for streams.
 *
 * One parser does both: `CaptureStreamParser.push(chunk, onPacket)` takes bytes as they come and
 * calls `onPacket` for each complete packet; a packet split across chunks is reassembled (the only
 * copy this reader makes). `readPcap(bytes)` is the whole-file form. Packets inside a chunk are
 * subarrays of it: keep the chunk alive as long as the packets, and do not reuse its memory.
 *
 * Formats: classic pcap in both byte orders with microsecond (a1b2c3d4), nanosecond (a1b23c4d) and
 * Kuznetzov "modified" (a1b2cd34) magic; pcapng in both byte orders (per section): SHB, IDB (link
 * type, snap length, if_tsresol, if_tsoffset, if_fcslen, if_name), EPB, SPB and the obsolete PB;
 * every other block is skipped by its length.
 *
 * Malformed input raises a CaptureFormatError with the file offset where parsing stopped; packets
 * before it have already been delivered. A file that ends inside a packet is not an error: `end()`
 * (or `readPcap(...).truncated`) reports it, and the packets before it stand.
 *
 * References: draft-ietf-opsawg-pcap, draft-ietf-opsawg-pcapng, https://www.tcpdump.org/linktypes.html.
 */
import { CaptureFormatError, type CaptureFormat, type CaptureInterface, type CaptureTruncation, type CapturedPacket } from './types.js';

/** Largest record or block accepted (a corrupt length must not make a stream wait for gigabytes). */
export const DEFAULT_MAX_BLOCK_LENGTH = 16 * 1024 * 1024;

export interface CaptureReaderOptions {
  /** Largest packet record / pcapng block, in bytes. Default DEFAULT_MAX_BLOCK_LENGTH (16 MiB). */
  maxBlockLength?: number;
}

export interface CaptureReadResult {
  format: CaptureFormat;
  packets: CapturedPacket[];
  /** The interfaces of the last section (pcap: the one implicit interface). */
  interfaces: CaptureInterface[];
  /** Set when the file ends inside a packet or block; `packets` holds everything before it. */
  truncated?: CaptureTruncation;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
const PCAP_FILE_HEADER = 24;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 1;
const PCAPNG_PB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAPNG_BOM_SWAPPED = 0x4d3c2b1a;
const PCAPNG_MIN_BLOCK = 12;
const PCAPNG_MIN_SHB = 28;

const OPT_ENDOFOPT = 0;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const IF_TSOFFSET = 14;

const MODE_START = 0;
const MODE_PCAP = 1;
const MODE_PCAPNG = 2;

const NS_PER_SECOND = 1_000_000_000n;
const TWO_POW_32 = 4294967296;
/** hi words below this keep hi * 2^32 + lo under 2^53 (exact as a Number). */
const EXACT_HI_LIMIT = 0x200000;

/** An interface plus the precomputed timestamp conversion. */
interface InterfaceState {
  info: CaptureInterface;
  /** Nanoseconds per unit when the resolution divides 1e9, else 0n (slow path). */
  nsPerUnit: bigint;
  offsetNs: bigint;
}

function makeInterface(info: CaptureInterface): InterfaceState {
  const ups = info.timestampUnitsPerSecond;
  const nsPerUnit = ups > 0n && ups <= NS_PER_SECOND && NS_PER_SECOND % ups === 0n ? NS_PER_SECOND / ups : 0n;
  return { info, nsPerUnit, offsetNs: info.timestampOffsetSeconds * NS_PER_SECOND };
}

function pcapngTimestamp(iface: InterfaceState, hi: number, lo: number): bigint {
  if (iface.nsPerUnit !== 0n) {
    const units = hi < EXACT_HI_LIMIT ? BigInt(hi * TWO_POW_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
    return units * iface.nsPerUnit + iface.offsetNs;
  }
  const units = (BigInt(hi) << 32n) | BigInt(lo);
  const ups = iface.info.timestampUnitsPerSecond;
  return ups > 0n ? (units * NS_PER_SECOND) / ups + iface.offsetNs : iface.offsetNs;
}

export class CaptureStreamParser {
  /** File offset of the first byte not yet parsed (the start of the pending unit, if any). */
  offset = 0;
  /** File offset of byte 0 of the buffer being parsed (for error offsets). */
  private base = 0;
  private mode = MODE_START;
  private headerDone = false;
  private le = false;
  private readonly maxBlock: number;
  private failed: CaptureFormatError | undefined;
  private packetCount = 0;
  private onPacket: (p: CapturedPacket) => void = () => {};

  // pcap
  private pcapNanos = false;
  private pcapRecordHeader = 16;
  private pcapInterface: InterfaceState | undefined;

  // pcapng: interfaces of the current section
  private ifaces: InterfaceState[] = [];

  // a unit (header, record or block) split across chunks
  private pending: Uint8Array | undefined;
  private pendingLen = 0;

  constructor(options: CaptureReaderOptions = {}) {
    this.maxBlock = options.maxBlockLength ?? DEFAULT_MAX_BLOCK_LENGTH;
  }

  /** 'pcap' or 'pcapng' once the first bytes have been seen. */
  get format(): CaptureFormat | undefined {
    return this.mode === MODE_PCAP ? 'pcap' : this.mode === MODE_PCAPNG ? 'pcapng' : undefined;
  }

  /** The interfaces of the current section (pcap: the file's one interface). */
  get interfaces(): CaptureInterface[] {
    if (this.mode === MODE_PCAP) return this.pcapInterface ? [this.pcapInterface.info] : [];
    return this.ifaces.map((i) => i.info);
  }

  /** True once the pcap file header / first pcapng SHB has been read. */
  get headerComplete(): boolean {
    return this.headerDone;
  }

  /**
   * Parses `chunk`, calling `onPacket` for every packet completed by it, in file order. Throws a
   * CaptureFormatError at the first malformed header (the packets before it have been delivered);
   * the parser then stays failed and throws the same error on every later push.
   */
  push(chunk: Uint8Array, onPacket: (p: CapturedPacket) => void): void {
    if (this.failed) throw this.failed;
    this.onPacket = (p) => {
      this.packetCount++;
      onPacket(p);
    };
    try {
      this.run(chunk);
    } catch (err) {
      if (err instanceof CaptureFormatError) {
        err.packetsBefore = this.packetCount;
        this.failed = err;
      }
      throw err;
    }
  }

  /**
   * Ends the stream: returns what was left incomplete (header, packet or block), or undefined when
   * the input ended on a unit boundary. Throws the parser's error if it failed.
   */
  end(): CaptureTruncation | undefined {
    if (this.failed) throw this.failed;
    if (this.mode === MODE_START && this.pending === undefined) {
      return { offset: 0, needed: 4, available: 0, message: 'empty input: no capture file header' };
    }
    if (this.pending === undefined) return undefined;
    const what = !this.headerDone ? 'file header' : this.mode === MODE_PCAP ? 'packet record' : 'block';
    return {
      offset: this.offset,
      needed: this.pending.length,
      available: this.pendingLen,
      message: `input ends inside a ${what} at file offset ${this.offset}: ${this.pendingLen} of ${this.pending.length} bytes`,
    };
  }

  private run(chunk: Uint8Array): void {
    let pos = 0;
    const n = chunk.length;
    if (this.pending !== undefined) {
      for (;;) {
        const pending = this.pending;
        const take = Math.min(pending.length - this.pendingLen, n - pos);
        pending.set(chunk.subarray(pos, pos + take), this.pendingLen);
        this.pendingLen += take;
        pos += take;
        if (this.pendingLen < pending.length) return;
        this.base = this.offset;
        const r = this.unit(pending, new DataView(pending.buffer, pending.byteOffset, pending.byteLength), 0, this.pendingLen);
        if (r > 0) {
          // r === pending.length by construction: a unit is parsed once exactly its bytes are present.
          this.offset += r;
          this.pending = undefined;
          this.pendingLen = 0;
          break;
        }
        const grown = new Uint8Array(-r);
        grown.set(pending.subarray(0, this.pendingLen));
        this.pending = grown;
      }
    }
    if (pos >= n) return;
    const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.base = this.offset - pos;
    while (pos < n) {
      const r = this.unit(chunk, dv, pos, n - pos);
      if (r > 0) {
        pos += r;
        this.offset = this.base + pos;
        continue;
      }
      const pending = new Uint8Array(-r);
      pending.set(chunk.subarray(pos, n));
      this.pending = pending;
      this.pendingLen = n - pos;
      return;
    }
  }

  /**
   * Parses one unit at `off` with `avail` bytes present. Returns the bytes consumed (> 0), or
   * minus the bytes the unit needs (always more than `avail`) when it is incomplete.
   */
  private unit(b: Uint8Array, dv: DataView, off: number, avail: number): number {
    if (this.mode === MODE_PCAP) return this.pcapRecord(b, dv, off, avail);
    if (this.mode === MODE_PCAPNG) return this.pcapngBlock(b, dv, off, avail);
    if (avail < 4) return -4;
    const magic = dv.getUint32(off, false);
    if (magic === PCAPNG_SHB) {
      this.mode = MODE_PCAPNG;
      return this.pcapngBlock(b, dv, off, avail);
    }
    const swapped = ((magic & 0xff) << 24) | ((magic & 0xff00) << 8) | ((magic >>> 8) & 0xff00) | (magic >>> 24);
    const m = magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_MODIFIED ? magic : swapped >>> 0;
    if (m !== PCAP_MAGIC_US && m !== PCAP_MAGIC_NS && m !== PCAP_MAGIC_MODIFIED) {
      throw new CaptureFormatError(
        'CAPTURE_BAD_MAGIC',
        `not a pcap or pcapng file: magic 0x${magic.toString(16).padStart(8, '0')}`,
        this.base + off,
      );
    }
    if (avail < PCAP_FILE_HEADER) return -PCAP_FILE_HEADER;
    const le = m !== magic;
    const major = dv.getUint16(off + 4, le);
    const minor = dv.getUint16(off + 6, le);
    if (major !== 2) {
      throw new CaptureFormatError('CAPTURE_BAD_HEADER', `unsupported pcap version ${major}.${minor}`, this.base + off + 4);
    }
    const snapLength = dv.getUint32(off + 16, le);
    const network = dv.getUint32(off + 20, le);
    const info: CaptureInterface = {
      linkType: network & 0xffff,
      snapLength,
      timestampUnitsPerSecond: m === PCAP_MAGIC_NS ? NS_PER_SECOND : 1_000_000n,
      timestampOffsetSeconds: 0n,
    };
    // pcap link type field: bit 26 F (FCS length present), bits 28-31 FCS length in 16-bit words.
    if ((network & 0x04000000) !== 0) info.fcsLength = (network >>> 28) * 2;
    this.le = le;
    this.pcapNanos = m === PCAP_MAGIC_NS;
    this.pcapRecordHeader = m === PCAP_MAGIC_MODIFIED ? 24 : 16;
    this.pcapInterface = makeInterface(info);
    this.mode = MODE_PCAP;
    this.headerDone = true;
    return PCAP_FILE_HEADER;
  }

  private pcapRecord(b: Uint8Array, dv: DataView, off: number, avail: number): number {
    const hdr = this.pcapRecordHeader;
    if (avail < hdr) return -hdr;
    const le = this.le;
    const capLen = dv.getUint32(off + 8, le);
    if (capLen > this.maxBlock) {
      throw new CaptureFormatError(
        'CAPTURE_BAD_LENGTH',
        `pcap record captured length ${capLen} exceeds the limit of ${this.maxBlock} bytes`,
        this.base + off + 8,
      );
    }
    const total = hdr + capLen;
    if (avail < total) return -total;
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const iface = this.pcapInterface!;
    this.onPacket({
      timestampUnixNano: this.pcapNanos ? BigInt(sec) * NS_PER_SECOND + BigInt(frac) : BigInt(sec * 1_000_000 + frac) * 1000n,
      linkType: iface.info.linkType,
      interfaceIndex: 0,
      capturedLength: capLen,
      originalLength: dv.getUint32(off + 12, le),
      data: b.subarray(off + hdr, off + total),
    });
    return total;
  }

  private pcapngBlock(b: Uint8Array, dv: DataView, off: number, avail: number): number {
    if (avail < PCAPNG_MIN_BLOCK) return -PCAPNG_MIN_BLOCK;
    const at = this.base + off;
    // The SHB type reads the same in both byte orders; its byte-order magic sets the section's.
    let type = dv.getUint32(off, this.le);
    const isShb = dv.getUint32(off, false) === PCAPNG_SHB;
    if (isShb) {
      const bom = dv.getUint32(off + 8, false);
      if (bom === PCAPNG_BOM) this.le = false;
      else if (bom === PCAPNG_BOM_SWAPPED) this.le = true;
      else {
        throw new CaptureFormatError(
          'CAPTURE_BAD_HEADER',
          `pcapng section header: bad byte-order magic 0x${bom.toString(16).padStart(8, '0')}`,
          at + 8,
        );
      }
      type = PCAPNG_SHB;
    }
    const le = this.le;
    const len = dv.getUint32(off + 4, le);
    if (len < (isShb ? PCAPNG_MIN_SHB : PCAPNG_MIN_BLOCK) || len % 4 !== 0 || len > this.maxBlock) {
      throw new CaptureFormatError(
        'CAPTURE_BAD_LENGTH',
        `pcapng block type 0x${type.toString(16)}: impossible block length ${len}` +
          (len > this.maxBlock ? ` (limit ${this.maxBlock})` : ''),
        at + 4,
        { blockType: type },
      );
    }
    if (avail < len) return -len;
    const trailer = dv.getUint32(off + len - 4, le);
    if (trailer !== len) {
      throw new CaptureFormatError(
        'CAPTURE_BAD_LENGTH',
        `pcapng block type 0x${type.toString(16)}: trailing length ${trailer} differs from leading length ${len}`,
        at + len - 4,
        { blockType: type },
      );
    }
    const body = off + 8;
    const bodyEnd = off + len - 4;
    switch (type) {
      case PCAPNG_SHB: {
        const major = dv.getUint16(body + 4, le);
        if (major !== 1) {
          throw new CaptureFormatError('CAPTURE_BAD_HEADER', `unsupported pcapng version ${major}`, at + 12);
        }
        this.ifaces = [];
        this.headerDone = true;
        break;
      }
      case PCAPNG_IDB: {
        if (bodyEnd - body < 8) {
          throw new CaptureFormatError('CAPTURE_BAD_LENGTH', `pcapng interface description block too short (${len} bytes)`, at + 4);
        }
        const info: CaptureInterface = {
          linkType: dv.getUint16(body, le),
          snapLength: dv.getUint32(body + 4, le),
          timestampUnitsPerSecond: 1_000_000n,
          timestampOffsetSeconds: 0n,
        };
        readIdbOptions(b, dv, body + 8, bodyEnd, le, info);
        this.ifaces.push(makeInterface(info));
        break;
      }
      case PCAPNG_EPB:
      case PCAPNG_PB: {
        if (bodyEnd - body < 20) {
          throw new CaptureFormatError('CAPTURE_BAD_LENGTH', `pcapng packet block too short (${len} bytes)`, at + 4, { blockType: type });
        }
        const ifId = type === PCAPNG_EPB ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const capLen = dv.getUint32(body + 12, le);
        if (capLen > bodyEnd - body - 20) {
          throw new CaptureFormatError(
            'CAPTURE_BAD_LENGTH',
            `pcapng packet block: captured length ${capLen} does not fit the block length ${len}`,
            at + 20,
            { blockType: type },
          );
        }
        const iface = this.ifaces[ifId];
        if (iface === undefined) {
          throw new CaptureFormatError(
            'CAPTURE_UNKNOWN_INTERFACE',
            `pcapng packet block names interface ${ifId}, but the section has ${this.ifaces.length}`,
            at + 8,
          );
        }
        this.onPacket({
          timestampUnixNano: pcapngTimestamp(iface, dv.getUint32(body + 4, le), dv.getUint32(body + 8, le)),
          linkType: iface.info.linkType,
          interfaceIndex: ifId,
          capturedLength: capLen,
          originalLength: dv.getUint32(body + 16, le),
          data: b.subarray(body + 20, body + 20 + capLen),
        });
        break;
      }
      case PCAPNG_SPB: {
        const iface = this.ifaces[0];
        if (iface === undefined) {
          throw new CaptureFormatError('CAPTURE_UNKNOWN_INTERFACE', 'pcapng simple packet block before any interface description', at);
        }
        const origLen = dv.getUint32(body, le);
        let capLen = Math.min(origLen, bodyEnd - body - 4);
        if (iface.info.snapLength > 0) capLen = Math.min(capLen, iface.info.snapLength);
        // A simple packet block has no timestamp: 0 (unknown).
        this.onPacket({
          timestampUnixNano: 0n,
          linkType: iface.info.linkType,
          interfaceIndex: 0,
          capturedLength: capLen,
          originalLength: origLen,
          data: b.subarray(body + 4, body + 4 + capLen),
        });
        break;
      }
      default:
        // NRB, ISB, DSB, custom and unknown blocks: skipped by their length.
        break;
    }
    return len;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** IDB options; malformed options end the option list (the interface stays usable). */
function readIdbOptions(b: Uint8Array, dv: DataView, pos: number, end: number, le: boolean, info: CaptureInterface): void {
  while (pos + 4 <= end) {
    const code = dv.getUint16(pos, le);
    const olen = dv.getUint16(pos + 2, le);
    const v = pos + 4;
    if (code === OPT_ENDOFOPT || v + olen > end) return;
    if (code === IF_TSRESOL && olen >= 1) {
      const r = b[v]!;
      info.timestampUnitsPerSecond = (r & 0x80) !== 0 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
    } else if (code === IF_TSOFFSET && olen >= 8) {
      info.timestampOffsetSeconds = dv.getBigInt64(v, le);
    } else if (code === IF_NAME) {
      info.name = utf8.decode(b.subarray(v, v + olen));
    } else if (code === IF_FCSLEN && olen >= 1) {
      info.fcsLength = b[v]!;
    }
    pos = v + ((olen + 3) & ~3);
  }
}

/**
 * Reads a whole pcap or pcapng file. Throws CaptureFormatError for a malformed file (including
 * one too short for its file header); a file that ends inside a packet returns the packets before
 * it with `truncated` set.
 */
export function readPcap(bytes: Uint8Array, options: CaptureReaderOptions = {}): CaptureReadResult {
  const parser = new CaptureStreamParser(options);
  const packets: CapturedPacket[] = [];
  parser.push(bytes, (p) => packets.push(p));
  const truncated = parser.end();
  if (!parser.headerComplete) {
    throw new CaptureFormatError(
      'CAPTURE_TRUNCATED',
      `input of ${bytes.length} bytes ends inside the capture file header`,
      truncated?.offset ?? 0,
    );
  }
  const result: CaptureReadResult = { format: parser.format!, packets, interfaces: parser.interfaces };
  if (truncated) result.truncated = truncated;
  return result;
}
