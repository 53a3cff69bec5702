/**
 * "Which device, and why": device state on the device spans of a connection, and a verdict on
 * its summary span.
 *
 * 1. Each device span (flow device span, IOAM hop span, observation-point span) is tied to a
 *    device of the device state store (by exporter address, IOAM node id, observer or device
 *    name) and, where the evidence says, to an interface (flow out index, IOAM egress id — taken
 *    as the ifIndex, see README —, the interface the request left by). It gets that state at the
 *    span's start (utilisation, errors, discards, oper status, CPU, memory, with their age) and
 *    one event per anomaly of the device's path interfaces that can bear on the request: seen
 *    from anomaly_window before the request's start and begun before its end (see
 *    mayHaveBegunBefore for the margin polling needs).
 * 2. The verdict: the first rule below that fires on the connection's evidence, with the facts
 *    that support it. No rule, no verdict: nothing is claimed without evidence. The rules on
 *    device state alone need the connection to have been slow on the network (see decide()).
 *      interface_flap         a path interface may have been down during the request
 *      ioam_queue             an IOAM hop ≥ min_hop_ms with a queue depth ≥ min_queue_bytes
 *      interface_utilisation  a path interface at ≥ utilisation (either direction)
 *      ioam_transit           an IOAM hop ≥ min_hop_ms without a queue
 *      device_time            an observer saw the request inside a device ≥ min_hop_ms
 *      interface_errors       an error burst on a path interface
 *      interface_discards     a discard burst on a path interface
 *      device_cpu             a device on the path at ≥ cpu_percent
 * README.md ("Device state and verdict") documents the attributes.
 */
