/**
 * The correlate processor: puts the network into traces. It runs after groupbytrace, so each
 * batch holds whole traces. Per batch:
 *  1. every span with connection attributes gives an endpoint (quartet.ts), skipping spans this
 *     processor made (scope "netspan");
 *  2. per trace, client and server endpoints of one connection are paired (pair.ts);
 *  3. ONE lookup for all connections of the batch (source.ts), from span start − window to
 *     span end + window, both directions;
 *  4. per connection, the flows of the span's session are kept and the rest rejected
 *     (match.ts), grouped per exporting device and direction, in path order (devices.ts);
 *  5. the spans are synthesised (synthesize.ts) into one ResourceSpans of their own
 *     (`service.name` = service_name, scope "netspan") appended to the batch, and the matching
 *     server span is reparented under the summary;
 *  6. the batch goes downstream.
 * Nothing here throws on bad input: malformed attributes, unknown hosts and devices, a failing
 * evidence backend are counted and the trace passes on (enriched as far as the evidence allows).
 */
import { create } from '@bufbuild/protobuf';
import type { Component, Consumer, CreateSettings } from '../../core/component.js';
import { CapacityError, errorMessage } from '../../core/errors.js';
import { validateFlowQuery, nanoToMicros, type FlowMatch, type FlowQuery } from '../../evidence/store.js';
import { hexId, type Traces } from '../../model/otlp.js';
import { ResourceSpansSchema, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { CorrelateConfig } from './config.js';
import { Inventory, pathOrder } from './devices.js';
import { selectFlows, type FlowGroup } from './match.js';
import { isComplete, pairConnections, type Connection } from './pair.js';
import { QuartetExtractor, type Endpoint } from './quartet.js';
import { sourceFromStores, type FlowEvidenceSource } from './source.js';
import { SCOPE_NAME, nsToMs, quartetKey, summarySpanId, synthesize, type NoEvidenceReason, type Quartet } from './synthesize.js';
import { packetSpans } from './packets.js';
import { deviceStateAndVerdict, verdictAttributes, type VerdictRule } from './verdict.js';
import type { DeviceStateStore } from '../../devices/store.js';
import type { NetworkMetrics } from '../../evidence/network-metrics.js';
import type { MemoryObservationStore } from '../../evidence/observations/store.js';
import type { Observation } from '../../model/observation.js';
import { CorrelateMetrics, RateLimitedLog, type ConnectionOutcome } from './telemetry.js';

const PROTOCOLS: Record<CorrelateConfig['default_transport'], number | undefined> = { tcp: 6, udp: 17, sctp: 132, any: undefined };

export interface CorrelateOptions {
  /**
   * The flow evidence to read: by default the collector's store (settings.evidenceStores.flows);
   * null runs without one (every summary says `no_evidence_store`).
   */
  source?: FlowEvidenceSource | null;
  /** Clock for the retention check, Unix milliseconds. */
  now?: () => number;
  /** Packet observations to read: by default the collector's store (settings.evidenceStores.observations); null for none. */
  observations?: MemoryObservationStore | null;
  /** Device state to read: by default the collector's store (settings.evidenceStores.devices); null for none. */
  devices?: DeviceStateStore | null;
}

/** A connection that will be looked up and synthesised. */
interface Planned {
  conn: Connection;
  quartet: Quartet;
  traceId: Uint8Array;
  anchor: Span;
  startUnixNano: bigint;
  endUnixNano: bigint;
  /** Index into the batch's queries; -1 when not looked up (then `reason` says why). */
  query: number;
  reason: NoEvidenceReason | undefined;
  /** Packet evidence (IOAM traces, HTTP observations) of the connection. */
  observations: Observation[];
}

/** What one batch amounts to, for tests and logs. */
export interface CorrelateReport {
  connections: Partial<Record<ConnectionOutcome, number>>;
  spansSynthesized: number;
  candidatesRejected: number;
  /** Of the rejected: flows of sessions that fitted but could not be told apart from another one. */
  candidatesAmbiguous: number;
  /** Device/direction streams left without a span because more than one session fitted. */
  ambiguousStreams: number;
  unresolvedHosts: number;
  /** Device spans made for exporters the inventory does not list (named by their address). */
  unknownDeviceSpans: number;
  queries: number;
  /** Queries the source failed to answer alone (the rest of the batch was answered). */
  queriesFailed: number;
  /** Verdicts written, by rule. */
  verdicts: Partial<Record<VerdictRule, number>>;
}

export class Correlator {
  private readonly extractor: QuartetExtractor;
  readonly inventory: Inventory;
  private readonly windowNs: bigint;
  private readonly skewUs: number;
  private readonly defaultProtocol: number | undefined;

  constructor(
    private readonly config: CorrelateConfig,
    private readonly source: FlowEvidenceSource | undefined,
    private readonly now: () => number = Date.now,
    private readonly observations?: MemoryObservationStore,
    private readonly devices?: DeviceStateStore,
    private readonly networkMetrics?: NetworkMetrics,
  ) {
    this.extractor = new QuartetExtractor(config.attributes, config.hosts);
    this.inventory = new Inventory(config.devices);
    this.windowNs = BigInt(Math.round(config.window * 1e6));
    this.skewUs = Math.round(config.clock_skew * 1000);
    this.defaultProtocol = PROTOCOLS[config.default_transport];
  }

  /**
   * Enriches `traces` in place: appends the synthesised spans as one ResourceSpans and
   * reparents server spans. Resolves with what it did; never rejects for bad data, nor when the
   * evidence source fails (then the connections get `evidence_error`, reported in `lookupError`).
   */
  async enrich(traces: Traces): Promise<CorrelateReport & { lookupError?: unknown }> {
    const report: CorrelateReport = {
      connections: {},
      spansSynthesized: 0,
      candidatesRejected: 0,
      candidatesAmbiguous: 0,
      ambiguousStreams: 0,
      unresolvedHosts: 0,
      unknownDeviceSpans: 0,
      queries: 0,
      queriesFailed: 0,
      verdicts: {},
    };
    const count = (outcome: ConnectionOutcome) => (report.connections[outcome] = (report.connections[outcome] ?? 0) + 1);

    // 1. Endpoints by trace; ids of spans already synthesised; packet evidence that names a span exactly.
    const byTrace = new Map<string, Endpoint[]>();
    const observing = this.observations && this.observations.size > 0 ? this.observations : undefined;
    const exact = new Map<string, { span: Span; observations: Observation[] }>();
    let existing: Set<string> | undefined;
    for (const rs of traces.resourceSpans)
      for (const ss of rs.scopeSpans) {
        if (ss.scope?.name === SCOPE_NAME) {
          existing ??= new Set();
          for (const s of ss.spans) existing.add(hexId(s.spanId));
          continue;
        }
        for (const span of ss.spans) {
          if (observing) {
            const found = observing.bySpan(hexId(span.traceId), hexId(span.spanId));
            if (found.length > 0)
              exact.set(hexId(span.spanId), { span, observations: found.slice(0, this.config.packets.max_observations_per_span) });
          }
          const e = this.extractor.extract(span);
          if (!e) continue;
          report.unresolvedHosts += e.unresolvedHosts.length;
          const key = hexId(span.traceId);
          const list = byTrace.get(key);
          if (list) list.push(e);
          else byTrace.set(key, [e]);
        }
      }
    if (byTrace.size === 0 && exact.size === 0) return report;

    // 2. Connections, and the queries for them.
    const planned: Planned[] = [];
    const queries: FlowQuery[] = [];
    const cutoffNs =
      this.source?.retentionMs !== undefined ? BigInt(Math.floor(this.now() - this.source.retentionMs)) * 1_000_000n : undefined;
    for (const endpoints of byTrace.values())
      for (const conn of pairConnections(endpoints)) {
        if (conn.notIp) {
          count('not_ip');
          continue;
        }
        if (!isComplete(conn)) {
          count(
            conn.states.includes('malformed') ? 'malformed' : conn.states.includes('unresolved') ? 'unresolved_host' : 'incomplete_quartet',
          );
          continue;
        }
        const anchor = (conn.client ?? conn.server)!.span;
        const quartet: Quartet = {
          sourceAddress: conn.sourceAddress!,
          sourcePort: conn.sourcePort,
          destinationAddress: conn.destinationAddress!,
          destinationPort: conn.destinationPort,
          protocol: conn.protocol ?? this.defaultProtocol,
        };
        // Its summary already in the batch (re-processing, or the same span sent twice): skip.
        const summaryKey = hexId(summarySpanId(anchor.traceId, anchor, quartet));
        if (existing?.has(summaryKey)) {
          count('already_enriched');
          continue;
        }
        (existing ??= new Set()).add(summaryKey);
        const start = anchor.startTimeUnixNano;
        let end = anchor.endTimeUnixNano;
        if (end < start) end = start;
        // The flows of a pair are looked for around both spans (their hosts' clocks differ).
        const other = conn.client && conn.server ? conn.server.span : undefined;
        const lookFrom = other && other.startTimeUnixNano < start ? other.startTimeUnixNano : start;
        const lookTo = other && other.endTimeUnixNano > end ? other.endTimeUnixNano : end;
        const p: Planned = {
          conn,
          quartet,
          traceId: anchor.traceId,
          anchor,
          startUnixNano: start,
          endUnixNano: end,
          query: -1,
          reason: undefined,
          observations: this.packetEvidence(observing, exact, anchor, quartet, lookFrom, lookTo),
        };
        const query: FlowQuery = {
          sourceAddress: quartet.sourceAddress,
          sourcePort: quartet.sourcePort,
          destinationAddress: quartet.destinationAddress,
          destinationPort: quartet.destinationPort,
          fromUnixNano: lookFrom - this.windowNs,
          toUnixNano: (lookTo > lookFrom ? lookTo : lookFrom) + this.windowNs,
          bothDirections: true,
          limit: this.config.max_flows_per_connection,
        };
        if (quartet.protocol !== undefined) query.protocol = quartet.protocol;
        if (!this.source) p.reason = 'no_evidence_store';
        else if (cutoffNs !== undefined && query.toUnixNano < cutoffNs) p.reason = 'outside_retention';
        else if (validateFlowQuery(query).length > 0) {
          count('malformed');
          continue;
        } else {
          p.query = queries.length;
          queries.push(query);
        }
        planned.push(p);
      }

    // Spans named by packet evidence that no connection above covered (no quartet attributes: CLT ids are enough).
    for (const { span, observations } of exact.values()) {
      const p = this.plannedFromObservations(span, observations);
      const summaryKey = hexId(summarySpanId(span.traceId, span, p.quartet));
      if (existing?.has(summaryKey)) {
        count('already_enriched');
        continue;
      }
      (existing ??= new Set()).add(summaryKey);
      planned.push(p);
    }

    // 3. One lookup for the batch.
    let answers: (FlowMatch[] | undefined)[] = [];
    let lookupError: unknown;
    if (queries.length > 0 && this.source) {
      report.queries = queries.length;
      try {
        answers = await this.source.lookup(queries);
        if (answers.length !== queries.length) throw new Error(`${answers.length} answers to ${queries.length} queries`);
        for (let i = 0; i < answers.length; i++) if (answers[i] === undefined) report.queriesFailed++;
      } catch (err) {
        lookupError = err;
        answers = [];
      }
    }

    // 4–5. Selection and synthesis.
    const out: Span[] = [];
    for (const p of planned) {
      let request: FlowGroup[] = [];
      let response: FlowGroup[] = [];
      let rejected = 0;
      let ambiguous = 0;
      let reason = p.reason;
      if (p.query >= 0) {
        const matches = answers[p.query];
        if (!matches) reason = 'evidence_error';
        else {
          const sel = selectFlows(
            matches,
            nanoToMicros(this.spanFrom(p)),
            nanoToMicros(this.spanTo(p)),
            this.skewUs,
            this.inventory.exporterOf,
          );
          rejected = sel.rejected;
          ambiguous = sel.ambiguous;
          report.ambiguousStreams += sel.ambiguousStreams;
          request = pathOrder(
            sel.groups.filter((g) => g.direction === 'request'),
            this.inventory,
          );
          response = pathOrder(
            sel.groups.filter((g) => g.direction === 'response'),
            this.inventory,
            request.map((g) => g.exporter).reverse(),
          );
          if (sel.groups.length === 0)
            reason =
              sel.ambiguousStreams > 0
                ? 'ambiguous_sessions'
                : matches.length > 0
                  ? 'candidates_rejected'
                  : this.inventory.allSampled
                    ? 'sampled_exporter'
                    : 'no_flows_in_window';
        }
      }
      report.candidatesRejected += rejected;
      report.candidatesAmbiguous += ambiguous;
      for (const g of request) if (!this.inventory.device(g.exporter)) report.unknownDeviceSpans++;
      for (const g of response) if (!this.inventory.device(g.exporter)) report.unknownDeviceSpans++;
      const hasFlows = request.length + response.length > 0;
      const hasPackets = p.observations.length > 0;
      count(hasFlows ? 'flows' : hasPackets ? 'packets_only' : 'no_flows');
      const paired = p.conn.client !== undefined && p.conn.server !== undefined;
      if (!hasFlows && !hasPackets && !paired && !this.config.emit_without_evidence) continue;

      const server = p.conn.server?.span;
      const client = p.conn.client?.span;
      // Under the client span; a lone server span's network hop goes between it and its parent.
      let parent: Uint8Array;
      let reparent = false;
      if (client) {
        parent = client.spanId;
        reparent = paired && this.config.reparent;
      } else if (this.config.reparent && server!.parentSpanId.length === 8 && server!.parentSpanId.some((b) => b !== 0)) {
        parent = server!.parentSpanId;
        reparent = true;
      } else parent = server!.spanId;

      const summaryId = summarySpanId(p.traceId, p.anchor, p.quartet);
      const packets = hasPackets
        ? packetSpans(
            {
              traceId: p.traceId,
              anchor: p.anchor,
              summaryId,
              key: quartetKey(p.quartet),
              flags: p.anchor.flags,
              quartet: p.quartet,
              observations: p.observations,
            },
            this.config.packets,
            this.inventory,
          )
        : undefined;
      const spans = synthesize(
        {
          quartet: p.quartet,
          traceId: p.traceId,
          anchor: p.anchor,
          parentSpanId: parent,
          startUnixNano: p.startUnixNano,
          endUnixNano: p.endUnixNano,
          flags: p.anchor.flags,
          client,
          server,
          request,
          response,
          rejected,
          ambiguous,
          reason,
          thesisShape: this.config.thesis_span_shape,
          attributeFields: this.config.span_attribute_fields,
          ...(packets ? { packets: packets.summary } : {}),
        },
        (exporter) => this.inventory.device(exporter),
      );
      if (packets) spans.push(...packets.spans);
      const shareMs =
        p.conn.client && p.conn.server
          ? nsToMs(p.conn.client.span.endTimeUnixNano - p.conn.client.span.startTimeUnixNano) -
            nsToMs(p.conn.server.span.endTimeUnixNano - p.conn.server.span.startTimeUnixNano)
          : undefined;
      const summary = spans[0]!;
      const verdict = deviceStateAndVerdict(
        spans.slice(1),
        { startUnixNano: summary.startTimeUnixNano, endUnixNano: summary.endTimeUnixNano },
        this.devices,
        this.config.verdict,
        this.networkMetrics,
        shareMs,
      );
      if (verdict) {
        summary.attributes.push(...verdictAttributes(verdict));
        report.verdicts[verdict.rule] = (report.verdicts[verdict.rule] ?? 0) + 1;
      }
      if (reparent && server) server.parentSpanId = spans[0]!.spanId;
      for (const s of spans) out.push(s);
    }

    if (out.length > 0) {
      traces.resourceSpans.push(
        create(ResourceSpansSchema, {
          resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: this.config.service_name } } }] },
          scopeSpans: [{ scope: { name: SCOPE_NAME }, spans: out }],
        }),
      );
    }
    report.spansSynthesized = out.length;
    return lookupError === undefined ? report : { ...report, lookupError };
  }

  /**
   * The packet evidence of a connection: what names its anchor span exactly (CLT ids, the
   * traceparent of its request), else the IOAM traces of the connection's packets within the
   * spans' interval (± clock_skew). HTTP observations attach only exactly.
   */
  private packetEvidence(
    store: MemoryObservationStore | undefined,
    exact: Map<string, { observations: Observation[] }>,
    anchor: Span,
    quartet: Quartet,
    from: bigint,
    to: bigint,
  ): Observation[] {
    if (!store) return [];
    const key = hexId(anchor.spanId);
    const named = exact.get(key);
    if (named) {
      exact.delete(key);
      return named.observations;
    }
    const skewNs = BigInt(this.skewUs) * 1000n;
    return store
      .byConnection(quartet, from - skewNs, (to > from ? to : from) + skewNs)
      .filter((o) => o.kind === 'ioam')
      .slice(0, this.config.packets.max_observations_per_span);
  }

  /** A connection for a span that only packet evidence names: its quartet as the packets give it. */
  private plannedFromObservations(span: Span, observations: Observation[]): Planned {
    // The request's direction: an HTTP request observation, else an IOAM trace (the kernel fills them on the sender's packets).
    const from = observations.find((o) => o.kind === 'http' && o.message === 'request') ?? observations.find((o) => o.sourceAddress !== '');
    const quartet: Quartet = from
      ? {
          sourceAddress: from.sourceAddress,
          sourcePort: from.sourcePort,
          destinationAddress: from.destinationAddress,
          destinationPort: from.destinationPort,
          protocol: from.protocol || undefined,
        }
      : { sourceAddress: '', sourcePort: 0, destinationAddress: '', destinationPort: 0, protocol: undefined };
    const endpoint: Endpoint = {
      span,
      role: 'client',
      sourceAddress: quartet.sourceAddress || undefined,
      sourcePort: quartet.sourcePort,
      destinationAddress: quartet.destinationAddress || undefined,
      destinationPort: quartet.destinationPort,
      protocol: quartet.protocol,
      notIp: false,
      states: ['ok', 'ok', 'ok', 'ok'],
      unresolvedHosts: [],
    };
    const conn: Connection = { ...endpoint, client: endpoint, server: undefined };
    const end = span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano;
    return {
      conn,
      quartet,
      traceId: span.traceId,
      anchor: span,
      startUnixNano: span.startTimeUnixNano,
      endUnixNano: end,
      query: -1,
      reason: undefined,
      observations,
    };
  }

  /** The span interval flows must overlap: the client span, or for a pair both spans. */
  private spanFrom(p: Planned): bigint {
    const s = p.conn.client && p.conn.server ? p.conn.server.span.startTimeUnixNano : p.startUnixNano;
    return s < p.startUnixNano ? s : p.startUnixNano;
  }
  private spanTo(p: Planned): bigint {
    const e = p.conn.client && p.conn.server ? p.conn.server.span.endTimeUnixNano : p.endUnixNano;
    return e > p.endUnixNano ? e : p.endUnixNano;
  }
}

