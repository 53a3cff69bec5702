/**
 * The packet decoder's output: one flat object per packet, filled layer by layer (link, network,
 * transport). Decoding never throws: what could be read safely is there, `truncated` says the
 * capture ends before the packet does, and `issues` say where and why decoding stopped early.
 * Offsets are byte offsets into the decoded `data`.
 */

export type LinkKind = 'ethernet' | 'sll' | 'sll2' | 'raw' | 'null' | 'unknown';

export type PacketLayer = 'link' | 'vlan' | 'mpls' | 'pppoe' | 'ipv4' | 'ipv6' | 'tcp' | 'udp' | 'transport';

export type PacketIssueCode =
  /** The capture ends inside a header: decoding stopped there. */
  | 'TRUNCATED'
  /** A length field that is impossible (IPv4 total length below its header, TCP data offset < 5, UDP length < 8, ...). */
  | 'BAD_LENGTH'
  /** The IP version nibble disagrees with the link layer's protocol. */
  | 'BAD_VERSION'
  /** A header in a place it must not be (Hop-by-Hop not first), or too many nested headers. */
  | 'BAD_HEADER'
  /** A link type this decoder does not handle. */
  | 'UNSUPPORTED_LINK';

export interface PacketIssue {
  code: PacketIssueCode;
  layer: PacketLayer;
  /** Offset in the packet where decoding of this layer stopped. */
  offset: number;
  message: string;
}

export interface DecodedPacket {
  /** The LINKTYPE_* the packet was decoded as. */
  linkType: number;
  link: LinkKind;
  /** EtherType of the network layer (after VLAN tags, MPLS, PPPoE), 0 when there is none (raw IP sets 0x0800/0x86dd). */
  etherType: number;
  /** 802.1Q / 802.1ad VLAN ids, outermost first (a shared empty array when untagged: do not mutate). */
  vlanIds: readonly number[];
  /** MPLS labels, top of stack first (shared empty array when none). */
  mplsLabels: readonly number[];
  /** Linux cooked capture: packet type (0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 outgoing), else -1. */
  sllPacketType: number;
  /** Linux cooked capture v2: interface index, else -1. */
  sllInterfaceIndex: number;

  /** Offset of the IP header, -1 when no IP layer was found. */
  networkOffset: number;
  ipVersion: 0 | 4 | 6;
  sourceAddress: string;
  destinationAddress: string;
  /** The upper-layer protocol (IPv6: after the extension headers), 0 when there is no IP layer. */
  protocol: number;
  /** IPv4 TTL / IPv6 hop limit. */
  ttl: number;
  /** IPv4 TOS / IPv6 traffic class. */
  tos: number;
  /** IPv6 flow label (0 for IPv4). */
  flowLabel: number;
  /** IPv4 total length / IPv6 40 + payload length, as the header says (0: not known). */
  ipTotalLength: number;
  /** IPv4 header with options / IPv6 header with every extension header walked. */
  ipHeaderLength: number;
  /** IPv4 identification / IPv6 fragment header identification. */
  fragmentId: number;
  /** Fragment offset in bytes; only a packet with offset 0 carries the transport header. */
  fragmentOffset: number;
  moreFragments: boolean;
  /** The IPv4 flags or an IPv6 fragment header say this is a fragment (first or later). */
  isFragment: boolean;
  /** IPv6: the extension header walk stopped at a next header it does not know (the value is in `protocol`). */
  unknownNextHeader: boolean;
  /** IPv6 Hop-by-Hop options (the TLVs after its 2-byte header), for the IOAM decoder; undefined when absent or cut. */
  hopByHopOptions: Uint8Array | undefined;
  /** Offset of `hopByHopOptions` in the packet, -1 when absent. */
  hopByHopOffset: number;

  /** Offset of the transport header, -1 when not reached (no IP, later fragment, truncated). */
  transportOffset: number;
  sourcePort: number;
  destinationPort: number;
  /** TCP flags, 12 bits as on the wire (FIN 0x01 ... CWR 0x80, AE 0x100). */
  tcpFlags: number;
  tcpSequence: number;
  tcpAcknowledgement: number;
  tcpWindow: number;
  /** TCP header length with options (data offset * 4). */
  tcpHeaderLength: number;
  /** Offset and bytes of the TCP/UDP payload present in the capture (bounded by the IP and UDP lengths). */
  payloadOffset: number;
  payload: Uint8Array;

  /** The capture holds less than the packet (snap length, sFlow header sampling) or stops inside a header. */
  truncated: boolean;
  issues: PacketIssue[];
}
