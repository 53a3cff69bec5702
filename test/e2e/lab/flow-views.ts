/**
 * Flow records as different programs see them, in one shape for comparison:
 *   - netspan: the OTLP/JSON log records its `file` exporter wrote (one per flow);
 *   - nfdump 1.7.1: `nfdump -R DIR -o json` over what nfcapd stored;
 *   - tshark 4.0: `-T json` of a capture of export datagrams, decoded as cflow. Times are
 *     made absolute from the header the way the formats define it (v5/v9: export time minus
 *     sysUpTime plus the record's uptime-relative time; IPFIX: absolute elements as they
 *     are, uptime-relative ones from the exporter's systemInitTimeMilliseconds option).
 * Addresses are canonical text (canonicalIp), protocols IANA numbers, times Unix nanoseconds.
 */
import { readFileSync, existsSync } from 'node:fs';
import { canonicalIp } from './pcap.js';
import { run } from './proc.js';

export interface FlowView {
  source: string;
  /** undefined when the view has no ports for the record (nfdump's ICMP records carry type/code instead). */
  sourcePort: number | undefined;
  destination: string;
  destinationPort: number | undefined;
  protocol: number;
  bytes: number;
  packets: number;
  /** undefined when the view cannot place the record in time. */
  startUnixNano: bigint | undefined;
  endUnixNano: bigint | undefined;
  /** The exporting device (netspan: flow.sampler_address; nfdump: the router address nfcapd saw; tshark: the IP source). */
  exporter: string;
  /** netspan: flow.type, flow.time_resolution_ns. tshark: export version. */
  type?: string;
  timeResolutionNano?: number;
  /** nfdump: ICMP type and code. */
  icmp?: { type: number; code: number };
}

const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132, gre: 47, esp: 50 };

export function protocolNumber(name: string): number {
  const n = PROTOCOL_NUMBERS[name] ?? Number(name);
  if (!Number.isInteger(n)) throw new Error(`unknown protocol ${name}`);
  return n;
}

export function protocolName(n: number): string {
  return Object.entries(PROTOCOL_NUMBERS).find(([, v]) => v === n)?.[0] ?? String(n);
}

/** "198.18.1.2:37590 → 198.18.2.2:8080 tcp" (ports shown as * when the view has none). */
export function describeFlow(f: FlowView): string {
  const host = (a: string, p: number | undefined) => `${a.includes(':') ? `[${a}]` : a}:${p ?? '*'}`;
  return `${host(f.source, f.sourcePort)} → ${host(f.destination, f.destinationPort)} ${protocolName(f.protocol)}`;
}

export function msText(ns: bigint | undefined): string {
  if (ns === undefined) return '-';
  return new Date(Number(ns / 1_000_000n)).toISOString() + (ns % 1_000_000n ? `+${ns % 1_000_000n}ns` : '');
}

// ---------------------------------------------------------------- netspan

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpLogsLine {
  resourceLogs?: { scopeLogs?: { logRecords?: { attributes?: { key: string; value: OtlpAnyValue }[] }[] }[] }[];
}

function anyValue(v: OtlpAnyValue): string | number | boolean | undefined {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

/** The log records' attributes of an OTLP/JSON logs file (one Export request per line). */
export function readOtlpLogAttributes(path: string): Record<string, string | number | boolean | undefined>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, string | number | boolean | undefined>[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as OtlpLogsLine;
    for (const rl of req.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const lr of sl.logRecords ?? []) out.push(Object.fromEntries((lr.attributes ?? []).map((a) => [a.key, anyValue(a.value)])));
  }
  return out;
}

