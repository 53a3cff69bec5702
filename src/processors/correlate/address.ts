/**
 * Address text as spans carry it: IP addresses (bracketed or not), host names, URLs and
 * `host:port` values, turned into canonical IP text and port numbers.
 */
import { canonicalAddress } from '../../evidence/address.js';

/**
 * Canonical text of an IP address, or undefined. Brackets are dropped ("[::1]" → "::1"); an
 * IPv4-mapped IPv6 address becomes its IPv4 text, so "::ffff:10.0.0.1" and "10.0.0.1" compare
 * equal as strings (the flow store compares them by value anyway).
 */
export function canonicalIp(text: string): string | undefined {
  let t = text;
  if (t.length > 2 && t.charCodeAt(0) === 91 /* [ */ && t.charCodeAt(t.length - 1) === 93 /* ] */) t = t.slice(1, -1);
  const c = canonicalAddress(t);
  if (c === undefined) return undefined;
  return c.startsWith('::ffff:') && c.includes('.') ? c.slice(7) : c;
}

/** `host:port` for a span name: IPv6 in brackets. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

const HOST_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * A host name in normal form (lower case, no trailing dot), or undefined when the text is not
 * one. All-numeric names ("10.0.0.300") are refused: they are malformed addresses, not names.
 */
export function hostName(text: string): string | undefined {
  let t = text.toLowerCase();
  if (t.endsWith('.')) t = t.slice(0, -1);
  if (t.length === 0 || t.length > 253) return undefined;
  const labels = t.split('.');
  let numeric = true;
  for (const label of labels) {
    if (!HOST_LABEL.test(label)) return undefined;
    if (!/^\d+$/.test(label)) numeric = false;
  }
  return numeric ? undefined : t;
}

/** Default port of a URL scheme, 0 when unknown. */
export function defaultPort(scheme: string): number {
  switch (scheme.toLowerCase()) {
    case 'http':
    case 'ws':
      return 80;
    case 'https':
    case 'wss':
      return 443;
    case 'ftp':
      return 21;
    default:
      return 0;
  }
}

export interface HostPort {
  host: string;
  /** 0 when the text has none (and, for URLs, the scheme has no default). */
  port: number;
  /** The port text was there but not a port number (0 < p ≤ 65535). */
  badPort: boolean;
}

const URL_AUTHORITY = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#]*)(?::([^/?#]*))?(?:[/?#]|$)/i;
const HOST_PORT = /^(\[[^\]]*\]|[^:[\]]*)(?::([^:]*))?$/;

function port(text: string | undefined): { port: number; bad: boolean } {
  if (text === undefined || text === '') return { port: 0, bad: false };
  if (!/^\d{1,5}$/.test(text)) return { port: 0, bad: true };
  const p = Number(text);
  return p > 0 && p <= 65535 ? { port: p, bad: false } : { port: 0, bad: true };
}

/** Host and port of an absolute URL (`http://h:8080/x`, `https://[::1]/`); undefined when it is not one. */
export function urlHostPort(url: string): HostPort | undefined {
  const m = URL_AUTHORITY.exec(url);
  if (!m || !m[2]) return undefined;
  const p = port(m[3]);
  return { host: m[2], port: p.port || (p.bad ? 0 : defaultPort(m[1]!)), badPort: p.bad };
}

/** `host`, `host:port` or `[v6]:port` (as in http.host); undefined when it is none of those. */
export function splitHostPort(text: string): HostPort | undefined {
  const m = HOST_PORT.exec(text.trim());
  if (!m || !m[1]) return undefined;
  const p = port(m[2]);
  return { host: m[1], port: p.port, badPort: p.bad };
}
