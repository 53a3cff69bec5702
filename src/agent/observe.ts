/**
 * The agent's packet → observation step, behind the signature of the full PacketObserver
 * (src/capture/observe/, which adds HTTP observations and traceparent tagging) so that it can
 * replace this module's body without touching the sources. For now: IOAM traces only, from
 * decodePacket + decodeIoamOptions.
 */
import { decodePacket } from '../capture/decode/index.js';
import { decodeIoamOptions } from '../capture/ioam/index.js';
import type { IoamObservation, Observation } from '../model/observation.js';

/** Something a decoder could not read in full: counted by the agent as a decode issue. */
export interface ObserveIssue {
  /** Which decoder: the packet headers or the IOAM options. */
  decoder: 'packet' | 'ioam';
  code: string;
  message: string;
}

export interface ObserverOptions {
  /** `observer.name` of every observation. */
  observer: string;
  /** IOAM traces carry Cross-Layer Telemetry trace and span ids. */
  cltIds: boolean;
  /** Told about each decode issue (a cut packet, a malformed IOAM option). */
  onIssue?: (issue: ObserveIssue) => void;
}

export interface Observer {
  observe(data: Uint8Array, linkType: number, timeUnixNano: bigint, interfaceName: string): Observation[];
}

const NONE: Observation[] = [];

export function createObserver(options: ObserverOptions): Observer {
  const { observer, cltIds, onIssue } = options;
  return {
    observe(data, linkType, timeUnixNano, interfaceName) {
      const p = decodePacket(data, linkType);
      // A snap length cut below the transport header is normal on a busy link: counted, not logged per packet.
      if (onIssue) for (const i of p.issues) onIssue({ decoder: 'packet', code: i.code, message: i.message });
      if (!p.hopByHopOptions) return NONE;
      const { traces, issues } = decodeIoamOptions(p.hopByHopOptions, { cltIds });
      if (onIssue) for (const i of issues) onIssue({ decoder: 'ioam', code: i.code, message: i.message });
      if (traces.length === 0) return NONE;
      return traces.map((t): IoamObservation => ({
        kind: 'ioam',
        source: 'capture',
        timeUnixNano,
        observer,
        interfaceName,
        sourceAddress: p.sourceAddress,
        sourcePort: p.sourcePort,
        destinationAddress: p.destinationAddress,
        destinationPort: p.destinationPort,
        protocol: p.protocol,
        optionType: t.ioamOptionType,
        namespaceId: t.namespaceId,
        traceType: t.traceType,
        overflow: t.overflow,
        nodes: t.nodes,
        ...(t.traceId !== undefined ? { traceId: t.traceId } : {}),
        ...(t.spanId !== undefined ? { spanId: t.spanId } : {}),
      }));
    },
  };
}
