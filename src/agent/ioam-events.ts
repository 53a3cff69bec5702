/**
 * The kernel's IOAM events as a second IOAM source (generic netlink family IOAM6, group
 * ioam6_events): one event per IOAM node of this host and packet, with the node data the
 * packet carries so far (this node's and the earlier ones), but no addresses, no ports and no
 * CLT ids.
 *
 * A capture on the same host sees the packet before the kernel's IPv6 input fills this node (an
 * AF_PACKET tap on the ingress interface), so it has the quartet and the ids but not this node.
 * The joiner puts the two together: the event's earlier nodes are byte for byte the nodes the
 * captured packet carried (the same timestamps to the microsecond, node ids, interfaces), so
 * they key the match. A captured trace waits up to `window` for its event and an event for
 * its capture; what finds no partner is passed on alone when the window ends (an event then
 * as an observation without quartet, which the collector cannot attach by connection).
 */
import type { IoamNode } from '../capture/ioam/decode.js';
import type { Logger } from '../core/telemetry/logger.js';
import { NO_PACKET, ioamNodeJson, ioamNodeTime, type IoamObservation, type Observation } from '../model/observation.js';
import { IoamEventSource, ioamEventNodes, type IoamEvent } from '../native/ioam-events.js';
import type { Emit, ObservationSource } from './source.js';

/** Pending observations held at most on each side; beyond it the oldest go on unjoined. */
const MAX_PENDING = 10_000;

const nodesKey = (nodes: readonly IoamNode[]): string => JSON.stringify(nodes.map(ioamNodeJson));

interface Pending {
  key: string;
  obs: IoamObservation;
  deadline: number;
}

/** Joins captured IOAM traces with the kernel's events for the same packets (see above). */
export class IoamJoiner {
  private readonly captures = new Map<string, Pending[]>();
  private readonly events = new Map<string, Pending[]>();
  private readonly order: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Joined, passed on alone after the window, passed on at once (no usable key). */
  readonly stats = { joined: 0, capturesAlone: 0, eventsAlone: 0, unkeyed: 0 };

  constructor(
    private readonly emit: Emit,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A captured IOAM trace. */
  capture(obs: IoamObservation): void {
    // A trace no node has written yet cannot be told apart from any other.
    if (obs.nodes.length === 0) {
      this.stats.unkeyed++;
      this.emit([obs]);
      return;
    }
    const key = nodesKey(obs.nodes);
    const event = this.take(this.events, key);
    if (event) this.emitJoined(obs, event.obs);
    else this.hold(this.captures, key, obs);
  }

  /** A kernel event, as an observation with the full node list and no quartet. */
  event(obs: IoamObservation): void {
    if (obs.nodes.length < 2) {
      this.stats.unkeyed++;
      this.emit([obs]);
      return;
    }
    const key = nodesKey(obs.nodes.slice(0, -1));
    const capture = this.take(this.captures, key);
    if (capture) this.emitJoined(capture.obs, obs);
    else this.hold(this.events, key, obs);
  }

  /** Passes on everything still waiting. */
  flush(): void {
    this.expire(Number.POSITIVE_INFINITY);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private emitJoined(capture: IoamObservation, event: IoamObservation): void {
    this.stats.joined++;
    this.emit([{ ...capture, nodes: event.nodes }]);
  }

  private hold(map: Map<string, Pending[]>, key: string, obs: IoamObservation): void {
    const p: Pending = { key, obs, deadline: this.now() + this.windowMs };
    const list = map.get(key);
    if (list) list.push(p);
    else map.set(key, [p]);
    this.order.push(p);
    if (this.order.length > 2 * MAX_PENDING) this.expire(this.order[this.order.length - 2 * MAX_PENDING]!.deadline);
    this.timer ??= setInterval(() => this.expire(this.now()), Math.max(10, Math.min(100, this.windowMs / 2))).unref();
  }

  private take(map: Map<string, Pending[]>, key: string): Pending | undefined {
    const list = map.get(key);
    const p = list?.shift();
    if (list && list.length === 0) map.delete(key);
    if (p) (p as { taken?: boolean }).taken = true;
    return p;
  }

  /** Passes on, alone, what waited until `until`. */
  private expire(until: number): void {
    const out: Observation[] = [];
    while (this.order.length > 0 && this.order[0]!.deadline <= until) {
      const p = this.order.shift()!;
      if ((p as { taken?: boolean }).taken) continue;
      const fromCapture = p.obs.source === 'capture';
      const map = fromCapture ? this.captures : this.events;
      const list = map.get(p.key);
      if (list) {
        const i = list.indexOf(p);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) map.delete(p.key);
      }
      if (fromCapture) this.stats.capturesAlone++;
      else this.stats.eventsAlone++;
      out.push(p.obs);
    }
    if (out.length > 0) this.emit(out);
    if (this.order.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** An event as an observation: node data only; time = this node's timestamp when it has one, else now. */
export function eventObservation(event: IoamEvent, observer: string, nowUnixNano: bigint): IoamObservation {
  const nodes = ioamEventNodes(event);
  const last = nodes[nodes.length - 1];
  return {
    kind: 'ioam',
    source: 'netlink',
    timeUnixNano: (last && ioamNodeTime(last)) ?? nowUnixNano,
    observer,
    ...NO_PACKET,
    optionType: 0,
    namespaceId: event.namespaceId,
    traceType: event.traceType,
    overflow: false,
    nodes,
  };
}

/** The kernel's IOAM events of this network namespace (needs CAP_NET_ADMIN and the native addon). */
export class IoamEventsObservationSource implements ObservationSource {
  readonly name = 'ioam_events';
  private source: IoamEventSource | undefined;
  private lost = 0;

  constructor(
    private readonly observer: string,
    private readonly logger: Logger,
    private readonly onLost: (n: number) => void,
  ) {}

  /** Opens the netlink socket (once: the agent starts it early to learn whether the kernel has IOAM). */
  async start(emit: Emit): Promise<void> {
    if (this.source) return;
    const source = new IoamEventSource();
    source.on('event', (e) => emit([eventObservation(e, this.observer, BigInt(Date.now()) * 1_000_000n)]));
    source.on('lost', (n) => {
      this.lost += n;
      this.onLost(n);
      this.logger.warn({ lost: n, total: this.lost }, 'the kernel dropped IOAM events (receive buffer full)');
    });
    source.on('error', (err) => this.logger.error({ err: err.message }, 'IOAM event source failed; it is closed'));
    source.start(); // throws when the kernel or the addon cannot: the caller decides
    this.source = source;
  }

  async close(): Promise<void> {
    this.source?.close();
    this.source = undefined;
  }
}
