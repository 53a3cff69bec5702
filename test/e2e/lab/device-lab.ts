/**
 * A lab for device incidents, on the IOAM lab (ioam.ts) with device state:
 *
 *   client ── router porthos (IOAM node; snmpd; r-client | r-server) ── server aramis
 *
 * - The router runs a real snmpd (net-snmp) on its server-side address; `netspan run` in the
 *   server namespace polls it (`snmp` receiver), so polling never crosses the client-side link
 *   that a test may flap.
 * - The router's interfaces carry their ifIndex as IOAM interface id (`ioam6_id`), so an IOAM
 *   hop's ingress and egress ids name the interfaces SNMP reports (see README, "Device state and
 *   verdict").
 * - On the server: the instrumented HTTP server (clt-app.ts), `netspan agent` (capture on the
 *   server's interface and the kernel's IOAM events), and `netspan run` with the OTLP and SNMP
 *   receivers, groupbytrace, correlate (verdicts on), a file exporter and the `ui` exporter,
 *   whose device API (`/api/devices/porthos`) tells when netspan has seen an interface change.
 * - Incidents on the router: a link flap (`ip link set down/up`), a `tbf` bottleneck on its egress
 *   filled by a UDP blaster from the client, a delay (NFQUEUE, nfq.ts).
 *
 * The caller creates and destroys the `Lab`; `stop()` ends the lab's processes gracefully first.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { CLT_APP_PATH } from './clt-app.js';
import { startIoamAgent, type CltClientOptions } from './clt-stack.js';
import { fetchInside } from './inside.js';
import { ioamLab, type IoamLab } from './ioam.js';
import { startNetspanIn } from './netspan.js';
import type { Lab } from './netns.js';
import { NFQ_COMMANDS, startNfqDelay, type NfqDelay } from './nfq.js';
import { poll, type LabProcess } from './proc.js';
import type { NetspanProcess } from '../netspan-process.js';

/** Commands the lab needs besides node. */
export const DEVICE_LAB_COMMANDS = ['ip', 'tc', 'tcpdump', 'snmpd', ...NFQ_COMMANDS];

export const ROUTER_NAME = 'porthos';
export const SERVER_NAME = 'aramis';
const NAMESPACE = 123;
/** Bits 0-3 (hop limit + node id, interface ids, timestamp seconds and subseconds) and 6 (queue depth). */
const TRACE_TYPE = 0xf20000;
const HTTP_PORT = 8080;
const OTLP_PORT = 4318;
const UI_PORT = 8686;
const BLAST_PORT = 9000;

export interface DeviceLabOptions {
  /** The `snmp` receiver's collection_interval (default 1s). */
  pollInterval?: string;
  /** `correlate.verdict.anomaly_window` (default: netspan's). */
  anomalyWindow?: string;
}

export interface RouterInterface {
  name: string;
  ifIndex: number;
}

/** What netspan's device API shows of one interface. */
export interface InterfaceView {
  /** Of the latest reading: its time (Unix ns, decimal), status and out utilisation (absent until two polls gave a rate). */
  timeUnixNano?: string;
  operStatus?: number;
  outUtilisation?: number;
  statusChanges: { from: number; to: number }[];
}

export class DeviceLab {
  private constructor(
    private readonly lab: Lab,
    readonly ioam: IoamLab,
    /** The router's interface towards the client (IOAM ingress) and towards the server (egress). */
    readonly clientSide: RouterInterface,
    readonly serverSide: RouterInterface,
    readonly collector: NetspanProcess,
    private readonly processes: { snmpd: LabProcess; server: LabProcess; agent: LabProcess },
  ) {}

