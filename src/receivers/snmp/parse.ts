/**
 * A poll's walked columns → one device reading: interfaces (64-bit octets where ifXTable has
 * them, else the 32-bit ifTable ones), CPU (hrProcessorLoad per processor) and RAM (the
 * hrStorage rows of type hrStorageRam, × allocation units). Pure, so captured walks test it.
 */
import { counter64FromBytes } from '../../devices/counters.js';
import type { DeviceReading, InterfaceReading } from '../../devices/model.js';
import { HR_STORAGE_RAM, type ColumnName } from './oids.js';

/** A value as net-snmp gives it: numbers for integer types, Buffers for strings and Counter64, text for OIDs. */
export type SnmpValue = number | string | Uint8Array | bigint | null | undefined;

/** Column → row index (the OID suffix after the column) → value. */
export type WalkedColumns = Partial<Record<ColumnName, Map<string, SnmpValue>>>;

/** Unsigned integer of any SNMP integer type, Counter64 bytes included; undefined if not one. */
export function toBigInt(v: SnmpValue): bigint | undefined {
  if (typeof v === 'bigint') return v >= 0n ? v : undefined;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (v instanceof Uint8Array) return counter64FromBytes(v);
  return undefined;
}

export function toNumber(v: SnmpValue): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Number(counter64FromBytes(v));
  return undefined;
}

/** DisplayString text (UTF-8, control characters and trailing NULs dropped). */
export function toText(v: SnmpValue): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) {
    let text = '';
    for (const c of Buffer.from(v).toString('utf8')) {
      const code = c.charCodeAt(0);
      if (code >= 0x20 && code !== 0x7f) text += c;
    }
    return text;
  }
  return undefined;
}

const toOid = (v: SnmpValue): string | undefined => (typeof v === 'string' ? v.replace(/^\./, '') : undefined);

/** The reading of one poll. `timeUnixNano` is when the answers came; interfaces sorted by ifIndex. */
export function readingFromWalk(
  columns: WalkedColumns,
  meta: { address: string; device?: string; timeUnixNano: bigint; sysUpTimeTicks?: number; sysUpTimeUnixNano?: bigint },
): DeviceReading {
  const col = (name: ColumnName) => columns[name] ?? new Map<string, SnmpValue>();
  const indexes = new Set<string>();
  for (const name of ['ifDescr', 'ifOperStatus', 'ifInOctets', 'ifName', 'ifHCInOctets'] as const)
    for (const k of col(name).keys()) indexes.add(k);

  const interfaces: InterfaceReading[] = [];
  for (const index of indexes) {
    const ifIndex = Number(index);
    if (!Number.isInteger(ifIndex) || ifIndex <= 0) continue;
    const r: InterfaceReading = { ifIndex };
    const name = toText(col('ifName').get(index)) || toText(col('ifDescr').get(index));
    if (name) r.name = name;
    const alias = toText(col('ifAlias').get(index));
    if (alias) r.alias = alias;
    const hcIn = toBigInt(col('ifHCInOctets').get(index));
    const hcOut = toBigInt(col('ifHCOutOctets').get(index));
    if (hcIn !== undefined || hcOut !== undefined) {
      r.octetBits = 64;
      if (hcIn !== undefined) r.inOctets = hcIn;
      if (hcOut !== undefined) r.outOctets = hcOut;
    } else {
      const inO = toBigInt(col('ifInOctets').get(index));
      const outO = toBigInt(col('ifOutOctets').get(index));
      if (inO !== undefined || outO !== undefined) r.octetBits = 32;
      if (inO !== undefined) r.inOctets = inO;
      if (outO !== undefined) r.outOctets = outO;
    }
    const counters: [ColumnName, 'inErrors' | 'outErrors' | 'inDiscards' | 'outDiscards'][] = [
      ['ifInErrors', 'inErrors'],
      ['ifOutErrors', 'outErrors'],
      ['ifInDiscards', 'inDiscards'],
      ['ifOutDiscards', 'outDiscards'],
    ];
    for (const [column, field] of counters) {
      const v = toNumber(col(column).get(index));
      if (v !== undefined) r[field] = v;
    }
    const status = toNumber(col('ifOperStatus').get(index));
    if (status !== undefined) r.operStatus = status;
    // ifHighSpeed (Mb/s) where present and not 0; ifSpeed (b/s, saturates at 2^32-1) otherwise.
    const high = toNumber(col('ifHighSpeed').get(index));
    const low = toNumber(col('ifSpeed').get(index));
    if (high !== undefined && high > 0) r.speedBps = high * 1e6;
    else if (low !== undefined && low > 0) r.speedBps = low;
    interfaces.push(r);
  }
  interfaces.sort((a, b) => a.ifIndex - b.ifIndex);

  const reading: DeviceReading = { source: 'snmp', address: meta.address, timeUnixNano: meta.timeUnixNano, interfaces };
  if (meta.device !== undefined) reading.device = meta.device;
  if (meta.sysUpTimeTicks !== undefined) reading.sysUpTimeTicks = meta.sysUpTimeTicks;
  if (meta.sysUpTimeUnixNano !== undefined) reading.sysUpTimeUnixNano = meta.sysUpTimeUnixNano;

  const loads = [...col('hrProcessorLoad').values()].map(toNumber).filter((v): v is number => v !== undefined && v >= 0 && v <= 100);
  if (loads.length > 0) reading.cpu = { loads };

  let used = 0;
  let size = 0;
  let ram = false;
  for (const [index, type] of col('hrStorageType')) {
    if (toOid(type) !== HR_STORAGE_RAM) continue;
    const unit = toNumber(col('hrStorageAllocationUnits').get(index));
    const s = toNumber(col('hrStorageSize').get(index));
    const u = toNumber(col('hrStorageUsed').get(index));
    if (unit === undefined || s === undefined || u === undefined) continue;
    ram = true;
    used += u * unit;
    size += s * unit;
  }
  if (ram) reading.memory = { usedBytes: used, sizeBytes: size };
  return reading;
}
