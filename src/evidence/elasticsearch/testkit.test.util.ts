/**
 * Shared by the Elasticsearch source tests: the lookups the fixtures answer, the settings they
 * were made for, and a fake Elasticsearch node (node:http / node:https on 127.0.0.1:0) that
 * records what the official client sends and answers with a fixture.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { repoPath } from '../../testutil/index.js';
import type { FlowQuery } from '../store.js';
import { elasticsearchSourceConfigSchema, type ElasticsearchSourceConfig } from './config.js';
import type { MappingSettings } from './mapping.js';
import type { QuerySettings } from './query.js';

export const TESTDATA = repoPath('src', 'evidence', 'elasticsearch', 'testdata');
export const fixture = (name: string): string => readFileSync(`${TESTDATA}/${name}`, 'utf8');
export const fixtureJson = <T = unknown>(name: string): T => JSON.parse(fixture(name)) as T;

/** 2024-05-14T09:30:12Z, the span start of every lookup in the fixtures. */
export const T0_MS = Date.UTC(2024, 4, 14, 9, 30, 12);
const MS = 1_000_000n;
export const at = (ms: number): bigint => BigInt(T0_MS) * MS + BigInt(Math.round(ms * 1000)) * 1000n;
/** The thesis's lookup window. */
export const WINDOW_MS = 25_000;

function lookup(src: string, sport: number, dst: string, dport: number, endMs: number): FlowQuery {
  return {
    sourceAddress: src,
    sourcePort: sport,
    destinationAddress: dst,
    destinationPort: dport,
    protocol: 6,
    fromUnixNano: at(-WINDOW_MS),
    toUnixNano: at(endMs + WINDOW_MS),
    bothDirections: true,
    limit: 1000,
  };
}

/**
 * The four lookups of msearch-response.json, in order: (0) the lab connection, flows on porthos
 * (NetFlow v9) and dartagnan (IPFIX), plus a later session and a flow just outside the window;
 * (1) a connection without flows; (2) an IPv6 connection through a firewall exporting biflows;
 * (3) a search the cluster rejected (search queue full).
 */
export const QUERIES: FlowQuery[] = [
  lookup('10.0.1.10', 40000, '10.0.2.20', 8080, 100),
  lookup('10.0.1.10', 40001, '10.0.3.30', 5432, 100),
  lookup('2001:db8:1::10', 40002, '2001:db8:2::20', 443, 200),
  lookup('10.0.1.10', 40003, '10.0.2.20', 8080, 100),
];

/** span_attribute_fields the fixtures were made with. */
export const EXTRA_FIELDS = ['network.community_id', 'netflow.ip_class_of_service'];

export const LOOKUP_FIELDS = {
  source_ip: 'source.ip',
  source_port: 'source.port',
  destination_ip: 'destination.ip',
  destination_port: 'destination.port',
};

export const QUERY_SETTINGS: QuerySettings = {
  deviceIdentifier: 'observer.ip',
  fields: LOOKUP_FIELDS,
  protocolField: 'network.iana_number',
  baseQuery: undefined,
  extraFields: EXTRA_FIELDS,
  defaultLimit: 1000,
};

export const MAPPING_SETTINGS: MappingSettings = {
  deviceIdentifier: 'observer.ip',
  fields: LOOKUP_FIELDS,
  protocolField: 'network.iana_number',
  extraFields: EXTRA_FIELDS,
};

export function sourceConfig(overrides: Record<string, unknown>): ElasticsearchSourceConfig {
  return elasticsearchSourceConfigSchema.parse({ max_retries: 0, timeout: '2s', ...overrides });
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeNode {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next requests (default: the msearch-response.json fixture with status 200). */
  respond: (req: RecordedRequest, res: ServerResponse) => void;
  close(): Promise<void>;
}

/** The fixture as a real node sends it, with the product header (Elasticsearch ≥ 7.14). */
/** `product` null: no x-elastic-product header (OpenSearch, Elasticsearch < 7.14). */
export function answerFixture(name = 'msearch-response.json', product: string | null = 'Elasticsearch') {
  return (_req: RecordedRequest, res: ServerResponse) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (product) headers['x-elastic-product'] = product;
    res.writeHead(200, headers).end(fixture(name));
  };
}

/** A fake node on 127.0.0.1:0; `tls` serves https with the given PEM certificate chain and key. */
export async function fakeNode(tls?: { cert: string; key: string }): Promise<FakeNode> {
  const node: FakeNode = {
    url: '',
    requests: [],
    respond: answerFixture(),
    close: async () => undefined,
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      node.requests.push(recorded);
      node.respond(recorded, res);
    });
  };
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  node.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  node.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return node;
}

/** An ndjson body as its JSON lines. */
export function ndjson(body: string): unknown[] {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
}

/** Searches as the client writes an _msearch body: one JSON line each, each ending in a newline. */
export function toNdjson(searches: readonly unknown[]): string {
  return searches.map((s) => `${JSON.stringify(s)}\n`).join('');
}
