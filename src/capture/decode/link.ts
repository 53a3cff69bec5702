/**
 * Link layer: finds the network layer in a frame. Ethernet (802.1Q, 802.1ad/QinQ, LLC/SNAP, MPLS,
 * PPPoE session), Linux cooked capture v1 and v2, BSD null/loop, raw IP.
 */
import { LINKTYPE } from '../pcap/types.js';
import type { DecodedPacket, PacketIssueCode, PacketLayer } from './types.js';

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  /** Pre-standard QinQ tags some switches still send. */
  QINQ_9100: 0x9100,
  QINQ_9200: 0x9200,
  IPV6: 0x86dd,
  MPLS: 0x8847,
  MPLS_MULTICAST: 0x8848,
  PPPOE_SESSION: 0x8864,
} as const;

/** At most this many VLAN tags and MPLS labels are walked. */
export const MAX_TAGS = 8;

export function addIssue(p: DecodedPacket, code: PacketIssueCode, layer: PacketLayer, offset: number, message: string): void {
  p.issues.push({ code, layer, offset, message });
}

/** Records that the capture ends inside a header: `need` bytes at `offset`, `total` captured. */
export function cut(p: DecodedPacket, layer: PacketLayer, offset: number, need: number, total: number, what: string): void {
  p.truncated = true;
  addIssue(
    p,
    'TRUNCATED',
    layer,
    offset,
    `${what} needs ${need} bytes at offset ${offset}, the capture has ${Math.max(0, total - offset)}`,
  );
}

/**
 * Decodes the link layer of `data` as `linkType` into `p` (link, etherType, VLANs, MPLS, SLL
 * fields). Returns the offset of the network layer, or -1 when there is none to decode
 * (non-IP EtherType, unsupported link type, truncation; issues say which).
 */
export function decodeLink(p: DecodedPacket, data: Uint8Array, linkType: number): number {
  const n = data.length;
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      p.link = 'ethernet';
      if (n < 14) {
        cut(p, 'link', 0, 14, n, 'Ethernet header');
        return -1;
      }
      return decodeEtherType(p, data, (data[12]! << 8) | data[13]!, 14);
    }
    case LINKTYPE.LINUX_SLL: {
      p.link = 'sll';
      if (n < 16) {
        cut(p, 'link', 0, 16, n, 'Linux cooked (SLL) header');
        return -1;
      }
      p.sllPacketType = (data[0]! << 8) | data[1]!;
      return decodeEtherType(p, data, (data[14]! << 8) | data[15]!, 16);
    }
    case LINKTYPE.LINUX_SLL2: {
      p.link = 'sll2';
      if (n < 20) {
        cut(p, 'link', 0, 20, n, 'Linux cooked v2 (SLL2) header');
        return -1;
      }
      p.sllInterfaceIndex = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
      p.sllPacketType = data[10]!;
      return decodeEtherType(p, data, (data[0]! << 8) | data[1]!, 20);
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.RAW_DLT14:
      p.link = 'raw';
      return sniffIp(p, data, 0);
    case LINKTYPE.IPV4:
      p.link = 'raw';
      p.etherType = ETHERTYPE.IPV4;
      return 0;
    case LINKTYPE.IPV6:
      p.link = 'raw';
      p.etherType = ETHERTYPE.IPV6;
      return 0;
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      p.link = 'null';
      if (n < 4) {
        cut(p, 'link', 0, 4, n, 'loopback header');
        return -1;
      }
      // NULL: host byte order of the capturing machine (unknown here): accept either.
      const be = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
      const le = ((data[3]! << 24) | (data[2]! << 16) | (data[1]! << 8) | data[0]!) >>> 0;
      const family = linkType === LINKTYPE.LOOP ? be : Math.min(be, le);
      if (family === 2) {
        p.etherType = ETHERTYPE.IPV4;
        return 4;
      }
      // AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      if (family === 24 || family === 28 || family === 30 || family === 10) {
        p.etherType = ETHERTYPE.IPV6;
        return 4;
      }
      return -1;
    }
    default:
      p.link = 'unknown';
      addIssue(p, 'UNSUPPORTED_LINK', 'link', 0, `link type ${linkType} is not decoded`);
      return -1;
  }
}

