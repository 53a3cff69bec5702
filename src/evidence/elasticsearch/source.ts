/**
 * ElasticsearchFlowSource: flow evidence read from an existing Elasticsearch / OpenSearch
 * index, as Elastic Agent's NetFlow integration writes it (the thesis's setup), with the
 * official client (@elastic/elasticsearch).
 *
 * One `_msearch` per batch of connections (query.ts builds one search per connection, both
 * directions in one bool/should), split into requests of at most max_searches_per_request
 * searches that go out together; the hits are mapped and matched with the FlowStore rules
 * (mapping.ts). A search that fails inside a good response leaves only its connection without
 * evidence; a failed request rejects the lookup (the processor passes the batch on with
 * `evidence_error`).
 *
 * Requests are sent as plain `application/json` / `application/x-ndjson`, not the client's
 * versioned media types, so the same code talks to Elasticsearch 7.x, 8.x and 9.x and to
 * OpenSearch; with `product: opensearch` the client's x-elastic-product check is off.
 *
 * The read side of the FlowStore contract (query, queryMany) is offered too; the write side
 * is not: Elastic Agent fills the index, netspan only reads it. Retention is the index's
 * lifecycle policy, unknown here (retentionMs undefined).
 *
 * Never run against a live cluster in this repository's tests (none can run here): they check
 * the request the official client sends and the mapping of constructed responses
 * (testdata/PROVENANCE.md).
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@elastic/elasticsearch';
import { NetspanError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/telemetry/logger.js';
import type { SelfMetrics } from '../../core/telemetry/metrics.js';
import { assertValidFlowQuery, type FlowMatch, type FlowQuery } from '../store.js';
import type { ElasticsearchSourceConfig } from './config.js';
import {
  mapMsearchResponses,
  newMappingStats,
  type MappingSettings,
  type MappingStats,
  type MsearchItem,
  type SearchFailure,
} from './mapping.js';
import { msearchSearches, type QuerySettings } from './query.js';
import { fetchPinnedCertificate } from './tls.js';

/** Hits per search when a query names no limit. */
export const DEFAULT_HITS_PER_SEARCH = 1_000;

type ClientOptions = ConstructorParameters<typeof Client>[0];

/** The media types every request carries (see the file comment). */
export const PLAIN_HEADERS = { accept: 'application/json', 'content-type': 'application/x-ndjson' } as const;

type ClientModule = typeof import('@elastic/elasticsearch');

/**
 * The official client, loaded on first use: it costs about 0.2 s of start-up, which a collector
 * that reads no Elasticsearch index should not pay.
 */
let clientModule: Promise<ClientModule> | undefined;
function loadClient(): Promise<ClientModule> {
  return (clientModule ??= import('@elastic/elasticsearch'));
}

/** The client's transport without the x-elastic-product check (OpenSearch, Elasticsearch < 7.14). */
function uncheckedTransport(m: ClientModule) {
  return class UncheckedTransport extends m.SniffingTransport {
    constructor(options: ConstructorParameters<ClientModule['SniffingTransport']>[0]) {
      super({ ...options, productCheck: undefined });
    }
  };
}

export interface ElasticsearchFlowSourceOptions {
  /** Document fields kept in FlowRecord.fields (span_attribute_fields). */
  extraFields?: readonly string[];
  logger?: Logger;
  metrics?: SelfMetrics;
  /** The `source` label of the metrics (the processor id). */
  id?: string;
}

/** A lookup's searches that failed inside a good response. */
export class SearchFailuresError extends NetspanError {
  override readonly name = 'SearchFailuresError';
  constructor(readonly failures: readonly SearchFailure[]) {
    super('EVIDENCE_SEARCH_FAILED', `${failures.length} search(es) failed: ${failures[0]?.reason ?? ''}`, { context: { failures } });
  }
}

