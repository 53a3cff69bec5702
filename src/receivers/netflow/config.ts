/**
 * Config of the flow receiver: NetFlow v5/v9 and IPFIX (scheme `netflow`, the version is
 * detected per packet) or sFlow v5 (scheme `sflow`), over UDP, and IPFIX over TCP.
 */
import { availableParallelism } from 'node:os';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { byteSize, endpoint } from '../../core/config/types.js';

/** NetFlow's customary port and IPFIX's IANA port, on loopback. */
export const DEFAULT_NETFLOW_ENDPOINTS = ['127.0.0.1:2055', '127.0.0.1:4739'];
/** sFlow's IANA port, on loopback. */
export const DEFAULT_SFLOW_ENDPOINTS = ['127.0.0.1:6343'];
/** IPFIX over TCP (RFC 7011 §10.4), on loopback. */
export const DEFAULT_IPFIX_TCP_ENDPOINT = '127.0.0.1:4739';
/** Datagrams waiting for a decoding worker at most; beyond it they are dropped and counted. */
export const DEFAULT_QUEUE_SIZE = 20_000;
/** Kernel receive buffer per UDP socket: bursts from many exporters must not overflow it. */
export const DEFAULT_SOCKET_BUFFER_SIZE = 16 * 1024 * 1024;
/** Largest IPFIX message accepted over TCP (the length field is 16 bits). */
export const MAX_IPFIX_MESSAGE = 65_535;
/** One worker per core by default: the receive loop stays on the main thread. */
export const DEFAULT_WORKERS = Math.max(1, availableParallelism());

function isCidr(text: string): boolean {
  const [address, bits, ...rest] = text.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

export const netflowReceiverConfigSchema = z
  .object({
    /** `netflow`: NetFlow v5, v9 and IPFIX (detected per packet); `sflow`: sFlow v5. */
    scheme: z.enum(['netflow', 'sflow']).default('netflow'),
    /** UDP addresses to listen on; the default depends on the scheme (2055 and 4739, or 6343). */
    endpoints: z.array(endpoint()).min(1).optional(),
    /** IPFIX over TCP; "" turns it off. Scheme `netflow` only. */
    tcp_endpoint: z.union([endpoint(), z.literal('')]).default(DEFAULT_IPFIX_TCP_ENDPOINT),
    /** Decoding worker threads; templates of one exporter always go to the same worker. */
    workers: z.number().int().min(1).max(64).default(DEFAULT_WORKERS),
    /** Datagrams queued for the workers at most (drops beyond it are counted). */
    queue_size: z.number().int().positive().default(DEFAULT_QUEUE_SIZE),
    /** SO_RCVBUF of each UDP socket (the kernel may cap it at net.core.rmem_max). */
    socket_buffer_size: byteSize().default(DEFAULT_SOCKET_BUFFER_SIZE),
    /** Exporters allowed to send (addresses or CIDR prefixes); empty allows all. Others are dropped and counted. */
    allowed_exporters: z
      .array(z.string().refine(isCidr, { message: 'must be an IP address or CIDR prefix, e.g. 192.0.2.0/24 or 2001:db8::/32' }))
      .default([]),
    /**
     * Read UDP in the decoding workers through the native addon (recvmmsg, SO_REUSEPORT sockets
     * steered by exporter address) when it is built; false, or without the addon: node:dgram on
     * the main thread.
     */
    native_receive: z.boolean().default(true),
    /** Largest UDP datagram taken; larger ones are dropped and counted (outcome "truncated"). */
    max_datagram_size: byteSize().pipe(z.number().int().min(512).max(65_535)).default(65_535),
    /** Put every decoded element into the OTLP log records (flow.fields.*), not only the standard attributes. */
    include_all_fields: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.scheme === 'sflow' && c.tcp_endpoint !== '' && c.tcp_endpoint !== DEFAULT_IPFIX_TCP_ENDPOINT)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tcp_endpoint'], message: 'IPFIX over TCP needs scheme: netflow' });
  })
  .transform((c) => ({
    ...c,
    endpoints: c.endpoints ?? (c.scheme === 'sflow' ? DEFAULT_SFLOW_ENDPOINTS : DEFAULT_NETFLOW_ENDPOINTS),
    tcp_endpoint: c.scheme === 'sflow' ? '' : c.tcp_endpoint,
  }));

export type NetflowReceiverConfig = z.infer<typeof netflowReceiverConfigSchema>;

/** The allow-list as a BlockList (node's CIDR matcher); undefined allows everyone. */
export function exporterAllowList(prefixes: readonly string[]): BlockList | undefined {
  if (prefixes.length === 0) return undefined;
  const list = new BlockList();
  for (const p of prefixes) {
    const [address, bits] = p.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}
