/**
 * Config of the SNMP receiver: which agents to poll (targets, extra addresses, the flow
 * exporters seen), how (v1/v2c community or v3 user), and how often. Every target option
 * falls back to the receiver-level default of the same name.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** How often each agent is polled. */
export const DEFAULT_COLLECTION_INTERVAL_MS = 30_000;
/** How long to wait for each response before a retry. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/** Retries per request after the first attempt. */
export const DEFAULT_RETRIES = 1;
/** Rows per column asked in one GetBulk request. */
export const DEFAULT_MAX_REPETITIONS = 20;
/** The standard SNMP agent port. */
export const DEFAULT_PORT = 161;
/** The customary read community. */
export const DEFAULT_COMMUNITY = 'public';
/** Agents polled at most (configured targets, poll_addresses and flow exporters together); more are ignored and counted. */
export const DEFAULT_MAX_TARGETS = 1000;
/** A failing agent is logged once, then at most once per this interval (with the count of failures in between). */
export const DEFAULT_LOG_INTERVAL_MS = 60_000;
/** Rows read per table walk at most: a bound against agents that never end a walk. */
export const DEFAULT_MAX_ROWS = 10_000;

/** net-snmp (like snmpd) refuses v3 passphrases shorter than 8 characters. */
const MIN_KEY_LENGTH = 8;

export const v3Schema = z
  .object({
    /** USM user name. */
    user: z.string().min(1),
    /** noAuthNoPriv, authNoPriv or authPriv. */
    security_level: z.enum(['noAuthNoPriv', 'authNoPriv', 'authPriv']).default('authPriv'),
    /** Authentication digest (authNoPriv, authPriv). */
    auth_protocol: z.enum(['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512']).default('sha'),
    /** Authentication passphrase, usually from ${env:...}. */
    auth_key: z
      .string()
      .min(MIN_KEY_LENGTH, { message: `must be at least ${MIN_KEY_LENGTH} characters` })
      .optional(),
    /** Privacy cipher (authPriv). `des` needs node's --openssl-legacy-provider. */
    priv_protocol: z.enum(['des', 'aes', 'aes256b', 'aes256r']).default('aes'),
    /** Privacy passphrase, usually from ${env:...}. */
    priv_key: z
      .string()
      .min(MIN_KEY_LENGTH, { message: `must be at least ${MIN_KEY_LENGTH} characters` })
      .optional(),
    /** SNMPv3 context name. */
    context: z.string().default(''),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.security_level !== 'noAuthNoPriv' && v.auth_key === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['auth_key'], message: `security_level ${v.security_level} needs auth_key` });
    if (v.security_level === 'authPriv' && v.priv_key === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['priv_key'], message: 'security_level authPriv needs priv_key' });
  });

export type SnmpV3Config = z.infer<typeof v3Schema>;

const version = () => z.enum(['v1', 'v2c', 'v3']);
const ipAddress = () =>
  z.string().refine((v) => isIP(v) !== 0, { message: 'must be an IP address (e.g. 192.0.2.1, 2001:db8::1); host names are not resolved' });
const positiveDuration = (name: string) => duration().refine((ms) => ms > 0, { message: `${name} must be more than 0` });

/** Per-target options; absent ones take the receiver's defaults. */
export const targetSchema = z
  .object({
    /** The agent's IP address. */
    address: ipAddress(),
    /** The agent's UDP port. */
    port: z.number().int().min(1).max(65535).optional(),
    /** The device name its readings are stored under; default: the inventory's name for the address, else the address. */
    device: z.string().min(1).optional(),
    version: version().optional(),
    community: z.string().min(1).optional(),
    v3: v3Schema.optional(),
    collection_interval: positiveDuration('collection_interval').optional(),
    timeout: positiveDuration('timeout').optional(),
    retries: z.number().int().min(0).max(10).optional(),
  })
  .strict();

export const snmpReceiverConfigSchema = z
  .object({
    /** Agents to poll, each with its own options. */
    targets: z.array(targetSchema).default([]),
    /** More agent addresses, polled with the defaults below (port, version and credentials). */
    poll_addresses: z.array(ipAddress()).default([]),
    /** Also poll every flow exporter address the evidence hub has seen (NetFlow/IPFIX sources, sFlow agents), with the defaults. */
    poll_flow_exporters: z.boolean().default(false),
    /** Default SNMP version: v1, v2c (default) or v3. */
    version: version().default('v2c'),
    /** Default community (v1, v2c), usually from ${env:...}. */
    community: z.string().min(1).default(DEFAULT_COMMUNITY),
    /** Default v3 user (needed by any target polled with version v3 that has none of its own). */
    v3: v3Schema.optional(),
    /** Default agent port. */
    port: z.number().int().min(1).max(65535).default(DEFAULT_PORT),
    /** Default poll interval per agent. */
    collection_interval: positiveDuration('collection_interval').default(`${DEFAULT_COLLECTION_INTERVAL_MS}ms`),
    /** Default wait for each response, per attempt. */
    timeout: positiveDuration('timeout').default(`${DEFAULT_TIMEOUT_MS}ms`),
    /** Default retries per request. */
    retries: z.number().int().min(0).max(10).default(DEFAULT_RETRIES),
    /** Rows per column asked in one GetBulk (v2c, v3). */
    max_repetitions: z.number().int().min(1).max(200).default(DEFAULT_MAX_REPETITIONS),
    /** Rows read per walk at most (a bound against agents that never end a walk). */
    max_rows: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_ROWS),
    /** Agents polled at most; beyond it new addresses are ignored (counted). */
    max_targets: z.number().int().min(1).max(100_000).default(DEFAULT_MAX_TARGETS),
    /** A failing agent is logged once, then at most once per this interval. */
    log_interval: positiveDuration('log_interval').default(`${DEFAULT_LOG_INTERVAL_MS}ms`),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.version === 'v3' && !c.v3 && (c.poll_addresses.length > 0 || c.poll_flow_exporters))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['v3'],
        message: 'version v3 needs a v3 user for poll_addresses and poll_flow_exporters',
      });
    c.targets.forEach((t, i) => {
      if ((t.version ?? c.version) === 'v3' && !t.v3 && !c.v3)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['targets', i, 'v3'],
          message: 'version v3 needs a v3 user (here or at the receiver level)',
        });
    });
  });

export type SnmpReceiverConfig = z.infer<typeof snmpReceiverConfigSchema>;

/** One agent as polled: every option resolved. */
export interface ResolvedTarget {
  address: string;
  port: number;
  device?: string;
  version: 'v1' | 'v2c' | 'v3';
  community: string;
  v3?: SnmpV3Config;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  /** Where it came from: a configured target, poll_addresses, or a flow exporter seen. */
  origin: 'target' | 'address' | 'flow_exporter';
}

export function resolveTarget(c: SnmpReceiverConfig, t: z.infer<typeof targetSchema>, origin: ResolvedTarget['origin']): ResolvedTarget {
  const r: ResolvedTarget = {
    address: t.address,
    port: t.port ?? c.port,
    version: t.version ?? c.version,
    community: t.community ?? c.community,
    intervalMs: t.collection_interval ?? c.collection_interval,
    timeoutMs: t.timeout ?? c.timeout,
    retries: t.retries ?? c.retries,
    origin,
  };
  const v3 = t.v3 ?? c.v3;
  if (v3) r.v3 = v3;
  if (t.device !== undefined) r.device = t.device;
  return r;
}
