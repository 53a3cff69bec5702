/**
 * The agent's packet → observation step: the capture's PacketObserver (IOAM traces with the
 * packet's quartet and the ids it carried, HTTP request and response heads, the traceparent of
 * the request in flight tagged on the connection's IOAM traces), with its decode issues handed
 * to the agent's counters.
 */
import { readFileSync } from 'node:fs';
import { PacketObserver } from '../capture/observe/index.js';

/** The MAC address of a local interface (Linux sysfs), to tell its sent frames from its received ones; undefined when unknown. */
function interfaceMac(name: string): Uint8Array | undefined {
  if (!/^[\w.:-]{1,64}$/.test(name) || name === 'any') return undefined;
  try {
    const text = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
    const bytes = text.split(':').map((h) => parseInt(h, 16));
    return bytes.length === 6 && bytes.every((b) => b >= 0 && b <= 255) ? new Uint8Array(bytes) : undefined;
  } catch {
    return undefined;
  }
}
import type { Observation } from '../model/observation.js';

/** Something a decoder could not read in full: counted by the agent as a decode issue. */
export interface ObserveIssue {
  /** Which decoder: the packet headers, the IOAM options, or the HTTP heads. */
  decoder: 'packet' | 'ioam' | 'http';
  code: string;
  message: string;
}

export interface ObserverOptions {
  /** `observer.name` of every observation. */
  observer: string;
  /** IOAM traces carry Cross-Layer Telemetry trace and span ids (the original layout, after the trace header). */
  cltIds: boolean;
  /** Told about each decode issue (a cut packet, a malformed IOAM option, a bad HTTP head). */
  onIssue?: (issue: ObserveIssue) => void;
}

export interface Observer {
  observe(data: Uint8Array, linkType: number, timeUnixNano: bigint, interfaceName: string): Observation[];
}

/**
 * One PacketObserver per interface: a router's agent sees each packet on its way in and again
 * on its way out, and one connection table for both would take the second sighting for a
 * retransmission of the first.
 */
export function createObserver(options: ObserverOptions): Observer {
  const observers = new Map<string, PacketObserver>();
  const { onIssue } = options;
  return {
    observe(data, linkType, timeUnixNano, interfaceName) {
      let observer = observers.get(interfaceName);
      if (!observer) {
        const mac = interfaceMac(interfaceName);
        observer = new PacketObserver({ observer: options.observer, cltIds: options.cltIds, ...(mac ? { interfaceMac: mac } : {}) });
        observers.set(interfaceName, observer);
      }
      const out = observer.observe(data, linkType, timeUnixNano, interfaceName);
      if (onIssue) for (const i of observer.lastIssues) onIssue({ decoder: i.source, code: i.code, message: i.message });
      return out;
    },
  };
}