export class ElasticsearchFlowSource {
  readonly kind: 'elasticsearch' | 'opensearch';
  readonly retentionMs: number | undefined = undefined;
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private closed = false;
  private readonly querySettings: QuerySettings;
  private readonly mappingSettings: MappingSettings;
  private readonly metrics: SourceMetrics | undefined;
  /** What the last lookups met (hits, unusable documents, records outside the exact rules); cumulative. */
  readonly stats: MappingStats & { requests: number; searches: number; failedSearches: number } = {
    ...newMappingStats(),
    requests: 0,
    searches: 0,
    failedSearches: 0,
  };

  constructor(
    private readonly config: ElasticsearchSourceConfig,
    private readonly options: ElasticsearchFlowSourceOptions = {},
  ) {
    this.kind = config.product;
    const extraFields = options.extraFields ?? [];
    this.querySettings = {
      deviceIdentifier: config.device_identifier,
      fields: config.lookup_fields,
      protocolField: config.protocol_field,
      baseQuery: config.base_query,
      extraFields,
      defaultLimit: DEFAULT_HITS_PER_SEARCH,
    };
    this.mappingSettings = {
      deviceIdentifier: config.device_identifier,
      fields: config.lookup_fields,
      protocolField: config.protocol_field,
      extraFields,
    };
    if (options.metrics) this.metrics = new SourceMetrics(options.metrics, options.id ?? config.product);
  }

  /**
   * The matches of each query (FlowEvidenceSource): undefined for a query whose search failed
   * inside an otherwise good response. Rejects when a request fails.
   */
  async lookup(queries: readonly FlowQuery[]): Promise<(FlowMatch[] | undefined)[]> {
    if (queries.length === 0) return [];
    const client = await this.connect();
    const per = this.config.max_searches_per_request;
    const chunks: FlowQuery[][] = [];
    for (let i = 0; i < queries.length; i += per) chunks.push(queries.slice(i, i + per));
    const answers = await Promise.all(chunks.map((chunk) => this.msearch(client, chunk)));
    return answers.flat();
  }

  /** FlowStore.queryMany semantics: every query must be answered, or it rejects. */
  async queryMany(queries: readonly FlowQuery[]): Promise<FlowMatch[][]> {
    for (const q of queries) assertValidFlowQuery(q);
    const answers = await this.lookup(queries);
    const failures: SearchFailure[] = [];
    answers.forEach((a, i) => {
      if (a === undefined) failures.push({ index: i, status: undefined, reason: 'search failed' });
    });
    if (failures.length > 0) throw new SearchFailuresError(failures);
    return answers as FlowMatch[][];
  }

  async query(query: FlowQuery): Promise<FlowMatch[]> {
    return (await this.queryMany([query]))[0]!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.close();
  }

  private async msearch(client: Client, queries: FlowQuery[]): Promise<(FlowMatch[] | undefined)[]> {
    const started = performance.now();
    this.stats.requests++;
    this.stats.searches += queries.length;
    let responses: MsearchItem[];
    try {
      const body = await client.msearch(
        { index: this.config.index, searches: msearchSearches(queries, this.querySettings) as never },
        { headers: { ...PLAIN_HEADERS }, requestTimeout: this.config.timeout, maxRetries: this.config.max_retries },
      );
      responses = (body as { responses?: MsearchItem[] }).responses ?? [];
    } catch (err) {
      this.metrics?.request('failed', (performance.now() - started) / 1000);
      throw new NetspanError('EVIDENCE_LOOKUP_FAILED', `${this.kind} _msearch failed: ${errorMessage(err)}`, { cause: err });
    }
    this.metrics?.request('ok', (performance.now() - started) / 1000);
    const failures: SearchFailure[] = [];
    const before = { ...this.stats };
    const out = mapMsearchResponses(queries, responses, this.mappingSettings, this.stats, failures);
    this.stats.failedSearches += failures.length;
    this.metrics?.mapped(this.stats.hits - before.hits, this.stats.unusable - before.unusable, failures.length);
    if (failures.length > 0)
      this.options.logger?.warn(
        { failed: failures.length, searches: queries.length, first: failures[0]?.reason },
        `${this.kind} searches failed`,
      );
    return out;
  }

