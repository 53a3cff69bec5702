/**
 * `netspan decode FILE...`: reads pcap, pcapng or raw export payloads (.dat: one UDP payload)
 * and prints one JSON object per decoded record. Flow exports are recognised by their version
 * field; sFlow by its 32-bit version 5. From captures, packet observations too: IOAM traces and
 * HTTP heads (PacketObserver), in their flat attribute form. Problems go to stderr as JSON with
 * the file, the packet number and the reason; decoding goes on after them.
 */
import { readFile } from 'node:fs/promises';
import { readPcap } from '../capture/pcap/index.js';
import { decodePacket, IPPROTO } from '../capture/decode/index.js';
import { createDecoderSession, type DecoderSession } from '../receivers/netflow/session.js';
import { flowAttributes, fieldAttribute } from '../receivers/netflow/flowlogs.js';
import type { DecodeOutput } from '../receivers/netflow/decode/types.js';
import type { InterfaceCounters } from '../model/flow.js';
import { observationAttributes } from '../model/observation.js';
import { PacketObserver } from '../capture/observe/index.js';
import { errorMessage } from '../core/errors.js';

export const RECORD_KINDS = ['flow', 'interface_counters', 'ioam', 'http'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** What a raw .dat file's records name as their exporter: the file carries no address. */
export const RAW_PAYLOAD_EXPORTER = '0.0.0.0';

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1, 0x0a0d0d0a]);

export interface DecodeOptions {
  kinds: ReadonlySet<RecordKind>;
  write: (line: string) => void;
  writeError: (line: string) => void;
}

export interface DecodeSummary {
  records: number;
  errors: number;
}

type PayloadKind = 'netflow' | 'sflow' | undefined;

/** NetFlow v5/v9/IPFIX start with a 16-bit version; sFlow v5 with a 32-bit one. */
function payloadKind(p: Uint8Array): PayloadKind {
  if (p.length >= 4 && p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 5) return 'sflow';
  if (p.length >= 2 && p[0] === 0 && (p[1] === 5 || p[1] === 9 || p[1] === 10)) return 'netflow';
  return undefined;
}

function countersJson(c: InterfaceCounters): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: 'interface_counters' };
  for (const [k, v] of Object.entries(c)) out[k] = typeof v === 'bigint' ? v.toString() : v;
  return out;
}

export async function decodeFiles(paths: readonly string[], options: DecodeOptions): Promise<DecodeSummary> {
  const summary: DecodeSummary = { records: 0, errors: 0 };
  // One session per scheme for the whole run: templates carry over from file to file, as from packet to packet.
  const sessions: Record<'netflow' | 'sflow', DecoderSession> = {
    netflow: createDecoderSession('netflow', true),
    sflow: createDecoderSession('sflow', true),
  };
  const error = (file: string, packet: number | undefined, reason: string, extra: Record<string, unknown> = {}) => {
    summary.errors++;
    options.writeError(JSON.stringify({ file, ...(packet === undefined ? {} : { packet }), reason, ...extra }));
  };
  // One observer for the whole run, like the sessions: a connection may go on in the next file of a rotated capture.
  const observer = options.kinds.has('ioam') || options.kinds.has('http') ? new PacketObserver() : undefined;
  const emit = (file: string, packet: number, exporter: string, out: DecodeOutput) => {
    for (const issue of out.issues) error(file, packet, issue.message, { code: issue.code, offset: issue.offset, exporter });
    if (options.kinds.has('flow'))
      for (const r of out.records) {
        summary.records++;
        const attrs = flowAttributes(r, false);
        const fields = r.fields ? Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, fieldAttribute(v)])) : undefined;
        options.write(
          JSON.stringify({ kind: 'flow', exporter, observation_domain_id: r.observationDomainId, ...attrs, ...(fields ? { fields } : {}) }),
        );
      }
    if (options.kinds.has('interface_counters'))
      for (const c of out.counters) {
        summary.records++;
        options.write(JSON.stringify(countersJson(c)));
      }
  };

  for (const file of paths) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      error(file, undefined, `cannot read: ${errorMessage(err)}`);
      continue;
    }
    const magic = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) : 0;
    if (!PCAP_MAGICS.has(magic)) {
      const kind = payloadKind(bytes);
      if (!kind) error(file, undefined, 'neither a pcap/pcapng file nor a NetFlow/IPFIX/sFlow payload');
      else emit(file, 1, RAW_PAYLOAD_EXPORTER, sessions[kind](RAW_PAYLOAD_EXPORTER, Date.now(), bytes));
      continue;
    }
    let capture;
    try {
      capture = readPcap(bytes);
    } catch (err) {
      error(file, undefined, errorMessage(err));
      continue;
    }
    const interfaces = capture.interfaces;
    capture.packets.forEach((packet, i) => {
      const number = i + 1;
      if (observer) {
        const observations = observer.observe(
          packet.data,
          packet.linkType,
          packet.timestampUnixNano,
          interfaces[packet.interfaceIndex]?.name ?? '',
        );
        for (const issue of observer.lastIssues) {
          // Packet-layer problems are not this output's business (the flow output never showed them); an
          // overflowed trace is still printed, with ioam.overflow true.
          if (issue.source === 'packet' || !options.kinds.has(issue.source) || issue.code === 'OVERFLOW') continue;
          error(file, number, issue.message, { code: issue.code, offset: issue.offset, layer: issue.source });
        }
        for (const o of observations) {
          if (!options.kinds.has(o.kind)) continue;
          summary.records++;
          options.write(JSON.stringify({ kind: o.kind, ...observationAttributes(o) }));
        }
      }
      const decoded = decodePacket(packet.data, packet.linkType);
      if (decoded.protocol !== IPPROTO.UDP || decoded.payload.length === 0) return;
      const kind = payloadKind(decoded.payload);
      if (!kind) return;
      const receivedAtMs = Number(packet.timestampUnixNano / 1_000_000n);
      emit(file, number, decoded.sourceAddress, sessions[kind](decoded.sourceAddress, receivedAtMs, decoded.payload));
    });
    if (capture.truncated) error(file, capture.packets.length + 1, `the file ends inside a packet at offset ${capture.truncated.offset}`);
  }
  return summary;
}
