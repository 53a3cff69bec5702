/**
 * sFlow v5 → FlowRecord / InterfaceCounters.
 *
 * One FlowRecord per flow sample (compact or expanded): one sampled packet, so `packets` is 1 and
 * `bytes` the sampled frame's length; `samplingRate` says how many packets it stands for. The
 * quartet, protocol and TCP flags come from the raw packet header (decoded by src/capture/decode),
 * else from a sampled IPv4/IPv6 record. sFlow has no flow times and its only clock is the agent's
 * uptime, so start = end = export time = `ctx.receivedAtUnixNano` (0 when not given) with a
 * resolution of one second: the correlation must not treat a sample's time as precise.
 *
 * Counter samples give one InterfaceCounters per generic interface counters record. Drop
 * notifications (drops extension) are parsed (see parseSflowDatagram) but produce no FlowRecord: a
 * dropped packet is not traffic that crossed the device. Unknown samples and records are skipped.
 *
 * Extra fields with ctx.keepAllFields (FlowRecord.fields):
 *  - `sflow.agent_uptime_ms`, `sflow.sample_sequence_number`, `sflow.expanded`, `sflow.source_id_type`,
 *    `sflow.source_id_index`, `sflow.sample_pool`, `sflow.drops`, `sflow.input_format`, `sflow.input_value`,
 *    `sflow.output_format`, `sflow.output_value`;
 *  - raw header: `sflow.header_protocol`, `sflow.frame_length`, `sflow.stripped`, `sflow.header_length`,
 *    `sflow.header` (bytes); decoded from it: `packet.ethernet_type`, `packet.vlan_id`,
 *    `packet.inner_vlan_id`, `packet.mpls_labels`, `packet.source_mac`, `packet.destination_mac`, `packet.ttl`,
 *    `packet.tos`, `packet.flow_label`, `packet.ip_total_length`, `packet.fragment_offset`,
 *    `packet.more_fragments`, `packet.tcp_sequence`, `packet.tcp_acknowledgement`, `packet.tcp_window`,
 *    `packet.tcp_header_length`, `packet.payload_length`, `packet.truncated`, `packet.issues`;
 *  - sampled ethernet / IPv4 / IPv6: `sflow.eth_length`, `sflow.src_mac`, `sflow.dst_mac`, `sflow.eth_type`,
 *    `sflow.ip_length`, `sflow.ip_protocol`, `sflow.ip_tos`;
 *  - extended switch: `sflow.src_vlan`, `sflow.src_priority`, `sflow.dst_vlan`, `sflow.dst_priority`;
 *  - extended router: `sflow.next_hop`, `sflow.src_mask_len`, `sflow.dst_mask_len`;
 *  - extended gateway: `sflow.bgp_next_hop`, `sflow.as`, `sflow.src_as`, `sflow.src_peer_as`, `sflow.dst_as`,
 *    `sflow.dst_peer_as`, `sflow.dst_as_path` (text, "{a b}" for AS sets), `sflow.communities` (text "hi:lo"),
 *    `sflow.local_pref`;
 *  - any other record: `sflow.flow_record.<enterprise>.<format>` (raw bytes).
 */
import { formatMac } from '../../../capture/decode/address.js';
import type { DecodedPacket } from '../../../capture/decode/types.js';
import type { FieldValue, FlowRecord, InterfaceCounters } from '../../../model/flow.js';
import type { DecodeContext, DecodeOutput } from '../decode/types.js';
import { parseSflowDatagram, type SflowDatagram, type SflowFlowSample, type SflowGatewayRecord } from './parse.js';

/** sFlow samples are not timed: their times are the receive time, trusted to a second. */
export const SFLOW_TIME_RESOLUTION_NANO = 1e9;

/** Compact-format interface value meaning "the device itself" (no input / no output interface). */
const INTERNAL_INTERFACE = 0x3fffffff;

