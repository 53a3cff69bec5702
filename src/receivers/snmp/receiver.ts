/**
 * The SNMP receiver: polls each agent every collection_interval (one poll in flight per agent;
 * a poll that overruns its interval delays the next, it never stacks), reads sysUpTime, IF-MIB,
 * hrProcessorLoad and hrStorage, and hands one device reading per poll to the evidence sink
 * (the device state store). A failing agent (unreachable, wrong community, refused v3
 * credentials) yields no reading: the outcome is counted, logged at most once per
 * log_interval with the reason, and polling goes on.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import snmp from 'net-snmp';
import type { Component, Consumers, CreateSettings } from '../../core/component.js';
import { errorMessage } from '../../core/errors.js';
import type { DeviceReading } from '../../devices/model.js';
import { resolveTarget, type ResolvedTarget, type SnmpReceiverConfig } from './config.js';
import { classifySnmpError, type PollOutcome } from './errors.js';
import { readingFromWalk } from './parse.js';
import { getUptime, walkColumns } from './walk.js';

/** What one poll of one agent gave. */
export interface PollResult {
  /** The device key its readings are stored under (target name, inventory name, or address). */
  device: string;
  address: string;
  port: number;
  outcome: PollOutcome;
  durationMs: number;
  /** The reading handed to the sink (ok only). */
  reading?: DeviceReading;
  /** Why it failed. */
  reason?: string;
}

