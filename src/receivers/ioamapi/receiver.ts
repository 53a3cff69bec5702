/**
 * The ioam_api receiver: the gRPC `ioam_api.IOAMService/Report` of the Cross-Layer Telemetry IOAM
 * agents. Each agent keeps one client stream open and sends one IOAMTrace per IOAM packet it
 * saw; older agents make a unary call per trace, which is the same exchange with one message.
 *
 * Every message is decoded (either revision of IOAMTrace, see codec.ts), turned into an
 * IoamObservation (convert.ts) and handed to the evidence store and, when this receiver is in a
 * logs pipeline, on as OTLP log records. Traces are handed on in batches at least once per
 * event-loop turn, so a stream that never ends (the Go agent's) is delivered continuously and no
 * queue grows. A malformed trace is counted, logged (rate-limited) and dropped; the stream goes on.
 *
 * Status codes: UNAUTHENTICATED (token), RESOURCE_EXHAUSTED (a message over
 * max_recv_msg_size_mib, from grpc-js, ending the stream), INVALID_ARGUMENT at the end of a
 * stream whose every trace was refused; otherwise OK with an Empty, as the proto says.
 */
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerReadableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Component, Consumers, CreateSettings } from '../../core/component.js';
import { CapacityError, DecodeError, NetspanError, errorMessage } from '../../core/errors.js';
import { ReceiverReport } from '../../core/obsreport.js';
import { parseHostPort } from '../../core/config/types.js';
import { bearerTokenMatches, formatAddress, loadServerTls } from '../../core/net/server.js';
import type { IoamObservation } from '../../model/observation.js';
import { observationsToLogs } from '../../model/observation-logs.js';
import { decodeIoamTrace } from './codec.js';
import { observationFromTrace } from './convert.js';
import type { IoamApiReceiverConfig } from './config.js';

/** The method the agents call. */
export const IOAM_API_REPORT_PATH = '/ioam_api.IOAMService/Report';
/** The same kind of problem from the same agent is logged at most once per this interval. */
const ISSUE_LOG_INTERVAL_MS = 10_000;
/** How long shutdown waits for answered streams to close before cutting them. */
const SHUTDOWN_GRACE_MS = 2_000;

const passBytes = (b: Buffer) => b;
/** google.protobuf.Empty: no fields, no bytes. */
const EMPTY = Buffer.alloc(0);

const SERVICE: ServiceDefinition = {
  Report: {
    path: IOAM_API_REPORT_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: passBytes,
    requestDeserialize: passBytes,
    responseSerialize: passBytes,
    responseDeserialize: passBytes,
  },
} as ServiceDefinition;

/** "host:port" of a grpc-js peer string ("ipv4:1.2.3.4:5", "[::1]:5", "1.2.3.4:5"); the string as is otherwise. */
export function peerAddress(peer: string): string {
  return peer.replace(/^ipv[46]:/, '');
}

