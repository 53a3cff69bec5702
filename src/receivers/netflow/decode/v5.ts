/**
 * NetFlow v5: a 24-byte header and `count` fixed 48-byte records. Only the first PDU of a buffer is
 * decoded (as logstash does); bytes after it (netcat captures concatenate datagrams) are reported.
 */
import type { FieldValue, FlowRecord } from '../../../model/flow.js';
import { RESOLUTION } from './plan.js';
import { netflowV9Field } from './registry.js';
import { issue } from './sets.js';
import type { TemplateState } from './templates.js';
import type { DecodeContext, DecodeOutput } from './types.js';
import { ipv4ToString } from './values.js';
import {
  F64_BYTES,
  F64_END_US,
  F64_EXPORT_US,
  F64_PACKETS,
  F64_RESOLUTION_NS,
  F64_START_US,
  F64_STRIDE,
  IP_VERSIONS,
  META_IPVERSION_SHIFT,
  NO_FLOW_DIRECTION,
  ROW_BYTES,
  U16_DESTINATION_PORT,
  U16_META,
  U16_SOURCE_PORT,
  U16_SPARE,
  U16_STRIDE,
  U16_TCP_FLAGS,
  U32_ADDR,
  U32_INPUT_INTERFACE,
  U32_OBSERVATION_DOMAIN,
  U32_OUTPUT_INTERFACE,
  U32_SAMPLING_RATE,
  U32_SEQUENCE_NUMBER,
  U32_STRIDE,
  U8_FLOW_DIRECTION,
  U8_PROTOCOL,
  type RowWriter,
} from '../../../evidence/memory/rows.js';

const HEADER_LENGTH = 24;
const RECORD_LENGTH = 48;
/** The most records a v5 datagram may carry. */
const MAX_COUNT = 30;

/** `fields` names of the v5 record, by the v9 field type each corresponds to (so v5 and v9 name them alike). */
const name = (type: number): string => netflowV9Field(type).name;
const F = {
  src: name(8),
  dst: name(12),
  nextHop: name(15),
  input: name(10),
  output: name(14),
  packets: name(2),
  octets: name(1),
  first: name(22),
  last: name(21),
  srcPort: name(7),
  dstPort: name(11),
  tcpFlags: name(6),
  protocol: name(4),
  tos: name(5),
  srcAs: name(16),
  dstAs: name(17),
  srcMask: name(9),
  dstMask: name(13),
  engineType: name(38),
  engineId: name(39),
  samplingInterval: name(34),
  samplingAlgorithm: name(35),
};

