/**
 * The agent and a real collector, both as users run them: `netspan run` with an OTLP receiver
 * that requires a bearer token and a logs pipeline into the file exporter, `netspan agent` with
 * the token from the environment. What the collector wrote is read back as OTLP/JSON.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJson } from '../wire/otlp/codec.js';
import { NetspanProcess } from '../../test/e2e/netspan-process.js';
import {
  AgentProcess,
  IOAM_PCAP_DIR,
  byKey,
  eventually,
  expectedObservations,
  ioamPcaps,
  observationsOf,
} from './agent_testkit.test.util.js';

const skip = existsSync(IOAM_PCAP_DIR) ? false : `no IOAM captures at ${IOAM_PCAP_DIR}`;
const TOKEN = 'agent-test-token';

describe('netspan agent → netspan run', { skip }, () => {
  let collector: NetspanProcess;
  let endpoint: string;
  const files = skip ? [] : ioamPcaps();

  before(async () => {
    collector = await NetspanProcess.start(
      [
        'receivers:',
        '  otlp: { protocols: { http: { endpoint: 127.0.0.1:0, auth: { token: "${env:COLLECTOR_TOKEN}" } } } }',
        'exporters:',
        '  file: { path: $DIR/observations.jsonl, flush_interval: 0 }',
        'service:',
        '  pipelines:',
        '    logs: { receivers: [otlp], exporters: [file] }',
        '  telemetry: { metrics: { address: 127.0.0.1:0 } }',
      ].join('\n'),
      { COLLECTOR_TOKEN: TOKEN },
    );
    endpoint = `http://${collector.endpoint('OTLP/HTTP receiver listening')}`;
  });
  after(async () => {
    await collector.stop();
  });

  const agentConfig = (name: string) => {
    const path = join(collector.dir, name);
    writeFileSync(
      path,
      [
        `capture: { files: [${files.map((f) => JSON.stringify(f)).join(', ')}] }`,
        'observer: { name: agent-to-collector }',
        'exporter:',
        `  otlphttp: { endpoint: "${endpoint}", retry_on_failure: { enabled: false } }`,
        '  bearer_token: ${env:AGENT_TOKEN}',
      ].join('\n'),
    );
    return path;
  };

  test('with the right token every observation is in the collector’s logs pipeline, once; a wrong token loses them and exits 1', async () => {
    const wrong = new AgentProcess(['--config', agentConfig('wrong.yaml')], { env: { AGENT_TOKEN: 'not-it' } });
    assert.equal(await wrong.exited(), 1, wrong.dump());
    assert.ok(
      wrong.logs.some((l) => l.level === 'error' && /401/.test(String(l.error))),
      wrong.dump(),
    );

    const agent = new AgentProcess(['--config', agentConfig('right.yaml')], { env: { AGENT_TOKEN: TOKEN } });
    assert.equal(await agent.exited(), 0, agent.dump());
    const want = expectedObservations(files, 'agent-to-collector');
    const path = join(collector.dir, 'observations.jsonl');
    const read = () =>
      observationsOf(
        readFileSync(path, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => decodeJson('logs', line)),
      );
    // Accepted means handed to the file exporter; its write may follow a moment later.
    await eventually(() => existsSync(path) && read().length >= want.length, 'the observations in the file');
    const got = read();
    assert.equal(got.length, want.length);
    const wanted = byKey(want);
    for (const [key, list] of byKey(got)) {
      assert.equal(list.length, 1, `once: ${key}`);
      assert.deepEqual(list[0], wanted.get(key)?.[0]);
    }
    assert.equal(await collector.metric('netspan_receiver_accepted_log_records_total'), want.length);
  });
});
