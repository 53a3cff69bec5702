/**
 * The flow receiver. The main thread only receives: UDP datagrams (and IPFIX messages framed
 * from TCP streams) are checked against the allow-list, packed into batches per worker and
 * handed over; each exporter always goes to the same worker, which keeps its templates. Decoded
 * records come back and go to the evidence store (packed as store rows in one transferred buffer
 * when the sink takes them, see EvidenceSink.addPackedFlows) and, when a logs pipeline takes from
 * this receiver, out as OTLP log records (then as objects). Every datagram is accounted for in the metrics.
 *
 * With the native addon (`native_receive`), UDP is not read here at all: each endpoint is a group
 * of SO_REUSEPORT sockets, one per worker, steered by exporter address, and each worker reads its
 * socket with recvmmsg and decodes in place; only the decoded rows come to this thread. Without
 * the addon, node:dgram reads here and the datagrams travel to the workers in batches.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { AddressInfo, BlockList } from 'node:net';
import type { Component, Consumers, CreateSettings } from '../../core/component.js';
import { CapacityError, NetspanError, errorMessage } from '../../core/errors.js';
import { parseHostPort } from '../../core/config/types.js';
import { closeServer, formatAddress } from '../../core/net/server.js';
import { BatchBuilder, type DecodedBatch, type ExporterIssue, type ReturnedRows, type WorkerSetup } from './batch.js';
import { exporterAllowList, MAX_IPFIX_MESSAGE, type NetflowReceiverConfig } from './config.js';
import { flowsToLogs } from './flowlogs.js';
import { unpackFlows } from '../../evidence/memory/rows.js';
import { IpfixStreamFramer } from './tcp.js';
import { EvidenceHub } from '../../core/evidence-hub.js';
import { closeUdpSockets, openUdpGroup, udpReceiveAvailable, type SharedUdpSocket } from '../../native/udp.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Datagrams per batch before it is sent to a worker without waiting for the next tick. */
const MAX_BATCH_DATAGRAMS = 512;
/** How long shutdown waits for batches still being decoded. */
const SHUTDOWN_DRAIN_MS = 5_000;
/** The same kind of issue from the same exporter is logged at most once per this interval. */
const ISSUE_LOG_INTERVAL_MS = 10_000;
/** A crashed worker is restarted at most this many times. */
const MAX_WORKER_RESTARTS = 10;
/** Receive buffer of a worker reading its own sockets: datagrams per recvmmsg call at most... */
const NATIVE_RECEIVE_SLOTS = 128;
/** ...within this many bytes of slots (address space: only the bytes datagrams fill are touched). */
const NATIVE_RECEIVE_BUFFER = 8 << 20;

interface WorkerSlot {
  worker: Worker;
  builder: BatchBuilder;
  /** Datagrams sent to this worker and not yet answered. */
  inFlight: number;
  /** Row buffers the evidence store has copied, to go back to the worker with the next batch. */
  spareRows: ArrayBuffer[];
  /** Resolves when the worker confirms it stopped reading its sockets. */
  stopped?: () => void;
  /** Native receive: datagrams the worker has posted and this thread not taken yet (shared with the worker). */
  pending?: Int32Array;
}

