/**
 * The benchmark's input: softflowd export captures (bench/flows/captures/*.pcap, made by
 * make-captures.sh) read with netspan's own pcap reader and packet decoder, down to the UDP
 * payloads (the NetFlow / IPFIX datagrams), in capture order. Each is decoded once here with a
 * fresh session to know how many records it holds (the truth the benchmark counts against).
 */
import { readFileSync } from 'node:fs';
import { decodePacket, readPcap } from '../../src/capture/index.js';
import { createDecoderSession } from '../../src/receivers/netflow/session.js';

export type FlowFormat = 'v5' | 'v9' | 'ipfix';

export const CAPTURE_FILES: Record<FlowFormat, string> = {
  v5: 'softflowd-v5.pcap',
  v9: 'softflowd-v9.pcap',
  ipfix: 'softflowd-v10.pcap',
};

export interface FlowCapture {
  format: FlowFormat;
  file: string;
  fileBytes: number;
  /** The export datagrams (UDP payloads), in capture order. */
  payloads: Uint8Array[];
  /** Flow records in each datagram (netspan's decoder, one fresh session over the whole capture). */
  recordsPerPayload: number[];
  /** Total UDP payload bytes. */
  payloadBytes: number;
  records: number;
  ipv4Records: number;
  ipv6Records: number;
  /** Options data records (v9/IPFIX: softflowd's sampling options), not flows. */
  optionsRecords: number;
  /** Datagrams carrying a (options) template set. */
  templateDatagrams: number;
  /** Decode issues over one pass (must be 0: templates come first in the capture). */
  issues: number;
  /** The export version field of the datagrams (5, 9 or 10). */
  version: number;
}

/** True when a v9 / IPFIX datagram holds a template or options template set (set id < 256). */
function hasTemplateSet(p: Uint8Array): boolean {
  const version = (p[0]! << 8) | p[1]!;
  let at = version === 9 ? 20 : version === 10 ? 16 : p.length;
  const end = version === 10 ? Math.min(p.length, (p[2]! << 8) | p[3]!) : p.length;
  while (at + 4 <= end) {
    const id = (p[at]! << 8) | p[at + 1]!;
    const len = (p[at + 2]! << 8) | p[at + 3]!;
    if (id < 256) return true;
    if (len < 4) break;
    at += len;
  }
  return false;
}

export function loadCapture(format: FlowFormat, path: string): FlowCapture {
  const bytes = readFileSync(path);
  const { packets } = readPcap(bytes);
  const payloads: Uint8Array[] = [];
  for (const pkt of packets) {
    const d = decodePacket(pkt.data, pkt.linkType);
    if (d.protocol !== 17 || d.truncated || d.payload.length === 0) continue;
    payloads.push(Uint8Array.from(d.payload)); // own copy: one small buffer per datagram, like a socket gives
  }
  if (payloads.length === 0) throw new Error(`${path}: no UDP payloads`);
  const session = createDecoderSession('netflow', false);
  const recordsPerPayload: number[] = [];
  let ipv4Records = 0;
  let ipv6Records = 0;
  let optionsRecords = 0;
  let issues = 0;
  for (const p of payloads) {
    const out = session('127.0.0.1', Date.now(), p);
    recordsPerPayload.push(out.records.length);
    for (const r of out.records)
      if (r.ipVersion === 6) ipv6Records++;
      else ipv4Records++;
    optionsRecords += out.options?.length ?? 0;
    issues += out.issues.length;
  }
  const records = recordsPerPayload.reduce((a, b) => a + b, 0);
  return {
    format,
    file: path,
    fileBytes: bytes.length,
    payloads,
    recordsPerPayload,
    payloadBytes: payloads.reduce((n, p) => n + p.length, 0),
    records,
    ipv4Records,
    ipv6Records,
    optionsRecords,
    templateDatagrams: payloads.filter(hasTemplateSet).length,
    issues,
    version: (payloads[0]![0]! << 8) | payloads[0]![1]!,
  };
}
