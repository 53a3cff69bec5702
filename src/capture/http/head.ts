/**
 * Pure HTTP/1.x message-head parser for passive observation: the request line (method, target,
 * version) or status line, and the few headers netspan needs (traceparent, tracestate, host, and
 * content-length / transfer-encoding to find where the body ends). Bytes in, a typed head or typed
 * issues out; never throws. Heads are read as latin1, so any byte sequence is text.
 *
 * Leniency follows RFC 9112 for recipients: a bare LF ends a line like CRLF; a malformed header
 * line is skipped (and flagged) rather than failing the head, since an observer must not lose the
 * request line over one bad header it does not need.
 */
import { isTraceparent } from '../../model/observation.js';
import { indexOfByte, latin1 } from '../bytes.js';

/** Default limit on a head (request/status line + headers + blank line), like Node's --max-http-header-size. */
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;
/** A header value of interest longer than this is dropped (flagged): it is carried into telemetry attributes. */
export const MAX_HEADER_VALUE_BYTES = 1024;

export type HttpIssueCode =
  /** No blank line within the head-size limit: the partial head is dropped. */
  | 'HEAD_TOO_LARGE'
  /** The head starts like HTTP (a method or "HTTP/1.") but its first line is not a request/status line. */
  | 'BAD_START_LINE'
  /** A header line without a colon, with whitespace before the colon, or folded (obs-fold): skipped. */
  | 'BAD_HEADER_LINE'
  /** traceparent, host or content-length given more than once with different values: dropped as ambiguous. */
  | 'REPEATED_HEADER'
  /** A header of interest longer than MAX_HEADER_VALUE_BYTES: dropped. */
  | 'OVERSIZED_HEADER'
  /** A traceparent that is not a valid W3C traceparent: dropped. */
  | 'BAD_TRACEPARENT'
  /** Content-Length that is not a decimal number below 2^53: the body length is unknown. */
  | 'BAD_CONTENT_LENGTH'
  /** Reassembly: bytes of the connection are missing (capture loss, out of order) inside a head: the partial head is dropped. */
  | 'HEAD_GAP'
  /** Reassembly: the connection was evicted or closed while a head was incomplete: the partial head is dropped. */
  | 'HEAD_ABANDONED';

export interface HttpIssue {
  code: HttpIssueCode;
  /** Offset in the head (or in the segment's payload for reassembly issues). */
  offset: number;
  message: string;
}

interface HttpHeadBase {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (the minor version digit). */
  minorVersion: number;
  traceparent?: string;
  /** Every tracestate header, joined with ',' (W3C Trace Context allows splitting it across headers). */
  tracestate?: string;
  /** Body length from Content-Length; undefined when absent or unusable. */
  contentLength?: number;
  /** A Transfer-Encoding header is present: the body length is not known from the head. */
  transferEncoding: boolean;
  /** ... and its last coding is chunked: the body is a sequence of chunks (RFC 9112 section 7.1). */
  chunked: boolean;
  /** Bytes of the head including the blank line. */
  headLength: number;
}

export interface HttpRequestHead extends HttpHeadBase {
  message: 'request';
  method: string;
  /** The request-target as sent (origin-, absolute-, authority- or asterisk-form). */
  target: string;
  host?: string;
}

export interface HttpResponseHead extends HttpHeadBase {
  message: 'response';
  status: number;
}

export type HttpHead = HttpRequestHead | HttpResponseHead;

export type HttpHeadResult =
  /** Not (yet) a complete head: more bytes may complete it. */
  | { status: 'incomplete' }
  /** The bytes do not start an HTTP/1.x head. */
  | { status: 'not_http' }
  /** Started like a head but cannot be one (too large, bad first line): `issue` says why. */
  | { status: 'invalid'; issue: HttpIssue }
  | { status: 'complete'; head: HttpHead; issues: HttpIssue[] };