/** Row buffers held for a worker at most. */
const MAX_SPARE_ROW_BUFFERS = 4;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class NetflowReceiver implements Component {
  private slots: WorkerSlot[] = [];
  private sockets: Socket[] = [];
  /** Native receive: per endpoint, its SO_REUSEPORT group (socket i is read by worker i). */
  private udpGroups: SharedUdpSocket[][] = [];
  private tcpServer: Server | undefined;
  private readonly tcpConnections = new Set<TcpSocket>();
  private readonly allowList: BlockList | undefined;
  private flushScheduled = false;
  private restarts = 0;
  private stopping = false;
  private readonly issueLoggedAt = new Map<string, number>();
  /**
   * Row buffers can go back to the workers: the evidence sink copies packed rows during
   * addPackedFlows and keeps no reference (the collector's EvidenceHub), and the workers write rows
   * with a RowWriter (NetFlow/IPFIX).
   */
  private readonly rowsCopiedBySink: boolean;
  /** How UDP is read once started: in the workers through the native addon, or node:dgram on this thread. */
  udpReceive: 'native' | 'dgram' | undefined;
  /** Bound addresses once started, e.g. to learn the ports chosen for port 0. */
  readonly addresses: { udp: string[]; tcp?: string } = { udp: [] };

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: NetflowReceiverConfig,
    private readonly consumers: Consumers,
  ) {
    this.allowList = exporterAllowList(config.allowed_exporters);
    // (sFlow workers pack rows from records afresh each batch and take no buffers back)
    this.rowsCopiedBySink = settings.evidence instanceof EvidenceHub && config.scheme === 'netflow';
  }

  private count(outcome: string, n = 1): void {
    if (n > 0)
      this.settings.metrics
        .counter('netspan_flow_datagrams_total', 'Flow export datagrams (or IPFIX TCP messages) by outcome.', ['receiver', 'outcome'])
        .inc({ receiver: this.settings.id, outcome }, n);
  }

  private get queued(): number {
    let n = 0;
    for (const s of this.slots) n += s.inFlight + s.builder.size;
    return n;
  }

  async start(): Promise<void> {
    // Records go to a logs pipeline as objects; to the evidence store alone, packed as store rows
    // (no structured clone of objects, no address parsing on this thread).
    const setup: WorkerSetup = {
      scheme: this.config.scheme,
      keepAllFields: this.config.include_all_fields && !!this.consumers.logs,
      packed: !this.consumers.logs && typeof this.settings.evidence.addPackedFlows === 'function',
    };
    const native = this.config.native_receive ? udpReceiveAvailable() : ({ ok: false, reason: 'native_receive is off' } as const);
    this.udpReceive = native.ok ? 'native' : 'dgram';
    try {
      if (native.ok) for (const endpoint of this.config.endpoints) await this.openUdpGroup(endpoint);
      for (let i = 0; i < this.config.workers; i++) this.slots.push(this.spawnWorker(this.workerSetup(setup, i), i));
      if (!native.ok) for (const endpoint of this.config.endpoints) await this.bindUdp(endpoint);
      if (this.config.tcp_endpoint) await this.listenTcp(this.config.tcp_endpoint);
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    this.settings.logger.info(
      {
        scheme: this.config.scheme,
        udp: this.addresses.udp,
        tcp: this.addresses.tcp,
        workers: this.slots.length,
        udpReceive: native.ok ? 'native (recvmmsg in the workers)' : `node:dgram (${native.reason})`,
      },
      'flow receiver listening',
    );
  }

  /** Worker i's setup: with native receive, its socket of each endpoint's group. */
  private workerSetup(setup: WorkerSetup, index: number): WorkerSetup {
    if (this.udpGroups.length === 0) return setup;
    const slotSize = this.config.max_datagram_size;
    return {
      ...setup,
      udp: {
        fds: this.udpGroups.map((group) => group[index]!.fd),
        slotSize,
        slots: Math.max(1, Math.min(NATIVE_RECEIVE_SLOTS, Math.floor(NATIVE_RECEIVE_BUFFER / slotSize))),
        allowedExporters: this.config.allowed_exporters,
        pending: new SharedArrayBuffer(4),
        queueSize: this.config.queue_size,
      },
    };
  }

  /** Native receive: one SO_REUSEPORT socket per worker on the endpoint. */
  private async openUdpGroup(endpoint: string): Promise<void> {
    const hp = parseHostPort(endpoint)!;
    const host = isIP(hp.host) ? hp.host : (await lookup(hp.host)).address;
    let group: SharedUdpSocket[];
    try {
      group = openUdpGroup(host, hp.port, this.config.workers, this.config.socket_buffer_size);
    } catch (err) {
      throw new NetspanError('LISTEN_FAILED', `cannot listen on udp ${endpoint}: ${errorMessage(err)}`, { cause: err });
    }
    this.udpGroups.push(group);
    this.addresses.udp.push(host.includes(':') ? `[${host}]:${group[0]!.port}` : `${host}:${group[0]!.port}`);
    this.warnIfBufferCapped(endpoint, group[0]!.receiveBufferSize);
  }

  private warnIfBufferCapped(endpoint: string, got: number): void {
    if (got < this.config.socket_buffer_size / 2)
      this.settings.logger.warn(
        { endpoint, requested: this.config.socket_buffer_size, got },
        'the kernel capped the UDP receive buffer (raise net.core.rmem_max for bursty exporters)',
      );
  }

  private spawnWorker(setup: WorkerSetup, index: number): WorkerSlot {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
    const slot: WorkerSlot = { worker, builder: new BatchBuilder(), inFlight: 0, spareRows: [] };
    if (setup.udp) slot.pending = new Int32Array(setup.udp.pending);
    worker.on('message', (decoded: DecodedBatch | { stopped: true }) => {
      if ('stopped' in decoded) return slot.stopped?.();
      if (!decoded.ownReceive) slot.inFlight -= decoded.datagrams;
      else Atomics.sub(slot.pending!, 0, decoded.datagrams);
      if (decoded.spentData) slot.builder.recycle(decoded.spentData);
      this.deliver(decoded, slot);
    });
    worker.on('error', (err) => {
      this.settings.logger.error({ err: errorMessage(err), worker: index }, 'flow decoding worker failed');
    });
    worker.on('exit', (code) => {
      if (this.stopping) return;
      this.count('lost_in_worker', slot.inFlight);
      slot.inFlight = 0;
      if (slot.pending) Atomics.store(slot.pending, 0, 0); // its unsent replies are gone with it
      if (this.restarts++ < MAX_WORKER_RESTARTS) {
        this.settings.logger.error({ code, worker: index }, 'flow decoding worker exited; restarting it (its templates are relearned)');
        const replacement = this.spawnWorker(setup, index);
        replacement.builder = slot.builder;
        this.slots[index] = replacement;
      } else {
        this.settings.logger.fatal({ worker: index }, 'flow decoding worker keeps failing; not restarting it');
      }
    });
    return slot;
  }

  private async bindUdp(endpoint: string): Promise<void> {
    const hp = parseHostPort(endpoint)!;
    const socket = createSocket({ type: hp.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: this.config.socket_buffer_size });
    socket.on('message', (msg, rinfo) => this.accept(rinfo.address, msg));
    socket.on('error', (err) => this.settings.logger.error({ err: errorMessage(err), endpoint }, 'flow receiver socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) =>
        reject(new NetspanError('LISTEN_FAILED', `cannot listen on udp ${endpoint}: ${err.message}`, { cause: err })),
      );
      socket.bind(hp.port, hp.host, () => resolve());
    });
    this.sockets.push(socket);
    const a = socket.address();
    this.addresses.udp.push(formatAddress(a));
    try {
      this.warnIfBufferCapped(endpoint, socket.getRecvBufferSize());
    } catch {
      // Not every platform reports it.
    }
  }

  private async listenTcp(endpoint: string): Promise<void> {
    const hp = parseHostPort(endpoint)!;
    const server = createServer((conn) => {
      const exporter = conn.remoteAddress ?? '';
      if (this.allowList && !this.allowList.check(exporter, exporter.includes(':') ? 'ipv6' : 'ipv4')) {
        this.count('denied');
        conn.destroy();
        return;
      }
      this.tcpConnections.add(conn);
      const framer = new IpfixStreamFramer(MAX_IPFIX_MESSAGE);
      conn.on('data', (chunk: Buffer) => {
        const result = framer.push(chunk);
        for (const message of result.messages) this.enqueue(exporter, message);
        if (result.error) {
          this.count('tcp_stream_error');
          this.settings.logger.warn({ exporter, reason: result.error }, 'IPFIX over TCP: bad message framing, closing the connection');
          conn.destroy();
        }
      });
      conn.on('error', () => undefined);
      conn.on('close', () => this.tcpConnections.delete(conn));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new NetspanError('LISTEN_FAILED', `cannot listen on tcp ${endpoint}: ${err.message}`, { cause: err })),
      );
      server.listen(hp.port, hp.host, () => resolve());
    });
    this.tcpServer = server;
    this.addresses.tcp = formatAddress(server.address() as AddressInfo);
  }

  /** A datagram from an exporter: allowed? room? then into its worker's batch. */
  private accept(exporter: string, datagram: Buffer): void {
    if (datagram.length > this.config.max_datagram_size) {
      this.count('truncated');
      return;
    }
    if (this.allowList && !this.allowList.check(exporter, exporter.includes(':') ? 'ipv6' : 'ipv4')) {
      this.count('denied');
      return;
    }
    this.enqueue(exporter, datagram);
  }

  private enqueue(exporter: string, datagram: Uint8Array): void {
    if (this.stopping || this.queued >= this.config.queue_size) {
      this.count('dropped_queue_full');
      return;
    }
    const slot = this.slots[fnv1a(exporter) % this.slots.length]!;
    slot.builder.add(exporter, Date.now(), datagram);
    if (slot.builder.size >= MAX_BATCH_DATAGRAMS) this.flush(slot);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        for (const s of this.slots) this.flush(s);
      });
    }
  }

  private flush(slot: WorkerSlot): void {
    if (slot.builder.size === 0) return;
    const batch = slot.builder.take();
    slot.inFlight += batch.exporters.length;
    if (slot.spareRows.length > 0) {
      batch.spareRows = slot.spareRows;
      slot.spareRows = [];
      slot.worker.postMessage(batch, [batch.data, ...batch.spareRows]);
    } else slot.worker.postMessage(batch, [batch.data]);
  }

  private deliver(decoded: DecodedBatch, slot: WorkerSlot): void {
    this.count('decoded', decoded.datagrams);
    this.count('denied', decoded.denied ?? 0);
    this.count('truncated', decoded.truncated ?? 0);
    this.count('dropped_queue_full', decoded.droppedQueueFull ?? 0);
    const { metrics, id } = this.settings;
    let byType = decoded.recordsByType;
    if (!byType) {
      byType = {};
      for (const r of decoded.records) byType[r.type] = (byType[r.type] ?? 0) + 1;
    }
    for (const [type, n] of Object.entries(byType))
      metrics
        .counter('netspan_flow_records_total', 'Flow records decoded, by export format.', ['receiver', 'type'])
        .inc({ receiver: id, type }, n);
    for (const [code, n] of Object.entries(decoded.issueCounts))
      metrics
        .counter('netspan_flow_decode_issues_total', 'Decoding problems, by kind (MISSING_TEMPLATE is a soft one).', ['receiver', 'code'])
        .inc({ receiver: id, code }, n);
    for (const issue of decoded.issueSamples) this.logIssue(issue);

    const evidence = this.settings.evidence;
    const packed = decoded.packed;
    if (packed) {
      if (packed.rows + packed.refusedAddress + packed.refusedField > 0) {
        if (evidence.addPackedFlows) evidence.addPackedFlows(packed);
        else evidence.addFlows(unpackFlows(packed));
      }
      // The hub's stores copy the rows during the call (insertPacked, or unpackFlows), so the buffer
      // can go back to the worker; another sink might keep it, so its buffers are left alone.
      if (this.rowsCopiedBySink && slot.spareRows.length < MAX_SPARE_ROW_BUFFERS && this.slots.includes(slot)) {
        slot.spareRows.push(packed.data);
        // a worker reading its own sockets gets no batches to take them back with
        if (decoded.ownReceive && slot.spareRows.length === MAX_SPARE_ROW_BUFFERS) {
          const returned: ReturnedRows = { spareRows: slot.spareRows };
          slot.spareRows = [];
          slot.worker.postMessage(returned, returned.spareRows);
        }
      }
    } else if (decoded.records.length > 0) evidence.addFlows(decoded.records);
    if (decoded.counters.length > 0) evidence.addInterfaceCounters(decoded.counters);
    const logs = this.consumers.logs;
    if (logs && decoded.records.length > 0) {
      const data = flowsToLogs(decoded.records, id, this.config.include_all_fields, BigInt(Date.now()) * 1_000_000n);
      logs.consume(data).catch((err: unknown) => {
        // UDP cannot push back: a full logs pipeline loses these log records, counted and logged.
        metrics
          .counter('netspan_flow_log_records_dropped_total', 'Flow log records a full or failing logs pipeline did not take.', [
            'receiver',
            'reason',
          ])
          .inc({ receiver: id, reason: err instanceof CapacityError ? 'capacity' : 'pipeline_error' }, decoded.records.length);
        this.logIssue(
          { exporter: '', code: 'MALFORMED', message: `logs pipeline refused flow records: ${errorMessage(err)}`, offset: 0 },
          'warn',
        );
      });
    }
  }

  private logIssue(issue: ExporterIssue, level: 'warn' | 'debug' = issue.code === 'MISSING_TEMPLATE' ? 'debug' : 'warn'): void {
    const key = `${issue.exporter}|${issue.code}`;
    const now = Date.now();
    if ((this.issueLoggedAt.get(key) ?? 0) + ISSUE_LOG_INTERVAL_MS > now) return;
    if (this.issueLoggedAt.size > 10_000) this.issueLoggedAt.clear();
    this.issueLoggedAt.set(key, now);
    this.settings.logger[level](
      { exporter: issue.exporter, code: issue.code, offset: issue.offset, ...issue.context },
      `flow decoding: ${issue.message} (further ones of this kind from this exporter are counted, logged again after ${ISSUE_LOG_INTERVAL_MS / 1000}s)`,
    );
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const s of this.sockets) s.close();
    this.sockets = [];
    if (this.udpGroups.length > 0) await this.stopWorkerReceive();
    for (const c of this.tcpConnections) c.destroy();
    if (this.tcpServer) await closeServer(this.tcpServer);
    this.tcpServer = undefined;
    for (const s of this.slots) this.flush(s);
    const deadline = Date.now() + SHUTDOWN_DRAIN_MS;
    while (this.slots.some((s) => s.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const lost = this.slots.reduce((n, s) => n + s.inFlight, 0);
    if (lost > 0) {
      this.count('lost_at_shutdown', lost);
      this.settings.logger.warn({ datagrams: lost }, 'flow receiver stopped before these datagrams were decoded');
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
    for (const group of this.udpGroups) closeUdpSockets(group);
    this.udpGroups = [];
  }

  /** Native receive: the workers stop reading; their batches already posted are delivered before this resolves. */
  private async stopWorkerReceive(): Promise<void> {
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, SHUTDOWN_DRAIN_MS);
            slot.stopped = () => {
              clearTimeout(timer);
              resolve();
            };
            slot.worker.postMessage({ stop: true });
          }),
      ),
    );
  }
}
