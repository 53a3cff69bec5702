/**
 * Flow evidence as decoders produce it: one FlowRecord per flow (per direction for RFC 5103
 * biflows), whatever the export format. Field names follow the OpenTelemetry contrib
 * `netflowreceiver` attributes they map to (see FLOW_ATTRIBUTE below).
 */

/** The export format a record came from; the values of the `flow.type` attribute. */
export type FlowType = 'netflow_v5' | 'netflow_v9' | 'ipfix' | 'sflow_5';

/** A decoded information element value: numbers, text (addresses, strings), or raw bytes. */
export type FieldValue = number | bigint | string | boolean | Uint8Array;

export interface FlowRecord {
  type: FlowType;
  /** The exporting device as the receiver saw it (UDP/TCP source address), or the sFlow agent address. */
  samplerAddress: string;
  /** NetFlow v9 source id, IPFIX observation domain, sFlow sub-agent id; v5: engine_type << 8 | engine_id. */
  observationDomainId: number;
  /** The export packet's sequence number (v5/v9/IPFIX) or the sFlow datagram's. */
  sequenceNumber: number;
  /** The export packet's header time. */
  exportTimeUnixNano: bigint;

  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6); 0 when not exported. */
  protocol: number;
  /** 4, 6, or 0 when the record has no addresses. */
  ipVersion: 0 | 4 | 6;

  /** Octets and packets as exported (not multiplied by the sampling rate). */
  bytes: number;
  packets: number;
  /** Flow start and end (first and last packet), Unix nanoseconds. */
  startUnixNano: bigint;
  endUnixNano: bigint;
  /**
   * Resolution of start/end as exported, in nanoseconds (1e6 for milliseconds, 1e9 for seconds):
   * the correlation never treats flow times as more precise than this.
   */
  timeResolutionNano: number;

  /** SNMP ifIndex of the input and output interface; 0 when not exported. */
  inputInterface: number;
  outputInterface: number;
  /** IP next hop ("" when not exported). */
  nextHop: string;
  /** 1-in-N packet sampling; 0 when unknown, 1 when unsampled. */
  samplingRate: number;
  /** Union of the TCP flags seen (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ...). */
  tcpFlags: number;
  /** IPFIX flowDirection / v9 DIRECTION: 0 ingress, 1 egress; undefined when not exported. */
  flowDirection?: number;
  /** Set on the record made from an RFC 5103 biflow's reverse elements. */
  biflowDirection?: 'forward' | 'reverse';

  /**
   * Every decoded element by name (IANA or vendor registry names, `<pen>.<id>` for unknown
   * ones, as raw bytes). Filled only when the decoder is asked to keep all fields.
   */
  fields?: Record<string, FieldValue>;
}

/** The OpenTelemetry contrib netflowreceiver attribute each FlowRecord field is exported as. */
export const FLOW_ATTRIBUTE = {
  sourceAddress: 'source.address',
  sourcePort: 'source.port',
  destinationAddress: 'destination.address',
  destinationPort: 'destination.port',
  protocol: 'network.transport',
  ipVersion: 'network.type',
  bytes: 'flow.io.bytes',
  packets: 'flow.io.packets',
  startUnixNano: 'flow.start',
  endUnixNano: 'flow.end',
  type: 'flow.type',
  samplerAddress: 'flow.sampler_address',
  sequenceNumber: 'flow.sequence_num',
  inputInterface: 'flow.in_if',
  outputInterface: 'flow.out_if',
  nextHop: 'flow.next_hop',
  samplingRate: 'flow.sampling_rate',
  tcpFlags: 'flow.tcp_flags',
  observationDomainId: 'flow.observation_domain_id',
  timeResolutionNano: 'flow.time_resolution_ns',
} as const satisfies Partial<Record<keyof FlowRecord, string>>;

const TRANSPORT_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 47: 'gre', 50: 'esp' };

/** `network.transport` text for an IANA protocol number ("tcp", "udp", ... or the number). */
export function transportName(protocol: number): string {
  return TRANSPORT_NAMES[protocol] ?? String(protocol);
}

/**
 * Interface counters from an sFlow counter sample (or, later, SNMP): device state for the
 * correlation of a later stage.
 */
export interface InterfaceCounters extends InterfaceCounterValues {
  samplerAddress: string;
  observationDomainId: number;
  timeUnixNano: bigint;
}

/** The counters of one interface (IF-MIB's, as sFlow's generic interface counters carry them). */
export interface InterfaceCounterValues {
  ifIndex: number;
  ifType: number;
  ifSpeed: number;
  /** ifDirection: 0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out. */
  ifDirection: number;
  /** ifAdminStatus bit 0, ifOperStatus bit 1 of sFlow's ifStatus. */
  ifStatus: number;
  inOctets: bigint;
  inUnicastPackets: number;
  inMulticastPackets: number;
  inBroadcastPackets: number;
  inDiscards: number;
  inErrors: number;
  inUnknownProtocols: number;
  outOctets: bigint;
  outUnicastPackets: number;
  outMulticastPackets: number;
  outBroadcastPackets: number;
  outDiscards: number;
  outErrors: number;
  promiscuousMode: number;
}
