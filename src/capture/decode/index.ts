export type { DecodedPacket, LinkKind, PacketIssue, PacketIssueCode, PacketLayer } from './types.js';
export { decodePacket, decodeNetwork, emptyDecodedPacket } from './packet.js';
export { decodeLink, ETHERTYPE, MAX_TAGS } from './link.js';
export { decodeIPv4, decodeIPv6, IPPROTO, MAX_EXTENSION_HEADERS } from './network.js';
export { decodeTransport } from './transport.js';
export { formatIP, formatIPv4, formatIPv6, formatMac } from './address.js';
