/**
 * Turning element bytes into values: addresses as text, unsigned integers of any length (RFC 7011 §6.2
 * reduced-size encoding), NTP and Unix timestamps, and the FieldValue of any abstract data type for
 * FlowRecord.fields. None of these throw on odd lengths: what cannot be typed is returned as raw bytes.
 */
import type { FieldValue } from '../../../model/flow.js';
import { IeType } from './ie-types.js';

const DECIMAL = Array.from({ length: 256 }, (_, i) => String(i));
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Hex of 0..255 without leading zeros. */
const HEX1 = Array.from({ length: 256 }, (_, i) => i.toString(16));

/*
 * Address text memos: a few slots of recent addresses and their text, picked by a hash of the
 * address and checked against all of it, so a hit is always right. A record's addresses are made
 * into text twice when every field is kept (the element and the record's own field), and flows
 * repeat their servers' addresses. Slot 0's initial key (all zero) holds the text of all zeros.
 */
const MEMO_SLOTS = 64;
const v4Keys = new Uint32Array(MEMO_SLOTS);
const v4Texts: string[] = new Array<string>(MEMO_SLOTS).fill('0.0.0.0');
const v6Keys = new Int32Array(MEMO_SLOTS * 4);
const v6Texts: string[] = new Array<string>(MEMO_SLOTS).fill('::');

/** Dotted quad of a 32-bit unsigned address. */
export function ipv4ToString(a: number): string {
  const slot = Math.imul(a, 0x9e3779b1) >>> 26;
  if (v4Keys[slot] === a) return v4Texts[slot]!;
  const text = `${DECIMAL[a >>> 24]}.${DECIMAL[(a >>> 16) & 255]}.${DECIMAL[(a >>> 8) & 255]}.${DECIMAL[a & 255]}`;
  v4Keys[slot] = a;
  v4Texts[slot] = text;
  return text;
}

/** Text of one group of an IPv6 address: hex without leading zeros. */
const group = (hi: number, lo: number): string => (hi === 0 ? HEX1[lo]! : HEX1[hi]! + HEX2[lo]!);

/** RFC 5952 text of the 16-byte IPv6 address at `off` (longest zero run compressed, IPv4-mapped dotted). */
export function ipv6ToString(bytes: Uint8Array, off: number): string {
  if (off < 0 || off + 16 > bytes.length) return ipv6Text(bytes, off);
  const w0 = (bytes[off]! << 24) | (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!;
  const w1 = (bytes[off + 4]! << 24) | (bytes[off + 5]! << 16) | (bytes[off + 6]! << 8) | bytes[off + 7]!;
  const w2 = (bytes[off + 8]! << 24) | (bytes[off + 9]! << 16) | (bytes[off + 10]! << 8) | bytes[off + 11]!;
  const w3 = (bytes[off + 12]! << 24) | (bytes[off + 13]! << 16) | (bytes[off + 14]! << 8) | bytes[off + 15]!;
  const slot = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ w3, 0x9e3779b1) >>> 26;
  const k = slot * 4;
  if (v6Keys[k] === w0 && v6Keys[k + 1] === w1 && v6Keys[k + 2] === w2 && v6Keys[k + 3] === w3) return v6Texts[slot]!;
  const text = ipv6Text(bytes, off);
  v6Keys[k] = w0;
  v6Keys[k + 1] = w1;
  v6Keys[k + 2] = w2;
  v6Keys[k + 3] = w3;
  v6Texts[slot] = text;
  return text;
}

/** ipv6ToString without the memo (bytes past the end read as zero). */
function ipv6Text(bytes: Uint8Array, off: number): string {
  const b = (i: number): number => bytes[off + i] ?? 0;
  if ((b(0) | b(1) | b(2) | b(3) | b(4) | b(5) | b(6) | b(7) | b(8) | b(9)) === 0 && b(10) === 0xff && b(11) === 0xff) {
    return `::ffff:${DECIMAL[b(12)]}.${DECIMAL[b(13)]}.${DECIMAL[b(14)]}.${DECIMAL[b(15)]}`;
  }
  // the longest run of zero groups (the first of equal ones); a single zero group is not compressed (RFC 5952 §4.2.2)
  let bestStart = -1;
  let bestLength = 1;
  let runStart = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && (b(2 * i) | b(2 * i + 1)) === 0) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      if (i - runStart > bestLength) {
        bestStart = runStart;
        bestLength = i - runStart;
      }
      runStart = -1;
    }
  }
  let text = '';
  let colon = false;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      colon = false;
      continue;
    }
    if (colon) text += ':';
    text += group(b(2 * i), b(2 * i + 1));
    colon = true;
  }
  return text;
}

/** "aa:bb:cc:dd:ee:ff". */
export function macToString(bytes: Uint8Array, off: number): string {
  return `${HEX2[bytes[off] ?? 0]}:${HEX2[bytes[off + 1] ?? 0]}:${HEX2[bytes[off + 2] ?? 0]}:${HEX2[bytes[off + 3] ?? 0]}:${HEX2[bytes[off + 4] ?? 0]}:${HEX2[bytes[off + 5] ?? 0]}`;
}