export class CorrelateProcessor implements Component, Consumer<'traces'> {
  private readonly id: string;
  private readonly correlator: Correlator;
  private readonly metrics: CorrelateMetrics;
  private readonly lookupLog: RateLimitedLog;
  private readonly source: FlowEvidenceSource | undefined;
  private warnedNoSource = false;

  constructor(
    private readonly settings: CreateSettings,
    config: CorrelateConfig,
    private readonly next: Consumer<'traces'>,
    options: CorrelateOptions = {},
  ) {
    this.id = settings.id;
    this.source = options.source === null ? undefined : (options.source ?? sourceFromStores(settings.evidenceStores));
    const observations = options.observations === null ? undefined : (options.observations ?? settings.evidenceStores?.observations);
    const devices = options.devices === null ? undefined : (options.devices ?? settings.evidenceStores?.devices);
    this.correlator = new Correlator(config, this.source, options.now, observations, devices, settings.evidenceStores?.networkMetrics);
    this.metrics = new CorrelateMetrics(settings.metrics, settings.id);
    this.lookupLog = new RateLimitedLog(settings.logger);
  }

  async start(): Promise<void> {
    if (!this.source && !this.warnedNoSource) {
      this.warnedNoSource = true;
      this.settings.logger.warn({}, 'no flow evidence store: network summaries will carry netspan.no_evidence.reason=no_evidence_store');
    }
  }