import { create } from '@bufbuild/protobuf';
import type { DeviceStateStore } from '../../devices/store.js';
import { OPER_STATUS, type Anomaly, type DeviceStateAt, type InterfaceStateAt } from '../../devices/model.js';
import type { KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { Span_EventSchema, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { VerdictConfig } from './config.js';
import { ATTR, dbl, int, str } from './synthesize.js';
import { PACKET_ATTR } from './packets.js';
import type { NetworkMetrics } from '../../evidence/network-metrics.js';

export const VERDICT_ATTR = {
  verdict: 'netspan.verdict',
  rule: 'netspan.verdict.rule',
  device: 'netspan.verdict.device',
  iface: 'netspan.verdict.interface',
  cause: 'netspan.verdict.cause',
  addedMs: 'netspan.verdict.added_ms',
  stateAgeMs: 'netspan.device.state_age_ms',
  cpu: 'netspan.device.cpu_percent',
  memory: 'netspan.device.memory_percent',
  ifName: 'netspan.interface.name',
  operStatus: 'netspan.interface.oper_status',
  inUtil: 'netspan.interface.in.utilisation',
  outUtil: 'netspan.interface.out.utilisation',
  inErrors: 'netspan.interface.in.errors_per_s',
  outErrors: 'netspan.interface.out.errors_per_s',
  inDiscards: 'netspan.interface.in.discards_per_s',
  outDiscards: 'netspan.interface.out.discards_per_s',
  anomalyKind: 'netspan.anomaly.kind',
  anomalyDetail: 'netspan.anomaly.detail',
} as const;

export type VerdictRule =
  | 'interface_flap'
  | 'ioam_queue'
  | 'interface_utilisation'
  | 'ioam_transit'
  | 'device_time'
  | 'interface_errors'
  | 'interface_discards'
  | 'device_cpu';
export type VerdictCause = 'link_flap' | 'queue' | 'utilisation' | 'delay' | 'errors' | 'discards' | 'cpu';

export interface Verdict {
  rule: VerdictRule;
  cause: VerdictCause;
  device: string;
  interfaceName?: string;
  addedMs?: number;
  text: string;
}

/** A synthesised device span with what ties it to the device state. */
interface DeviceHop {
  span: Span;
  /** Device key in the state store (a name, an address, `ioam:<id>`). */
  device: string;
  /** The name shown: the store's device key when it is a name, else the span's device name. */
  label: string;
  /** Path interfaces by ifIndex or name: where the request left (first) and came in. */
  interfaces: (number | string)[];
  /** The inventory's names of the numbered path interfaces (known without any reading of the device). */
  inventoryNames: Map<number, string>;
  ioamTransitMs?: number;
  queueDepth?: number;
  timeInDeviceMs?: number;
  state?: DeviceStateAt;
  anomalies: Anomaly[];
}

function attrValue(span: Span, key: string): string | number | undefined {
  for (const kv of span.attributes) {
    if (kv.key !== key) continue;
    const v = kv.value?.value;
    if (v?.case === 'stringValue') return v.value;
    if (v?.case === 'intValue') return Number(v.value);
    if (v?.case === 'doubleValue') return v.value;
    return undefined;
  }
  return undefined;
}

const num = (v: string | number | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const text = (v: string | number | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Ties a synthesised span to a device of the store (without a store: to its shown name, so the
 * packet evidence still speaks); undefined for spans that are not device spans.
 */
function deviceHop(span: Span, store: DeviceStateStore | undefined): DeviceHop | undefined {
  const name = text(attrValue(span, ATTR.deviceName));
  const nodeId = num(attrValue(span, 'ioam.node_id'));
  const exporter = text(attrValue(span, ATTR.deviceAddress));
  const observer = text(attrValue(span, PACKET_ATTR.observer));
  let device: string | undefined;
  const interfaces: (number | string)[] = [];
  const take = (keys: readonly string[], read: (v: string | number | undefined) => number | string | undefined) => {
    for (const key of keys) {
      const v = read(attrValue(span, key));
      if (v !== undefined) interfaces.push(v);
    }
  };
  if (nodeId !== undefined) {
    device = store?.inventory.deviceForIoamNode(nodeId) ?? `ioam node ${nodeId}`;
    take(['ioam.egress_if_id', 'ioam.ingress_if_id'], num);
  } else if (exporter !== undefined) {
    device = store?.inventory.deviceForAddress(exporter) ?? exporter;
    take([ATTR.outIndex, ATTR.inIndex], num);
  } else if (observer !== undefined) {
    device = name ?? observer;
    take([PACKET_ATTR.egressInterface, PACKET_ATTR.ingressInterface], text);
  } else return undefined;
  // A device the store knows by name only (not by this node id or address) is still that device.
  if (name !== undefined && store?.inventory.get(name) && !store.inventory.get(device)) device = name;
  const known = store?.inventory.get(device) !== undefined;
  const inventoryNames = new Map<number, string>();
  for (const i of interfaces) {
    const configured = typeof i === 'number' ? store?.inventory.interfaceName(device, i) : undefined;
    if (configured !== undefined) inventoryNames.set(i as number, configured);
  }
  const hop: DeviceHop = { span, device, label: known ? device : (name ?? device), interfaces, inventoryNames, anomalies: [] };
  const transit = num(attrValue(span, PACKET_ATTR.hopTransitMaxMs)) ?? num(attrValue(span, PACKET_ATTR.hopTransitMs));
  if (transit !== undefined) hop.ioamTransitMs = transit;
  const queue = num(attrValue(span, PACKET_ATTR.queueDepthMax)) ?? num(attrValue(span, 'ioam.queue_depth'));
  if (queue !== undefined) hop.queueDepth = queue;
  const inside = num(attrValue(span, PACKET_ATTR.timeInDeviceMs));
  if (inside !== undefined) hop.timeInDeviceMs = inside;
  return hop;
}

const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** The state of a device at `t`: of its first path interface the store knows, else of the device alone. */
function stateOf(store: DeviceStateStore, hop: DeviceHop, t: bigint): DeviceStateAt | undefined {
  for (const iface of hop.interfaces) {
    const s = store.stateAt(hop.device, iface, t, 0n);
    if (s) return s;
  }
  const s = store.stateAt(hop.device, undefined, t, 0n);
  // Without a path interface only device-wide facts are the hop's: not another interface's.
  return s && { ...s, interfaces: [] };
}

/** The request a verdict is about: the summary's interval (the client span's, the server's when alone). */
export interface RequestInterval {
  startUnixNano: bigint;
  endUnixNano: bigint;
}

/**
 * An anomaly can only explain a request if it may have begun before the request ended. Device
 * state is stamped when it is read (a poll, a counter sample), after the fact: a flap during a
 * request is seen at the next poll, which may come after the request's end. So the margin is on
 * the end side and is exact rather than guessed: the anomaly began after the reading before the
 * one that saw it (`sinceUnixNano`), and it counts when that reading was before the request's
 * end. An anomaly whose previous reading was already after the end happened after the request.
 */
function mayHaveBegunBefore(a: Anomaly, endUnixNano: bigint): boolean {
  return a.sinceUnixNano !== undefined ? a.sinceUnixNano < endUnixNano : a.timeUnixNano <= endUnixNano;
}

/**
 * The anomalies of the hop's path interfaces (or, without one, of the device alone) that can
 * bear on the request: seen from anomaly_window before its start, begun before its end.
 */
function anomaliesFor(store: DeviceStateStore, hop: DeviceHop, request: RequestInterval, windowNs: bigint): Anomaly[] {
  const pathKnown = hop.state !== undefined && hop.state.interfaces.length > 0;
  return store
    .anomaliesIn(hop.device, pathKnown ? hop.interfaces : [], request.startUnixNano - windowNs, request.endUnixNano + windowNs)
    .filter((a) => mayHaveBegunBefore(a, request.endUnixNano));
}

function addStateAttributes(hop: DeviceHop, state: DeviceStateAt, config: VerdictConfig): void {
  const attrs: KeyValue[] = [];
  const ages: bigint[] = [];
  const maxAgeNs = BigInt(Math.round(config.state_max_age * 1e6));
  if (state.cpu && state.cpu.ageNano <= maxAgeNs) {
    attrs.push(dbl(VERDICT_ATTR.cpu, round(state.cpu.value.average, 1)));
    ages.push(state.cpu.ageNano);
  }
  if (state.memory?.value.utilisation !== undefined && state.memory.ageNano <= maxAgeNs) {
    attrs.push(dbl(VERDICT_ATTR.memory, round(state.memory.value.utilisation * 100, 1)));
    ages.push(state.memory.ageNano);
  }
  const iface: InterfaceStateAt | undefined = state.interfaces[0];
  if (iface && iface.latest.ageNano <= maxAgeNs) {
    if (iface.name !== undefined) attrs.push(str(VERDICT_ATTR.ifName, iface.name));
    const status = iface.latest.value.operStatus;
    if (status !== undefined)
      attrs.push(
        status === 1
          ? str(VERDICT_ATTR.operStatus, 'up')
          : status === 2
            ? str(VERDICT_ATTR.operStatus, 'down')
            : int(VERDICT_ATTR.operStatus, status),
      );
    ages.push(iface.latest.ageNano);
    const r = iface.latestRates;
    if (r && r.ageNano <= maxAgeNs) {
      const p = r.value;
      const put = (key: string, v: number | undefined, digits: number) => {
        if (v !== undefined) attrs.push(dbl(key, round(v, digits)));
      };
      put(VERDICT_ATTR.inUtil, p.inUtilisation, 4);
      put(VERDICT_ATTR.outUtil, p.outUtilisation, 4);
      put(VERDICT_ATTR.inErrors, p.inErrorsPerSecond, 3);
      put(VERDICT_ATTR.outErrors, p.outErrorsPerSecond, 3);
      put(VERDICT_ATTR.inDiscards, p.inDiscardsPerSecond, 3);
      put(VERDICT_ATTR.outDiscards, p.outDiscardsPerSecond, 3);
    }
  }
  if (ages.length > 0) attrs.push(dbl(VERDICT_ATTR.stateAgeMs, nsToMs(ages.reduce((a, b) => (a > b ? a : b)))));
  hop.span.attributes.push(...attrs);
}

function addAnomalyEvents(hop: DeviceHop): void {
  for (const a of hop.anomalies)
    hop.span.events.push(
      create(Span_EventSchema, {
        timeUnixNano: a.timeUnixNano,
        name: `anomaly: ${a.kind}`,
        attributes: [
          str(VERDICT_ATTR.anomalyKind, a.kind),
          str(VERDICT_ATTR.anomalyDetail, a.detail),
          ...(a.interfaceName !== undefined ? [str(VERDICT_ATTR.ifName, a.interfaceName)] : []),
        ],
      }),
    );
}

/**
 * The name of the interface a hop's queue / utilisation is about (its first path interface): the
 * device state's (SNMP ifName or inventory), else the inventory's alone, e.g. for a router that
 * only IOAM reports on.
 */
function interfaceLabel(hop: DeviceHop, iface?: number | string): string | undefined {
  const want = iface ?? hop.interfaces[0];
  if (want === undefined) return undefined;
  if (typeof want === 'string') return want;
  return hop.state?.interfaces.find((i) => i.ifIndex === want)?.name ?? hop.inventoryNames.get(want);
}

function utilisationOf(hop: DeviceHop): { value: number; iface: InterfaceStateAt } | undefined {
  const i = hop.state?.interfaces[0];
  const p = i?.latestRates?.value;
  if (!i || !p) return undefined;
  const value = Math.max(p.inUtilisation ?? 0, p.outUtilisation ?? 0);
  return { value, iface: i };
}

const pct = (v: number) => `${Math.round(v * 100)} %`;

/**
 * When an interface may have been down, from its flaps (in time order): from the reading before
 * the one that saw it go down (`from`; open when it went down before the anomalies looked at) to
 * the reading that saw it up again (`to`; open while it is still down). `flap` is the change
 * shown: the one to down, else the one back up.
 */
interface DownTime {
  from?: bigint;
  to?: bigint;
  flap: Anomaly;
}

function downTimes(anomalies: readonly Anomaly[]): DownTime[] {
  const open = new Map<number | string | undefined, DownTime>();
  const out: DownTime[] = [];
  for (const a of anomalies) {
    if (a.kind !== 'flap') continue;
    const key = a.ifIndex ?? a.interfaceName;
    const down = open.get(key);
    if (a.value !== OPER_STATUS.up) {
      if (down) continue; // down → another not-up status: the same down time
      const d: DownTime = { from: a.sinceUnixNano ?? a.timeUnixNano, flap: a };
      open.set(key, d);
      out.push(d);
    } else if (down) {
      down.to = a.timeUnixNano;
      open.delete(key);
    } else out.push({ to: a.timeUnixNano, flap: a });
  }
  return out;
}

/** How far an anomaly was seen from the request: 0 while it ran. */
function distance(a: Anomaly, request: RequestInterval): bigint {
  if (a.timeUnixNano < request.startUnixNano) return request.startUnixNano - a.timeUnixNano;
  if (a.timeUnixNano > request.endUnixNano) return a.timeUnixNano - request.endUnixNano;
  return 0n;
}

/**
 * For a request slow on the network, the down time of a path interface that overlaps it (the
 * link may have been down while it ran) whose flap was seen nearest to it, over every hop (path
 * order breaks ties). A fast request is never claimed: a link down while a request runs stalls it
 * (retransmissions), and readings lag the link — polls are seconds apart and agents cache (snmpd
 * reports an interface's status seconds late) — so "down while it ran" by the readings alone also
 * takes in requests that were never hurt. A flap whose down time ended before the request is not
 * its cause.
 */
function nearestFlap(
  hops: readonly DeviceHop[],
  request: RequestInterval,
  notable: boolean,
): { hop: DeviceHop; time: DownTime } | undefined {
  if (!notable) return undefined;
  let best: { hop: DeviceHop; time: DownTime; distance: bigint } | undefined;
  for (const hop of hops)
    for (const time of downTimes(hop.anomalies)) {
      // A down time that began after the request's end never gets here (see anomaliesFor).
      const during =
        (time.from === undefined || time.from < request.endUnixNano) && (time.to === undefined || time.to >= request.startUnixNano);
      const d = distance(time.flap, request);
      if (during && (!best || d < best.distance)) best = { hop, time, distance: d };
    }
  return best;
}

/**
 * The first rule that fires (see the module comment), or undefined. Device state alone does not
 * make a request slow: the state rules (flaps, utilisation, errors, discards, CPU) fire only when
 * the connection's network time was notable — a hop or a stay in a device of at least min_hop_ms,
 * or a network share (client − server) of at least that.
 */
export function decide(
  hops: readonly DeviceHop[],
  config: VerdictConfig,
  request: RequestInterval,
  networkShareMs?: number,
): Verdict | undefined {
  const notable =
    (networkShareMs ?? 0) >= config.min_hop_ms ||
    hops.some((h) => (h.ioamTransitMs ?? 0) >= config.min_hop_ms || (h.timeInDeviceMs ?? 0) >= config.min_hop_ms);
  const where = (hop: DeviceHop, iface?: number | string) => {
    const name = interfaceLabel(hop, iface);
    return name === undefined ? hop.label : `${hop.label} ${name}`;
  };
  const withIface = (v: Verdict, hop: DeviceHop, iface?: number | string): Verdict => {
    const name = interfaceLabel(hop, iface);
    return name === undefined ? v : { ...v, interfaceName: name };
  };
  const slowest = (pick: (h: DeviceHop) => number | undefined) =>
    hops.filter((h) => (pick(h) ?? -1) >= config.min_hop_ms).sort((a, b) => pick(b)! - pick(a)!)[0];

  const flap = nearestFlap(hops, request, notable);
  if (flap) {
    const { hop, time } = flap;
    const iface = time.flap.interfaceName ?? time.flap.ifIndex;
    const v: Verdict = {
      rule: 'interface_flap',
      cause: 'link_flap',
      device: hop.label,
      text: `${where(hop, iface)}: link flap during the request (${time.flap.detail})`,
    };
    // What the flap cost is the request's time on the network (the IOAM hop of a packet that got
    // through after it says nothing of the wait).
    const added = networkShareMs !== undefined && networkShareMs > 0 ? { addedMs: round(networkShareMs, 3) } : {};
    return withIface({ ...v, ...added }, hop, iface);
  }
  const queued = slowest((h) => ((h.queueDepth ?? 0) >= config.min_queue_bytes ? h.ioamTransitMs : undefined));
  if (queued) {
    const util = utilisationOf(queued);
    const extra = util && util.value >= config.utilisation ? `, ${pct(util.value)} utilised` : '';
    return withIface(
      {
        rule: 'ioam_queue',
        cause: 'queue',
        device: queued.label,
        addedMs: queued.ioamTransitMs!,
        text: `${where(queued)}: queue depth ${queued.queueDepth} B${extra}, +${queued.ioamTransitMs} ms`,
      },
      queued,
    );
  }
  for (const hop of notable ? hops : []) {
    const util = utilisationOf(hop);
    if (util && util.value >= config.utilisation) {
      const added = hop.ioamTransitMs !== undefined && hop.ioamTransitMs >= config.min_hop_ms ? `, +${hop.ioamTransitMs} ms` : '';
      const v: Verdict = {
        rule: 'interface_utilisation',
        cause: 'utilisation',
        device: hop.label,
        text: `${where(hop, util.iface.name ?? util.iface.ifIndex)}: ${pct(util.value)} utilised${added}`,
      };
      return withIface(added ? { ...v, addedMs: hop.ioamTransitMs! } : v, hop, util.iface.name ?? util.iface.ifIndex);
    }
  }
  const transit = slowest((h) => h.ioamTransitMs);
  if (transit)
    return withIface(
      {
        rule: 'ioam_transit',
        cause: 'delay',
        device: transit.label,
        addedMs: transit.ioamTransitMs!,
        text: `${where(transit)}: +${transit.ioamTransitMs} ms to the next hop, no queue`,
      },
      transit,
    );
  const inside = slowest((h) => h.timeInDeviceMs);
  if (inside)
    return withIface(
      {
        rule: 'device_time',
        cause: 'delay',
        device: inside.label,
        addedMs: inside.timeInDeviceMs!,
        text: `${inside.label}: the request spent ${inside.timeInDeviceMs} ms inside the device`,
      },
      inside,
    );
  for (const [kind, rule, cause] of [
    ['error_burst', 'interface_errors', 'errors'],
    ['discard_burst', 'interface_discards', 'discards'],
  ] as const)
    for (const hop of notable ? hops : []) {
      const a = hop.anomalies.find((x) => x.kind === kind);
      if (a) {
        const iface = a.interfaceName ?? a.ifIndex;
        return withIface({ rule, cause, device: hop.label, text: `${where(hop, iface)}: ${a.detail}` }, hop, iface);
      }
    }
  for (const hop of notable ? hops : []) {
    const cpu = hop.state?.cpu?.value.average;
    if (cpu !== undefined && cpu >= config.cpu_percent)
      return { rule: 'device_cpu', cause: 'cpu', device: hop.label, text: `${hop.label}: CPU ${Math.round(cpu)} %` };
  }
  return undefined;
}

/**
 * Adds device state to the device spans among `spans` and returns the verdict for their
 * connection (the caller writes it on the summary). `request`: the connection's interval.
 */
export function deviceStateAndVerdict(
  spans: readonly Span[],
  request: RequestInterval,
  store: DeviceStateStore | undefined,
  config: VerdictConfig,
  metrics?: NetworkMetrics,
  networkShareMs?: number,
): Verdict | undefined {
  const hops: DeviceHop[] = [];
  const windowNs = BigInt(Math.round(config.anomaly_window * 1e6));
  for (const span of spans) {
    const hop = deviceHop(span, store);
    if (!hop) continue;
    hops.push(hop);
    const state = store ? stateOf(store, hop, span.startTimeUnixNano) : undefined;
    if (store && state) {
      hop.state = state;
      hop.anomalies = anomaliesFor(store, hop, request, windowNs);
      addStateAttributes(hop, state, config);
      addAnomalyEvents(hop);
    }
  }
  const verdict = config.enabled ? decide(hops, config, request, networkShareMs) : undefined;
  if (metrics) recordMetrics(hops, verdict, metrics);
  return verdict;
}

/** Per-hop durations (IOAM hop, time inside a device) and the verdict, for the network metrics. */
function recordMetrics(hops: readonly DeviceHop[], verdict: Verdict | undefined, metrics: NetworkMetrics): void {
  for (const hop of hops) {
    const direction = text(attrValue(hop.span, ATTR.direction)) ?? 'request';
    const iface = interfaceLabel(hop);
    const labels = { device: hop.label, direction, ...(iface !== undefined ? { interface: iface } : {}) };
    const transit = num(attrValue(hop.span, PACKET_ATTR.hopTransitMs));
    if (transit !== undefined) metrics.recordHop({ ...labels, evidence: 'ioam' }, transit);
    if (hop.timeInDeviceMs !== undefined) metrics.recordHop({ ...labels, evidence: 'observation' }, hop.timeInDeviceMs);
  }
  if (verdict)
    metrics.recordVerdict({
      device: verdict.device,
      rule: verdict.rule,
      cause: verdict.cause,
      ...(verdict.interfaceName !== undefined ? { interface: verdict.interfaceName } : {}),
    });
}

/** The verdict as summary attributes. */
export function verdictAttributes(v: Verdict): KeyValue[] {
  const out = [
    str(VERDICT_ATTR.verdict, v.text),
    str(VERDICT_ATTR.rule, v.rule),
    str(VERDICT_ATTR.device, v.device),
    str(VERDICT_ATTR.cause, v.cause),
  ];
  if (v.interfaceName !== undefined) out.push(str(VERDICT_ATTR.iface, v.interfaceName));
  if (v.addedMs !== undefined) out.push(dbl(VERDICT_ATTR.addedMs, v.addedMs));
  return out;
}
