/**
 * sFlow counter samples (generic interface counters) as device readings: one reading per
 * agent address and time, mapped to a device by the inventory like any other source.
 */
import type { InterfaceCounters } from '../model/flow.js';
import { OPER_STATUS, type DeviceReading, type InterfaceReading } from './model.js';

/** sFlow's ifStatus: bit 0 admin up, bit 1 oper up. */
const OPER_UP_BIT = 2;

export function readingFromCounters(c: InterfaceCounters): InterfaceReading {
  return {
    ifIndex: c.ifIndex,
    inOctets: c.inOctets,
    outOctets: c.outOctets,
    octetBits: 64,
    inErrors: c.inErrors,
    outErrors: c.outErrors,
    inDiscards: c.inDiscards,
    outDiscards: c.outDiscards,
    operStatus: c.ifStatus & OPER_UP_BIT ? OPER_STATUS.up : OPER_STATUS.down,
    ...(c.ifSpeed > 0 ? { speedBps: c.ifSpeed } : {}),
  };
}

/** Groups counter samples by agent address and time, in the order they came. */
export function readingsFromCounterSamples(samples: readonly InterfaceCounters[]): DeviceReading[] {
  const out = new Map<string, DeviceReading>();
  for (const c of samples) {
    const key = `${c.samplerAddress}|${c.timeUnixNano}`;
    let r = out.get(key);
    if (!r) {
      r = { source: 'sflow', address: c.samplerAddress, timeUnixNano: c.timeUnixNano, interfaces: [] };
      out.set(key, r);
    }
    r.interfaces.push(readingFromCounters(c));
  }
  return [...out.values()];
}
