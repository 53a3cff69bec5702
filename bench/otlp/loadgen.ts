/**
 * The load generator: sends one pre-built OTLP request every 1/rate seconds over OTLP/HTTP
 * (protobuf, keep-alive) or OTLP/gRPC, paced by a timer against an absolute schedule (a late
 * tick sends what is due, so the mean rate holds; lag beyond one second is dropped and
 * counted rather than sent as a burst). Requests are not retried: a refusal counts as such.
 */
import { Agent, request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { materialize, nowNs, type RequestTemplate } from './payload.js';

export interface Sender {
  /** Sends one request; resolves with an outcome label ("ok" or the error). */
  send(body: Buffer): Promise<string>;
  close(): void;
}

export function httpSender(endpoint: string): Sender {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(':')), Number(endpoint.slice(endpoint.lastIndexOf(':') + 1))];
  return {
    send: (body) =>
      new Promise<string>((resolve) => {
        const req = request(
          {
            agent,
            host,
            port,
            method: 'POST',
            path: '/v1/traces',
            headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `http ${res.statusCode}`));
            res.on('error', (err) => resolve(`response error: ${err.message}`));
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
        req.on('error', (err) => resolve(`request error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}

const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export function grpcSender(endpoint: string): Sender {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  const identity = (b: Buffer) => b;
  return {
    send: (body) =>
      new Promise<string>((resolve) => {
        client.makeUnaryRequest(TRACE_EXPORT, identity, identity, body, { deadline: Date.now() + 10_000 }, (err) =>
          resolve(err ? `grpc ${grpc.status[err.code] ?? err.code}` : 'ok'),
        );
      }),
    close: () => client.close(),
  };
}

export interface LoadStats {
  requests: number;
  spansSent: number;
  /** Spans in requests the collector answered with success. */
  spansAccepted: number;
  spansFailed: number;
  /** Outcome label → requests, for everything but "ok". */
  failures: Record<string, number>;
  /** Requests dropped because the generator fell more than 1 s behind its schedule. */
  skipped: number;
  /** Worst lateness of a send against its scheduled time, ms. */
  maxLagMs: number;
  /** Sends more than one interval late. */
  lateSends: number;
  maxInFlight: number;
  /** Spans in requests sent while the measurement window was open, and how many of those were accepted. */
  windowSpansSent: number;
  windowSpansAccepted: number;
}

export class LoadGenerator {
  readonly stats: LoadStats = {
    requests: 0,
    spansSent: 0,
    spansAccepted: 0,
    spansFailed: 0,
    failures: {},
    skipped: 0,
    maxLagMs: 0,
    lateSends: 0,
    maxInFlight: 0,
    windowSpansSent: 0,
    windowSpansAccepted: 0,
  };
  /** While true, sends count toward the window's figures (by send time, whenever they are answered). */
  windowOpen = false;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private startedAt = 0;
  private due = 0;
  private readonly intervalMs: number;

  constructor(
    private readonly sender: Sender,
    private readonly templates: RequestTemplate[],
    private readonly spansPerRequest: number,
    requestsPerSecond: number,
    /** The sequence number of the first request: ids stay unique across runs in one process. */
    private seq: number,
  ) {
    this.intervalMs = 1000 / requestsPerSecond;
  }

  start(): void {
    this.running = true;
    this.startedAt = performance.now();
    this.due = 0;
    this.tick();
  }

  /** The next sequence number (for a following generator). */
  get nextSeq(): number {
    return this.seq;
  }

  private tick(): void {
    if (!this.running) return;
    const now = performance.now() - this.startedAt;
    let scheduled = this.due * this.intervalMs;
    if (now - scheduled > 1000) {
      // Over a second behind (the machine stalled): skip rather than burst.
      const behind = Math.floor((now - scheduled) / this.intervalMs);
      this.stats.skipped += behind;
      this.due += behind;
      scheduled = this.due * this.intervalMs;
    }
    while (scheduled <= now) {
      const lag = now - scheduled;
      if (lag > this.stats.maxLagMs) this.stats.maxLagMs = lag;
      if (lag > this.intervalMs) this.stats.lateSends++;
      this.sendOne();
      this.due++;
      scheduled = this.due * this.intervalMs;
    }
    this.timer = setTimeout(() => this.tick(), Math.max(0, scheduled - (performance.now() - this.startedAt)));
  }

  private sendOne(): void {
    const seq = this.seq++;
    const body = materialize(this.templates[seq % this.templates.length]!, seq, nowNs());
    this.stats.requests++;
    this.stats.spansSent += this.spansPerRequest;
    const inWindow = this.windowOpen;
    if (inWindow) this.stats.windowSpansSent += this.spansPerRequest;
    this.inFlight++;
    if (this.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.inFlight;
    void this.sender.send(body).then((outcome) => {
      if (outcome === 'ok') {
        this.stats.spansAccepted += this.spansPerRequest;
        if (inWindow) this.stats.windowSpansAccepted += this.spansPerRequest;
      } else {
        this.stats.spansFailed += this.spansPerRequest;
        this.stats.failures[outcome] = (this.stats.failures[outcome] ?? 0) + 1;
      }
      if (--this.inFlight === 0) for (const w of this.idle.splice(0)) w();
    });
  }

  /** Stops sending and waits (bounded) for the answers to requests in flight. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
