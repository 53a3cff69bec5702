import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { readFileSync } from 'node:fs';
import { expandEnv, parseYaml } from '../core/config/load.js';
import { validateServiceConfig } from '../core/config/service.js';
import { FACTORIES } from '../components.js';
import { repoPath } from '../testutil/index.js';
import { applyFlags, DEFAULT_BATCH_SIZE, DEFAULT_SNAP_LENGTH, parseAgentConfig, validateAgentConfig, type AgentFlags } from './config.js';

function issuesOf(run: () => unknown): ConfigIssue[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.issues];
  }
  assert.fail('expected a ConfigError');
}

const fromFlags = (flags: AgentFlags, yaml = '') => {
  const merged = applyFlags(yaml ? parseYaml(yaml, 't') : {}, flags);
  return validateAgentConfig(merged.value, 't', merged.issues);
};

describe('agent config', () => {
  test('flags alone: defaults filled in, the observer is the host name', () => {
    const c = fromFlags({ interface: ['eth0', 'eth1'], endpoint: 'http://collector:4318' });
    assert.deepEqual(c.capture.interfaces, ['eth0', 'eth1']);
    assert.equal(c.capture.snap_length, DEFAULT_SNAP_LENGTH);
    assert.equal(c.observer.name, hostname());
    assert.equal(c.observer.clt_ids, false);
    assert.equal(c.exporter?.type, 'otlphttp');
    assert.equal(c.exporter?.type === 'otlphttp' && c.exporter.config.endpoint, 'http://collector:4318');
    assert.equal(c.exporter?.batch.send_batch_size, DEFAULT_BATCH_SIZE);
    assert.equal(c.exporter?.config.sending_queue.enabled, true);
    assert.equal(c.output, undefined);
    assert.equal(c.telemetry.metrics.address, '');
  });

  test('--protocol grpc takes a URL or host:port; http:// means plain text', () => {
    const a = fromFlags({ file: ['x.pcap'], endpoint: 'http://collector:4317', protocol: 'grpc' });
    assert.equal(a.exporter?.type, 'otlp');
    assert.equal(a.exporter?.config.endpoint, 'collector:4317');
    assert.equal(a.exporter?.config.tls.insecure, true);
    const b = fromFlags({ file: ['x.pcap'], endpoint: 'collector:4317', protocol: 'grpc' });
    assert.equal(b.exporter?.config.endpoint, 'collector:4317');
    assert.equal(b.exporter?.config.tls.insecure, undefined);
  });

  test('flags win over the file, and --protocol moves the file’s exporter settings to the other protocol', () => {
    const yaml = [
      'capture: { interfaces: [eth9], filter: "tcp" }',
      'observer: { name: from-file }',
      'exporter:',
      '  otlphttp: { endpoint: "http://a:4318", headers: { x-k: v }, sending_queue: { queue_size: 7 } }',
      '  batch: { send_batch_size: 3, timeout: 1s }',
    ].join('\n');
    const c = fromFlags({ interface: ['eth0'], filter: 'udp', observer: 'flag', endpoint: 'b:4317', protocol: 'grpc', cltIds: true }, yaml);
    assert.deepEqual(c.capture.interfaces, ['eth0']);
    assert.equal(c.capture.filter, 'udp');
    assert.deepEqual(c.observer, { name: 'flag', clt_ids: true });
    assert.equal(c.exporter?.type, 'otlp');
    assert.equal(c.exporter?.config.endpoint, 'b:4317');
    assert.deepEqual(c.exporter?.config.headers, { 'x-k': 'v' });
    assert.equal(c.exporter?.config.sending_queue.queue_size, 7);
    assert.deepEqual(c.exporter?.batch, { send_batch_size: 3, timeout: 1000 });
  });

  test('bearer_token becomes the authorization header', () => {
    const c = parseAgentConfig('capture: { files: [a.pcap] }\nexporter: { bearer_token: s3cret, otlphttp: { endpoint: "http://c:4318" } }');
    assert.deepEqual(c.exporter?.config.headers, { authorization: 'Bearer s3cret' });
    const issues = issuesOf(() =>
      parseAgentConfig(
        'capture: { files: [a.pcap] }\nexporter: { bearer_token: s, otlp: { endpoint: "c:4317", headers: { Authorization: x } } }',
      ),
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ['exporter.bearer_token'],
    );
  });

  test('every problem is reported with its path, not just the first', () => {
    const yaml = [
      'capture:',
      '  interfaces: [eth0, eth0]',
      '  snap_length: 10',
      '  bogus: 1',
      '  restart: { initial_interval: 5 }',
      'observer: { clt_ids: "yes" }',
      'exporter:',
      '  otlphttp: { endpoint: "not a url", compression: zstd, sending_queue: { queue_size: 0 } }',
      '  batch: { send_batch_size: 0, timeout: soon }',
      'output: { path: "" }',
      'telemetry: { logs: { level: loud }, metrics: { address: nope } }',
      'extra: 1',
    ].join('\n');
    const issues = issuesOf(() => parseAgentConfig(yaml));
    const paths = issues.map((i) => i.path);
    for (const want of [
      'capture.interfaces.1',
      'capture.snap_length',
      'capture.bogus',
      'capture.restart.initial_interval',
      'observer.clt_ids',
      'exporter.otlphttp.endpoint',
      'exporter.otlphttp.compression',
      'exporter.otlphttp.sending_queue.queue_size',
      'exporter.batch.send_batch_size',
      'exporter.batch.timeout',
      'output.path',
      'telemetry.logs.level',
      'telemetry.metrics.address',
      'extra',
    ])
      assert.ok(paths.includes(want), `missing ${want} in ${JSON.stringify(issues, null, 1)}`);
    assert.match(issues.find((i) => i.path === 'capture.interfaces.1')!.message, /"eth0" is listed twice/);
    assert.match(issues.find((i) => i.path === 'extra')!.message, /unknown key/);
  });

  test('nothing to capture, nowhere to send, two exporters, a bad --protocol', () => {
    const paths = (run: () => unknown) => issuesOf(run).map((i) => i.path);
    assert.deepEqual(paths(() => fromFlags({})).sort(), ['', 'capture']);
    assert.deepEqual(
      paths(() => parseAgentConfig('capture: { files: [a] }\nexporter: { otlp: { endpoint: "c:1" }, otlphttp: { endpoint: "http://c" } }')),
      ['exporter'],
    );
    assert.deepEqual(
      paths(() => parseAgentConfig('capture: { files: [a] }\nexporter: { batch: {} }')),
      ['exporter'],
    );
    assert.deepEqual(
      paths(() => fromFlags({ file: ['a'], endpoint: 'http://c', protocol: 'ftp' })),
      ['--protocol'],
    );
    assert.deepEqual(
      paths(() => parseAgentConfig('capture: { files: [a], restart: { initial_interval: 2s, max_interval: 1s } }\noutput: { path: "-" }')),
      ['capture.restart.max_interval'],
    );
  });
});