/** netspan's flows from its file exporter's output. */
export function readNetspanFlows(path: string): FlowView[] {
  return readOtlpLogAttributes(path).map((a) => ({
    source: canonicalIp(String(a['source.address'])),
    sourcePort: Number(a['source.port']),
    destination: canonicalIp(String(a['destination.address'])),
    destinationPort: Number(a['destination.port']),
    protocol: protocolNumber(String(a['network.transport'])),
    bytes: Number(a['flow.io.bytes']),
    packets: Number(a['flow.io.packets']),
    startUnixNano: BigInt(String(a['flow.start'])),
    endUnixNano: BigInt(String(a['flow.end'])),
    exporter: canonicalIp(String(a['flow.sampler_address'])),
    type: String(a['flow.type']),
    timeResolutionNano: Number(a['flow.time_resolution_ns']),
  }));
}

// ---------------------------------------------------------------- nfdump

interface NfdumpRecord {
  type?: string;
  first?: string;
  last?: string;
  in_packets?: number;
  in_bytes?: number;
  proto?: number;
  src_port?: number;
  dst_port?: number;
  icmp_type?: number;
  icmp_code?: number;
  src4_addr?: string;
  dst4_addr?: string;
  src6_addr?: string;
  dst6_addr?: string;
  ip4_router?: string;
  ip6_router?: string;
}

/** "2026-11-22T00:31:14.474" (nfdump -o json, local time; we run it with TZ=UTC) as Unix ns. */
function nfdumpTime(text: string | undefined): bigint | undefined {
  if (!text) return undefined;
  const ms = Date.parse(`${text}Z`);
  return Number.isNaN(ms) ? undefined : BigInt(ms) * 1_000_000n;
}

/** The flows nfcapd stored under dir, as `nfdump -R dir -o json` prints them. */
export async function readNfdumpFlows(dir: string): Promise<{ flows: FlowView[]; text: string }> {
  const r = await run(['nfdump', '-q', '-N', '-R', dir, '-o', 'json'], { timeoutMs: 30_000, env: { ...process.env, TZ: 'UTC' } });
  // With -q (no header, no summary) nfdump 1.7.1 prints the records without the enclosing [ ].
  const text = r.stdout.trim();
  const records = (text ? JSON.parse(text.startsWith('[') ? text : `[${text}]`) : []) as NfdumpRecord[];
  const flows = records
    .filter((f) => (f.type ?? 'FLOW') === 'FLOW')
    .map((f) => {
      const icmp = f.proto === 1 || f.proto === 58;
      const view: FlowView = {
        source: canonicalIp(f.src4_addr ?? f.src6_addr ?? ''),
        sourcePort: icmp ? undefined : (f.src_port ?? 0),
        destination: canonicalIp(f.dst4_addr ?? f.dst6_addr ?? ''),
        destinationPort: icmp ? undefined : (f.dst_port ?? 0),
        protocol: f.proto ?? 0,
        bytes: f.in_bytes ?? 0,
        packets: f.in_packets ?? 0,
        startUnixNano: nfdumpTime(f.first),
        endUnixNano: nfdumpTime(f.last),
        exporter: canonicalIp(f.ip4_router ?? f.ip6_router ?? ''),
      };
      if (icmp) view.icmp = { type: f.icmp_type ?? 0, code: f.icmp_code ?? 0 };
      return view;
    });
  return { flows, text };
}

// ---------------------------------------------------------------- tshark