/** IANA HTTP Method Registry (PRI left out: it is the HTTP/2 preface, not an HTTP/1 request). */
export const HTTP_METHODS: readonly string[] = [
  'ACL',
  'BASELINE-CONTROL',
  'BIND',
  'CHECKIN',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LABEL',
  'LINK',
  'LOCK',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MKREDIRECTREF',
  'MKWORKSPACE',
  'MOVE',
  'OPTIONS',
  'ORDERPATCH',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'TRACE',
  'UNBIND',
  'UNCHECKOUT',
  'UNLINK',
  'UNLOCK',
  'UPDATE',
  'UPDATEREDIRECTREF',
  'VERSION-CONTROL',
];

// Every method followed by a space, and the status-line prefix: the byte strings a head can start with.
const STARTS: Uint8Array[] = [...HTTP_METHODS.map((m) => `${m} `), 'HTTP/1.'].map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0)));

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;

/**
 * Whether `b[off..]` can be the start of an HTTP/1.x head: 'yes' (a method and a space, or
 * "HTTP/1."), 'maybe' (too few bytes to tell, but a prefix of one), or 'no'.
 */
export function headStart(b: Uint8Array, off = 0): 'yes' | 'maybe' | 'no' {
  const n = b.length - off;
  if (n <= 0) return 'maybe';
  const first = b[off]!;
  // Methods and "HTTP" are upper-case letters: most non-HTTP payloads stop here.
  if (first < 0x41 || first > 0x5a) return 'no';
  let maybe = false;
  for (const s of STARTS) {
    if (s[0] !== first) continue;
    const m = Math.min(n, s.length);
    let i = 1;
    while (i < m && b[off + i] === s[i]) i++;
    if (i === m) {
      if (m === s.length) return 'yes';
      maybe = true;
    }
  }
  return maybe ? 'maybe' : 'no';
}

/**
 * Offset just past the blank line that ends the head in b[0, limit), or -1. `from` lets a caller
 * resume a scan (it may be at most 3 bytes before where the previous scan stopped).
 */
export function findHeadEnd(b: Uint8Array, limit = b.length, from = 0): number {
  const n = Math.min(limit, b.length);
  // Line by line with the native indexOf, not byte by byte in JavaScript.
  for (let i = indexOfByte(b, LF, Math.max(from, 0)); i >= 0 && i < n; i = indexOfByte(b, LF, i + 1)) {
    // LF LF or LF CR LF: an empty line after a line end.
    if (i + 1 < n && b[i + 1] === LF) return i + 2;
    if (i + 2 < n && b[i + 1] === CR && b[i + 2] === LF) return i + 3;
  }
  return -1;
}

// tchar of RFC 9110 (token characters), as a byte table: header names are checked without making strings.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;
// JavaScript's \s in latin1 text: TAB, LF, VT, FF, CR, SP and NBSP (a request-target has none).
const WHITESPACE = new Uint8Array(256);
for (const c of [9, 10, 11, 12, 13, 32, 0xa0]) WHITESPACE[c] = 1;
const ZERO = 0x30;
const HTTP_1 = Uint8Array.from('HTTP/1.', (c) => c.charCodeAt(0));

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= ZERO && c <= ZERO + 9;

// The start line is checked byte by byte (no text, no regular expression): these say what
// /^HTTP\/1\.(\d) (\d{3})(?: [^\r\n]*)?$/ and /^([tchar]+) ([^\s]+) HTTP\/1\.(\d)$/ said of it.

/** Whether b[at, at + 8) is "HTTP/1." and a digit. */
function isHttp1Version(b: Uint8Array, at: number): boolean {
  for (let k = 0; k < HTTP_1.length; k++) if (b[at + k] !== HTTP_1[k]) return false;
  return isDigit(b[at + HTTP_1.length]);
}

