/**
 * The kernel's IOAM events: every IOAM node (a Linux host with `ioam6_enabled` on the ingress
 * interface and the trace's IOAM namespace configured) that fills its data into a pre-allocated
 * trace sends one IOAM6_EVENT_TRACE on the generic netlink family IOAM6, multicast group
 * `ioam6_events` (Linux 6.9+), in its own network namespace. Joining the group needs
 * CAP_NET_ADMIN.
 *
 * An event carries the trace's namespace id, node length, trace type and the filled node data
 * from the reporting node on: that node first, then the nodes before it on the path (no header
 * flags, no addresses). The addon watches the netlink socket with a libuv poll handle on the
 * event loop (non-blocking reads, no thread), so events arrive as ordinary callbacks.
 */
import { EventEmitter } from 'node:events';
import { decodeIoamNodeData, type IoamNode } from '../capture/ioam/decode.js';
import { loadNative, nativeError, type NativeIoamEvent, type NativeIoamEventsHandle } from './index.js';

/** One IOAM6_EVENT_TRACE. */
export interface IoamEvent {
  namespaceId: number;
  /** Node length (fixed part of a node) in 4-octet units. */
  nodeLength: number;
  /** Trace type, 24 bits, bit 0 = most significant (as `IoamTrace.traceType`). */
  traceType: number;
  /** Node data: the reporting node first, then the earlier nodes of the path. */
  data: Uint8Array;
}

export interface IoamEventSourceEvents {
  event: [IoamEvent];
  /** The socket failed after start (the source is closed then). */
  error: [Error];
  /** The socket's receive buffer overflowed: the kernel dropped this many event messages. */
  lost: [number];
  close: [];
}

const BIT22 = 1 << 1;

/**
 * Kernel IOAM events of this process's network namespace. start() opens the socket (errors
 * thrown there), 'event' brings each event, 'error' a failure of the open socket (then
 * 'close'); as with any EventEmitter, an 'error' without a listener is thrown (uncaught).
 */
export class IoamEventSource extends EventEmitter<IoamEventSourceEvents> {
  private handle: NativeIoamEventsHandle | undefined;
  private referenced = true;

  get running(): boolean {
    return this.handle !== undefined;
  }

  /**
   * Opens the netlink socket and joins `ioam6_events` in the calling process's network
   * namespace. Throws NativeUnavailableError without the addon, NativeSystemError with `code`
   * ENOENT (no IOAM6 family: kernel without IPv6 IOAM), EOPNOTSUPP (no event group: kernel
   * before 6.9) or EPERM (no CAP_NET_ADMIN). Starting a running source does nothing.
   */
  start(): this {
    if (this.handle) return this;
    const native = loadNative();
    try {
      this.handle = native.ioamEventsOpen((err, events, lost) => this.onBatch(err, events, lost));
    } catch (err) {
      throw nativeError(err);
    }
    if (!this.referenced) native.ioamEventsRef(this.handle, false);
    return this;
  }

  /** Stops listening; emits 'close' if it was running. */
  close(): void {
    const h = this.handle;
    if (!h) return;
    this.handle = undefined;
    loadNative().ioamEventsClose(h);
    this.emit('close');
  }

  /** Whether a running source keeps the process alive (default: it does, like a server). */
  ref(): this {
    this.referenced = true;
    if (this.handle) loadNative().ioamEventsRef(this.handle, true);
    return this;
  }

  unref(): this {
    this.referenced = false;
    if (this.handle) loadNative().ioamEventsRef(this.handle, false);
    return this;
  }

  private onBatch(err: Error | null, events: NativeIoamEvent[], lost: number): void {
    if (lost > 0) this.emit('lost', lost);
    for (const e of events) {
      if (!this.handle) return;
      this.emit('event', { namespaceId: e.namespaceId, nodeLength: e.nodeLength, traceType: e.traceType >>> 8, data: e.data });
    }
    if (err) {
      // The addon has closed the socket already.
      this.handle = undefined;
      this.emit('error', nativeError(err));
      this.emit('close');
    }
  }
}

/** The reporting node of an event (the first node of its data). */
export function ioamEventNode(event: IoamEvent): IoamNode {
  return decodeIoamNodeData(event.data, event.traceType, event.nodeLength);
}

/**
 * Every node of an event's data in path order (first hop first, as `IoamTrace.nodes`): the
 * reporting node is the last one.
 */
export function ioamEventNodes(event: IoamEvent): IoamNode[] {
  const { data, traceType, nodeLength } = event;
  const fixed = nodeLength * 4;
  const snapshot = (traceType & BIT22) !== 0;
  const nodes: IoamNode[] = [];
  for (let off = 0; off + fixed + (snapshot ? 4 : 0) <= data.length;) {
    const size = fixed + (snapshot ? 4 + data[off + fixed]! * 4 : 0);
    if (size === 0 || off + size > data.length) break;
    nodes.push(decodeIoamNodeData(data.subarray(off, off + size), traceType, nodeLength));
    off += size;
  }
  return nodes.reverse();
}