/**
 * Big-endian unsigned integer of 1..8 bytes as a number (exact up to 2^53, approximate above: counters
 * that large do not occur in practice, and FlowRecord counters are numbers). -1 for other lengths.
 */
export function readUnsigned(view: DataView, off: number, len: number): number {
  switch (len) {
    case 1:
      return view.getUint8(off);
    case 2:
      return view.getUint16(off);
    case 4:
      return view.getUint32(off);
    case 8:
      return view.getUint32(off) * 4294967296 + view.getUint32(off + 4);
    case 3:
    case 5:
    case 6:
    case 7: {
      let v = 0;
      for (let i = 0; i < len; i++) v = v * 256 + view.getUint8(off + i);
      return v;
    }
    default:
      return -1;
  }
}

/** Unsigned integer of 1..8 bytes, exact: a number when safe, a bigint above 2^53. */
export function unsignedValue(view: DataView, off: number, len: number): number | bigint {
  if (len === 8) {
    const hi = view.getUint32(off);
    if (hi < 0x200000) return hi * 4294967296 + view.getUint32(off + 4);
    return view.getBigUint64(off);
  }
  return readUnsigned(view, off, len);
}

/** Two's complement integer of 1..8 bytes (reduced-size signed values are sign-extended). */
function signedValue(view: DataView, off: number, len: number): number | bigint {
  switch (len) {
    case 1:
      return view.getInt8(off);
    case 2:
      return view.getInt16(off);
    case 4:
      return view.getInt32(off);
    case 8: {
      const v = view.getBigInt64(off);
      return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
    }
    default: {
      const u = readUnsigned(view, off, len);
      const half = 2 ** (8 * len - 1);
      return u >= half ? u - 2 * half : u;
    }
  }
}

/** Seconds between the NTP era-0 epoch (1900) and the Unix epoch. */
const NTP_UNIX_OFFSET = 2208988800;
/** RFC 7011 §6.1.9: the low 11 fraction bits of dateTimeMicroseconds carry nothing and are ignored. */
const MICROSECOND_FRACTION_MASK = 0xfffff800;

/**
 * Unix seconds of an NTP seconds field. Values below 2^31 are taken as NTP era 1 (from 2036), as RFC 5905
 * suggests; IPFIX cannot express earlier times anyway.
 */
export function ntpSecondsToUnix(ntpSeconds: number): number {
  return ntpSeconds >= 0x80000000 ? ntpSeconds - NTP_UNIX_OFFSET : ntpSeconds + 4294967296 - NTP_UNIX_OFFSET;
}

/** Nanoseconds (0..999999999) of an NTP fraction; `micro` drops the bits RFC 7011 says to ignore. */
export function ntpFractionToNanos(fraction: number, micro: boolean): number {
  const f = micro ? (fraction & MICROSECOND_FRACTION_MASK) >>> 0 : fraction;
  return Math.floor((f / 4294967296) * 1e9);
}

let lastMs = 0;
let lastSubMs = 0;
let lastNanos = 0n;

/** Unix nanoseconds of integer milliseconds plus a sub-millisecond remainder. */
export function unixNanos(ms: number, subMsNanos: number): bigint {
  // flows in a packet often share start/end times: skip the BigInt arithmetic for a repeat
  if (ms === lastMs && subMsNanos === lastSubMs) return lastNanos;
  const base = BigInt(ms) * 1_000_000n;
  lastMs = ms;
  lastSubMs = subMsNanos;
  lastNanos = subMsNanos === 0 ? base : base + BigInt(subMsNanos);
  return lastNanos;
}

/** The largest |ms| a Date accepts; outside it, times are kept as numbers instead of text. */
const MAX_DATE_MS = 8.64e15;

/** The first instant of year 10000: up to it, Date.toISOString gives four-digit years, as isoText does. */
const YEAR_10000_MS = 253_402_300_800_000;
const MS_PER_DAY = 86_400_000;
const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** The date part of the last day isoText formatted: flows of one export share their days. */
let lastDay = -1;
let lastDayText = '';
/** The text up to the milliseconds of recent seconds, by second modulo SECOND_SLOTS (a flow's start and end differ). */
const SECOND_SLOTS = 16;
const slotSeconds = new Float64Array(SECOND_SLOTS).fill(-1);
const slotTexts: string[] = new Array<string>(SECOND_SLOTS).fill('');

/**
 * Date.toISOString of an integer Unix time in 1970..9999 without a Date (whose text V8 formats with
 * a C printf, most of the time of decoding a flow's every field): the civil date of the day count
 * (H. Hinnant's days-to-civil algorithm), then the time of day from tables.
 */
