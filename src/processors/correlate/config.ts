/**
 * Config of the correlate processor: which span attributes give a connection's quartet, how
 * flows are matched to it, the device inventory, and the shape of the synthesised spans.
 * README.md ("What netspan adds to a trace") documents the spans and attributes it adds.
 */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';
import { elasticsearchSourceConfigSchema } from '../../evidence/elasticsearch/config.js';
import { canonicalIp } from './address.js';

/** Flows are looked up from span start − window to span end + window. */
export const DEFAULT_WINDOW_MS = 2_000;
/**
 * How far device clocks (flow times) and host clocks (span times) may disagree. A flow is taken
 * as overlapping a span when its times, widened by its own resolution and by this, overlap it.
 */
export const DEFAULT_CLOCK_SKEW_MS = 50;
/** The `service.name` of the resource the synthesised spans belong to. */
export const DEFAULT_SERVICE_NAME = 'network';
/** Flow matches read at most per connection (the earliest ones in the window). */
export const DEFAULT_MAX_FLOWS_PER_CONNECTION = 1_000;
/** Transport assumed when a span does not say (`network.transport` / `net.transport`). */
export const DEFAULT_TRANSPORT = 'tcp';

/**
 * Attribute keys per span kind, each list in order of preference. Among address keys a value
 * that is an IP address wins over a host name whatever its place; a host name is resolved
 * through `hosts`. Socket-level keys (`network.peer.*`, `network.local.*`) come before logical
 * ones (`server.*`, `client.*`), which may name a host or, for `client.address` on a server
 * span, the original client behind a proxy.
 */
export const DEFAULT_CLIENT_KEYS = {
  source_address: ['network.local.address', 'net.sock.host.addr', 'net.host.ip', 'src.ip'],
  source_port: ['network.local.port', 'net.sock.host.port', 'net.host.port', 'src.port'],
  destination_address: ['network.peer.address', 'net.sock.peer.addr', 'net.peer.ip', 'server.address', 'net.peer.name', 'dst.ip'],
  destination_port: ['network.peer.port', 'net.sock.peer.port', 'net.peer.port', 'server.port', 'dst.port'],
  destination_url: ['url.full', 'http.url'],
  destination_host: ['http.host'],
};
export const DEFAULT_SERVER_KEYS = {
  source_address: ['network.peer.address', 'net.sock.peer.addr', 'net.peer.ip', 'client.address', 'src.ip'],
  source_port: ['network.peer.port', 'net.sock.peer.port', 'net.peer.port', 'client.port', 'src.port'],
  destination_address: ['network.local.address', 'net.sock.host.addr', 'net.host.ip', 'server.address', 'net.host.name', 'dst.ip'],
  destination_port: ['network.local.port', 'net.sock.host.port', 'net.host.port', 'server.port', 'dst.port'],
  destination_url: [] as string[],
  destination_host: ['http.host'],
};
/** INTERNAL and UNSPECIFIED spans: only keys that name the side themselves (the thesis's). */
export const DEFAULT_OTHER_KEYS = {
  source_address: ['src.ip'],
  source_port: ['src.port'],
  destination_address: ['dst.ip'],
  destination_port: ['dst.port'],
  destination_url: [] as string[],
  destination_host: [] as string[],
};
export const DEFAULT_TRANSPORT_KEYS = ['network.transport', 'net.transport'];

const keyList = (defaults: readonly string[]) => z.array(z.string().min(1)).default([...defaults]);

const sideKeys = (d: typeof DEFAULT_CLIENT_KEYS) =>
  z
    .object({
      /** The connection's initiating end: address, port. */
      source_address: keyList(d.source_address),
      source_port: keyList(d.source_port),
      /** The accepting end. */
      destination_address: keyList(d.destination_address),
      destination_port: keyList(d.destination_port),
      /** A URL whose host and port (default port by scheme) are the destination, after the keys above. */
      destination_url: keyList(d.destination_url),
      /** `host[:port]` (e.g. http.host), after the URL keys. */
      destination_host: keyList(d.destination_host),
    })
    .strict()
    .default({});

export const attributeKeysSchema = z
  .object({
    /** CLIENT, PRODUCER and CONSUMER spans: the span's own host is the source, the peer the destination. */
    client: sideKeys(DEFAULT_CLIENT_KEYS),
    /** SERVER spans: the peer is the source, the span's own host the destination. */
    server: sideKeys(DEFAULT_SERVER_KEYS),
    /** INTERNAL and UNSPECIFIED spans. */
    other: sideKeys(DEFAULT_OTHER_KEYS),
    /** The transport ("tcp", "udp", "quic", "ip_tcp", ...; "unix", "pipe", "inproc" are not IP). */
    transport: keyList(DEFAULT_TRANSPORT_KEYS),
  })
  .strict()
  .default({});

