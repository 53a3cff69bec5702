/**
 * PacketObserver: captured packets in, packet observations out. Each packet is decoded
 * (decodePacket); every IOAM trace in its Hop-by-Hop options becomes an IoamObservation, and TCP
 * payloads go through the HTTP head reassembler, each complete request or response head becoming an
 * HttpObservation. IOAM traces on a connection carry the traceparent of the request in flight on it.
 *
 * Used by the agent's capture and by `netspan decode`. Synchronous and without I/O; bad packets
 * never throw: the decoders' issues are counted in `stats` (and listed for the last packet in
 * `lastIssues`). Memory is bounded by the reassembler's connection table (maxConnections).
 */
import { decodePacket } from '../decode/packet.js';
import { formatIPv6 } from '../decode/address.js';
import { IPPROTO } from '../decode/network.js';
import { decodeIoamOptions } from '../ioam/decode.js';
import { decodeTraceContextOption } from '../ioam/trace-context.js';
import {
  HttpReassembler,
  hostWithoutPort,
  targetPath,
  type HttpMessage,
  type HttpReassemblyStats,
  type TcpSegment,
} from '../http/index.js';
import type { HttpObservation, IoamObservation, Observation, ObservationDirection } from '../../model/observation.js';
import { isIP } from 'node:net';

export interface PacketObserverOptions {
  /** `observer.name` of the observations: the agent's host name or configured name; '' by default. */
  observer?: string;
  /** IOAM traces use the Cross-Layer Telemetry layout (trace and span id after the trace header). */
  cltIds?: boolean;
  /** This host's addresses: a packet from one is egress, to one ingress (when the link layer does not say). */
  localAddresses?: readonly string[];
  /** Connections the HTTP reassembler tracks at most (least recently used evicted first). */
  maxConnections?: number;
}

/** Where an issue came from: the packet decoder, the IOAM decoder, or the HTTP parser/reassembler. */
export type ObserverIssueSource = 'packet' | 'ioam' | 'http';

export interface ObserverIssue {
  source: ObserverIssueSource;
  code: string;
  /** Offset in the packet (packet), in the Hop-by-Hop options (ioam), in the head or payload (http). */
  offset: number;
  message: string;
}

export interface PacketObserverStats {
  /** Every packet given to observe(); the sum of the next three. */
  packets: number;
  /** Packets in which no IP header was found (other link protocols, unsupported link types, truncation). */
  packetsWithoutIp: number;
  /** IP packets that gave at least one observation. */
  packetsObserved: number;
  /** IP packets that gave none. */
  packetsUnobserved: number;
  ioamObservations: number;
  httpRequests: number;
  httpResponses: number;
  /** Issue counts by source and code. */
  issues: Record<ObserverIssueSource, Record<string, number>>;
  /** The HTTP reassembler's counters: connections, evictions, retransmissions, gaps, dropped heads. */
  http: Readonly<HttpReassemblyStats>;
}

// Linux cooked capture packet types (PACKET_HOST, _BROADCAST, _MULTICAST, _OTHERHOST, _OUTGOING).
const SLL_OUTGOING = 4;
const LINKTYPE_ETHERNET = 1;
const NO_PAYLOAD = new Uint8Array(0);

export class PacketObserver {
  readonly stats: PacketObserverStats;
  private readonly observer: string;
  private readonly cltIds: boolean;
  private readonly local: ReadonlySet<string>;
  private readonly reassembler: HttpReassembler;
  private readonly issues: ObserverIssue[] = [];
  /** The segment given to the reassembler, refilled per packet (the reassembler does not keep it). */
  private readonly segment: TcpSegment = {
    sourceAddress: '',
    sourcePort: 0,
    destinationAddress: '',
    destinationPort: 0,
    sequence: 0,
    flags: 0,
    payload: NO_PAYLOAD,
    wireLength: 0,
  };

  private readonly interfaceMac: Uint8Array | undefined;

