/**
 * IOAM node data as device state: every IOAM trace carries, per node, the queue depth and buffer
 * occupancy at the moment the packet passed. One point per packet would flood the series, so the
 * sampler keeps, per device and interval, the largest values seen (the congestion that matters),
 * and adds one point per device and interval to the store.
 */
import type { IoamNode } from '../capture/ioam/decode.js';
import type { IoamObservation } from '../model/observation.js';
import type { IoamNodeState } from './model.js';
import type { DeviceStateStore } from './store.js';

/** One point per device per this many nanoseconds at most. */
export const DEFAULT_IOAM_SAMPLE_INTERVAL_NS = 1_000_000_000n;
/** Devices held open at most (a bound against node-id churn); the oldest are flushed first. */
const MAX_OPEN = 4096;

interface Open {
  device: string;
  startUnixNano: bigint;
  state: IoamNodeState;
}

function nodeId(n: IoamNode): number | undefined {
  if (typeof n.node_id === 'number') return n.node_id;
  const wide = n.node_id_wide;
  return typeof wide === 'bigint' && wide <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(wide) : undefined;
}

const max = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

export class IoamStateSampler {
  private readonly open = new Map<string, Open>();

  constructor(
    private readonly store: DeviceStateStore,
    private readonly intervalNs = DEFAULT_IOAM_SAMPLE_INTERVAL_NS,
  ) {}

  add(observations: readonly IoamObservation[]): void {
    for (const o of observations)
      for (const node of o.nodes) {
        const id = nodeId(node);
        const queueDepth = typeof node.queue_depth === 'number' ? node.queue_depth : undefined;
        const bufferOccupancy = typeof node.buffer_occupancy === 'number' ? node.buffer_occupancy : undefined;
        if (id === undefined || (queueDepth === undefined && bufferOccupancy === undefined)) continue;
        const device = this.store.inventory.deviceForIoamNode(id);
        const time = o.timeUnixNano;
        let cur = this.open.get(device);
        if (cur && time - cur.startUnixNano >= this.intervalNs) {
          this.flush(cur);
          cur = undefined;
        }
        if (!cur) {
          if (this.open.size >= MAX_OPEN) this.flush(this.open.values().next().value!);
          cur = { device, startUnixNano: time, state: {} };
          this.open.set(device, cur);
        }
        const s = cur.state;
        s.queueDepth = max(s.queueDepth, queueDepth);
        s.bufferOccupancy = max(s.bufferOccupancy, bufferOccupancy);
        if (typeof node.ingress_if_id === 'number') s.ingressIf = node.ingress_if_id;
        if (typeof node.egress_if_id === 'number') s.egressIf = node.egress_if_id;
      }
  }

  private flush(o: Open): void {
    this.open.delete(o.device);
    const state: IoamNodeState = {};
    for (const [k, v] of Object.entries(o.state)) if (v !== undefined) (state as Record<string, number>)[k] = v;
    this.store.addIoamNodeState(o.device, o.startUnixNano, state);
  }

  /** Adds every open interval (at shutdown, or for a query that must see the latest). */
  flushAll(): void {
    for (const o of [...this.open.values()]) this.flush(o);
  }
}