  static async start(lab: Lab, o: DeviceLabOptions = {}): Promise<DeviceLab> {
    const dir = mkdtempSync(join(tmpdir(), 'netspan-device-lab-'));
    const L = await ioamLab(lab, NAMESPACE);
    const router = L.router.ns;
    const ifIndex = async (name: string) => Number((await lab.exec(router, ['cat', `/sys/class/net/${name}/ifindex`])).stdout.trim());
    const clientSide = { name: L.router.ingress, ifIndex: await ifIndex(L.router.ingress) };
    const serverSide = { name: L.router.egress!, ifIndex: await ifIndex(L.router.egress!) };
    await lab.sysctl(router, {
      [`net.ipv6.conf.${clientSide.name}.ioam6_id`]: clientSide.ifIndex,
      [`net.ipv6.conf.${serverSide.name}.ioam6_id`]: serverSide.ifIndex,
    });
    const ioam: IoamLab = {
      ...L,
      router: { ...L.router, ingressId: clientSide.ifIndex, egressId: serverSide.ifIndex },
    };

    const snmpAddress = L.server.routerIpv6;
    const conf = join(dir, 'snmpd.conf');
    writeFileSync(conf, `rocommunity6 public ${L.server.ipv6.replace(/::\d+$/, '::')}/64\nsysName ${ROUTER_NAME}\n`);
    // -f foreground, -Lo log to stdout, -C no other config files; its persistent state in dir.
    const snmpd = lab.spawn(
      router,
      ['env', `SNMP_PERSISTENT_DIR=${join(dir, 'snmp')}`, 'snmpd', '-f', '-Lo', '-C', '-c', conf, `udp6:[${snmpAddress}]:161`],
      { maxLifetimeMs: 600_000 },
    );
    await snmpd.waitForLine(/NET-SNMP version/, 15_000);

    const collector = await startNetspanIn(
      L.server.ns,
      `
receivers:
  otlp: { protocols: { http: { endpoint: "[::]:${OTLP_PORT}" } } }
  snmp:
    collection_interval: ${o.pollInterval ?? '1s'}
    timeout: 800ms
    retries: 0
    targets: [{ address: "${snmpAddress}" }]
processors:
  # Long enough for a client whose own spans waited for a flapped link (TCP backs off).
  groupbytrace: { wait_duration: 10s }
  correlate:
    devices:
      "${L.client.routerIpv6}": { name: ${ROUTER_NAME}, ioam_node_ids: [${L.router.nodeId}] }
      "${L.server.ipv6}": { name: ${SERVER_NAME}, ioam_node_ids: [${L.serverNode.nodeId}] }
    verdict: { ${o.anomalyWindow ? `anomaly_window: ${o.anomalyWindow}` : ''} }
exporters:
  file: { path: $DIR/traces.jsonl }
  ui: { endpoint: "127.0.0.1:${UI_PORT}" }
evidence:
  devices:
    inventory:
      ${ROUTER_NAME}: { snmp_addresses: ["${snmpAddress}"], ioam_node_ids: [${L.router.nodeId}] }
      ${SERVER_NAME}: { ioam_node_ids: [${L.serverNode.nodeId}] }
service:
  telemetry: { metrics: { address: "" }, logs: { level: info } }
  pipelines:
    traces: { receivers: [otlp, snmp], processors: [groupbytrace, correlate], exporters: [file, ui] }
`,
    );
    const server = lab.spawn(
      L.server.ns,
      [process.execPath, CLT_APP_PATH, 'server', '--port', String(HTTP_PORT), '--otlp', `http://[::1]:${OTLP_PORT}/v1/traces`],
      { maxLifetimeMs: 600_000 },
    );
    await server.waitForLine(/"ready":true/, 20_000);
    const agent = startIoamAgent(lab, {
      ns: L.server.ns,
      observer: SERVER_NAME,
      interfaces: [L.server.ifname],
      output: join(dir, 'observations.jsonl'),
      ioamEvents: true,
      collectorUrl: `http://[${L.server.ipv6}]:${OTLP_PORT}`,
      otlpPort: OTLP_PORT,
      dir,
    });
    await agent.waitForLine(/netspan agent started/, 20_000);
    const deviceLab = new DeviceLab(lab, ioam, clientSide, serverSide, collector, { snmpd, server, agent });
    // netspan has polled the router's interfaces twice (status and rates) before anything happens.
    for (const i of [clientSide, serverSide])
      await deviceLab.awaitInterface(i, (v) => v.operStatus === 1 && v.outUtilisation !== undefined);
    return deviceLab;
  }

  /** The CLT client's options: requests to the server, spans to the collector, IOAM on. */
  get client(): CltClientOptions {
    return {
      url: `http://[${this.ioam.server.ipv6}]:${HTTP_PORT}/`,
      otlp: `http://[${this.ioam.server.ipv6}]:${OTLP_PORT}/v1/traces`,
      namespaceId: NAMESPACE,
      traceType: TRACE_TYPE,
      nodes: 3,
    };
  }

  get tracesPath(): string {
    return join(this.collector.dir, 'traces.jsonl');
  }

  /** What netspan's device state holds of a router interface (its device API). */
  async interfaceView(i: RouterInterface): Promise<InterfaceView | undefined> {
    const text = await fetchInside(
      this.lab,
      this.ioam.server.ns,
      `http://127.0.0.1:${UI_PORT}/api/devices/${ROUTER_NAME}?interface=${i.ifIndex}`,
    );
    const body = JSON.parse(text) as {
      interfaces?: { points: Omit<InterfaceView, 'statusChanges'>[]; statusChanges: InterfaceView['statusChanges'] }[];
    };
    const s = body.interfaces?.[0];
    if (!s) return undefined;
    const { timeUnixNano, operStatus, outUtilisation } = s.points.at(-1) ?? {};
    return {
      ...(timeUnixNano !== undefined ? { timeUnixNano } : {}),
      ...(operStatus !== undefined ? { operStatus } : {}),
      ...(outUtilisation !== undefined ? { outUtilisation } : {}),
      statusChanges: s.statusChanges,
    };
  }