/** Raw IP: the version nibble says which. */
function sniffIp(p: DecodedPacket, data: Uint8Array, off: number): number {
  if (off >= data.length) {
    cut(p, 'link', off, 1, data.length, 'IP version');
    return -1;
  }
  const v = data[off]! >> 4;
  if (v === 4) p.etherType = ETHERTYPE.IPV4;
  else if (v === 6) p.etherType = ETHERTYPE.IPV6;
  else {
    addIssue(p, 'BAD_VERSION', 'link', off, `raw IP packet with version ${v}`);
    return -1;
  }
  return off;
}

/** Follows VLAN tags, LLC/SNAP, PPPoE and MPLS from `type` at `off` to the network layer. */
function decodeEtherType(p: DecodedPacket, data: Uint8Array, type: number, off: number): number {
  const n = data.length;
  let vlans: number[] | undefined;
  for (let hops = 0; ; hops++) {
    if (hops > MAX_TAGS) {
      addIssue(p, 'BAD_HEADER', 'vlan', off, `more than ${MAX_TAGS} VLAN tags / encapsulations`);
      return -1;
    }
    switch (type) {
      case ETHERTYPE.IPV4:
      case ETHERTYPE.IPV6:
        p.etherType = type;
        return off;
      case ETHERTYPE.VLAN:
      case ETHERTYPE.QINQ:
      case ETHERTYPE.QINQ_9100:
      case ETHERTYPE.QINQ_9200: {
        if (off + 4 > n) {
          p.etherType = type;
          cut(p, 'vlan', off, 4, n, 'VLAN tag');
          return -1;
        }
        if (vlans === undefined) p.vlanIds = vlans = [];
        vlans.push(((data[off]! << 8) | data[off + 1]!) & 0x0fff);
        type = (data[off + 2]! << 8) | data[off + 3]!;
        off += 4;
        continue;
      }
      case ETHERTYPE.PPPOE_SESSION: {
        // PPPoE header (6) then the 2-byte PPP protocol.
        if (off + 8 > n) {
          p.etherType = type;
          cut(p, 'pppoe', off, 8, n, 'PPPoE session header');
          return -1;
        }
        const ppp = (data[off + 6]! << 8) | data[off + 7]!;
        off += 8;
        if (ppp === 0x0021) type = ETHERTYPE.IPV4;
        else if (ppp === 0x0057) type = ETHERTYPE.IPV6;
        else {
          p.etherType = ETHERTYPE.PPPOE_SESSION;
          return -1;
        }
        continue;
      }
      case ETHERTYPE.MPLS:
      case ETHERTYPE.MPLS_MULTICAST: {
        p.etherType = type;
        const labels: number[] = (p.mplsLabels = []);
        for (;;) {
          if (off + 4 > n) {
            cut(p, 'mpls', off, 4, n, 'MPLS label');
            return -1;
          }
          labels.push(((data[off]! << 12) | (data[off + 1]! << 4) | (data[off + 2]! >> 4)) >>> 0);
          const bottom = (data[off + 2]! & 1) !== 0;
          off += 4;
          if (bottom) break;
          if (labels.length >= MAX_TAGS) {
            addIssue(p, 'BAD_HEADER', 'mpls', off, `more than ${MAX_TAGS} MPLS labels`);
            return -1;
          }
        }
        // No protocol field below MPLS: guess from the version nibble (IP is by far the common case).
        if (off >= n) {
          cut(p, 'mpls', off, 1, n, 'payload below MPLS');
          return -1;
        }
        const v = data[off]! >> 4;
        if (v === 4) type = ETHERTYPE.IPV4;
        else if (v === 6) type = ETHERTYPE.IPV6;
        else return -1;
        continue;
      }
      default:
        if (type <= 1500 && p.link === 'ethernet') {
          // 802.3 length field: only LLC/SNAP (AA AA 03, OUI, EtherType) leads on to IP.
          if (off + 8 <= n && data[off] === 0xaa && data[off + 1] === 0xaa && data[off + 2] === 0x03) {
            type = (data[off + 6]! << 8) | data[off + 7]!;
            off += 8;
            continue;
          }
        }
        p.etherType = type;
        return -1;
    }
  }
}