function isoText(ms: number): string {
  const second = Math.floor(ms / 1000);
  const slot = second & (SECOND_SLOTS - 1);
  if (slotSeconds[slot] === second) return slotTexts[slot]! + PAD3[ms - second * 1000]! + 'Z';
  const day = Math.floor(ms / MS_PER_DAY);
  if (day !== lastDay) {
    const z = day + 719_468;
    const era = Math.floor(z / 146_097);
    const dayOfEra = z - era * 146_097;
    const yearOfEra = Math.floor(
      (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
    );
    const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
    const m = Math.floor((5 * dayOfYear + 2) / 153);
    const d = dayOfYear - Math.floor((153 * m + 2) / 5) + 1;
    const month = m < 10 ? m + 3 : m - 9;
    const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    lastDay = day;
    lastDayText = `${PAD2[Math.floor(year / 100)]}${PAD2[year % 100]}-${PAD2[month]}-${PAD2[d]}T`;
  }
  let rest = second - day * 86_400;
  const secondOfMinute = rest % 60;
  rest = (rest - secondOfMinute) / 60;
  const text = `${lastDayText}${PAD2[(rest - (rest % 60)) / 60]}:${PAD2[rest % 60]}:${PAD2[secondOfMinute]}.`;
  slotSeconds[slot] = second;
  slotTexts[slot] = text;
  return text + PAD3[ms - second * 1000]! + 'Z';
}

/** ISO-8601 text of a Unix time, with 9 fraction digits when `nanos` (0..999999999) is given. */
export function isoTime(ms: number, nanos?: number): string | number {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return ms;
  const text = Number.isInteger(ms) && ms >= 0 && ms < YEAR_10000_MS ? isoText(ms) : new Date(ms).toISOString();
  if (nanos === undefined) return text;
  return `${text.slice(0, -4)}${String(nanos).padStart(9, '0')}Z`;
}

const utf8 = new TextDecoder('utf-8');

/**
 * A string element as text. Fixed-width strings from C exporters are NUL padded (and sometimes hold junk
 * after the NUL), so the text ends at the first NUL, as Wireshark reads it.
 */
function stringValue(bytes: Uint8Array, off: number, len: number): string {
  let end = off;
  const limit = off + len;
  let ascii = true;
  while (end < limit) {
    const b = bytes[end] ?? 0;
    if (b === 0) break;
    if (b > 0x7f) ascii = false;
    end++;
  }
  if (end === off) return '';
  if (ascii && end - off <= 64) {
    let s = '';
    for (let i = off; i < end; i++) s += String.fromCharCode(bytes[i] ?? 0);
    return s;
  }
  return utf8.decode(bytes.subarray(off, end));
}

// a zero time means "not set" (logstash and Wireshark show 0 too), not 1970 or 2036
/** The value of a dateTimeSeconds element. */
export const secondsTime = (v: number): FieldValue => (v === 0 ? 0 : isoTime(v * 1000));
/** The value of a dateTimeMilliseconds element. */
export const millisecondsTime = (v: number): FieldValue => (v === 0 ? 0 : isoTime(v));

/** The value of one element for FlowRecord.fields / options records. Raw bytes are copied (the datagram buffer is not ours). */
export function decodeValue(type: number, view: DataView, bytes: Uint8Array, off: number, len: number): FieldValue {
  switch (type) {
    case IeType.unsigned8:
    case IeType.unsigned16:
    case IeType.unsigned32:
    case IeType.unsigned64:
      if (len >= 1 && len <= 8) return unsignedValue(view, off, len);
      break;
    case IeType.signed8:
    case IeType.signed16:
    case IeType.signed32:
    case IeType.signed64:
      if (len >= 1 && len <= 8) return signedValue(view, off, len);
      break;
    case IeType.float32:
    case IeType.float64:
      if (len === 4) return view.getFloat32(off);
      if (len === 8) return view.getFloat64(off);
      break;
    case IeType.boolean:
      // RFC 7011 §6.1.5: 1 is true, 2 is false; anything else is shown as the number it is
      if (len === 1) {
        const b = bytes[off] ?? 0;
        return b === 1 ? true : b === 2 ? false : b;
      }
      break;
    case IeType.macAddress:
      if (len === 6) return macToString(bytes, off);
      break;
    case IeType.string:
      return stringValue(bytes, off, len);
    case IeType.dateTimeSeconds:
      if (len >= 1 && len <= 4) return secondsTime(readUnsigned(view, off, len));
      break;
    case IeType.dateTimeMilliseconds:
      if (len >= 1 && len <= 8) return millisecondsTime(readUnsigned(view, off, len));
      break;
    case IeType.dateTimeMicroseconds:
    case IeType.dateTimeNanoseconds:
      if (len === 8) {
        if (view.getUint32(off) === 0 && view.getUint32(off + 4) === 0) return 0;
        const nanos = ntpFractionToNanos(view.getUint32(off + 4), type === IeType.dateTimeMicroseconds);
        return isoTime(ntpSecondsToUnix(view.getUint32(off)) * 1000 + Math.floor(nanos / 1e6), nanos);
      }
      break;
    case IeType.ipv4Address:
      if (len === 4) return ipv4ToString(view.getUint32(off));
      break;
    case IeType.ipv6Address:
      if (len === 16) return ipv6ToString(bytes, off);
      break;
  }
  return bytes.slice(off, off + len);
}
