/**
 * HTTP/1.x head reassembly over TCP, for a passive observer: per direction of a connection, the
 * in-order payload is followed by sequence number, heads split across segments are put together
 * until their blank line, and bodies are skipped (by Content-Length or by following the chunked
 * framing; otherwise, or when the framing is lost, the next head is looked for at the start of a
 * later segment, which is where keep-alive clients start them).
 *
 * What it does not do: buffer out-of-order segments. A gap in a head
 * (capture loss, reordering) drops the partial head and is reported (HEAD_GAP); a segment that
 * arrives after a gap is past counts as a retransmission and is ignored. Everything is bounded:
 * connections (LRU and idle eviction, counted), the bytes of a partial head (maxHeadBytes), the
 * requests waiting for a response. Deterministic: time comes with each segment; no I/O; never throws.
 */
import {
  DEFAULT_MAX_HEAD_BYTES,
  bodyLength,
  headStart,
  parseHttpHead,
  type HttpHead,
  type HttpIssue,
  type HttpRequestHead,
} from './head.js';
import { QuartetEntry, QuartetTable } from './quartet-table.js';

export const DEFAULT_MAX_CONNECTIONS = 4096;
/** A connection with no segment for this long is forgotten (2 minutes: well past keep-alive idle timeouts). */
export const DEFAULT_IDLE_TIMEOUT_NANOS = 120_000_000_000n;
/** Requests waiting for their response on one connection (pipelining); older ones are forgotten. */
export const MAX_PENDING_REQUESTS = 16;

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

/** One TCP segment as the packet decoder gives it. */
export interface TcpSegment {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  sequence: number;
  /** TCP flags as on the wire (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10). */
  flags: number;
  /** The payload bytes present in the capture. */
  payload: Uint8Array;
  /** The payload's length on the wire when the capture cut it (snap length); defaults to payload.length. */
  wireLength?: number;
}

export interface HttpMessage {
  head: HttpHead;
  /** For a response: the request it answers (the oldest one without a final response), when it was seen. */
  request?: HttpRequestHead;
}

export interface HttpReassemblyResult {
  /** Heads this segment completed, in stream order. */
  messages: HttpMessage[];
  /** Problems met with this segment (including partial heads dropped by evictions it caused). */
  issues: HttpIssue[];
  /**
   * The request in flight on the segment's connection after this segment: the last request head
   * completed on it, undefined when none was seen or a newer request head has started and is not complete.
   */
  inFlight: HttpRequestHead | undefined;
}

export interface HttpReassemblerOptions {
  maxConnections?: number;
  maxHeadBytes?: number;
  idleTimeoutNanos?: bigint;
}

export interface HttpReassemblyStats {
  segments: number;
  /** Segments (or their first part) whose bytes had been seen already: ignored. */
  retransmissions: number;
  /** Segments that started past the next expected byte (loss in the capture, reordering). */
  gaps: number;
  /** Connections tracked now. */
  connections: number;
  /** Connections forgotten to make room (least recently used first). */
  evictedForCapacity: number;
  /** Connections forgotten after idleTimeoutNanos without a segment. */
  evictedIdle: number;
  /** Connections ended by RST, or by a FIN each way and the segment after. */
  closed: number;
  /** Partial heads dropped (gap, too large, bad start line, eviction, close). */
  headsDropped: number;
  /** Chunked bodies whose framing was lost (malformed, or a gap outside chunk data): the next head is looked for at a segment start. */
  chunkedBodiesLost: number;
}

const SEEK = 0; // unknown position in the stream: a head may start at the next segment's start
const BOUNDARY = 1; // at a message boundary: the next byte starts a head (or the stream is not HTTP)
const HEAD = 2; // inside a head: `buffer` holds its first bytes when it began in an earlier segment
const BODY = 3; // inside a body of known length: `remaining` bytes left
const CHUNK_SIZE = 4; // a chunk-size line: `remaining` accumulates the size, `digits` counts its hex digits
const CHUNK_DATA = 5; // inside a chunk's data: `remaining` bytes left
const CHUNK_END = 6; // the CRLF after a chunk's data (`line` 1 once the CR is seen)
const TRAILER = 7; // trailer lines after the last chunk, until an empty line (`line`: bytes in the current one)
/** A chunk-size line (with extensions) or trailer line longer than this, or a chunk above 2^40 bytes: the framing is lost. */
const MAX_CHUNK_LINE = 4096;
const MAX_CHUNK_SIZE = 2 ** 40;
const CR = 13;
const LF = 10;

interface Direction {
  nextSeq: number;
  mode: number;
  buffer: Uint8Array | undefined;
  remaining: number;
  digits: number;
  line: number;
  /** Inside a chunk extension (after ';'): ignored up to the line end. */
  extension: boolean;
  fin: boolean;
}