const ipAddress = () =>
  z.string().transform((v, ctx) => {
    const ip = canonicalIp(v);
    if (ip === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not an IP address` });
      return z.NEVER;
    }
    return ip;
  });

const ipKey = z.string().refine((v) => canonicalIp(v) !== undefined, { message: 'must be an IP address' });

export const deviceSchema = z
  .object({
    /** The name device spans carry (and are named by); the address when absent. */
    name: z.string().min(1).optional(),
    /** Interface names by SNMP ifIndex, e.g. `{ 1: por0, 2: por1 }`. */
    interfaces: z.record(z.string().regex(/^\d+$/, { message: 'interface keys are ifIndex numbers' }), z.string()).default({}),
    /** Other addresses of the device (its interfaces), so that next hops can be recognised as this device. */
    addresses: z.array(ipAddress()).default([]),
    /**
     * 1-in-N packet sampling of the device's flow export. When every device of the inventory is
     * sampled (N > 1), a connection without flows gets the reason `sampled_exporter`.
     */
    sampling_rate: z.number().int().positive().optional(),
    /** IOAM node ids (RFC 9197 node_id / node_id_wide) of the device, so its IOAM hop spans carry its name. */
    ioam_node_ids: z.array(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)).default([]),
    /** Observer names the netspan agent on this device reports under (its `observer.name`, by default the host name). */
    observers: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** The verdict rules' thresholds (verdict.ts) and how device state is read. */
export const verdictSchema = z
  .object({
    /** Write a verdict on the summary when a rule fires (device state is added to device spans either way). */
    enabled: z.boolean().default(true),
    /** An IOAM hop (node to next node) or a stay inside a device at least this long is slow, ms. */
    min_hop_ms: z.number().nonnegative().default(10),
    /** An IOAM queue depth at least this many bytes is a queue. */
    min_queue_bytes: z.number().int().positive().default(1),
    /** A path interface at least this utilised (0..1, either direction) is congested. */
    utilisation: z.number().positive().max(10).default(0.9),
    /** A device at least this busy (average CPU %, hrProcessorLoad) is overloaded. */
    cpu_percent: z.number().positive().max(100).default(90),
    /**
     * Anomalies (flaps, error or discard bursts) count from this long before a request's start;
     * after it only those that may have begun before its end (see verdict.ts). At least the
     * polling interval, so that a flap's down time is seen whole.
     */
    anomaly_window: duration().default('10s'),
    /** Device state older than this at the span's time is not shown. */
    state_max_age: duration().default('5m'),
  })
  .strict();

/** How packet evidence (IOAM traces, agent observations) is read and shown. */
export const packetEvidenceSchema = z
  .object({
    /**
     * Unit of IOAM timestamp_subseconds. Linux writes microseconds; RFC 9197 also allows PTP
     * nanoseconds. NTP fractions are not supported (say so here rather than guess).
     */
    ioam_timestamp_subseconds: z.enum(['microseconds', 'nanoseconds']).default('microseconds'),
    /**
     * Also write the Cross-Layer Telemetry ioam-collector's attributes on the summary span:
     * `ioam_namespace<ns>_node<i>` = `HopLimit=..; Id=..; IngressId=..; EgressId=..; ...` (i from 1, path order).
     */
    clt_attributes: z.boolean().default(false),
    /** IOAM traces and HTTP observations read at most per span. */
    max_observations_per_span: z.number().int().positive().default(1000),
  })
  .strict();

export const correlateConfigSchema = z
  .object({
    /** Flows are looked up from span start − window to span end + window. */
    window: duration()
      .default(`${DEFAULT_WINDOW_MS}ms`)
      .refine((ms) => !(ms < 0), { message: 'window must not be negative' }),
    /** Tolerated disagreement of device and host clocks when deciding whether a flow overlaps a span. */
    clock_skew: duration()
      .default(`${DEFAULT_CLOCK_SKEW_MS}ms`)
      .refine((ms) => !(ms < 0), { message: 'clock_skew must not be negative' }),
    /** The matching server span becomes a child of the network summary span (client → network → server). */
    reparent: z.boolean().default(true),
    /** `service.name` of the resource of the synthesised spans. */
    service_name: z.string().min(1).default(DEFAULT_SERVICE_NAME),
    /** Names spans as the thesis did: `<sip>:<sport>-<dip>:<dport>`, `Request - <exporter>`, `Response - <exporter>`. */
    thesis_span_shape: z.boolean().default(false),
    /** Adds a summary span (with `netspan.no_evidence.reason`) also for connections without any evidence. */
    emit_without_evidence: z.boolean().default(true),
    /** Transport of spans that do not state one; `any` matches flows of every protocol. */
    default_transport: z.enum(['tcp', 'udp', 'sctp', 'any']).default(DEFAULT_TRANSPORT),
    /** Flow matches read at most per connection. */
    max_flows_per_connection: z.number().int().positive().default(DEFAULT_MAX_FLOWS_PER_CONNECTION),
    /** Static host name → IP address map for attributes that hold names; names not in it are skipped and counted. */
    hosts: z.record(z.string().min(1), ipAddress()).default({}),
    /** The device inventory by exporter (sampler) address. */
    devices: z.record(ipKey, deviceSchema).default({}),
    /** Which span attributes hold the quartet. */
    attributes: attributeKeysSchema,
    /**
     * Read flows from an existing Elasticsearch / OpenSearch flow index (Elastic Agent's NetFlow
     * integration) instead of the collector's evidence store.
     */
    elasticsearch: elasticsearchSourceConfigSchema.optional(),
    /**
     * Flow document fields copied onto the device spans, under their own names, from the first
     * flow of the span that has them. Only a source that keeps document fields fills them
     * (Elasticsearch); the collector's in-memory store keeps none.
     */
    span_attribute_fields: z.array(z.string().min(1)).default([]),
    /** Packet evidence from the observation store: IOAM hop spans and observation-point spans. */
    packets: packetEvidenceSchema.default({}),
    /** Device state on device spans and the verdict on the summary (verdict.ts). */
    verdict: verdictSchema.default({}),
  })
  .strict();

export type CorrelateConfig = z.infer<typeof correlateConfigSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type PacketEvidenceConfig = z.infer<typeof packetEvidenceSchema>;
export type VerdictConfig = z.infer<typeof verdictSchema>;
export type AttributeKeys = z.infer<typeof attributeKeysSchema>;
export type SideKeys = AttributeKeys['client'];
