/**
 * What the capture readers produce: one CapturedPacket per record of a pcap or pcapng file,
 * its bytes a view into the input (no copy), with the link type needed to decode it.
 */
import { DecodeError } from '../../core/errors.js';

/** LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) the packet decoders understand. */
export const LINKTYPE = {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  NULL: 0,
  ETHERNET: 1,
  /** Raw IPv4 or IPv6 (the first nibble says which). 101 in files; DLT 12 (and 14 on OpenBSD) on some hosts. */
  RAW: 101,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  /** OpenBSD loopback: 4-byte address family in network byte order. */
  LOOP: 108,
  /** Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10). */
  LINUX_SLL: 113,
  /** Linux cooked capture v2 (`tcpdump -i any` with libpcap >= 1.10). */
  LINUX_SLL2: 276,
  IPV4: 228,
  IPV6: 229,
} as const;

export interface CapturedPacket {
  /** Capture time, Unix nanoseconds (microsecond files are multiplied up; the resolution is the file's). */
  timestampUnixNano: bigint;
  /** LINKTYPE_* of the packet's interface (pcap: the file header's). */
  linkType: number;
  /** pcapng: the interface id within its section (index of its IDB); pcap: 0. */
  interfaceIndex: number;
  /** Bytes present in the file (= data.length). */
  capturedLength: number;
  /** Length of the packet on the wire (may exceed capturedLength when the snap length cut it). */
  originalLength: number;
  /** The captured bytes: a subarray of the input (a fresh buffer only for a packet split across stream chunks). */
  data: Uint8Array;
}

/** An interface of a pcapng section (or the single implicit interface of a pcap file). */
export interface CaptureInterface {
  linkType: number;
  snapLength: number;
  /** Nanoseconds per timestamp unit is 1e9 / unitsPerSecond. */
  timestampUnitsPerSecond: bigint;
  /** if_tsoffset: seconds added to every timestamp. */
  timestampOffsetSeconds: bigint;
  /** if_name, when present. */
  name?: string;
  /** FCS bytes at the end of each packet, when the file says (pcap link type field / if_fcslen). */
  fcsLength?: number;
}

export type CaptureFormat = 'pcap' | 'pcapng';

/** The file ended inside a header or packet: what came before is good. */
export interface CaptureTruncation {
  /** File offset where the incomplete header or packet starts. */
  offset: number;
  /** Bytes the incomplete unit needs (at least), and the bytes present. */
  needed: number;
  available: number;
  message: string;
}

export type CaptureErrorCode =
  /** The first four bytes are neither a pcap magic nor a pcapng Section Header Block. */
  | 'CAPTURE_BAD_MAGIC'
  /** A pcap file header or pcapng SHB that cannot be used (version, byte-order magic). */
  | 'CAPTURE_BAD_HEADER'
  /** A record or block length that is impossible (too short, not 4n, above the limit, trailer mismatch). */
  | 'CAPTURE_BAD_LENGTH'
  /** A pcapng packet that names an interface with no IDB. */
  | 'CAPTURE_UNKNOWN_INTERFACE'
  /** The input ended before the file header was complete. */
  | 'CAPTURE_TRUNCATED';

/** A capture file that cannot be read further. `offset` is the file offset where parsing stopped. */
export class CaptureFormatError extends DecodeError {
  readonly offset: number;
  /** Packets delivered before the error (set by the reader). */
  packetsBefore = 0;
  constructor(code: CaptureErrorCode, message: string, offset: number, context: Record<string, unknown> = {}) {
    super(code, `${message} (at file offset ${offset})`, { offset, ...context });
    this.offset = offset;
  }
}