/** Decodes one sFlow v5 datagram. Pure; never throws on malformed input. */
export function decodeSflow(bytes: Uint8Array, ctx: DecodeContext): DecodeOutput {
  const { datagram, issues } = parseSflowDatagram(bytes);
  const out: DecodeOutput = { records: [], counters: [], issues };
  if (datagram === undefined) return out;
  const time = ctx.receivedAtUnixNano ?? 0n;
  const sampler = datagram.agentAddress !== '' ? datagram.agentAddress : ctx.exporter;
  for (const sample of datagram.samples) {
    if (sample.kind === 'flow') {
      out.records.push(flowRecord(datagram, sample, sampler, time, ctx.keepAllFields));
    } else if (sample.kind === 'counters') {
      for (const c of sample.records) {
        if (c.kind !== 'generic_interface') continue;
        out.counters.push({
          samplerAddress: sampler,
          observationDomainId: datagram.subAgentId,
          timeUnixNano: time,
          ifIndex: c.ifIndex,
          ifType: c.ifType,
          ifSpeed: c.ifSpeed,
          ifDirection: c.ifDirection,
          ifStatus: c.ifStatus,
          inOctets: c.inOctets,
          inUnicastPackets: c.inUnicastPackets,
          inMulticastPackets: c.inMulticastPackets,
          inBroadcastPackets: c.inBroadcastPackets,
          inDiscards: c.inDiscards,
          inErrors: c.inErrors,
          inUnknownProtocols: c.inUnknownProtocols,
          outOctets: c.outOctets,
          outUnicastPackets: c.outUnicastPackets,
          outMulticastPackets: c.outMulticastPackets,
          outBroadcastPackets: c.outBroadcastPackets,
          outDiscards: c.outDiscards,
          outErrors: c.outErrors,
          promiscuousMode: c.promiscuousMode,
        } satisfies InterfaceCounters);
      }
    }
  }
  return out;
}

/** ifIndex of a flow sample interface: only format 0 names one interface. */
function ifIndexOf(format: number, value: number, expanded: boolean): number {
  if (format !== 0) return 0;
  if (!expanded && value === INTERNAL_INTERFACE) return 0;
  return value;
}

/**
 * Which record describes the sampled packet best: the raw header, then a sampled IPv4/IPv6 record,
 * then a sampled Ethernet record. Tracked separately for the length and for the addresses (a raw
 * header that is not IP still gives the frame length).
 */
const FROM_NONE = 0;
const FROM_ETHERNET = 1;
const FROM_IP = 2;
const FROM_HEADER = 3;

function flowRecord(d: SflowDatagram, s: SflowFlowSample, sampler: string, time: bigint, keepAll: boolean): FlowRecord {
  const rec: FlowRecord = {
    type: 'sflow_5',
    samplerAddress: sampler,
    observationDomainId: d.subAgentId,
    sequenceNumber: d.sequenceNumber,
    exportTimeUnixNano: time,
    sourceAddress: '',
    sourcePort: 0,
    destinationAddress: '',
    destinationPort: 0,
    protocol: 0,
    ipVersion: 0,
    bytes: 0,
    packets: 1,
    startUnixNano: time,
    endUnixNano: time,
    timeResolutionNano: SFLOW_TIME_RESOLUTION_NANO,
    inputInterface: ifIndexOf(s.inputFormat, s.input, s.expanded),
    outputInterface: ifIndexOf(s.outputFormat, s.output, s.expanded),
    nextHop: '',
    samplingRate: s.samplingRate,
    tcpFlags: 0,
  };
  const f: Record<string, FieldValue> | undefined = keepAll
    ? {
        'sflow.agent_uptime_ms': d.uptimeMs,
        'sflow.sample_sequence_number': s.sequenceNumber,
        'sflow.expanded': s.expanded,
        'sflow.source_id_type': s.sourceIdType,
        'sflow.source_id_index': s.sourceIdIndex,
        'sflow.sample_pool': s.samplePool,
        'sflow.drops': s.drops,
        'sflow.input_format': s.inputFormat,
        'sflow.input_value': s.input,
        'sflow.output_format': s.outputFormat,
        'sflow.output_value': s.output,
      }
    : undefined;
  let bytesFrom = FROM_NONE;
  let addressFrom = FROM_NONE;
  for (const r of s.records) {
    switch (r.kind) {
      case 'header': {
        if (bytesFrom < FROM_HEADER) {
          rec.bytes = r.frameLength;
          bytesFrom = FROM_HEADER;
          const p = r.packet;
          if (p !== undefined && p.ipVersion !== 0) {
            addressFrom = FROM_HEADER;
            rec.ipVersion = p.ipVersion;
            rec.sourceAddress = p.sourceAddress;
            rec.destinationAddress = p.destinationAddress;
            rec.protocol = p.protocol;
            rec.sourcePort = p.sourcePort;
            rec.destinationPort = p.destinationPort;
            rec.tcpFlags = p.tcpFlags;
          }
        }
        if (f) {
          f['sflow.header_protocol'] = r.headerProtocol;
          f['sflow.frame_length'] = r.frameLength;
          f['sflow.stripped'] = r.stripped;
          f['sflow.header_length'] = r.header.length;
          f['sflow.header'] = r.header;
          if (r.packet) packetFields(f, r.packet, r.header);
        }
        break;
      }
      case 'ipv4':
      case 'ipv6':
        if (bytesFrom < FROM_IP) {
          bytesFrom = FROM_IP;
          rec.bytes = r.length;
        }
        if (addressFrom < FROM_IP) {
          addressFrom = FROM_IP;
          rec.ipVersion = r.kind === 'ipv4' ? 4 : 6;
          rec.sourceAddress = r.sourceAddress;
          rec.destinationAddress = r.destinationAddress;
          rec.protocol = r.protocol;
          rec.sourcePort = r.sourcePort;
          rec.destinationPort = r.destinationPort;
          rec.tcpFlags = r.tcpFlags;
        }
        if (f) {
          f['sflow.ip_length'] = r.length;
          f['sflow.ip_protocol'] = r.protocol;
          f['sflow.ip_tos'] = r.tos;
        }
        break;
      case 'ethernet':
        if (bytesFrom < FROM_ETHERNET) {
          bytesFrom = FROM_ETHERNET;
          rec.bytes = r.length;
        }
        if (f) {
          f['sflow.eth_length'] = r.length;
          f['sflow.src_mac'] = formatMac(r.sourceMac, 0);
          f['sflow.dst_mac'] = formatMac(r.destinationMac, 0);
          f['sflow.eth_type'] = r.etherType;
        }
        break;
      case 'router':
        rec.nextHop = r.nextHop;
        if (f) {
          f['sflow.next_hop'] = r.nextHop;
          f['sflow.src_mask_len'] = r.srcMaskLen;
          f['sflow.dst_mask_len'] = r.dstMaskLen;
        }
        break;
      case 'switch':
        if (f) {
          f['sflow.src_vlan'] = r.srcVlan;
          f['sflow.src_priority'] = r.srcPriority;
          f['sflow.dst_vlan'] = r.dstVlan;
          f['sflow.dst_priority'] = r.dstPriority;
        }
        break;
      case 'gateway':
        if (f) gatewayFields(f, r);
        break;
      default:
        if (f) f[`sflow.flow_record.${r.enterprise}.${r.format}`] = r.kind === 'unknown' ? r.data : r.kind;
        break;
    }
  }
  if (f) rec.fields = f;
  return rec;
}

