/**
 * The large capture the benchmark reads: the seed repeated until it holds the wanted number of
 * packets, each copy shifted in time to follow the previous one and moved to a client address of
 * its own (the last 16 bits of the client's IPv6 address go up by the copy's number), so every
 * copy's connections are new connections to the HTTP reassembler, not retransmissions of the
 * first copy's. Nothing else changes: the IOAM data, the HTTP heads and the TCP sequence numbers
 * are the seed's. (The seed's TCP checksums are already the veth's partial ones, so rewriting the
 * addresses does not make valid checksums invalid.)
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { IPPROTO, decodePacket, readPcap } from '../../src/capture/index.js';

const PCAP_MAGIC_US_LE = 0xa1b2c3d4;
const PCAP_FILE_HEADER = 24;
const PCAP_RECORD_HEADER = 16;

export interface ExpandedCapture {
  path: string;
  copies: number;
  packets: number;
  bytes: number;
  /** Time the capture spans, seconds. */
  durationSeconds: number;
}

/** Where each seed packet's fields sit in the seed file, for patching the copies. */
interface PacketPatch {
  /** File offset of the record header (its timestamp). */
  record: number;
  /** File offset of the 16-bit group to raise (the client address's last), -1 when not a TCP packet of the seed's server. */
  clientGroup: number;
}

/**
 * Writes `targetPackets` (rounded up to whole copies of the seed) to `path`. The seed must be a
 * little-endian microsecond pcap (what tcpdump writes here) whose TCP packets go to or come from
 * `serverPort`.
 */
export function expandSeed(seed: Buffer, targetPackets: number, serverPort: number, path: string): ExpandedCapture {
  if (seed.readUInt32LE(0) !== PCAP_MAGIC_US_LE) throw new Error('the seed must be a little-endian microsecond pcap file');
  const { packets } = readPcap(seed);
  if (packets.length === 0) throw new Error('the seed capture holds no packets');
  const patches: PacketPatch[] = [];
  let record = PCAP_FILE_HEADER;
  for (const p of packets) {
    const d = decodePacket(p.data, p.linkType);
    const data = record + PCAP_RECORD_HEADER;
    let clientGroup = -1;
    if (d.ipVersion === 6 && d.protocol === IPPROTO.TCP && (d.sourcePort === serverPort) !== (d.destinationPort === serverPort)) {
      // The client is the end that is not the server port: bytes 14-15 of its address.
      clientGroup = data + d.networkOffset + (d.sourcePort === serverPort ? 24 : 8) + 14;
    }
    patches.push({ record, clientGroup });
    record = data + p.capturedLength;
  }
  const micros = (at: number) => seed.readUInt32LE(at) * 1e6 + seed.readUInt32LE(at + 4);
  const first = micros(patches[0]!.record);
  // One copy follows the previous one 1 ms after its last packet.
  const periodUs = micros(patches[patches.length - 1]!.record) - first + 1000;
  const copies = Math.ceil(targetPackets / packets.length);
  const body = seed.subarray(PCAP_FILE_HEADER);
  const copy = Buffer.allocUnsafe(body.length);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, seed, 0, PCAP_FILE_HEADER);
    for (let k = 0; k < copies; k++) {
      body.copy(copy);
      for (const { record: at, clientGroup } of patches) {
        const t = micros(at) + k * periodUs;
        copy.writeUInt32LE(Math.floor(t / 1e6), at - PCAP_FILE_HEADER);
        copy.writeUInt32LE(t % 1e6, at - PCAP_FILE_HEADER + 4);
        if (clientGroup >= 0) copy.writeUInt16BE((seed.readUInt16BE(clientGroup) + k) & 0xffff, clientGroup - PCAP_FILE_HEADER);
      }
      writeSync(fd, copy);
    }
  } finally {
    closeSync(fd);
  }
  return {
    path,
    copies,
    packets: copies * packets.length,
    bytes: PCAP_FILE_HEADER + copies * body.length,
    durationSeconds: (copies * periodUs) / 1e6,
  };
}
