/**
 * Config of the device state store (`evidence.devices`): retention and bounds of the time
 * series, when a rate is computed at all, the anomaly thresholds the correlation asks about,
 * and the inventory that names devices.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration } from '../core/config/types.js';

/** Samples older than this (by their own time) are dropped. */
export const DEFAULT_DEVICE_RETENTION_MS = 60 * 60_000;
/** Points kept per series at most (an hour of 10 s polls). */
export const DEFAULT_MAX_POINTS_PER_SERIES = 360;
/** Series (one per interface, one per device for CPU/memory, one per device for IOAM) held at most. */
export const DEFAULT_MAX_SERIES = 50_000;
/** No rate between two samples further apart than this: the counters may have wrapped more than once. */
export const DEFAULT_MAX_RATE_GAP_MS = 5 * 60_000;
/** Utilisation (0..1, of the interface speed) above which an interval is an anomaly. */
export const DEFAULT_UTILISATION_THRESHOLD = 0.9;
/** Errors per second (in + out) above which an interval is an error burst. */
export const DEFAULT_ERROR_RATE_THRESHOLD = 1;
/** Discards per second (in + out) above which an interval is a discard burst. */
export const DEFAULT_DISCARD_RATE_THRESHOLD = 10;
/** Growth of the IOAM queue depth (in the node's unit, bytes on Linux) within the window that is an anomaly. */
export const DEFAULT_QUEUE_GROWTH_THRESHOLD = 4096;
/** Flow exporter addresses remembered for `poll_flow_exporters` at most (least recently seen go first). */
export const DEFAULT_MAX_FLOW_EXPORTERS = 1000;

const ipAddress = () => z.string().refine((v) => isIP(v) !== 0, { message: 'must be an IP address, e.g. 192.0.2.1 or 2001:db8::1' });

/** One device of the inventory. */
export const inventoryDeviceSchema = z
  .object({
    /** Addresses its SNMP agent answers on. */
    snmp_addresses: z.array(ipAddress()).default([]),
    /** Addresses it exports flows (NetFlow/IPFIX source address, sFlow agent address) from. */
    flow_exporters: z.array(ipAddress()).default([]),
    /** Its IOAM node ids (the `node id` of IOAM trace data). */
    ioam_node_ids: z.array(z.number().int().nonnegative()).default([]),
    /** Interface names by ifIndex, where the device reports none (sFlow) or other names are wanted. */
    interfaces: z
      .record(
        z.string().regex(/^\d+$/, { message: 'interface keys are ifIndex numbers' }),
        z.string().min(1, { message: 'interface names must not be empty' }),
      )
      .default({}),
  })
  .strict();

export const devicesConfigSchema = z
  .object({
    /** How long samples stay, counted from their time. */
    retention: duration()
      .default(`${DEFAULT_DEVICE_RETENTION_MS}ms`)
      .refine((ms) => ms > 0, { message: 'retention must be more than 0 (e.g. 1h)' }),
    /** Points per series at most; beyond it the oldest go first (counted as evicted, reason capacity). */
    max_points_per_series: z.number().int().min(2).max(1_000_000).default(DEFAULT_MAX_POINTS_PER_SERIES),
    /** Series held at most; beyond it the least recently updated series goes (counted, reason series). */
    max_series: z.number().int().positive().max(10_000_000).default(DEFAULT_MAX_SERIES),
    /** No rate across a gap longer than this between two samples of a series. */
    max_rate_gap: duration()
      .default(`${DEFAULT_MAX_RATE_GAP_MS}ms`)
      .refine((ms) => ms > 0, { message: 'max_rate_gap must be more than 0 (e.g. 5m)' }),
    /** Anomaly thresholds (stateAt). */
    anomalies: z
      .object({
        /** Utilisation (fraction of the interface speed, in or out) above which an interval is an anomaly. */
        utilisation: z.number().positive().default(DEFAULT_UTILISATION_THRESHOLD),
        /** Errors per second (in + out) above which an interval is an error burst. */
        error_rate: z.number().nonnegative().default(DEFAULT_ERROR_RATE_THRESHOLD),
        /** Discards per second (in + out) above which an interval is a discard burst. */
        discard_rate: z.number().nonnegative().default(DEFAULT_DISCARD_RATE_THRESHOLD),
        /** IOAM queue depth growth within the window (node units, bytes on Linux) that is an anomaly. */
        queue_growth: z.number().positive().default(DEFAULT_QUEUE_GROWTH_THRESHOLD),
      })
      .strict()
      .default({}),
    /** Flow exporter addresses remembered for the SNMP receiver's `poll_flow_exporters` at most. */
    max_flow_exporters: z.number().int().positive().max(1_000_000).default(DEFAULT_MAX_FLOW_EXPORTERS),
    /** Device names → their addresses, IOAM node ids and interface names. Sources not listed are keyed by address. */
    inventory: z.record(z.string().min(1), inventoryDeviceSchema).default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // An address or node id that names two devices would make the store's keys depend on config order.
    const seen = new Map<string, string>();
    for (const [name, d] of Object.entries(c.inventory)) {
      const claims: [string, (string | number)[]][] = [
        ['snmp_addresses', d.snmp_addresses],
        ['flow_exporters', d.flow_exporters],
        ['ioam_node_ids', d.ioam_node_ids],
      ];
      for (const [field, values] of claims)
        values.forEach((v, i) => {
          const key = field === 'ioam_node_ids' ? `ioam:${v}` : `addr:${String(v).toLowerCase()}`;
          const other = seen.get(key);
          if (other !== undefined && other !== name)
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: ['inventory', name, field, i],
              message: `${String(v)} already belongs to device ${other}`,
            });
          else seen.set(key, name);
        });
    }
  });

export type DevicesConfig = z.infer<typeof devicesConfigSchema>;
export type InventoryDeviceConfig = z.infer<typeof inventoryDeviceSchema>;
