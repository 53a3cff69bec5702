/**
 * From the connection endpoints of one trace to connections: a CLIENT span and the SERVER span
 * that served it describe ONE connection, which gets one network summary (not one per span).
 *
 * A server span is paired with
 *  1. the client span that is its parent, when their quartets agree (every part known on both
 *     sides is equal; parts known on one side only fill in the other's gaps, so a client span
 *     with just the destination and a server span with the whole quartet make a whole one);
 *  2. otherwise an unpaired client span of the trace with the same complete quartet and
 *     transport, the one overlapping it most in time.
 * A parent and child whose complete quartets differ (NAT, a proxy between them) stay two
 * connections. Spans that are not paired are client-only or server-only connections.
 */
import { hexId } from '../../model/otlp.js';
import type { Endpoint, PartState } from './quartet.js';

export interface Connection {
  /** The span that opened the connection (CLIENT, PRODUCER, CONSUMER, or INTERNAL with src/dst keys). */
  client: Endpoint | undefined;
  server: Endpoint | undefined;
  sourceAddress: string | undefined;
  sourcePort: number;
  destinationAddress: string | undefined;
  destinationPort: number;
  /** Stated by either span; undefined when neither states one. */
  protocol: number | undefined;
  notIp: boolean;
  /** Why each part is unknown, after merging (source address, source port, destination address, destination port). */
  states: [PartState, PartState, PartState, PartState];
}

function partsAgree(a: Endpoint, b: Endpoint): boolean {
  if (a.sourceAddress !== undefined && b.sourceAddress !== undefined && a.sourceAddress !== b.sourceAddress) return false;
  if (a.destinationAddress !== undefined && b.destinationAddress !== undefined && a.destinationAddress !== b.destinationAddress)
    return false;
  if (a.sourcePort > 0 && b.sourcePort > 0 && a.sourcePort !== b.sourcePort) return false;
  if (a.destinationPort > 0 && b.destinationPort > 0 && a.destinationPort !== b.destinationPort) return false;
  if (a.protocol !== undefined && b.protocol !== undefined && a.protocol !== b.protocol) return false;
  return true;
}

export function isComplete(e: Endpoint | Connection): boolean {
  return e.sourceAddress !== undefined && e.destinationAddress !== undefined && e.sourcePort > 0 && e.destinationPort > 0;
}

/** Nanoseconds two spans overlap (negative: the gap between them). */
function overlap(a: Endpoint, b: Endpoint): bigint {
  const start = a.span.startTimeUnixNano > b.span.startTimeUnixNano ? a.span.startTimeUnixNano : b.span.startTimeUnixNano;
  const end = a.span.endTimeUnixNano < b.span.endTimeUnixNano ? a.span.endTimeUnixNano : b.span.endTimeUnixNano;
  return end - start;
}

function worse(a: PartState, b: PartState): PartState {
  const order: PartState[] = ['ok', 'missing', 'unresolved', 'malformed'];
  return order.indexOf(a) >= order.indexOf(b) ? a : b;
}

function merge(client: Endpoint | undefined, server: Endpoint | undefined): Connection {
  const c = client;
  const s = server;
  const pick = <T>(a: T | undefined, b: T | undefined) => (a !== undefined ? a : b);
  const states: Connection['states'] = ['ok', 'ok', 'ok', 'ok'];
  const conn: Connection = {
    client,
    server,
    sourceAddress: pick(c?.sourceAddress, s?.sourceAddress),
    sourcePort: (c?.sourcePort ?? 0) || (s?.sourcePort ?? 0),
    destinationAddress: pick(c?.destinationAddress, s?.destinationAddress),
    destinationPort: (c?.destinationPort ?? 0) || (s?.destinationPort ?? 0),
    protocol: pick(c?.protocol, s?.protocol),
    notIp: (c?.notIp ?? false) || (s?.notIp ?? false),
    states,
  };
  const known = [conn.sourceAddress !== undefined, conn.sourcePort > 0, conn.destinationAddress !== undefined, conn.destinationPort > 0];
  for (let i = 0; i < 4; i++) {
    if (known[i]) continue;
    // Unknown on both sides: the worse reason of the two.
    states[i] = worse(c?.states[i] ?? 'missing', s?.states[i] ?? 'missing');
  }
  return conn;
}

/**
 * The connections of one trace, in the order of their first span among `endpoints`: pairs and
 * client-only connections in client order, then server-only ones.
 */
export function pairConnections(endpoints: readonly Endpoint[]): Connection[] {
  const clients: Endpoint[] = [];
  const servers: Endpoint[] = [];
  for (const e of endpoints) (e.role === 'server' ? servers : clients).push(e);
  if (servers.length === 0) return clients.map((c) => merge(c, undefined));
  if (clients.length === 0) return servers.map((s) => merge(undefined, s));

  const byId = new Map<string, number>();
  clients.forEach((c, i) => byId.set(hexId(c.span.spanId), i));
  const partner: (Endpoint | undefined)[] = new Array<Endpoint | undefined>(clients.length).fill(undefined);
  const lone: Endpoint[] = [];
  const unpaired: Endpoint[] = [];

  // Parent links first: they are the strongest sign that two spans are two ends of one exchange.
  for (const s of servers) {
    const i = s.span.parentSpanId.length === 8 ? byId.get(hexId(s.span.parentSpanId)) : undefined;
    if (i !== undefined && partner[i] === undefined && partsAgree(clients[i]!, s)) partner[i] = s;
    else unpaired.push(s);
  }
  // Then equal complete quartets, the client overlapping the server most.
  for (const s of unpaired) {
    let best = -1;
    let bestOverlap = 0n;
    if (isComplete(s)) {
      for (let i = 0; i < clients.length; i++) {
        const c = clients[i]!;
        if (partner[i] !== undefined || !isComplete(c) || !partsAgree(c, s)) continue;
        const o = overlap(c, s);
        if (best < 0 || o > bestOverlap) {
          best = i;
          bestOverlap = o;
        }
      }
    }
    if (best >= 0) partner[best] = s;
    else lone.push(s);
  }
  const out = clients.map((c, i) => merge(c, partner[i]));
  for (const s of lone) out.push(merge(undefined, s));
  return out;
}