/** The status code of the status line b[0, e) ("HTTP/1.D SSS", then nothing or a space and a reason without CR), or -1. */
function statusLineCode(b: Uint8Array, e: number): number {
  if (e < 12 || !isHttp1Version(b, 0) || b[8] !== SP || !isDigit(b[9]) || !isDigit(b[10]) || !isDigit(b[11])) return -1;
  if (e > 12) {
    if (b[12] !== SP) return -1;
    for (let i = 13; i < e; i++) if (b[i] === CR || b[i] === LF) return -1;
  }
  return (b[9]! - ZERO) * 100 + (b[10]! - ZERO) * 10 + (b[11]! - ZERO);
}

/** Where the run of tchar from b[s] ends (before e). */
function tcharRunEnd(b: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e && TCHAR[b[i]!] === 1) i++;
  return i;
}

/**
 * The end of the request-target in the request line b[0, e) whose method ends at `methodEnd`
 * ("METHOD SP target SP HTTP/1.D", the target without whitespace), or -1 when it is not one.
 */
function requestTargetEnd(b: Uint8Array, methodEnd: number, e: number): number {
  if (methodEnd === 0 || methodEnd >= e || b[methodEnd] !== SP) return -1;
  let t = methodEnd + 1;
  while (t < e && WHITESPACE[b[t]!] === 0) t++;
  if (t === methodEnd + 1 || e - t !== 1 + HTTP_1.length + 1 || b[t] !== SP || !isHttp1Version(b, t + 1)) return -1;
  return t;
}

// The headers netspan reads, by index; a name of any other length is not looked at further.
const TRACEPARENT = 0;
const TRACESTATE = 1;
const HOST = 2;
const CONTENT_LENGTH = 3;
const TRANSFER_ENCODING = 4;
const INTEREST_NAMES = ['traceparent', 'tracestate', 'host', 'content-length', 'transfer-encoding'];
const INTEREST_BYTES = INTEREST_NAMES.map((n) => Uint8Array.from(n, (c) => c.charCodeAt(0)));

/** The index of the header of interest named b[s, e) (ASCII, any case), or -1. No string is made. */
function interestOf(b: Uint8Array, s: number, e: number): number {
  let k: number;
  switch (e - s) {
    case 11:
      k = TRACEPARENT;
      break;
    case 10:
      k = TRACESTATE;
      break;
    case 4:
      k = HOST;
      break;
    case 14:
      k = CONTENT_LENGTH;
      break;
    case 17:
      k = TRANSFER_ENCODING;
      break;
    default:
      return -1;
  }
  const name = INTEREST_BYTES[k]!;
  for (let i = 0; i < name.length; i++) {
    const c = b[s + i]!;
    // Header names are tchar (ASCII): lower-casing A-Z is all toLowerCase would do.
    if ((c >= 0x41 && c <= 0x5a ? c + 32 : c) !== name[i]) return -1;
  }
  return k;
}

/** Where a line ends without its CR LF / LF: the LF at `lf`, one byte earlier after a CR (not before `s`). */
const lineStop = (b: Uint8Array, s: number, lf: number): number => (lf > s && b[lf - 1] === CR ? lf - 1 : lf);

/**
 * Parses the head at the start of `b`. Returns 'incomplete' while no blank line is in the first
 * `maxHeadBytes` bytes, 'invalid' (HEAD_TOO_LARGE) when there is none within them.
 */
export function parseHttpHead(b: Uint8Array, maxHeadBytes = DEFAULT_MAX_HEAD_BYTES): HttpHeadResult {
  const start = headStart(b);
  if (start === 'no') return { status: 'not_http' };
  const end = findHeadEnd(b, maxHeadBytes);
  if (end < 0) {
    if (b.length >= maxHeadBytes) {
      return { status: 'invalid', issue: { code: 'HEAD_TOO_LARGE', offset: 0, message: `no end of head within ${maxHeadBytes} bytes` } };
    }
    return { status: 'incomplete' };
  }
  if (start === 'maybe') return { status: 'not_http' }; // a whole head shorter than a method: not HTTP
  return parseCompleteHead(b, end);
}

/** Whether `value` is 1 to 15 decimal digits (below 2^53, so Number() is exact). */
function isContentLength(value: string): boolean {
  if (value.length === 0 || value.length > 15) return false;
  for (let i = 0; i < value.length; i++) if (!isDigit(value.charCodeAt(i))) return false;
  return true;
}