  /** The client, made on first use; with certificate_fingerprint, after fetching the pinned CA. */
  private connect(): Promise<Client> {
    if (this.closed) return Promise.reject(new NetspanError('EVIDENCE_CLOSED', `${this.kind} flow source is closed`));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.makeClient().then(
      (client) => {
        this.connecting = undefined;
        if (this.closed) {
          void client.close();
          throw new NetspanError('EVIDENCE_CLOSED', `${this.kind} flow source is closed`);
        }
        this.client = client;
        return client;
      },
      (err: unknown) => {
        // The next lookup tries again.
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private async makeClient(): Promise<Client> {
    const m = await loadClient();
    const c = this.config;
    const tls: NonNullable<ClientOptions['tls']> = {};
    if (c.tls.insecure_skip_verify) tls.rejectUnauthorized = false;
    else if (c.tls.ca_file !== undefined) tls.ca = readFileSync(c.tls.ca_file, 'utf8');
    else if (c.tls.certificate_fingerprint !== undefined) tls.ca = await this.pinnedCa(c.tls.certificate_fingerprint);
    const options: ClientOptions = {
      nodes: c.endpoints,
      requestTimeout: c.timeout,
      maxRetries: c.max_retries,
      name: 'netspan',
      tls,
    };
    if (c.api_key !== undefined) options.auth = { apiKey: c.api_key };
    else if (c.username !== undefined) options.auth = { username: c.username, password: c.password ?? '' };
    if (c.product === 'opensearch') options.Transport = uncheckedTransport(m);
    return new m.Client(options);
  }

  /** The CA with the pinned fingerprint, from the first https endpoint that answers. */
  private async pinnedCa(fingerprint: string): Promise<string> {
    const errors: string[] = [];
    for (const endpoint of this.config.endpoints) {
      try {
        return await fetchPinnedCertificate(new URL(endpoint), fingerprint, this.config.timeout);
      } catch (err) {
        errors.push(`${endpoint}: ${errorMessage(err)}`);
      }
    }
    throw new NetspanError('EVIDENCE_TLS_PIN', `certificate_fingerprint: ${errors.join('; ')}`);
  }
}

class SourceMetrics {
  private readonly labels: { source: string };
  private readonly requests;
  private readonly duration;
  private readonly hits;
  private readonly unusable;
  private readonly failed;

  constructor(metrics: SelfMetrics, id: string) {
    this.labels = { source: id };
    this.requests = metrics.counter(
      'netspan_evidence_elasticsearch_requests_total',
      '_msearch requests to Elasticsearch/OpenSearch, by outcome (ok, failed).',
      ['source', 'outcome'],
    );
    this.duration = metrics.histogram(
      'netspan_evidence_elasticsearch_request_duration_seconds',
      'Time of one _msearch request, retries included.',
      ['source'],
      [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
    this.hits = metrics.counter('netspan_evidence_elasticsearch_hits_total', 'Flow documents returned by searches.', ['source']);
    this.unusable = metrics.counter(
      'netspan_evidence_elasticsearch_unusable_documents_total',
      'Flow documents skipped: no usable addresses or time.',
      ['source'],
    );
    this.failed = metrics.counter(
      'netspan_evidence_elasticsearch_search_failures_total',
      'Searches that failed inside a good _msearch response.',
      ['source'],
    );
  }

  request(outcome: 'ok' | 'failed', seconds: number): void {
    this.requests.inc({ ...this.labels, outcome });
    this.duration.observe(this.labels, seconds);
  }

  mapped(hits: number, unusable: number, failed: number): void {
    if (hits > 0) this.hits.inc(this.labels, hits);
    if (unusable > 0) this.unusable.inc(this.labels, unusable);
    if (failed > 0) this.failed.inc(this.labels, failed);
  }
}
