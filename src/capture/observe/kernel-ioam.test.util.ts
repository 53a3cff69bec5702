/**
 * The kernel-generated IOAM captures (../shared/data/ioam/linux-kernel-6.18-generated) and their
 * EXPECTED.json, and the one field-by-field comparison with it, shared by the decoder's test
 * (decodeIoamOptions) and the command line's (`netspan decode --kind ioam`).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DIR } from '../../testutil/index.js';
import { concat, hex } from '../testkit.test.util.js';
import type { IoamNode } from '../ioam/index.js';
import { readPcap, type CapturedPacket } from '../pcap/index.js';
import { decodePacket } from '../decode/index.js';

export const IOAM_DIR = join(SHARED_DIR, 'data', 'ioam', 'linux-kernel-6.18-generated');
const hasShared = existsSync(join(IOAM_DIR, 'EXPECTED.json'));
/** The `skip` option of tests that need the shared captures. */
export const skipWithoutShared: string | false = hasShared ? false : `${IOAM_DIR} is absent (../shared not checked out)`;

export interface ExpectedPacket {
  frame: number;
  capture_time: number;
  hbh_hex: string;
  ioam_option: { opt_len: number; ioam_opt_type: number };
  trace_header: { namespace_id: number; nodelen: number; overflow: number; remlen: number; trace_type: string };
  nodes_in_packet_order: Record<string, string>[];
}
export interface ExpectedFile {
  /** Path under IOAM_DIR, e.g. "pcap/bit0.after-hop2.pcap". */
  file: string;
  packets: ExpectedPacket[];
}

export const loadExpected = (): ExpectedFile[] => JSON.parse(readFileSync(join(IOAM_DIR, 'EXPECTED.json'), 'utf8')) as ExpectedFile[];

/** TShark field → [our field, bit width]. */
export const TSHARK_NODE_FIELD: Record<string, [keyof IoamNode, number]> = {
  hlim: ['hop_limit', 8],
  id: ['node_id', 24],
  iif: ['ingress_if_id', 16],
  eif: ['egress_if_id', 16],
  tss: ['timestamp_seconds', 32],
  tsf: ['timestamp_subseconds', 32],
  trdelay: ['transit_delay', 32],
  nsdata: ['namespace_data', 32],
  qdepth: ['queue_depth', 32],
  csum: ['checksum_complement', 32],
  id_wide: ['node_id_wide', 56],
  iif_wide: ['ingress_if_id_wide', 32],
  eif_wide: ['egress_if_id_wide', 32],
  nsdata_wide: ['namespace_data_wide', 64],
  bufoccup: ['buffer_occupancy', 32],
};

/** A TShark field value (decimal or 0x hex text) as our value: all ones (unavailable) is null, above 32 bits a bigint. */
export function tsharkValue(text: string, width: number): number | bigint | null {
  const v = BigInt(text);
  if (v === (1n << BigInt(width)) - 1n) return null;
  return width > 32 ? v : Number(v);
}

/** A TShark node of EXPECTED.json (strings) as the decoder's node. */
export function expectedNode(t: Record<string, string>): IoamNode {
  const node: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(t)) {
    if (key.startsWith('oss.')) continue;
    const spec = TSHARK_NODE_FIELD[key];
    assert.ok(spec, `unmapped TShark field ${key}`);
    node[spec[0]] = tsharkValue(text, spec[1]);
  }
  if (t['oss.len'] !== undefined) {
    const scid = Number(t['oss.scid']);
    node.opaque_state_snapshot = {
      length: Number(t['oss.len']),
      schema_id: scid === 0xffffff ? null : scid,
      data: hex(t['oss.data'] ?? ''),
    };
  }
  return node as IoamNode;
}

// The configured values (the captures' PROVENANCE.md) for the OSS-only case, which TShark 4.0 does not decode.
export const T1_OSS: IoamNode = {
  opaque_state_snapshot: {
    length: 9,
    schema_id: 0x309,
    data: concat(new TextEncoder().encode('something that will be 4n-aligned'), new Uint8Array(3)),
  },
};
export const T2_OSS: IoamNode = { opaque_state_snapshot: { length: 0, schema_id: null, data: new Uint8Array(0) } };

/** The nodes a packet of EXPECTED.json holds, in path order (first hop first). */
export function expectedNodes(file: string, e: ExpectedPacket): IoamNode[] {
  if (file.includes('/bit22.')) {
    assert.equal(e.nodes_in_packet_order.length, 0, 'TShark 4.0 does not decode OSS-only nodes');
    return file.includes('hop1') ? [T1_OSS] : [T1_OSS, T2_OSS];
  }
  return e.nodes_in_packet_order.map(expectedNode).reverse();
}

/** What both paths give of a trace; the header fields an observation does not carry are optional. */
export interface ComparableTrace {
  optionType: number;
  namespaceId: number;
  traceType: number;
  overflow: boolean;
  nodes: IoamNode[];
  nodeLength?: number;
  remainingLength?: number;
  /** The IOAM option's data length (the byte after 0x31). */
  optionLength?: number;
}

/** Asserts a decoded trace equals EXPECTED.json's packet, field by field (every node, every field). */
export function assertMatchesExpected(where: string, file: string, e: ExpectedPacket, t: ComparableTrace): void {
  const h = e.trace_header;
  assert.equal(t.optionType, e.ioam_option.ioam_opt_type, `${where}: option type`);
  if (t.optionLength !== undefined) assert.equal(t.optionLength, e.ioam_option.opt_len, `${where}: option length`);
  assert.equal(t.namespaceId, h.namespace_id, `${where}: namespace`);
  if (t.nodeLength !== undefined) assert.equal(t.nodeLength, h.nodelen, `${where}: node length`);
  assert.equal(t.overflow, h.overflow === 1, `${where}: overflow`);
  if (t.remainingLength !== undefined) assert.equal(t.remainingLength, h.remlen, `${where}: remaining length`);
  assert.equal(t.traceType, Number(h.trace_type), `${where}: trace type`);
  assert.deepStrictEqual(t.nodes, expectedNodes(file, e), `${where}: nodes`);
}

/** The Hop-by-Hop header of a kernel capture (IOAM trace of two hops), to put into TCP packets. */
export function kernelHopByHop(file: string): Uint8Array {
  const p = readPcap(new Uint8Array(readFileSync(join(IOAM_DIR, 'pcap', file)))).packets[0]!;
  const d = decodePacket(p.data, p.linkType);
  return p.data.slice(d.hopByHopOffset - 2, d.hopByHopOffset + d.hopByHopOptions!.length);
}

/** `packet` (SLL2 + IPv6) with `hbh` inserted after its IPv6 header; IPv4 packets stay as they are. */
export function withHopByHop(packet: CapturedPacket, hbh: Uint8Array): CapturedPacket {
  const ip = 20;
  if (packet.data[ip]! >> 4 !== 6) return packet;
  const h = Uint8Array.from(hbh);
  h[0] = packet.data[ip + 6]!; // the HbH header's next header: what the IPv6 header had
  const data = concat(packet.data.subarray(0, ip + 40), h, packet.data.subarray(ip + 40));
  data[ip + 6] = 0;
  const view = new DataView(data.buffer);
  view.setUint16(ip + 4, view.getUint16(ip + 4) + h.length);
  return { ...packet, data, capturedLength: data.length, originalLength: data.length };
}