/** The value of a header that must appear once (repeats with the same value are fine), or undefined. */
function single(values: (string[] | undefined)[], dropped: number, key: number, issues: HttpIssue[]): string | undefined {
  const v = values[key];
  if (!v || (dropped & (1 << key)) !== 0) return undefined;
  if (v.some((x) => x !== v[0])) {
    issues.push({
      code: 'REPEATED_HEADER',
      offset: 0,
      message: `${INTEREST_NAMES[key]!} given ${v.length} times with different values: dropped`,
    });
    return undefined;
  }
  return v[0];
}

// Hot path (one call per observed HTTP message): lines are walked in place, header names compared
// as bytes, and the headers of interest kept in a 5-slot array and a bit set, not a Map and a Set.
function parseCompleteHead(b: Uint8Array, end: number): HttpHeadResult {
  // end is just past the blank line's LF, so the first LF below end ends the first line.
  let lf = indexOfByte(b, LF, 0);
  const lineEnd = lineStop(b, 0, lf);
  const issues: HttpIssue[] = [];
  let head: HttpHead;
  const status = statusLineCode(b, lineEnd);
  if (status >= 0) {
    head = {
      message: 'response',
      status,
      minorVersion: b[7]! - ZERO,
      transferEncoding: false,
      chunked: false,
      headLength: end,
    };
  } else {
    const methodEnd = tcharRunEnd(b, 0, lineEnd);
    const targetEnd = requestTargetEnd(b, methodEnd, lineEnd);
    if (targetEnd < 0) {
      const firstLine = latin1(b, 0, lineEnd);
      const shown = firstLine.length > 80 ? `${firstLine.slice(0, 80)}...` : firstLine;
      return {
        status: 'invalid',
        issue: { code: 'BAD_START_LINE', offset: 0, message: `not a request or status line: ${JSON.stringify(shown)}` },
      };
    }
    head = {
      message: 'request',
      method: latin1(b, 0, methodEnd),
      target: latin1(b, methodEnd + 1, targetEnd),
      minorVersion: b[lineEnd - 1]! - ZERO,
      transferEncoding: false,
      chunked: false,
      headLength: end,
    };
  }

  const seen: (string[] | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  // Headers whose value cannot be trusted (oversized, folded), one bit per interest: a repeat must not stand in for them.
  let dropped = 0;
  let lastInterest = -1;
  // Every line up to the blank line (the one that ends at end - 1).
  for (let s = lf + 1; s < end; s = lf + 1) {
    lf = indexOfByte(b, LF, s);
    if (lf === end - 1) break;
    const e = lineStop(b, s, lf);
    const c = b[s]!;
    if (c === SP || c === HT) {
      issues.push({ code: 'BAD_HEADER_LINE', offset: s, message: 'obsolete line folding (obs-fold): continuation ignored' });
      // The folded header's value is incomplete: do not trust it.
      if (lastInterest >= 0) dropped |= 1 << lastInterest;
      continue;
    }
    lastInterest = -1;
    let colon = -1;
    for (let i = s; i < e; i++)
      if (b[i] === 0x3a) {
        colon = i;
        break;
      }
    let valid = colon > s;
    for (let i = s; valid && i < colon; i++) valid = TCHAR[b[i]!] === 1;
    if (!valid) {
      issues.push({ code: 'BAD_HEADER_LINE', offset: s, message: colon < 0 ? 'header line without a colon' : 'malformed header name' });
      continue;
    }
    const key = interestOf(b, s, colon);
    if (key < 0) continue;
    let vs = colon + 1;
    let ve = e;
    while (vs < ve && (b[vs] === SP || b[vs] === HT)) vs++;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HT)) ve--;
    if (ve - vs > MAX_HEADER_VALUE_BYTES) {
      issues.push({
        code: 'OVERSIZED_HEADER',
        offset: s,
        message: `${INTEREST_NAMES[key]!} of ${ve - vs} bytes (limit ${MAX_HEADER_VALUE_BYTES}) dropped`,
      });
      dropped |= 1 << key;
      continue;
    }
    const values = seen[key];
    if (values) values.push(latin1(b, vs, ve));
    else seen[key] = [latin1(b, vs, ve)];
    lastInterest = key;
  }

  const tp = single(seen, dropped, TRACEPARENT, issues);
  if (tp !== undefined) {
    if (isTraceparent(tp)) head.traceparent = tp;
    else issues.push({ code: 'BAD_TRACEPARENT', offset: 0, message: `not a W3C traceparent: ${JSON.stringify(tp.slice(0, 80))}` });
  }
  const ts = seen[TRACESTATE];
  if (ts && (dropped & (1 << TRACESTATE)) === 0) {
    const joined = ts.filter((x) => x !== '').join(',');
    if (joined.length > MAX_HEADER_VALUE_BYTES) {
      issues.push({ code: 'OVERSIZED_HEADER', offset: 0, message: `tracestate of ${joined.length} bytes in all dropped` });
    } else if (joined !== '') head.tracestate = joined;
  }
  if (head.message === 'request') {
    const host = single(seen, dropped, HOST, issues);
    if (host !== undefined && host !== '') head.host = host;
  }
  const cl = single(seen, dropped, CONTENT_LENGTH, issues);
  if (cl !== undefined) {
    if (isContentLength(cl)) head.contentLength = Number(cl);
    else
      issues.push({ code: 'BAD_CONTENT_LENGTH', offset: 0, message: `Content-Length ${JSON.stringify(cl.slice(0, 40))} is not a number` });
  }
  const te = seen[TRANSFER_ENCODING];
  const teDropped = (dropped & (1 << TRANSFER_ENCODING)) !== 0;
  if (te) {
    head.transferEncoding = true;
    const codings = te.join(',').split(',');
    head.chunked = !teDropped && codings[codings.length - 1]!.trim().toLowerCase() === 'chunked';
  } else if (teDropped) head.transferEncoding = true;
  return { status: 'complete', head, issues };
}