function packetFields(f: Record<string, FieldValue>, p: DecodedPacket, header: Uint8Array): void {
  if (p.etherType !== 0) f['packet.ethernet_type'] = p.etherType;
  if (p.vlanIds.length > 0) f['packet.vlan_id'] = p.vlanIds[0]!;
  if (p.vlanIds.length > 1) f['packet.inner_vlan_id'] = p.vlanIds[1]!;
  if (p.mplsLabels.length > 0) f['packet.mpls_labels'] = p.mplsLabels.join(' ');
  if (p.link === 'ethernet' && header.length >= 12) {
    f['packet.destination_mac'] = formatMac(header, 0);
    f['packet.source_mac'] = formatMac(header, 6);
  }
  if (p.ipVersion !== 0) {
    f['packet.ttl'] = p.ttl;
    f['packet.tos'] = p.tos;
    if (p.ipVersion === 6) f['packet.flow_label'] = p.flowLabel;
    f['packet.ip_total_length'] = p.ipTotalLength;
    if (p.isFragment) {
      f['packet.fragment_offset'] = p.fragmentOffset;
      f['packet.more_fragments'] = p.moreFragments;
    }
  }
  if (p.protocol === 6 && p.tcpHeaderLength !== 0) {
    f['packet.tcp_sequence'] = p.tcpSequence;
    f['packet.tcp_acknowledgement'] = p.tcpAcknowledgement;
    f['packet.tcp_window'] = p.tcpWindow;
    f['packet.tcp_header_length'] = p.tcpHeaderLength;
  }
  if (p.payloadOffset >= 0) f['packet.payload_length'] = p.payload.length;
  f['packet.truncated'] = p.truncated;
  if (p.issues.length > 0) f['packet.issues'] = p.issues.map((i) => `${i.code}@${i.offset}: ${i.message}`).join('; ');
}

function gatewayFields(f: Record<string, FieldValue>, r: SflowGatewayRecord): void {
  f['sflow.bgp_next_hop'] = r.nextHop;
  f['sflow.as'] = r.as;
  f['sflow.src_as'] = r.srcAs;
  f['sflow.src_peer_as'] = r.srcPeerAs;
  const path = r.dstAsPath.map((seg) => (seg.type === 1 ? `{${seg.asns.join(' ')}}` : seg.asns.join(' '))).join(' ');
  f['sflow.dst_as_path'] = path;
  const flat = r.dstAsPath.flatMap((seg) => seg.asns);
  if (flat.length > 0) {
    f['sflow.dst_peer_as'] = flat[0]!;
    f['sflow.dst_as'] = flat[flat.length - 1]!;
  }
  f['sflow.communities'] = r.communities.map((c) => `${c >>> 16}:${c & 0xffff}`).join(' ');
  f['sflow.local_pref'] = r.localPref;
}
