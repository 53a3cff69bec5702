/**
 * The device inventory (exporter address → name, interface names, other addresses) and the
 * ordering of a connection's devices along its path.
 */
import { canonicalIp } from './address.js';
import type { DeviceConfig } from './config.js';
import type { FlowGroup } from './match.js';

export interface Device {
  /** The exporter address, canonical. */
  address: string;
  name: string | undefined;
  interfaces: ReadonlyMap<number, string>;
  samplingRate: number | undefined;
}

/** Exporter addresses seen at most in the canonical-form cache (a bound against address churn). */
const MAX_CACHED_EXPORTERS = 4096;

export class Inventory {
  private readonly devices = new Map<string, Device>();
  /** Any address of a device (exporter address and `addresses`) → its exporter address. */
  private readonly owners = new Map<string, string>();
  private readonly canonical = new Map<string, string>();
  private readonly byIoamNode = new Map<number, Device>();
  private readonly byObserver = new Map<string, Device>();
  /** Every device of the inventory declares packet sampling (and there is at least one). */
  readonly allSampled: boolean;

  constructor(config: Readonly<Record<string, DeviceConfig>>) {
    let sampled = 0;
    for (const [key, d] of Object.entries(config)) {
      const address = canonicalIp(key) ?? key;
      const interfaces = new Map<number, string>();
      for (const [index, name] of Object.entries(d.interfaces)) interfaces.set(Number(index), name);
      const device: Device = { address, name: d.name, interfaces, samplingRate: d.sampling_rate };
      this.devices.set(address, device);
      for (const id of d.ioam_node_ids) this.byIoamNode.set(id, device);
      for (const o of d.observers) this.byObserver.set(o, device);
      if (d.name !== undefined && !this.byObserver.has(d.name)) this.byObserver.set(d.name, device);
      this.owners.set(address, address);
      for (const a of d.addresses) if (!this.owners.has(a)) this.owners.set(a, address);
      if (d.sampling_rate !== undefined && d.sampling_rate > 1) sampled++;
    }
    this.allSampled = this.devices.size > 0 && sampled === this.devices.size;
  }

  /** The canonical form of an exporter (sampler) address; the text itself when it is not an IP. */
  exporterOf = (samplerAddress: string): string => {
    let c = this.canonical.get(samplerAddress);
    if (c === undefined) {
      c = canonicalIp(samplerAddress) ?? samplerAddress;
      if (this.canonical.size >= MAX_CACHED_EXPORTERS) this.canonical.clear();
      this.canonical.set(samplerAddress, c);
    }
    return c;
  };

  device(exporter: string): Device | undefined {
    return this.devices.get(exporter);
  }

  /** The device with this IOAM node id (short or wide). */
  ioamNode(id: number): Device | undefined {
    return this.byIoamNode.get(id);
  }

  /** The device an agent reports from: listed in `observers`, or named so. */
  observer(name: string): Device | undefined {
    return this.byObserver.get(name);
  }

  /** The exporter address of the device that has `address` (next-hop recognition). */
  ownerOf(address: string): string | undefined {
    if (address === '') return undefined;
    return this.owners.get(this.exporterOf(address));
  }
}

function firstStart(g: FlowGroup): bigint {
  return g.flows[0]!.startUnixNano;
}

/**
 * The groups of one direction in path order: a device whose flows name another device's
 * address as next hop comes before it (next-hop chaining, which needs `addresses` in the
 * inventory unless next hops are the exporter addresses themselves); devices the chain does
 * not order go by `preferred` (exporter addresses in the order expected), then by their first
 * flow's start, then address. The response path passes the request path reversed as
 * `preferred`: exporters such as softflowd give a connection's two directions the same times,
 * so time cannot order the response, and routing is symmetric far more often than not.
 */
export function pathOrder(groups: readonly FlowGroup[], inventory: Inventory, preferred: readonly string[] = []): FlowGroup[] {
  if (groups.length < 2) return [...groups];
  const index = new Map<string, number>();
  groups.forEach((g, i) => index.set(g.exporter, i));
  const successors: Set<number>[] = groups.map(() => new Set<number>());
  const indegree = new Array<number>(groups.length).fill(0);
  groups.forEach((g, i) => {
    for (const f of g.flows) {
      const owner = inventory.ownerOf(f.nextHop);
      const j = owner === undefined ? undefined : index.get(owner);
      if (j === undefined || j === i || successors[i]!.has(j)) continue;
      successors[i]!.add(j);
      indegree[j]!++;
    }
  });
  const rank = new Map(preferred.map((exporter, i) => [exporter, i]));
  const before = (a: number, b: number) => {
    const ga = groups[a]!;
    const gb = groups[b]!;
    const ra = rank.get(ga.exporter);
    const rb = rank.get(gb.exporter);
    if (ra !== undefined && rb !== undefined && ra !== rb) return ra - rb;
    const sa = firstStart(ga);
    const sb = firstStart(gb);
    return sa < sb ? -1 : sa > sb ? 1 : ga.exporter < gb.exporter ? -1 : ga.exporter > gb.exporter ? 1 : 0;
  };
  const done = new Array<boolean>(groups.length).fill(false);
  const out: FlowGroup[] = [];
  while (out.length < groups.length) {
    // The earliest device with no unplaced predecessor; on a cycle, the earliest unplaced one.
    let pick = -1;
    for (let i = 0; i < groups.length; i++) {
      if (done[i] || indegree[i]! > 0) continue;
      if (pick < 0 || before(i, pick) < 0) pick = i;
    }
    if (pick < 0) for (let i = 0; i < groups.length; i++) if (!done[i] && (pick < 0 || before(i, pick) < 0)) pick = i;
    done[pick] = true;
    out.push(groups[pick]!);
    for (const j of successors[pick]!) indegree[j]!--;
  }
  return out;
}