  /** Waits until netspan's view of the interface satisfies `done` (polls its API); fails after timeoutMs. */
  async awaitInterface(i: RouterInterface, done: (v: InterfaceView) => boolean, timeoutMs = 30_000): Promise<InterfaceView> {
    let last: InterfaceView | undefined;
    const v = await poll(
      async () => {
        last = await this.interfaceView(i).catch(() => undefined);
        return last && done(last) ? last : undefined;
      },
      timeoutMs,
      250,
    );
    if (!v)
      throw new Error(`netspan's device state of ${ROUTER_NAME} ${i.name} did not get there in ${timeoutMs} ms: ${JSON.stringify(last)}`);
    return v;
  }

  /**
   * Waits until netspan has a reading of the interface taken after `unixMs`: whatever happens to
   * the router from then on began after that time as far as netspan can tell (a change is placed
   * between the reading before the one that saw it and that one).
   */
  awaitReadingAfter(i: RouterInterface, unixMs: number): Promise<InterfaceView> {
    return this.awaitInterface(i, (v) => v.timeUnixNano !== undefined && BigInt(v.timeUnixNano) > BigInt(unixMs) * 1_000_000n);
  }

  /** `ip link set <interface> down|up` on the router. */
  async setLink(i: RouterInterface, state: 'down' | 'up'): Promise<void> {
    await this.lab.ip(this.ioam.router.ns, ['link', 'set', i.name, state]);
  }

  /**
   * A tbf bottleneck on the router's egress to the server, filled by a UDP blaster from the
   * client sending above its rate (so its queue stays full); resolves once the queue holds
   * packets. The returned function removes both.
   */
  async bottleneck(rateMbit = 4, latencyMs = 100): Promise<() => Promise<void>> {
    const router = this.ioam.router.ns;
    const dev = this.serverSide.name;
    await this.lab.exec(router, [
      'tc',
      'qdisc',
      'replace',
      'dev',
      dev,
      'root',
      'tbf',
      'rate',
      `${rateMbit}mbit`,
      'burst',
      '16kb',
      'latency',
      `${latencyMs}ms`,
    ]);
    const sink = this.lab.spawn(
      this.ioam.server.ns,
      [
        process.execPath,
        '-e',
        `require('node:dgram').createSocket('udp6').on('message', () => {}).bind(${BLAST_PORT}, () => console.log('sink ready'))`,
      ],
      { maxLifetimeMs: 300_000 },
    );
    await sink.waitForLine(/sink ready/, 10_000);
    // 1,000-byte datagrams at twice the rate, in 10 ms ticks (late ticks on a busy machine still overfill it).
    const perTick = Math.ceil((rateMbit * 2 * 1e6) / 8 / 1000 / 100);
    const blaster = this.lab.spawn(
      this.ioam.client.ns,
      [
        process.execPath,
        '-e',
        `const s = require('node:dgram').createSocket('udp6'); const b = Buffer.alloc(1000);
         setInterval(() => { for (let i = 0; i < ${perTick}; i++) s.send(b, ${BLAST_PORT}, ${JSON.stringify(this.ioam.server.ipv6)}); }, 10);`,
      ],
      { maxLifetimeMs: 300_000 },
    );
    const backlog = async () => {
      const out = (await this.lab.exec(router, ['tc', '-s', 'qdisc', 'show', 'dev', dev])).stdout;
      const bytes = Number(/backlog (\d+)b/.exec(out)?.[1] ?? 0);
      return bytes > 0 ? bytes : undefined;
    };
    if ((await poll(backlog, 10_000, 100)) === undefined) throw new Error(`the tbf queue on ${dev} stayed empty under the blaster`);
    return async () => {
      await blaster.stop('SIGKILL', 5_000);
      await sink.stop('SIGKILL', 5_000);
      await this.lab.exec(router, ['tc', 'qdisc', 'del', 'dev', dev, 'root'], { check: false });
    };
  }

  /** A one-way delay on the router's egress to the server (NFQUEUE); stop it with `stop()`. */
  delay(delayMs: number): Promise<NfqDelay> {
    return startNfqDelay(this.lab, this.ioam.router.ns, { outInterface: this.serverSide.name, queue: 0, delayMs });
  }

  /** Stops the lab's processes (the collector last, so it writes what it holds). */
  async stop(): Promise<void> {
    await this.processes.agent.stop('SIGTERM', 10_000);
    await this.processes.server.stop('SIGTERM', 5_000);
    await this.processes.snmpd.stop('SIGTERM', 5_000);
    await this.collector.stop();
  }
}