export function decodeV5(bytes: Uint8Array, ctx: DecodeContext, state: TemplateState, out: DecodeOutput): void {
  if (bytes.length < HEADER_LENGTH) {
    issue(out, 'TRUNCATED', `NetFlow v5 header needs ${HEADER_LENGTH} bytes, datagram has ${bytes.length}`, 0);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint16(2);
  const sysUptimeMs = view.getUint32(4);
  const unixSeconds = view.getUint32(8);
  const unixNanos = view.getUint32(12);
  const sequence = view.getUint32(16);
  const engineType = view.getUint8(20);
  const engineId = view.getUint8(21);
  const sampling = view.getUint16(22);
  // top 2 bits: sampling mode; 14 bits: interval. 0 means the exporter did not say (old v5 had no such field)
  const samplingInterval = sampling & 0x3fff;
  const domainId = (engineType << 8) | engineId;
  const exportTimeUnixNano = BigInt(unixSeconds) * 1_000_000_000n + BigInt(unixNanos);

  const fit = Math.floor((bytes.length - HEADER_LENGTH) / RECORD_LENGTH);
  const n = Math.min(count, fit);
  if (count > fit || count > MAX_COUNT) {
    issue(
      out,
      'BAD_LENGTH',
      `header count ${count}${count > MAX_COUNT ? ` (v5 allows ${MAX_COUNT})` : ''}, ${fit} records in the datagram`,
      2,
      { count },
    );
  } else if (bytes.length > HEADER_LENGTH + count * RECORD_LENGTH) {
    issue(
      out,
      'BAD_LENGTH',
      `${bytes.length - HEADER_LENGTH - count * RECORD_LENGTH} bytes after the PDU (concatenated datagrams?) not decoded`,
      HEADER_LENGTH + count * RECORD_LENGTH,
      {
        count,
      },
    );
  }
  const exp = state.exporter(ctx.exporter);
  const domain = state.domain(exp, 5, domainId);

  if (ctx.rows && !ctx.keepAllFields) {
    // the evidence path: every v5 field fits its row slot, so the rows are written as they are read
    const exportUs = unixSeconds * 1e6 + Math.floor(unixNanos / 1000);
    writeV5Rows(view, n, sysUptimeMs, exportUs, domainId, sequence, samplingInterval, ctx.exporter, ctx.rows);
    state.trackSequence(domain, sequence, count);
    return;
  }

  for (let i = 0; i < n; i++) {
    const o = HEADER_LENGTH + i * RECORD_LENGTH;
    const first = view.getUint32(o + 24);
    const last = view.getUint32(o + 28);
    // signed 32-bit difference: correct across an uptime wrap (every 49.7 days) and for a first/last slightly ahead of the header
    const startAgoMs = (sysUptimeMs - first) | 0;
    const endAgoMs = (sysUptimeMs - last) | 0;
    const record: FlowRecord = {
      type: 'netflow_v5',
      samplerAddress: ctx.exporter,
      observationDomainId: domainId,
      sequenceNumber: sequence,
      exportTimeUnixNano,
      sourceAddress: ipv4ToString(view.getUint32(o)),
      sourcePort: view.getUint16(o + 32),
      destinationAddress: ipv4ToString(view.getUint32(o + 4)),
      destinationPort: view.getUint16(o + 34),
      protocol: view.getUint8(o + 38),
      ipVersion: 4,
      bytes: view.getUint32(o + 20),
      packets: view.getUint32(o + 16),
      startUnixNano: exportTimeUnixNano - BigInt(startAgoMs) * 1_000_000n,
      endUnixNano: exportTimeUnixNano - BigInt(endAgoMs) * 1_000_000n,
      timeResolutionNano: RESOLUTION.milliseconds,
      inputInterface: view.getUint16(o + 12),
      outputInterface: view.getUint16(o + 14),
      nextHop: ipv4ToString(view.getUint32(o + 8)),
      samplingRate: samplingInterval,
      tcpFlags: view.getUint8(o + 37),
    };
    if (ctx.keepAllFields) {
      const fields: Record<string, FieldValue> = {
        [F.src]: record.sourceAddress,
        [F.dst]: record.destinationAddress,
        [F.nextHop]: record.nextHop,
        [F.input]: record.inputInterface,
        [F.output]: record.outputInterface,
        [F.packets]: record.packets,
        [F.octets]: record.bytes,
        [F.first]: first,
        [F.last]: last,
        [F.srcPort]: record.sourcePort,
        [F.dstPort]: record.destinationPort,
        [F.tcpFlags]: record.tcpFlags,
        [F.protocol]: record.protocol,
        [F.tos]: view.getUint8(o + 39),
        [F.srcAs]: view.getUint16(o + 40),
        [F.dstAs]: view.getUint16(o + 42),
        [F.srcMask]: view.getUint8(o + 44),
        [F.dstMask]: view.getUint8(o + 45),
        [F.engineType]: engineType,
        [F.engineId]: engineId,
        [F.samplingInterval]: samplingInterval,
        [F.samplingAlgorithm]: sampling >>> 14,
      };
      record.fields = fields;
    }
    out.records.push(record);
  }
  state.trackSequence(domain, sequence, count); // v5 sequence numbers count flows
}

/** Row meta of a v5 flow: type netflow_v5 (0), IPv4, no biflow, both addresses IPv4. */
const V5_META = 0 | (IP_VERSIONS.indexOf(4) << META_IPVERSION_SHIFT);

/**
 * The v5 records as evidence store rows: what packFlows makes of the FlowRecords decodeV5 builds
 * (every v5 value is in range, so no record is refused), without building them.
 */
function writeV5Rows(
  view: DataView,
  n: number,
  sysUptimeMs: number,
  exportUs: number,
  domainId: number,
  sequence: number,
  samplingInterval: number,
  exporter: string,
  w: RowWriter,
): void {
  w.byType[0]! += n;
  for (let i = 0; i < n; i++) {
    const r = HEADER_LENGTH + i * RECORD_LENGTH;
    const o = w.reserve();
    const { f64, u32, u16, u8 } = w;
    const a = o * U32_STRIDE + U32_ADDR;
    u32[a] = 0;
    u32[a + 1] = 0;
    u32[a + 2] = 0xffff;
    u32[a + 3] = view.getUint32(r);
    u32[a + 4] = 0;
    u32[a + 5] = 0;
    u32[a + 6] = 0xffff;
    u32[a + 7] = view.getUint32(r + 4);
    const q = o * U32_STRIDE;
    u32[q + U32_INPUT_INTERFACE] = view.getUint16(r + 12);
    u32[q + U32_OUTPUT_INTERFACE] = view.getUint16(r + 14);
    u32[q + U32_SAMPLING_RATE] = samplingInterval;
    u32[q + U32_OBSERVATION_DOMAIN] = domainId;
    u32[q + U32_SEQUENCE_NUMBER] = sequence;
    // signed 32-bit difference, as in decodeV5; whole milliseconds back from the export time
    const f = o * F64_STRIDE;
    f64[f + F64_START_US] = exportUs - ((sysUptimeMs - view.getUint32(r + 24)) | 0) * 1000;
    f64[f + F64_END_US] = exportUs - ((sysUptimeMs - view.getUint32(r + 28)) | 0) * 1000;
    f64[f + F64_RESOLUTION_NS] = RESOLUTION.milliseconds;
    f64[f + F64_EXPORT_US] = exportUs;
    f64[f + F64_BYTES] = view.getUint32(r + 20);
    f64[f + F64_PACKETS] = view.getUint32(r + 16);
    const h = o * U16_STRIDE;
    u16[h + U16_SOURCE_PORT] = view.getUint16(r + 32);
    u16[h + U16_DESTINATION_PORT] = view.getUint16(r + 34);
    u16[h + U16_TCP_FLAGS] = view.getUint8(r + 37);
    u16[h + U16_SPARE] = 0;
    u16[h + U16_META] = V5_META;
    const b = o * ROW_BYTES;
    u8[b + U8_PROTOCOL] = view.getUint8(r + 38);
    u8[b + U8_FLOW_DIRECTION] = NO_FLOW_DIRECTION;
    w.commit(exporter, view.getUint32(r + 8), '', ipv4ToString);
  }
}