interface TargetState {
  key: string;
  target: ResolvedTarget;
  session?: snmp.Session;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<PollResult>;
  nextDueMs: number;
  failing: boolean;
  lastLogMs: number;
  suppressed: number;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const nowNano = () => BigInt(Date.now()) * 1_000_000n;

const targetKey = (address: string, port: number) => (isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`);

export class SnmpReceiver implements Component {
  private readonly targets = new Map<string, TargetState>();
  private discoveryTimer: NodeJS.Timeout | undefined;
  private running = false;
  /** Set by shutdown: polls it aborts are neither counted nor logged as failures. */
  private stopping = false;
  private warnedNoDeviceSink = false;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: SnmpReceiverConfig,
    _next: Consumers,
  ) {
    for (const t of config.targets) this.addTarget(resolveTarget(config, t, 'target'));
    for (const address of config.poll_addresses) this.addTarget(resolveTarget(config, { address }, 'address'));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { logger } = this.settings;
    if (!this.settings.evidence.addDeviceReadings)
      logger.warn('the evidence sink keeps no device state: SNMP readings are counted and dropped');
    if (this.config.poll_flow_exporters) {
      if (!this.settings.evidenceStores?.devices)
        logger.warn('poll_flow_exporters: no device state store runs here, so no flow exporter addresses are known');
      this.discoverExporters();
      this.discoveryTimer = setInterval(() => this.discoverExporters(), this.config.collection_interval);
    }
    for (const s of this.targets.values()) this.schedule(s, 0);
    logger.info(
      {
        targets: this.targets.size,
        collection_interval_ms: this.config.collection_interval,
        poll_flow_exporters: this.config.poll_flow_exporters,
      },
      'snmp receiver polling',
    );
  }

  async shutdown(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.discoveryTimer) clearInterval(this.discoveryTimer);
    this.discoveryTimer = undefined;
    for (const s of this.targets.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      // Closing the socket fails the request in flight at once.
      this.closeSession(s);
    }
    await Promise.all([...this.targets.values()].map((s) => s.inFlight));
  }

  /** Agents polled, as "address:port". */
  targetKeys(): string[] {
    return [...this.targets.keys()];
  }

  /** Polls every agent once now (waiting for polls already in flight instead of starting another); for tests and tools. */
  async pollAll(): Promise<PollResult[]> {
    return Promise.all([...this.targets.values()].map((s) => s.inFlight ?? this.poll(s)));
  }

  /**
   * Adds the flow exporters the device store has seen as targets polled with the defaults. A
   * device the inventory knows is polled once: not at all when a target already polls it, at
   * its first `snmp_addresses` entry when it has one, else at the exporter address.
   */
  discoverExporters(): void {
    const store = this.settings.evidenceStores?.devices;
    if (!store) return;
    const polled = new Set([...this.targets.values()].map((s) => this.device(s.target)));
    for (const exporter of store.flowExporters()) {
      const device = store.inventory.deviceForAddress(exporter);
      if (polled.has(device)) continue;
      const address = store.inventory.get(device)?.snmpAddresses[0] ?? exporter;
      if (this.targets.has(targetKey(address, this.config.port))) continue;
      const s = this.addTarget(resolveTarget(this.config, { address }, 'flow_exporter'));
      if (s) {
        polled.add(device);
        this.settings.logger.info({ exporter, address, port: s.target.port, device }, 'snmp: polling a flow exporter');
        if (this.running) this.schedule(s, 0);
      }
    }
  }

  private addTarget(target: ResolvedTarget): TargetState | undefined {
    const key = targetKey(target.address, target.port);
    if (this.targets.has(key)) return undefined;
    if (this.targets.size >= this.config.max_targets) {
      this.settings.metrics
        .counter(
          'netspan_snmp_targets_ignored_total',
          'Agent addresses not polled because max_targets was reached (counted each time one is offered).',
          ['receiver'],
        )
        .inc({ receiver: this.settings.id });
      return undefined;
    }
    const s: TargetState = { key, target, nextDueMs: 0, failing: false, lastLogMs: -Infinity, suppressed: 0 };
    this.targets.set(key, s);
    this.settings.metrics
      .gauge('netspan_snmp_targets', 'Agents the SNMP receiver polls.', ['receiver'])
      .set({ receiver: this.settings.id }, this.targets.size);
    return s;
  }

  private schedule(s: TargetState, delayMs: number): void {
    if (!this.running) return;
    s.nextDueMs = performance.now() + delayMs;
    s.timer = setTimeout(() => void this.tick(s), delayMs);
  }

  private async tick(s: TargetState): Promise<void> {
    s.timer = undefined;
    if (s.inFlight) await s.inFlight;
    else await this.poll(s);
    // Fixed rate; an overrun skips the missed slots instead of polling back to back.
    const now = performance.now();
    let next = s.nextDueMs + s.target.intervalMs;
    if (next < now) next = now + s.target.intervalMs;
    this.schedule(s, next - now);
  }

  private device(t: ResolvedTarget): string {
    return t.device ?? this.settings.evidenceStores?.devices?.inventory.deviceForAddress(t.address) ?? t.address;
  }

  private poll(s: TargetState): Promise<PollResult> {
    const run = async (): Promise<PollResult> => {
      const t = s.target;
      const started = performance.now();
      const base = { device: this.device(t), address: t.address, port: t.port };
      let result: PollResult;
      try {
        const session = this.session(s);
        const sysUpTimeTicks = await getUptime(session);
        const sysUpTimeUnixNano = nowNano();
        // The counters' time: when the first table response came (most rows of a small agent).
        let timeUnixNano: bigint | undefined;
        const columns = await walkColumns(session, {
          bulk: t.version !== 'v1',
          maxRepetitions: this.config.max_repetitions,
          maxRows: this.config.max_rows,
          onFirstResponse: () => (timeUnixNano = nowNano()),
        });
        const reading = readingFromWalk(columns, {
          address: t.address,
          ...(t.device === undefined ? {} : { device: t.device }),
          timeUnixNano: timeUnixNano ?? nowNano(),
          ...(sysUpTimeTicks === undefined ? {} : { sysUpTimeTicks, sysUpTimeUnixNano }),
        });
        this.deliver(reading);
        result = { ...base, outcome: 'ok', durationMs: performance.now() - started, reading };
      } catch (err) {
        const e = classifySnmpError(err);
        result = { ...base, outcome: e.outcome, durationMs: performance.now() - started, reason: e.message };
      }
      if (!this.stopping) this.record(s, result);
      return result;
    };
    const p = run().finally(() => {
      if (s.inFlight === p) s.inFlight = undefined;
    });
    s.inFlight = p;
    return p;
  }

  private deliver(reading: DeviceReading): void {
    const sink = this.settings.evidence;
    if (sink.addDeviceReadings) sink.addDeviceReadings([reading]);
    else {
      this.settings.metrics
        .counter('netspan_snmp_readings_dropped_total', 'SNMP readings dropped because the evidence sink keeps no device state.', [
          'receiver',
        ])
        .inc({ receiver: this.settings.id });
      if (!this.warnedNoDeviceSink) {
        this.warnedNoDeviceSink = true;
        this.settings.logger.warn('snmp: reading dropped, the evidence sink keeps no device state');
      }
    }
  }

  private record(s: TargetState, r: PollResult): void {
    const { metrics, logger, id } = this.settings;
    metrics
      .counter('netspan_snmp_polls_total', 'SNMP polls by outcome (ok, timeout, auth_error, error).', ['receiver', 'device', 'outcome'])
      .inc({ receiver: id, device: r.device, outcome: r.outcome });
    metrics
      .histogram(
        'netspan_snmp_poll_duration_seconds',
        'Duration of an SNMP poll (all requests of one agent).',
        ['receiver', 'outcome'],
        DURATION_BUCKETS,
      )
      .observe({ receiver: id, outcome: r.outcome }, r.durationMs / 1000);
    const where = { device: r.device, address: r.address, port: r.port };
    if (r.outcome === 'ok') {
      if (s.failing) logger.info({ ...where, failures_not_logged: s.suppressed }, 'snmp agent answers again');
      s.failing = false;
      s.suppressed = 0;
      s.lastLogMs = -Infinity;
      logger.debug({ ...where, interfaces: r.reading?.interfaces.length ?? 0, duration_ms: Math.round(r.durationMs) }, 'snmp poll');
      return;
    }
    s.failing = true;
    const now = performance.now();
    if (now - s.lastLogMs >= this.config.log_interval) {
      logger.warn(
        { ...where, outcome: r.outcome, reason: r.reason, version: s.target.version, failures_not_logged: s.suppressed },
        'snmp poll failed',
      );
      s.lastLogMs = now;
      s.suppressed = 0;
    } else s.suppressed++;
  }

  private session(s: TargetState): snmp.Session {
    if (s.session) return s.session;
    const t = s.target;
    const options: snmp.SessionOptions = {
      port: t.port,
      timeout: t.timeoutMs,
      retries: t.retries,
      transport: isIP(t.address) === 6 ? 'udp6' : 'udp4',
    };
    let session: snmp.Session;
    if (t.version === 'v3') {
      const v3 = t.v3!;
      const user: snmp.User = { name: v3.user, level: snmp.SecurityLevel[v3.security_level] };
      if (v3.security_level !== 'noAuthNoPriv') {
        user.authProtocol = snmp.AuthProtocols[v3.auth_protocol];
        user.authKey = v3.auth_key!;
      }
      if (v3.security_level === 'authPriv') {
        user.privProtocol = snmp.PrivProtocols[v3.priv_protocol];
        user.privKey = v3.priv_key!;
      }
      session = snmp.createV3Session(t.address, user, { ...options, context: v3.context });
    } else
      session = snmp.createSession(t.address, t.community, { ...options, version: t.version === 'v1' ? snmp.Version1 : snmp.Version2c });
    // A socket error or an undecodable datagram: drop this session, the next poll opens another.
    session.on('error', (err: Error) => {
      this.settings.logger.warn({ device: this.device(t), address: t.address, err: errorMessage(err) }, 'snmp session error');
      if (s.session === session) this.closeSession(s);
    });
    s.session = session;
    return session;
  }

  private closeSession(s: TargetState): void {
    const session = s.session;
    s.session = undefined;
    if (!session) return;
    try {
      session.close();
    } catch {
      // already closed
    }
  }
}