type JsonTree = { [key: string]: string | JsonTree | (string | JsonTree)[] };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** tshark's absolute time text, "Nov 22, 2026 00:31:14.474000000 UTC", as Unix ns. */
export function tsharkAbsoluteTime(text: string): bigint {
  const m = /^(\w{3})\s+(\d+), (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? UTC$/.exec(text);
  if (!m) throw new Error(`unexpected tshark time (is TZ=UTC?): ${text}`);
  const month = MONTHS.indexOf(m[1]!);
  const secs = Date.UTC(Number(m[3]), month, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  return BigInt(secs) * 1_000_000_000n + BigInt((m[7] ?? '0').padEnd(9, '0'));
}

/** A decimal number of seconds ("1048573.905000000") as ns, exactly. */
export function decimalSecondsToNano(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal number of seconds: ${text}`);
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt((m[3] ?? '0').padEnd(9, '0'));
  return m[1] ? -ns : ns;
}

/** Every leaf of a subtree, keyed by field name (the last one wins). */
function leaves(tree: JsonTree, into: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(tree)) {
    if (typeof v === 'string') into[k] = v;
    else if (Array.isArray(v)) {
      const first = v[0];
      if (typeof first === 'string') into[k] = first;
      else if (first) leaves(first, into);
    } else leaves(v, into);
  }
  return into;
}

/** Flow records of the export datagrams in a capture, decoded by tshark (`-d udp.port==PORT,cflow`). */
export async function readTsharkFlows(pcap: string, port: number): Promise<{ flows: FlowView[]; text: string }> {
  const r = await run(['tshark', '-n', '-r', pcap, '-d', `udp.port==${port},cflow`, '-T', 'json'], {
    timeoutMs: 60_000,
    env: { ...process.env, TZ: 'UTC' },
  });
  const packets = JSON.parse(r.stdout || '[]') as { _source: { layers: Record<string, JsonTree> } }[];
  const sysInit = new Map<string, bigint>();
  const flows: FlowView[] = [];
  for (const p of packets) {
    const layers = p._source.layers;
    const cflow = layers.cflow;
    if (!cflow) continue;
    const ip = leaves(layers.ip ?? layers.ipv6 ?? {});
    const exporter = canonicalIp(ip['ip.src'] ?? ip['ipv6.src'] ?? '');
    const head = leaves(Object.fromEntries(Object.entries(cflow).filter(([k]) => k.startsWith('cflow.'))) as JsonTree);
    const version = Number(head['cflow.version']);
    const uptime = head['cflow.sysuptime'] !== undefined ? decimalSecondsToNano(head['cflow.sysuptime']) : undefined;
    const exportSecs = head['cflow.unix_secs'] ?? head['cflow.exporttime'];
    const exportTime = exportSecs !== undefined ? BigInt(exportSecs) * 1_000_000_000n + BigInt(head['cflow.unix_nsecs'] ?? '0') : undefined;
    const visit = (tree: JsonTree) => {
      for (const [k, v] of Object.entries(tree)) {
        if (typeof v !== 'object' || Array.isArray(v)) continue;
        if (!/^(pdu \d+\/\d+|Flow \d+)$/.test(k)) {
          visit(v);
          continue;
        }
        const f = leaves(v);
        if (f['cflow.sys_init_time']) sysInit.set(exporter, tsharkAbsoluteTime(f['cflow.sys_init_time']));
        if (f['cflow.protocol'] === undefined && f['cflow.octets'] === undefined) continue;
        const time = (abs: string | undefined, rel: string | undefined): bigint | undefined => {
          if (abs) return tsharkAbsoluteTime(abs);
          if (rel === undefined) return undefined;
          const relNs = decimalSecondsToNano(rel);
          if (version === 10) {
            const init = sysInit.get(exporter);
            return init === undefined ? undefined : init + relNs;
          }
          return exportTime === undefined || uptime === undefined ? undefined : exportTime - (uptime - relNs);
        };
        const num = (key: string) => (f[key] === undefined ? undefined : Number(f[key]));
        flows.push({
          source: canonicalIp(f['cflow.srcaddr'] ?? f['cflow.srcaddrv6'] ?? ''),
          sourcePort: num('cflow.srcport'),
          destination: canonicalIp(f['cflow.dstaddr'] ?? f['cflow.dstaddrv6'] ?? ''),
          destinationPort: num('cflow.dstport'),
          protocol: num('cflow.protocol') ?? 0,
          bytes: num('cflow.octets') ?? num('cflow.octets64') ?? 0,
          packets: num('cflow.packets') ?? num('cflow.packets64') ?? 0,
          startUnixNano: time(f['cflow.abstimestart'], f['cflow.timestart']),
          endUnixNano: time(f['cflow.abstimeend'], f['cflow.timeend']),
          exporter,
          type: `v${version}`,
        });
      }
    };
    visit(cflow);
  }
  return { flows, text: r.stdout };
}
