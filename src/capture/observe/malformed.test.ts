/**
 * Malformed packets through the PacketObserver, each built from a real capture with one defect:
 * decoded as far as is safe, never thrown, and flagged in `stats.issues` / `lastIssues` with the
 * specific code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../../testutil/index.js';
import { readPcap, type CapturedPacket } from '../pcap/index.js';
import type { IoamObservation, Observation } from '../../model/observation.js';
import { IOAM_DIR, skipWithoutShared as skip } from './kernel-ioam.test.util.js';
import { PacketObserver } from './index.js';

// Kernel captures: Ethernet (14) + IPv6 (40), then the Hop-by-Hop header, PadN(0), the IOAM option.
const HBH = 14 + 40;
const OPT = HBH + 2 + 2;
const TRACE = OPT + 4; // namespace (2), node length / flags, flags / remaining length, trace type (3), reserved

const kernelPacket = (file: string): CapturedPacket => readPcap(new Uint8Array(readFileSync(join(IOAM_DIR, 'pcap', file)))).packets[0]!;

function observeOne(p: CapturedPacket, edit: (b: Uint8Array) => Uint8Array | void = () => {}) {
  const b = Uint8Array.from(p.data);
  const data = edit(b) ?? b;
  const observer = new PacketObserver();
  const out = observer.observe(data, p.linkType, p.timestampUnixNano, '');
  return { out, observer, codes: observer.lastIssues.map((i) => `${i.source}:${i.code}`) };
}
const ioam = (out: Observation[]): IoamObservation[] => out.filter((o): o is IoamObservation => o.kind === 'ioam');

test('the unmodified packet: one trace, no issue (the baseline of the cases below)', { skip }, () => {
  const p = kernelPacket('bit8.after-hop2.pcap');
  assert.equal(p.data[OPT], 0x31);
  const { out, codes } = observeOne(p);
  assert.deepEqual(codes, []);
  assert.equal(ioam(out)[0]!.nodes.length, 2);
});

test('truncated extension header: the capture ends inside the Hop-by-Hop header', { skip }, () => {
  const { out, observer, codes } = observeOne(kernelPacket('full_supp_trace.after-hop2.pcap'), (b) => b.subarray(0, HBH + 40));
  assert.deepEqual(codes, ['packet:TRUNCATED']);
  assert.deepEqual(out, []);
  // The IPv6 header was still read: an IP packet with nothing to observe.
  assert.deepEqual([observer.stats.packetsUnobserved, observer.stats.packetsWithoutIp], [1, 0]);
  assert.equal(observer.stats.issues.packet.TRUNCATED, 1);
});

test('extension header longer than the IPv6 payload length', { skip }, () => {
  const { out, codes } = observeOne(kernelPacket('bit0.after-hop2.pcap'), (b) => {
    b[HBH + 1] = 200;
  });
  assert.deepEqual(codes, ['packet:BAD_LENGTH']);
  assert.deepEqual(out, []);
});

test('IOAM option length past the Hop-by-Hop header: TRUNCATED_OPTION, the trace read as far as it goes', { skip }, () => {
  const { out, observer, codes } = observeOne(kernelPacket('bit0.after-hop2.pcap'), (b) => {
    b[OPT + 1] = 250;
  });
  assert.equal(codes[0], 'ioam:TRUNCATED_OPTION');
  assert.equal(observer.stats.issues.ioam.TRUNCATED_OPTION, 1);
  // The header and the nodes inside the packet are still there (the trailing PadN is read as free space / a node).
  const [t] = ioam(out);
  assert.equal(t!.namespaceId, 123);
  assert.ok(t!.nodes.length >= 2);
  assert.deepEqual(t!.nodes.slice(-2), [
    { hop_limit: 63, node_id: 1 },
    { hop_limit: 62, node_id: 2 },
  ]);
});

test('IOAM option length too short for the trace header: BAD_OPTION_LENGTH, no trace', { skip }, () => {
  const { out, codes } = observeOne(kernelPacket('bit0.after-hop2.pcap'), (b) => {
    b[OPT + 1] = 6;
  });
  assert.ok(codes.includes('ioam:BAD_OPTION_LENGTH'), codes.join());
  assert.deepEqual(ioam(out), []);
});

test('node length × nodes beyond the data: NODE_OVERRUN after the nodes that fit (and NODE_LENGTH_MISMATCH)', { skip }, () => {
  // bit 8: two nodes of 2 units (16 bytes). Node length 3 makes 12-byte nodes: one fits, the second needs 12 of the 4 left.
  const { out, codes } = observeOne(kernelPacket('bit8.after-hop2.pcap'), (b) => {
    b[TRACE + 2] = (3 << 3) | (b[TRACE + 2]! & 7);
  });
  assert.deepEqual(codes, ['ioam:NODE_LENGTH_MISMATCH', 'ioam:NODE_OVERRUN']);
  const [t] = ioam(out);
  assert.deepEqual(t!.nodes, [{ hop_limit: 62, node_id_wide: 22222222n }]);
});

test('remaining length past the option: REMAINING_LENGTH_OVERFLOW, header only', { skip }, () => {
  const { out, codes } = observeOne(kernelPacket('bit0.after-hop2.pcap'), (b) => {
    b[TRACE + 3] = 0x7f;
  });
  assert.deepEqual(codes, ['ioam:REMAINING_LENGTH_OVERFLOW']);
  assert.deepEqual(ioam(out)[0]!.nodes, []);
});

test('unknown trace bits: UNDEFINED_TRACE_BIT (raw values kept), RESERVED_TRACE_BIT', { skip }, () => {
  const undef = observeOne(kernelPacket('bit0.after-hop2.pcap'), (b) => {
    b[TRACE + 2] = (2 << 3) | (b[TRACE + 2]! & 7); // node length 2: bit 0 and bit 20
    b[TRACE + 6] = 0x08; // bit 20
  });
  assert.deepEqual(undef.codes, ['ioam:UNDEFINED_TRACE_BIT']);
  // Nodes are now 8 bytes: the two 4-byte nodes read as one, the second word as the bit-20 value.
  assert.deepEqual(ioam(undef.out)[0]!.nodes, [{ hop_limit: 62, node_id: 2, undefined_fields: [{ bit: 20, value: 0x3f000001 }] }]);
  const reserved = observeOne(kernelPacket('bit0.after-hop2.pcap'), (b) => {
    b[TRACE + 6] = b[TRACE + 6]! | 1;
  });
  assert.deepEqual(reserved.codes, ['ioam:RESERVED_TRACE_BIT']);
  assert.equal(ioam(reserved.out)[0]!.nodes.length, 2);
});

test('overflow set (a real kernel capture: the second hop had no room): OVERFLOW counted, the trace kept', { skip }, () => {
  const { out, observer, codes } = observeOne(kernelPacket('no_room_1_of_2_nodes.after-hop2.pcap'));
  assert.deepEqual(codes, ['ioam:OVERFLOW']);
  assert.equal(observer.stats.issues.ioam.OVERFLOW, 1);
  const [t] = ioam(out);
  assert.equal(t!.overflow, true);
  assert.deepEqual(t!.nodes, [{ hop_limit: 63, node_id: 1 }]);
});

test('HTTP: a request line that is not one (BAD_START_LINE) and a head past the size limit (HEAD_TOO_LARGE)', () => {
  const ps = readPcap(new Uint8Array(readFileSync(repoPath('src', 'capture', 'observe', 'testdata', 'http-lo.pcap')))).packets;
  const observer = new PacketObserver();
  let bad = 0;
  for (const p of ps) {
    const b = Uint8Array.from(p.data);
    const text = Buffer.from(b).toString('latin1');
    const at = text.indexOf(' HTTP/1.1\r\n');
    if (at > 0 && text.includes('GET /api/items')) {
      b[at] = 0x58; // "GET /api/items?id=1XHTTP/1.1": no longer a request line
      bad++;
    }
    observer.observe(b, p.linkType, p.timestampUnixNano, '');
  }
  assert.equal(bad, 1);
  assert.equal(observer.stats.issues.http.BAD_START_LINE, 1);
  assert.equal(observer.stats.httpRequests, 5);
  // A 16 KiB head with no end, in segments of 1000 bytes: dropped at the limit, counted, the next head found.
  const big = new PacketObserver();
  const first = ps[3]!; // the first request's segment: Ethernet + IPv4 + TCP with timestamps
  const headerLength = first.data.length - 202;
  const segment = (seq: number, payload: string): Uint8Array => {
    const b = new Uint8Array(headerLength + payload.length);
    b.set(first.data.subarray(0, headerLength));
    b.set(Buffer.from(payload, 'latin1'), headerLength);
    const v = new DataView(b.buffer);
    v.setUint16(14 + 2, headerLength - 14 + payload.length); // IPv4 total length
    v.setUint32(14 + 20 + 4, seq);
    return b;
  };
  let seq = 1;
  const send = (payload: string) => {
    const out = big.observe(segment(seq, payload), first.linkType, 1n, '');
    seq += payload.length;
    return out;
  };
  send('GET /big HTTP/1.1\r\n');
  for (let i = 0; i < 17; i++) send(`X-Filler-${String(i).padStart(2, '0')}: ${'a'.repeat(984)}\r\n`);
  assert.equal(big.stats.issues.http.HEAD_TOO_LARGE, 1);
  assert.equal(big.stats.http.headsDropped, 1);
  assert.equal(send('GET /next HTTP/1.1\r\n\r\n').length, 1);
});
