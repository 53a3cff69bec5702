/**
 * The device inventory: names devices and says which addresses, IOAM node ids and interface
 * names belong to each. A source the inventory does not know is keyed by its address.
 */
import { canonicalAddress } from '../evidence/address.js';
import type { DevicesConfig } from './config.js';

export interface InventoryDevice {
  name: string;
  snmpAddresses: string[];
  flowExporters: string[];
  ioamNodeIds: number[];
  interfaces: Map<number, string>;
}

/** An address in the form keys use (canonical IP text; anything else as given). */
export function addressKey(address: string): string {
  return canonicalAddress(address) ?? address;
}

export class Inventory {
  private readonly byName = new Map<string, InventoryDevice>();
  private readonly byAddress = new Map<string, InventoryDevice>();
  private readonly byIoamNode = new Map<number, InventoryDevice>();

  constructor(config: DevicesConfig['inventory'] = {}) {
    for (const [name, d] of Object.entries(config)) {
      const device: InventoryDevice = {
        name,
        snmpAddresses: d.snmp_addresses.map(addressKey),
        flowExporters: d.flow_exporters.map(addressKey),
        ioamNodeIds: [...d.ioam_node_ids],
        interfaces: new Map(Object.entries(d.interfaces).map(([k, v]) => [Number(k), v])),
      };
      this.byName.set(name, device);
      for (const a of [...device.snmpAddresses, ...device.flowExporters]) if (!this.byAddress.has(a)) this.byAddress.set(a, device);
      for (const n of device.ioamNodeIds) if (!this.byIoamNode.has(n)) this.byIoamNode.set(n, device);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  devices(): InventoryDevice[] {
    return [...this.byName.values()];
  }

  get(name: string): InventoryDevice | undefined {
    return this.byName.get(name);
  }

  /** The key of the device an address (SNMP agent, flow exporter, sFlow agent) belongs to: its name, else the address. */
  deviceForAddress(address: string): string {
    const key = addressKey(address);
    return this.byAddress.get(key)?.name ?? key;
  }

  /** The key of the device with this IOAM node id: its name, else `ioam:<id>`. */
  deviceForIoamNode(nodeId: number): string {
    return this.byIoamNode.get(nodeId)?.name ?? `ioam:${nodeId}`;
  }

  /** A device key as given to a query: a device name, or an address (mapped to its device). */
  resolve(nameOrAddress: string): string {
    return this.byName.has(nameOrAddress) ? nameOrAddress : this.deviceForAddress(nameOrAddress);
  }

  /** The configured name of an interface, if any. */
  interfaceName(device: string, ifIndex: number): string | undefined {
    return this.byName.get(device)?.interfaces.get(ifIndex);
  }
}
