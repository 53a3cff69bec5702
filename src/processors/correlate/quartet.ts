/**
 * Connection extraction: the TCP/IP quartet (source address and port, destination address and
 * port) and the transport a span's attributes describe.
 *
 * Which end is the source depends on the span kind: a CLIENT (PRODUCER, CONSUMER) span's own
 * host opened the connection, so its local end is the source and its peer the destination; a
 * SERVER span's peer is the source and its own end the destination. The key lists of each kind
 * (config.ts) say where each part is read from. For an address part, the first key holding an
 * IP address wins; only when no key holds one is a host name taken, and resolved through the
 * static `hosts` map (never DNS). Ports are integers, integral doubles or decimal strings in
 * 1..65535.
 *
 * One pass over a span's attributes, with one map lookup per attribute; state lives in reused
 * scratch arrays, and an Endpoint is allocated only for spans that carry connection attributes.
 */
import type { AnyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { Span_SpanKind, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { canonicalIp, hostName, splitHostPort, urlHostPort } from './address.js';
import type { AttributeKeys, SideKeys } from './config.js';

export type Role = 'client' | 'server' | 'other';

/** What is known of one part of the quartet. */
export type PartState = 'ok' | 'missing' | 'unresolved' | 'malformed';

export interface Endpoint {
  span: Span;
  role: Role;
  /** Canonical IP text (see canonicalIp), undefined when not known. */
  sourceAddress: string | undefined;
  /** 0 when not known. */
  sourcePort: number;
  destinationAddress: string | undefined;
  destinationPort: number;
  /** IANA protocol number the span states; undefined when it states none. */
  protocol: number | undefined;
  /** The span states a transport that is not IP (unix, pipe, inproc, ...). */
  notIp: boolean;
  /** Why a part is unknown: source address, source port, destination address, destination port. */
  states: [PartState, PartState, PartState, PartState];
  /** Host names (not in `hosts`) this span needed for a part it has no IP address for. */
  unresolvedHosts: string[];
}

const SRC_ADDR = 0;
const SRC_PORT = 1;
const DST_ADDR = 2;
const DST_PORT = 3;
const DST_URL = 4;
const DST_HOST = 5;
const TRANSPORT = 6;

/** Transport attribute values (current and older conventions) → IANA protocol; -1: not IP. */
const TRANSPORTS: Record<string, number> = {
  tcp: 6,
  ip_tcp: 6,
  udp: 17,
  ip_udp: 17,
  quic: 17,
  sctp: 132,
  unix: -1,
  pipe: -1,
  inproc: -1,
  other: -1,
};

/** key → field << 16 | priority, per role. */
type KeyTable = Map<string, number>;

function buildTable(side: SideKeys, transport: readonly string[]): KeyTable {
  const table: KeyTable = new Map();
  const put = (keys: readonly string[], field: number, base = 0) =>
    keys.forEach((k, i) => {
      // The first mention of a key wins, so a key listed for two parts reads as the first.
      if (!table.has(k)) table.set(k, (field << 16) | (base + i));
    });
  put(side.source_address, SRC_ADDR);
  put(side.source_port, SRC_PORT);
  put(side.destination_address, DST_ADDR);
  put(side.destination_port, DST_PORT);
  // URL and host:port keys give an address and a port, ranked after the explicit keys.
  put(side.destination_url, DST_URL, 0);
  put(side.destination_host, DST_HOST, side.destination_url.length);
  put(transport, TRANSPORT);
  return table;
}

const NONE = 0x7fffffff;

export function roleOf(kind: Span_SpanKind): Role {
  switch (kind) {
    case Span_SpanKind.CLIENT:
    case Span_SpanKind.PRODUCER:
    case Span_SpanKind.CONSUMER:
      return 'client';
    case Span_SpanKind.SERVER:
      return 'server';
    default:
      return 'other';
  }
}

export class QuartetExtractor {
  private readonly tables: Record<Role, KeyTable>;
  private readonly hosts: ReadonlyMap<string, string>;
  /** Rank offsets of URL/host candidates among address and port candidates, per role. */
  private readonly urlRank: Record<Role, { address: number; port: number }>;

  // Scratch, per address part (0 source, 1 destination): best IP candidate, best name candidate.
  private readonly ipRank = new Int32Array(2);
  private readonly ipText: (string | undefined)[] = [undefined, undefined];
  private readonly nameRank = new Int32Array(2);
  private readonly nameText: (string | undefined)[] = [undefined, undefined];
  private readonly addrBad = new Uint8Array(2);
  // Per port part.
  private readonly portRank = new Int32Array(2);
  private readonly portValue = new Int32Array(2);
  private readonly portBad = new Uint8Array(2);
  private transportRank = NONE;
  private transportText: string | undefined;

  constructor(keys: AttributeKeys, hosts: Readonly<Record<string, string>>) {
    this.tables = {
      client: buildTable(keys.client, keys.transport),
      server: buildTable(keys.server, keys.transport),
      other: buildTable(keys.other, keys.transport),
    };
    const rank = (s: SideKeys) => ({ address: s.destination_address.length, port: s.destination_port.length });
    this.urlRank = { client: rank(keys.client), server: rank(keys.server), other: rank(keys.other) };
    const map = new Map<string, string>();
    for (const [name, ip] of Object.entries(hosts)) {
      const n = hostName(name) ?? name.toLowerCase();
      map.set(n, ip);
    }
    this.hosts = map;
  }

  /** The connection a span describes, or undefined when it has no connection attribute at all. */
  extract(span: Span): Endpoint | undefined {
    const role = roleOf(span.kind);
    const table = this.tables[role];
    if (table.size === 0) return undefined;
    let seen = false;
    this.reset();
    const attrs = span.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const kv = attrs[i]!;
      const code = table.get(kv.key);
      if (code === undefined) continue;
      const field = code >>> 16;
      const rank = code & 0xffff;
      const value = kv.value;
      if (field !== TRANSPORT) seen = true;
      switch (field) {
        case SRC_ADDR:
        case DST_ADDR:
          this.address(field === SRC_ADDR ? 0 : 1, rank, stringOf(value));
          break;
        case SRC_PORT:
        case DST_PORT:
          this.port(field === SRC_PORT ? 0 : 1, rank, value);
          break;
        case DST_URL:
        case DST_HOST: {
          const text = stringOf(value);
          if (text === undefined) break;
          const offsets = this.urlRank[role];
          const ip = field === DST_HOST ? canonicalIp(text) : undefined;
          const hp = ip !== undefined ? { host: ip, port: 0, badPort: false } : field === DST_URL ? urlHostPort(text) : splitHostPort(text);
          if (!hp) {
            this.addrBad[1] = 1;
            break;
          }
          this.address(1, offsets.address + rank, hp.host);
          if (hp.port > 0) this.portCandidate(1, offsets.port + rank, hp.port);
          else if (hp.badPort) this.portBad[1] = 1;
          break;
        }
        default: {
          const text = stringOf(value);
          if (text !== undefined && rank < this.transportRank) {
            this.transportRank = rank;
            this.transportText = text;
          }
        }
      }
    }
    if (!seen) return undefined;

    const unresolvedHosts: string[] = [];
    const src = this.resolve(0, unresolvedHosts);
    const dst = this.resolve(1, unresolvedHosts);
    let protocol: number | undefined;
    let notIp = false;
    if (this.transportText !== undefined) {
      const p = TRANSPORTS[this.transportText.toLowerCase()];
      if (p === undefined || p < 0) notIp = true;
      else protocol = p;
    }
    return {
      span,
      role,
      sourceAddress: src.address,
      sourcePort: this.portValue[0]!,
      destinationAddress: dst.address,
      destinationPort: this.portValue[1]!,
      protocol,
      notIp,
      states: [src.state, this.portState(0), dst.state, this.portState(1)],
      unresolvedHosts,
    };
  }

  private reset(): void {
    this.ipRank.fill(NONE);
    this.nameRank.fill(NONE);
    this.ipText[0] = this.ipText[1] = undefined;
    this.nameText[0] = this.nameText[1] = undefined;
    this.addrBad.fill(0);
    this.portRank.fill(NONE);
    this.portValue.fill(0);
    this.portBad.fill(0);
    this.transportRank = NONE;
    this.transportText = undefined;
  }

  private address(part: 0 | 1, rank: number, text: string | undefined): void {
    if (text === undefined || text === '') {
      if (text === undefined) this.addrBad[part] = 1;
      return;
    }
    if (rank >= this.ipRank[part]!) return; // a better IP is already there
    const ip = canonicalIp(text);
    if (ip !== undefined) {
      this.ipRank[part] = rank;
      this.ipText[part] = ip;
      return;
    }
    if (rank >= this.nameRank[part]!) return;
    const name = hostName(text);
    if (name === undefined) {
      this.addrBad[part] = 1;
      return;
    }
    this.nameRank[part] = rank;
    this.nameText[part] = name;
  }

  private port(part: 0 | 1, rank: number, value: AnyValue | undefined): void {
    const v = value?.value;
    let p = -1;
    if (v?.case === 'intValue') p = v.value >= 0n && v.value <= 65535n ? Number(v.value) : -1;
    else if (v?.case === 'doubleValue') p = Number.isInteger(v.value) && v.value >= 0 && v.value <= 65535 ? v.value : -1;
    else if (v?.case === 'stringValue') p = /^\d{1,5}$/.test(v.value) && Number(v.value) <= 65535 ? Number(v.value) : -1;
    if (p < 0) this.portBad[part] = 1;
    else if (p > 0) this.portCandidate(part, rank, p); // port 0 says nothing
  }

  private portCandidate(part: 0 | 1, rank: number, port: number): void {
    if (rank < this.portRank[part]!) {
      this.portRank[part] = rank;
      this.portValue[part] = port;
    }
  }

  private portState(part: 0 | 1): PartState {
    return this.portValue[part]! > 0 ? 'ok' : this.portBad[part] ? 'malformed' : 'missing';
  }

  private resolve(part: 0 | 1, unresolved: string[]): { address: string | undefined; state: PartState } {
    const ip = this.ipText[part];
    if (ip !== undefined) return { address: ip, state: 'ok' };
    const name = this.nameText[part];
    if (name !== undefined) {
      const mapped = this.hosts.get(name);
      if (mapped !== undefined) return { address: mapped, state: 'ok' };
      unresolved.push(name);
      return { address: undefined, state: 'unresolved' };
    }
    return { address: undefined, state: this.addrBad[part] ? 'malformed' : 'missing' };
  }
}

function stringOf(value: AnyValue | undefined): string | undefined {
  const v = value?.value;
  return v?.case === 'stringValue' ? v.value : undefined;
}