/**
 * How many body bytes follow a head, as far as the head says: a number (0 when there is none),
 * 'chunked', or 'unknown' (read until close, protocol switch, a transfer coding other than chunked).
 * `requestMethod` is the method of the request a response answers (HEAD and CONNECT change the rule), when known.
 */
export function bodyLength(head: HttpHead, requestMethod?: string): number | 'chunked' | 'unknown' {
  if (head.message === 'response') {
    const s = head.status;
    if (s === 101) return 'unknown'; // another protocol follows
    if ((s >= 100 && s < 200) || s === 204 || s === 304 || requestMethod === 'HEAD') return 0;
    if (requestMethod === 'CONNECT' && s >= 200 && s < 300) return 'unknown'; // a tunnel follows
    if (head.transferEncoding) return head.chunked ? 'chunked' : 'unknown';
    return head.contentLength ?? 'unknown'; // no length: the body runs until the connection closes
  }
  if (head.transferEncoding) return head.chunked ? 'chunked' : 'unknown';
  return head.contentLength ?? 0; // RFC 9112 section 6.3: a request without either has no body
}

/** The host of a Host header value without its port (and without IPv6 brackets), as `server.address` wants it. */
export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(1, close) : host;
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon && /^\d*$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

/** The path of a request-target (query and fragment left out, absolute-form reduced to its path). */
export function targetPath(target: string): string | undefined {
  if (target === '*') return target;
  let t = target;
  if (!t.startsWith('/')) {
    // absolute-form "scheme://authority/path?query"; authority-form (CONNECT host:port) has no path.
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(t);
    if (!m) return undefined;
    t = m[1] === '' || m[1]!.startsWith('?') ? `/${m[1]!}` : m[1]!;
  }
  const q = t.search(/[?#]/);
  return q >= 0 ? t.slice(0, q) : t;
}