  async shutdown(): Promise<void> {
    // Stateless between batches: nothing to flush; a source made for this processor is closed.
    await this.source?.close?.();
  }

  canAccept(): boolean {
    return this.next.canAccept();
  }

  async consume(traces: Traces): Promise<void> {
    // Refuse before the lookup, not after: the sender retries the whole batch anyway.
    if (!this.next.canAccept()) throw new CapacityError(this.id, 'the next consumer is full');
    const report = await this.correlator.enrich(traces);
    for (const [outcome, n] of Object.entries(report.connections)) this.metrics.connection(outcome as ConnectionOutcome, n);
    this.metrics.spans(report.spansSynthesized);
    this.metrics.candidatesRejected(report.candidatesRejected);
    this.metrics.candidatesAmbiguous(report.candidatesAmbiguous, report.ambiguousStreams);
    this.metrics.unresolvedHosts(report.unresolvedHosts);
    this.metrics.unknownDevices(report.unknownDeviceSpans);
    for (const [rule, n] of Object.entries(report.verdicts)) this.metrics.verdict(rule, n);
    if (report.lookupError !== undefined) {
      this.metrics.lookupFailed();
      this.lookupLog.warn(
        { err: errorMessage(report.lookupError), queries: report.queries, source: this.source?.kind },
        'flow evidence lookup failed; traces pass on without flow evidence',
      );
    } else if (report.queriesFailed > 0) {
      this.metrics.lookupFailed();
      this.lookupLog.warn(
        { failed: report.queriesFailed, queries: report.queries, source: this.source?.kind },
        'some flow evidence queries failed; their connections pass on without flow evidence',
      );
    }
    await this.next.consume(traces);
  }
}