class Connection extends QuartetEntry {
  /** Directions: [0] from the endpoint that sorts first (address text, then port), [1] from the other. */
  dirs: [Direction | undefined, Direction | undefined] = [undefined, undefined];
  pending: HttpRequestHead[] = [];
  inFlight: HttpRequestHead | undefined = undefined;

  constructor(public lastSeen: bigint) {
    super();
  }
}

const EMPTY_RESULT: HttpReassemblyResult = Object.freeze({
  messages: Object.freeze([]) as unknown as HttpMessage[],
  issues: Object.freeze([]) as unknown as HttpIssue[],
  inFlight: undefined,
});
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** Whether a head that starts at b[i] is a response (or may be: too few bytes to tell a request apart). */
function isResponseStart(b: Uint8Array, i: number): boolean {
  const m = Math.min(b.length - i, HTTP_SLASH.length);
  for (let k = 0; k < m; k++) if (b[i + k] !== HTTP_SLASH[k]) return false;
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export class HttpReassembler {
  readonly stats: HttpReassemblyStats = {
    segments: 0,
    retransmissions: 0,
    gaps: 0,
    connections: 0,
    evictedForCapacity: 0,
    evictedIdle: 0,
    closed: 0,
    headsDropped: 0,
    chunkedBodiesLost: 0,
  };
  private readonly maxConnections: number;
  private readonly maxHeadBytes: number;
  private readonly idleTimeout: bigint;
  private readonly connections = new QuartetTable<Connection>();
  /** This push's messages and issues, collected here and copied out only when there are any. */
  private readonly messages: HttpMessage[] = [];
  private readonly issues: HttpIssue[] = [];

  constructor(options: HttpReassemblerOptions = {}) {
    this.maxConnections = Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.maxHeadBytes = Math.max(64, options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES);
    this.idleTimeout = options.idleTimeoutNanos ?? DEFAULT_IDLE_TIMEOUT_NANOS;
  }

  /** Takes one TCP segment seen at `timeUnixNano`; returns the heads it completed and the request in flight. */
  push(seg: TcpSegment, timeUnixNano: bigint): HttpReassemblyResult {
    this.stats.segments++;
    const messages = this.messages;
    const issues = this.issues;
    // (Setting length is a builtin call: only when there is something to clear.)
    if (messages.length > 0) messages.length = 0;
    if (issues.length > 0) issues.length = 0;
    this.expireIdle(timeUnixNano, issues);
    const forward =
      seg.sourceAddress < seg.destinationAddress || (seg.sourceAddress === seg.destinationAddress && seg.sourcePort <= seg.destinationPort);
    const side = forward ? 0 : 1;
    const syn = (seg.flags & TCP_SYN) !== 0;
    const p = seg.payload;
    let c = forward
      ? this.connections.get(seg.sourceAddress, seg.sourcePort, seg.destinationAddress, seg.destinationPort)
      : this.connections.get(seg.destinationAddress, seg.destinationPort, seg.sourceAddress, seg.sourcePort);
    if (c) {
      this.connections.touch(c);
      // A SYN without ACK on a known quartet is a new connection (port reuse): start afresh.
      if (syn && (seg.flags & TCP_ACK) === 0 && c.dirs[side] && c.dirs[side].nextSeq !== (seg.sequence + 1) >>> 0) {
        this.connections.delete(c);
        this.abandon(c, issues);
        c = this.add(seg, forward, timeUnixNano);
      }
    } else {
      // Only a connection that starts here or shows a head is worth a table entry.
      if (!syn && !(p.length > 0 && headStart(p) !== 'no'))
        return issues.length ? { ...EMPTY_RESULT, issues: issues.slice() } : EMPTY_RESULT;
      const old = this.connections.size >= this.maxConnections ? this.connections.oldest : undefined;
      if (old) {
        this.connections.delete(old);
        this.abandon(old, issues);
        this.stats.evictedForCapacity++;
      }
      c = this.add(seg, forward, timeUnixNano);
    }
    c.lastSeen = timeUnixNano;
    const seq = syn ? (seg.sequence + 1) >>> 0 : seg.sequence;
    let d = c.dirs[side];
    if (!d) {
      d = { nextSeq: seq, mode: syn ? BOUNDARY : SEEK, buffer: undefined, remaining: 0, digits: 0, line: 0, extension: false, fin: false };
      c.dirs[side] = d;
    } else if (syn && d.nextSeq !== seq) {
      // SYN-ACK (or a SYN) that moves this side's sequence space: its stream starts at a boundary.
      this.dropHead(d, issues, 'HEAD_GAP', 'the sequence space restarted (SYN)');
      d.nextSeq = seq;
      d.mode = BOUNDARY;
    }
    const wire = Math.max(seg.wireLength ?? p.length, p.length);
    if (wire > 0) this.feed(c, d, seq, p, wire, messages, issues);
    if ((seg.flags & TCP_RST) !== 0) {
      this.close(c, issues);
    } else if ((seg.flags & TCP_FIN) !== 0) {
      d.fin = true;
    } else if (c.dirs[0]?.fin && c.dirs[1]?.fin) {
      // The ACK after a FIN each way: the last packet of the connection (it still gets the request in flight).
      this.close(c, issues);
    }
    this.stats.connections = this.connections.size;
    return {
      messages: messages.length > 0 ? messages.slice() : EMPTY_RESULT.messages,
      issues: issues.length > 0 ? issues.slice() : EMPTY_RESULT.issues,
      inFlight: c.inFlight,
    };
  }

  /** A new connection for the segment's quartet, the most recently used. */
  private add(seg: TcpSegment, forward: boolean, time: bigint): Connection {
    const c = new Connection(time);
    if (forward) this.connections.add(c, seg.sourceAddress, seg.sourcePort, seg.destinationAddress, seg.destinationPort);
    else this.connections.add(c, seg.destinationAddress, seg.destinationPort, seg.sourceAddress, seg.sourcePort);
    return c;
  }

  private close(c: Connection, issues: HttpIssue[]): void {
    this.connections.delete(c);
    this.stats.closed++;
    this.abandon(c, issues);
  }

  /** A forgotten connection: partial heads in it are dropped. */
  private abandon(c: Connection, issues: HttpIssue[]): void {
    for (const d of c.dirs) if (d) this.dropHead(d, issues, 'HEAD_ABANDONED', 'the connection ended or was evicted inside a head');
  }

  private expireIdle(now: bigint, issues: HttpIssue[]): void {
    // The oldest entries are the least recently used; a few per call keeps the cost flat.
    for (let k = 0; k < 4; k++) {
      const c = this.connections.oldest;
      if (c === undefined || now - c.lastSeen <= this.idleTimeout) return;
      this.connections.delete(c);
      this.abandon(c, issues);
      this.stats.evictedIdle++;
      this.stats.connections = this.connections.size;
    }
  }

  private dropHead(d: Direction, issues: HttpIssue[], code: 'HEAD_GAP' | 'HEAD_ABANDONED', why: string): void {
    if (d.mode !== HEAD) return;
    issues.push({ code, offset: 0, message: `partial head of ${d.buffer?.length ?? 0} bytes dropped: ${why}` });
    this.stats.headsDropped++;
    d.buffer = undefined;
    d.mode = SEEK;
  }

  /** `count` bytes of the stream were not seen: the position in the current message moves on by that much. */
  private skip(d: Direction, count: number, issues: HttpIssue[]): void {
    if (d.mode === HEAD) this.dropHead(d, issues, 'HEAD_GAP', `${count} bytes of the stream are missing`);
    else if (d.mode === BODY) {
      if (count < d.remaining) d.remaining -= count;
      else d.mode = count === d.remaining ? BOUNDARY : SEEK;
    } else if (d.mode === CHUNK_DATA && count < d.remaining) d.remaining -= count;
    else if (d.mode >= CHUNK_SIZE) this.loseChunked(d);
    else if (d.mode === BOUNDARY) d.mode = SEEK;
  }

  private loseChunked(d: Direction): void {
    this.stats.chunkedBodiesLost++;
    d.mode = SEEK;
  }

  private startChunk(d: Direction): void {
    d.mode = CHUNK_SIZE;
    d.remaining = 0;
    d.digits = 0;
    d.line = 0;
    d.extension = false;
  }

  /** Chunk framing bytes from p[i] (size line, CRLF after data, trailer): returns where the framing mode changed, or p.length. */
  private chunkFraming(d: Direction, p: Uint8Array, i: number): number {
    const n = p.length;
    while (i < n) {
      const c = p[i++]!;
      if (d.mode === CHUNK_END) {
        if (c === CR && d.line === 0) d.line = 1;
        else if (c === LF) {
          this.startChunk(d);
          return i;
        } else {
          this.loseChunked(d);
          return n;
        }
      } else if (d.mode === TRAILER) {
        if (c === LF) {
          if (d.line === 0) {
            d.mode = BOUNDARY;
            return i;
          }
          d.line = 0;
        } else if (c !== CR && ++d.line > MAX_CHUNK_LINE) {
          this.loseChunked(d);
          return n;
        }
      } else {
        // CHUNK_SIZE: hex digits, then optional ";ext" (or whitespace), then CRLF.
        if (c === LF) {
          if (d.digits === 0) {
            this.loseChunked(d);
            return n;
          }
          d.line = 0;
          d.mode = d.remaining === 0 ? TRAILER : CHUNK_DATA;
          return i;
        }
        if (++d.line > MAX_CHUNK_LINE) {
          this.loseChunked(d);
          return n;
        }
        if (d.extension || c === CR) continue;
        const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
        if (v >= 0 && d.remaining <= MAX_CHUNK_SIZE) {
          d.remaining = d.remaining * 16 + v;
          d.digits++;
        } else if (d.digits > 0 && (c === 0x3b || c === 0x20 || c === 0x09)) {
          d.extension = true;
        } else {
          this.loseChunked(d);
          return n;
        }
      }
    }
    return i;
  }

  private feed(c: Connection, d: Direction, seq: number, p: Uint8Array, wire: number, messages: HttpMessage[], issues: HttpIssue[]): void {
    const diff = (seq - d.nextSeq) | 0;
    let i = 0;
    if (diff < 0) {
      this.stats.retransmissions++;
      if (wire <= -diff) return;
      i = -diff; // the new part of a segment that overlaps what was seen
    } else if (diff > 0) {
      this.stats.gaps++;
      this.skip(d, diff, issues);
    }
    d.nextSeq = (seq + wire) >>> 0;
    const n = p.length;
    while (i < n) {
      switch (d.mode) {
        case BODY: {
          const take = Math.min(d.remaining, n - i);
          d.remaining -= take;
          i += take;
          if (d.remaining === 0) d.mode = BOUNDARY;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(d.remaining, n - i);
          d.remaining -= take;
          i += take;
          if (d.remaining === 0) {
            d.mode = CHUNK_END;
            d.line = 0;
          }
          break;
        }
        case CHUNK_SIZE:
        case CHUNK_END:
        case TRAILER:
          i = this.chunkFraming(d, p, i);
          break;
        case SEEK:
          // After an unknown body, a head is only trusted where a segment starts.
          if (i !== 0 || headStart(p, 0) === 'no') {
            i = n;
            break;
          }
          d.mode = BOUNDARY;
          break;
        case BOUNDARY:
          if (headStart(p, i) === 'no') {
            d.mode = SEEK;
            i = n;
            break;
          }
          d.mode = HEAD;
          d.buffer = undefined;
          if (!isResponseStart(p, i)) c.inFlight = undefined; // a new request: the previous one is no longer in flight
          break;
        default:
          i = this.head(c, d, p, i, messages, issues);
      }
    }
    if (wire > n) this.skip(d, wire - n, issues); // the capture cut the segment: its tail is a gap
  }

  /** Head bytes from p[i]: returns where the head ended in p, or p.length. */
  private head(c: Connection, d: Direction, p: Uint8Array, i: number, messages: HttpMessage[], issues: HttpIssue[]): number {
    const n = p.length;
    const before = d.buffer?.length ?? 0;
    const room = this.maxHeadBytes - before;
    // A head at the start of a segment (the usual case) is parsed in place: no view to make.
    const bytes = d.buffer ? concat(d.buffer, p.subarray(i, i + Math.min(room, n - i))) : i === 0 ? p : p.subarray(i);
    const r = parseHttpHead(bytes, this.maxHeadBytes);
    switch (r.status) {
      case 'incomplete':
        // Copied (not `slice`: a Buffer's slice is a view): the segment's memory belongs to the capture.
        d.buffer = d.buffer ? bytes : new Uint8Array(bytes.subarray(0, this.maxHeadBytes));
        return n;
      case 'complete': {
        d.buffer = undefined;
        for (const issue of r.issues) issues.push(issue);
        this.completed(c, d, r.head, messages);
        return i + (r.head.headLength - before);
      }
      case 'invalid':
        issues.push(r.issue);
        this.stats.headsDropped++;
        d.buffer = undefined;
        d.mode = SEEK;
        return n;
      default:
        d.buffer = undefined;
        d.mode = SEEK;
        return n;
    }
  }

  private completed(c: Connection, d: Direction, head: HttpHead, messages: HttpMessage[]): void {
    let length: number | 'chunked' | 'unknown';
    if (head.message === 'request') {
      if (c.pending.length >= MAX_PENDING_REQUESTS) c.pending.shift();
      c.pending.push(head);
      c.inFlight = head;
      messages.push({ head });
      length = bodyLength(head);
    } else {
      // An interim (1xx) response does not answer the request; the final one does.
      const interim = head.status >= 100 && head.status < 200 && head.status !== 101;
      const request = interim ? c.pending[0] : c.pending.shift();
      messages.push(request ? { head, request } : { head });
      length = bodyLength(head, request?.method);
    }
    if (length === 'unknown') d.mode = SEEK;
    else if (length === 'chunked') this.startChunk(d);
    else if (length === 0) d.mode = BOUNDARY;
    else {
      d.mode = BODY;
      d.remaining = length;
    }
  }
}