  constructor(
    options: {
      observer?: string;
      cltIds?: boolean;
      localAddresses?: readonly string[];
      maxConnections?: number;
      /**
       * MAC address (6 bytes) of the capture interface: on an Ethernet capture, a frame it sent
       * is egress and any other ingress. This is what tells the two apart on a router, where
       * forwarded packets are neither from nor to a local address.
       */
      interfaceMac?: Uint8Array;
    } = {},
  ) {
    this.observer = options.observer ?? '';
    this.interfaceMac = options.interfaceMac?.length === 6 ? options.interfaceMac : undefined;
    this.cltIds = options.cltIds ?? false;
    this.local = new Set((options.localAddresses ?? []).map(canonicalAddress));
    this.reassembler = new HttpReassembler(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections });
    this.stats = {
      packets: 0,
      packetsWithoutIp: 0,
      packetsObserved: 0,
      packetsUnobserved: 0,
      ioamObservations: 0,
      httpRequests: 0,
      httpResponses: 0,
      issues: { packet: {}, ioam: {}, http: {} },
      http: this.reassembler.stats,
    };
  }

  /** The issues of the last packet given to observe() (replaced by the next call). */
  get lastIssues(): readonly ObserverIssue[] {
    return this.issues;
  }

  /**
   * Observes one captured packet of link type `linkType` (LINKTYPE_*), captured at `timeUnixNano`
   * on `interfaceName` ('' when not known). Returns its observations (often none). Never throws.
   */
  observe(data: Uint8Array, linkType: number, timeUnixNano: bigint, interfaceName: string): Observation[] {
    const stats = this.stats;
    stats.packets++;
    this.issues.length = 0;
    const p = decodePacket(data, linkType);
    for (const i of p.issues) this.issue('packet', i.code, i.offset, i.message);
    if (p.ipVersion === 0) {
      stats.packetsWithoutIp++;
      return [];
    }
    const out: Observation[] = [];

    // HTTP first: a request head completed by this packet covers the packet's own IOAM traces.
    let traceparent: string | undefined;
    let messages: HttpMessage[] | undefined;
    if (p.protocol === IPPROTO.TCP && p.payloadOffset >= 0) {
      const declared = p.ipTotalLength > 0 ? p.networkOffset + p.ipTotalLength - p.payloadOffset : 0;
      const seg = this.segment;
      seg.sourceAddress = p.sourceAddress;
      seg.sourcePort = p.sourcePort;
      seg.destinationAddress = p.destinationAddress;
      seg.destinationPort = p.destinationPort;
      seg.sequence = p.tcpSequence;
      seg.flags = p.tcpFlags;
      seg.payload = p.payload;
      // A capture cut by its snap length: the rest of the payload is a gap in the stream.
      seg.wireLength = p.truncated ? Math.max(p.payload.length, Math.min(declared, 0xffff)) : p.payload.length;
      const r = this.reassembler.push(seg, timeUnixNano);
      seg.payload = NO_PAYLOAD; // do not pin the capture between packets
      for (const i of r.issues) this.issue('http', i.code, i.offset, i.message);
      traceparent = r.inFlight?.traceparent;
      messages = r.messages;
    }

    if (p.hopByHopOptions) {
      const { traces, issues } = decodeIoamOptions(p.hopByHopOptions, { cltIds: this.cltIds });
      for (const i of issues) this.issue('ioam', i.code, i.offset, i.message);
      // netspan's CLT puts the span's ids in an option of their own beside the trace (src/clt).
      const context = traces.length > 0 ? decodeTraceContextOption(p.hopByHopOptions) : undefined;
      for (const t of traces) {
        for (const node of t.nodes) {
          const s = node.opaque_state_snapshot;
          // Buffer#slice (the decoder's slice when the capture is a Buffer) is a view: copy, so observations
          // do not pin the capture. (Not `.buffer ===`: reading .buffer of a small typed array allocates.)
          if (s && s.data instanceof Buffer) s.data = new Uint8Array(s.data);
        }
        // Whole literals, not `...base` spreads: a spread plus more properties is several times slower in V8.
        const o: IoamObservation = {
          timeUnixNano,
          observer: this.observer,
          interfaceName,
          sourceAddress: p.sourceAddress,
          sourcePort: p.sourcePort,
          destinationAddress: p.destinationAddress,
          destinationPort: p.destinationPort,
          protocol: p.protocol,
          kind: 'ioam',
          source: 'capture',
          optionType: t.ioamOptionType,
          namespaceId: t.namespaceId,
          traceType: t.traceType,
          overflow: t.overflow,
          nodes: t.nodes,
        };
        const traceId = t.traceId ?? context?.traceId;
        const spanId = t.spanId ?? context?.spanId;
        if (traceId !== undefined && spanId !== undefined) {
          o.traceId = traceId;
          o.spanId = spanId;
        }
        if (traceparent !== undefined) o.traceparent = traceparent;
        out.push(o);
        stats.ioamObservations++;
      }
    }

    if (messages && messages.length > 0) {
      const direction = this.direction(p.sllPacketType, p.sourceAddress, p.destinationAddress, linkType, data);
      for (const m of messages) {
        const h = m.head;
        const o: HttpObservation = {
          timeUnixNano,
          observer: this.observer,
          interfaceName,
          sourceAddress: p.sourceAddress,
          sourcePort: p.sourcePort,
          destinationAddress: p.destinationAddress,
          destinationPort: p.destinationPort,
          protocol: p.protocol,
          kind: 'http',
          direction,
          message: h.message,
        };
        if (h.message === 'request') {
          o.method = h.method;
          const path = targetPath(h.target);
          if (path !== undefined) o.target = path;
          if (h.host !== undefined) o.host = hostWithoutPort(h.host);
          stats.httpRequests++;
        } else {
          o.status = h.status;
          stats.httpResponses++;
        }
        // A response names the traceparent of the request it answers unless it carries its own.
        const tp = h.traceparent ?? m.request?.traceparent;
        if (tp !== undefined) o.traceparent = tp;
        if (h.tracestate !== undefined) o.tracestate = h.tracestate;
        out.push(o);
      }
    }
    if (out.length > 0) stats.packetsObserved++;
    else stats.packetsUnobserved++;
    return out;
  }

  private direction(sllPacketType: number, source: string, destination: string, linkType: number, data: Uint8Array): ObservationDirection {
    if (sllPacketType === SLL_OUTGOING) return 'egress';
    if (sllPacketType >= 0 && sllPacketType <= 3) return 'ingress';
    const mac = this.interfaceMac;
    if (mac && linkType === LINKTYPE_ETHERNET && data.length >= 12) {
      for (let i = 0; i < 6; i++) if (data[6 + i] !== mac[i]) return 'ingress';
      return 'egress';
    }
    if (this.local.has(source)) return 'egress';
    if (this.local.has(destination)) return 'ingress';
    return 'unknown';
  }

  private issue(source: ObserverIssueSource, code: string, offset: number, message: string): void {
    const counts = this.stats.issues[source];
    counts[code] = (counts[code] ?? 0) + 1;
    this.issues.push({ source, code, offset, message });
  }
}

/** An address as the packet decoder writes it (RFC 5952 for IPv6), so configured text compares equal. */
export function canonicalAddress(text: string): string {
  const a = text
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '');
  if (isIP(a) !== 6) return a;
  const bytes = new Uint8Array(16);
  let head = a;
  let v4: number[] | undefined;
  const dot = a.lastIndexOf(':');
  if (a.includes('.')) {
    v4 = a
      .slice(dot + 1)
      .split('.')
      .map(Number);
    head = `${a.slice(0, dot + 1)}0:0`;
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const groups = [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[2 * i] = v >> 8;
    bytes[2 * i + 1] = v & 0xff;
  });
  if (v4) bytes.set(v4, 12);
  return formatIPv6(bytes, 0);
}
