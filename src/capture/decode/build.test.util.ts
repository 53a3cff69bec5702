/** Builders for packets in tests: Ethernet (VLAN tags), Linux cooked v1/v2, IPv4, IPv6 + extension headers, TCP, UDP. */
import { concat, hex } from '../testkit.test.util.js';

const u16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
const u32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);

export const MAC_A = hex('020000000001');
export const MAC_B = hex('020000000002');

export function ethernet(etherType: number, payload: Uint8Array, tags: [tpid: number, vid: number][] = []): Uint8Array {
  return concat(MAC_B, MAC_A, ...tags.flatMap(([tpid, vid]) => [u16(tpid), u16(vid)]), u16(etherType), payload);
}

export function sll(protocol: number, payload: Uint8Array, packetType = 0): Uint8Array {
  return concat(u16(packetType), u16(1), u16(6), MAC_A, new Uint8Array(2), u16(protocol), payload);
}

export function sll2(protocol: number, payload: Uint8Array, ifIndex: number, packetType = 4): Uint8Array {
  return concat(u16(protocol), new Uint8Array(2), u32(ifIndex), u16(1), Uint8Array.of(packetType, 6), MAC_A, new Uint8Array(2), payload);
}

export interface Ipv4Spec {
  src?: string;
  dst?: string;
  protocol: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** In bytes (multiple of 8). */
  fragmentOffset?: number;
  moreFragments?: boolean;
  options?: Uint8Array;
  totalLength?: number;
  payload: Uint8Array;
}

const ip4 = (text: string) => Uint8Array.from(text.split('.').map(Number));

export function ipv4(s: Ipv4Spec): Uint8Array {
  const options = s.options ?? new Uint8Array(0);
  const ihl = 20 + options.length;
  const total = s.totalLength ?? ihl + s.payload.length;
  const ff = ((s.moreFragments ? 0x2000 : 0) | ((s.fragmentOffset ?? 0) / 8)) & 0xffff;
  return concat(
    Uint8Array.of(0x40 | (ihl / 4), s.tos ?? 0),
    u16(total),
    u16(s.id ?? 0x1234),
    u16(ff),
    Uint8Array.of(s.ttl ?? 64, s.protocol),
    new Uint8Array(2),
    ip4(s.src ?? '192.0.2.1'),
    ip4(s.dst ?? '198.51.100.2'),
    options,
    s.payload,
  );
}

/** 16 bytes of an IPv6 address written in full or with "::" (no dotted quad). */
export function ip6(text: string): Uint8Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return concat(...groups.map((g) => u16(parseInt(g, 16))));
}

export interface Ipv6Spec {
  src?: string;
  dst?: string;
  nextHeader: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  payloadLength?: number;
  /** Extension headers and the upper layer, already chained. */
  payload: Uint8Array;
}

export function ipv6(s: Ipv6Spec): Uint8Array {
  const tc = s.trafficClass ?? 0;
  const fl = s.flowLabel ?? 0;
  return concat(
    Uint8Array.of(0x60 | (tc >> 4), ((tc & 0x0f) << 4) | (fl >> 16), (fl >> 8) & 0xff, fl & 0xff),
    u16(s.payloadLength ?? s.payload.length),
    Uint8Array.of(s.nextHeader, s.hopLimit ?? 64),
    ip6(s.src ?? '2001:db8::1'),
    ip6(s.dst ?? '2001:db8::2'),
    s.payload,
  );
}

/** An options-format extension header (Hop-by-Hop, Destination Options, Routing) of 8 * (units + 1) bytes. */
export function extensionHeader(nextHeader: number, body: Uint8Array): Uint8Array {
  const len = (body.length + 2 + 7) & ~7;
  const out = new Uint8Array(len);
  out[0] = nextHeader;
  out[1] = len / 8 - 1;
  out.set(body, 2);
  // PadN for what is left (valid for option-format headers)
  if (len - 2 - body.length >= 2) {
    out[2 + body.length] = 1;
    out[3 + body.length] = len - 4 - body.length;
  } else if (len - 2 - body.length === 1) {
    out[2 + body.length] = 0;
  }
  return out;
}

export function fragmentHeader(nextHeader: number, offset: number, more: boolean, id: number): Uint8Array {
  return concat(Uint8Array.of(nextHeader, 0), u16(offset | (more ? 1 : 0)), u32(id));
}

/** Authentication header with `icvWords` 32-bit words of ICV (length field = 1 + icvWords). */
export function authHeader(nextHeader: number, icvWords: number): Uint8Array {
  return concat(Uint8Array.of(nextHeader, 1 + icvWords), new Uint8Array(2), u32(0x100), u32(1), new Uint8Array(4 * icvWords));
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: Uint8Array;
  payload?: Uint8Array;
}

export function tcp(s: TcpSpec): Uint8Array {
  const options = s.options ?? new Uint8Array(0);
  const hlen = 20 + options.length;
  return concat(
    u16(s.sport),
    u16(s.dport),
    u32(s.seq ?? 1000),
    u32(s.ack ?? 2000),
    Uint8Array.of(((hlen / 4) << 4) | ((s.flags >> 8) & 0x0f), s.flags & 0xff),
    u16(s.window ?? 65535),
    new Uint8Array(4),
    options,
    s.payload ?? new Uint8Array(0),
  );
}

export function udp(sport: number, dport: number, payload: Uint8Array, length = 8 + payload.length): Uint8Array {
  return concat(u16(sport), u16(dport), u16(length), new Uint8Array(2), payload);
}