describe('the README examples (testdata)', () => {
  test('the agent config is valid and means what its comments say', () => {
    const text = readFileSync(repoPath('src', 'agent', 'testdata', 'agent.yaml'), 'utf8');
    const c = parseAgentConfig(text, 'agent.yaml', { NETSPAN_TOKEN: 't' });
    assert.deepEqual(c.capture.interfaces, ['eth0', 'eth1']);
    assert.equal(c.exporter?.type, 'otlphttp');
    assert.deepEqual(c.exporter?.config.headers, { authorization: 'Bearer t' });
    assert.equal(c.exporter?.config.retry_on_failure.max_elapsed_time, 300_000);
    assert.deepEqual(c.exporter?.batch, { send_batch_size: DEFAULT_BATCH_SIZE, timeout: 200 });
    assert.equal(c.output?.path, './observations.jsonl');
  });

  test('the collector config for agents is valid', () => {
    const loaded = validateServiceConfig(
      expandEnv(parseYaml(readFileSync(repoPath('src', 'agent', 'testdata', 'collector.yaml'), 'utf8'), 'c'), { NETSPAN_TOKEN: 't' }).value,
      FACTORIES,
    );
    assert.deepEqual(
      loaded.pipelines.map((p) => p.name),
      ['logs'],
    );
  });
});