export class IoamApiReceiver implements Component {
  private server: Server | undefined;
  private readonly report: ReceiverReport;
  private readonly issueLoggedAt = new Map<string, number>();
  /** Ends each open Report stream with an Empty (used at shutdown). */
  private readonly openStreams = new Set<() => void>();
  /** Bound address once started ("host:port"), e.g. to learn the port chosen for port 0. */
  address: string | undefined;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: IoamApiReceiverConfig,
    private readonly consumers: Consumers,
  ) {
    this.report = new ReceiverReport(settings.metrics, settings.id);
  }

  async start(): Promise<void> {
    const server = new Server({
      'grpc.max_receive_message_length': Math.floor(this.config.max_recv_msg_size_mib * 1024 * 1024),
      'grpc.max_concurrent_streams': this.config.max_concurrent_streams,
    });
    const impl: UntypedServiceImplementation = {
      Report: (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => this.handle(call, callback),
    };
    server.addService(SERVICE, impl);
    const hp = parseHostPort(this.config.endpoint)!;
    const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${hp.port}`, this.credentials(), (err, p) =>
        err
          ? reject(new NetspanError('LISTEN_FAILED', `cannot listen on ${this.config.endpoint}: ${err.message}`, { cause: err }))
          : resolve(p),
      ),
    );
    this.server = server;
    this.address = formatAddress({ address: hp.host, port, family: hp.host.includes(':') ? 'IPv6' : 'IPv4' });
    this.settings.logger.info(
      { endpoint: this.address, tls: !!this.config.tls, auth: !!this.config.auth },
      'IOAM API receiver listening (ioam_api.IOAMService)',
    );
  }

  async shutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // Agents keep their stream open for good: hand on what arrived and answer each, then stop.
    for (const close of [...this.openStreams]) close();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private credentials(): ServerCredentials {
    if (!this.config.tls) return ServerCredentials.createInsecure();
    const m = loadServerTls(this.config.tls);
    return ServerCredentials.createSsl(m.ca ?? null, [{ cert_chain: m.cert, private_key: m.key }], m.ca !== undefined);
  }

  private count(what: 'received' | 'accepted', n: number): void {
    if (n > 0)
      this.settings.metrics
        .counter(`netspan_ioam_api_traces_${what}_total`, `IOAM traces the ioam_api receiver ${what}.`, ['receiver'])
        .inc({ receiver: this.settings.id }, n);
  }

  private refused(reason: string, n = 1): void {
    this.settings.metrics
      .counter('netspan_ioam_api_traces_refused_total', 'IOAM traces the ioam_api receiver refused, by reason.', ['receiver', 'reason'])
      .inc({ receiver: this.settings.id, reason }, n);
  }

  private logIssue(peer: string, code: string, message: string, level: 'warn' | 'debug' = 'warn'): void {
    const key = `${peer}|${code}`;
    const now = Date.now();
    if ((this.issueLoggedAt.get(key) ?? 0) + ISSUE_LOG_INTERVAL_MS > now) return;
    if (this.issueLoggedAt.size > 10_000) this.issueLoggedAt.clear();
    this.issueLoggedAt.set(key, now);
    this.settings.logger[level](
      { peer, code },
      `IOAM API: ${message} (further ones of this kind from this agent are counted, logged again after ${ISSUE_LOG_INTERVAL_MS / 1000}s)`,
    );
  }

  private handle(call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
    const peer = peerAddress(call.getPeer());
    const auth = call.metadata.get('authorization')[0];
    if (!bearerTokenMatches(this.config.auth, typeof auth === 'string' ? auth : auth?.toString())) {
      this.report.request('grpc', 'unauthorized');
      this.logIssue(peer, 'UNAUTHENTICATED', 'refused a stream without the right bearer token', 'debug');
      callback({ code: GrpcStatus.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
      return;
    }
    let received = 0;
    let refused = 0;
    let firstProblem = '';
    let batch: IoamObservation[] = [];
    let flushScheduled = false;
    let done = false;

    const flush = () => {
      if (batch.length === 0) return;
      const observations = batch;
      batch = [];
      this.deliver(observations, peer);
    };
    const finish = (outcome: string) => {
      if (done) return;
      done = true;
      this.openStreams.delete(close);
      flush();
      this.report.request('grpc', outcome);
    };

    call.on('data', (message: Buffer) => {
      if (done) return; // answered already (shutdown): the client's late messages are not taken
      received++;
      this.count('received', 1);
      try {
        const trace = decodeIoamTrace(message, { maxNodes: this.config.max_nodes_per_trace });
        batch.push(
          observationFromTrace(trace, { bitField: this.config.bit_field, peer, receivedUnixNano: BigInt(Date.now()) * 1_000_000n }),
        );
      } catch (err) {
        refused++;
        const code = err instanceof DecodeError ? err.code : 'IOAM_API_MALFORMED';
        this.refused(code === 'IOAM_API_TOO_MANY_NODES' ? 'too_many_nodes' : 'malformed');
        firstProblem ||= errorMessage(err);
        this.logIssue(peer, code, `dropped a malformed trace: ${errorMessage(err)}`);
        return;
      }
      if (batch.length >= this.config.max_batch_traces) flush();
      else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(() => {
          flushScheduled = false;
          flush();
        });
      }
    });
    call.on('end', () => {
      if (done) return;
      if (received > 0 && refused === received) {
        finish('malformed');
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `${refused === 1 ? 'the trace was' : `all ${refused} traces were`} refused: ${firstProblem}`,
        });
        return;
      }
      finish(refused > 0 ? 'partial_success' : 'ok');
      callback(null, EMPTY);
    });
    call.on('error', (err: Error) => {
      this.logIssue(peer, 'STREAM_ERROR', `stream failed: ${err.message}`, 'debug');
      finish('error');
    });
    // The client went away, or grpc-js ended the call itself: a message over max_recv_msg_size_mib
    // gets RESOURCE_EXHAUSTED from grpc-js before it reaches this handler. What arrived is kept.
    call.on('cancelled', () => finish('cancelled'));
    // At shutdown an agent's endless stream is answered like a finished one; the agent reconnects.
    const close = () => {
      if (done) return;
      finish('shutdown');
      callback(null, EMPTY);
    };
    this.openStreams.add(close);
  }

  /** Hands a batch to the evidence store and, in a logs pipeline, on as log records. */
  private deliver(observations: IoamObservation[], peer: string): void {
    try {
      this.settings.evidence.addObservations(observations);
    } catch (err) {
      // Runs from a timer as well as from the stream: a failing store must not take the process down.
      this.refused('evidence_error', observations.length);
      this.logIssue(peer, 'EVIDENCE_ERROR', `the evidence store refused IOAM traces: ${errorMessage(err)}`);
      return;
    }
    this.count('accepted', observations.length);
    const logs = this.consumers.logs;
    if (!logs) return;
    const now = BigInt(Date.now()) * 1_000_000n;
    const data = observationsToLogs(observations, { 'service.name': 'ioam-agent' }, `netspan/${this.settings.id}`, now);
    logs.consume(data).catch((err: unknown) => {
      // The agents cannot retry a trace: a full logs pipeline loses these log records (the evidence has them), counted and logged.
      const reason = err instanceof CapacityError ? 'capacity' : 'pipeline_error';
      this.settings.metrics
        .counter('netspan_ioam_api_log_records_dropped_total', 'IOAM log records a full or failing logs pipeline did not take.', [
          'receiver',
          'reason',
        ])
        .inc({ receiver: this.settings.id, reason }, observations.length);
      this.logIssue(peer, `LOGS_${reason.toUpperCase()}`, `logs pipeline refused IOAM log records: ${errorMessage(err)}`);
    });
  }
}
