import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { expandEnv, parseYaml } from './load.js';
import { validateServiceConfig } from './service.js';
import { parseDuration, parseHostPort } from './types.js';
import { ConfigError } from '../errors.js';
import type { ReceiverFactory, ExporterFactory, Factory } from '../component.js';

const noop = { start: async () => undefined, shutdown: async () => undefined };
const receiver: ReceiverFactory<{ port: number }> = {
  kind: 'receiver',
  type: 'rx',
  description: 'test receiver',
  signals: ['traces'],
  configSchema: z.object({ port: z.number().int().default(1) }).strict(),
  create: () => noop,
};
const exporter: ExporterFactory<{ path: string }> = {
  kind: 'exporter',
  type: 'ex',
  description: 'test exporter',
  signals: ['traces', 'logs'],
  configSchema: z.object({ path: z.string() }).strict(),
  create: () => ({ ...noop, consume: async () => undefined, canAccept: () => true }),
};
const FACTORIES: Factory[] = [receiver, exporter];

function issuesOf(raw: unknown): { path: string; message: string }[] {
  try {
    validateServiceConfig(raw, FACTORIES);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.issues];
  }
  assert.fail('expected a ConfigError');
}

describe('config validation', () => {
  test('a valid config resolves components and pipelines', () => {
    const c = validateServiceConfig(
      parseYaml(
        'receivers: {rx: {}}\nexporters: {ex: {path: a}, ex/2: {path: b}}\nservice: {pipelines: {traces: {receivers: [rx], exporters: [ex, ex/2]}}}',
        't',
      ),
      FACTORIES,
    );
    assert.deepEqual(c.pipelines, [{ name: 'traces', signal: 'traces', receivers: ['rx'], processors: [], exporters: ['ex', 'ex/2'] }]);
    assert.deepEqual(c.receivers.get('rx')?.config, { port: 1 });
    assert.equal(c.telemetry.metrics.address, '127.0.0.1:8888');
  });

  test('reports every problem with its path, not just the first', () => {
    const issues = issuesOf({
      receivers: { rx: { port: 'x', extra: 1 }, nope: {} },
      exporters: { ex: {} },
      service: {
        pipelines: {
          traces: { receivers: ['rx', 'missing'], exporters: ['ex'] },
          metrics: { receivers: ['rx'], exporters: ['ex'] },
          bogus: { receivers: ['rx'], exporters: ['ex'] },
        },
        telemetry: { logs: { level: 'loud' } },
      },
    });
    const paths = issues.map((i) => i.path);
    for (const want of [
      'receivers.rx.port',
      'receivers.rx.extra',
      'receivers.nope',
      'exporters.ex.path',
      'service.pipelines.traces.receivers.1',
      'service.pipelines.metrics.receivers.0',
      'service.pipelines.metrics.exporters.0',
      'service.pipelines.bogus',
      'service.telemetry.logs.level',
    ])
      assert.ok(paths.includes(want), `missing ${want} in ${JSON.stringify(issues, null, 1)}`);
    assert.match(issues.find((i) => i.path === 'receivers.nope')!.message, /unknown receiver type "nope" \(known: rx\)/);
    assert.match(issues.find((i) => i.path === 'service.pipelines.metrics.receivers.0')!.message, /does not support metrics/);
  });

  test('a pipeline without exporters and a config without pipelines are errors', () => {
    assert.ok(
      issuesOf({ receivers: { rx: {} }, service: { pipelines: { traces: { receivers: ['rx'], exporters: [] } } } }).some(
        (i) => i.path === 'service.pipelines.traces.exporters',
      ),
    );
    assert.ok(issuesOf({ service: { pipelines: {} } }).some((i) => i.path === 'service.pipelines'));
  });

  test('YAML syntax errors carry the line', () => {
    assert.throws(
      () => parseYaml('receivers:\n  otlp: [\n', 'bad.yaml'),
      (err: unknown) => err instanceof ConfigError && /line \d+/.test(err.issues[0]!.path),
    );
  });
});

describe('environment expansion', () => {
  const env = { PORT: '4318', HOST: '10.0.0.1', TOKEN: 'abc' };
  test('whole-scalar references take their YAML type; embedded ones stay strings', () => {
    const { value, unset } = expandEnv(
      { a: '${env:PORT}', b: '${HOST}:${env:PORT}', c: 'x$${y}', d: '${env:NOPE:-7}', e: ['${env:TOKEN}'] },
      env,
    );
    assert.deepEqual(value, { a: 4318, b: '10.0.0.1:4318', c: 'x${y}', d: 7, e: ['abc'] });
    assert.deepEqual(unset, []);
  });
  test('unset variables expand to "" and are reported', () => {
    const { value, unset } = expandEnv({ a: 'k=${env:MISSING}' }, env);
    assert.deepEqual(value, { a: 'k=' });
    assert.deepEqual(unset, ['MISSING']);
  });
});

describe('value types', () => {
  test('durations', () => {
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('10'), undefined);
    assert.equal(parseDuration('s'), undefined);
  });
  test('endpoints', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:4317'), { host: '127.0.0.1', port: 4317 });
    assert.deepEqual(parseHostPort('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseHostPort(':4318'), { host: '0.0.0.0', port: 4318 });
    assert.equal(parseHostPort('localhost'), undefined);
    assert.equal(parseHostPort('h:70000'), undefined);
  });
});
