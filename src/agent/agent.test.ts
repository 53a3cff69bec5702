/**
 * The agent end to end against the real OTLP receiver: files in, log records out, read back with
 * observationFromLogRecord and compared with what the decoders give; then a collector that is not
 * there yet, and a sending queue too small for a burst.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtlpReceiver } from '../receivers/otlp/receiver.js';
import { otlpReceiverConfigSchema } from '../receivers/otlp/config.js';
import { RecordingConsumer, recordingSettings, testSettings } from '../testutil/index.js';
import { fromKeyValues } from '../model/observation-logs.js';
import type { Observation } from '../model/observation.js';
import { Agent } from './agent.js';
import { parseAgentConfig } from './config.js';
import type { ObservationSource } from './source.js';
import { observationJson } from './output.js';
import {
  AgentProcess,
  IOAM_PCAP_DIR,
  byKey,
  eventually,
  expectedObservations,
  freePort,
  ioamPcaps,
  observationsOf,
} from './agent_testkit.test.util.js';

const skip = existsSync(IOAM_PCAP_DIR) ? false : `no IOAM captures at ${IOAM_PCAP_DIR}`;

interface Receiver {
  receiver: OtlpReceiver;
  logs: RecordingConsumer<'logs'>;
}

async function startReceiver(protocols: Record<string, unknown>): Promise<Receiver> {
  const logs = new RecordingConsumer<'logs'>();
  const receiver = new OtlpReceiver(testSettings('otlp'), otlpReceiverConfigSchema.parse({ protocols }), { logs });
  await receiver.start();
  return { receiver, logs };
}

/** Each expected observation arrived exactly once, and nothing else did. */
function assertDeliveredOnce(got: readonly Observation[], want: readonly Observation[]): void {
  const wantByKey = byKey(want);
  const gotByKey = byKey(got);
  assert.equal(wantByKey.size, want.length, 'the corpus has no two identical observations');
  assert.equal(got.length, want.length, 'observations delivered');
  for (const [key, list] of gotByKey) {
    assert.equal(list.length, 1, `delivered once: ${key}`);
    const expected = wantByKey.get(key);
    assert.ok(expected, `delivered but not expected: ${key}`);
    assert.deepEqual(list[0], expected[0]);
  }
}

const yamlList = (items: readonly string[]) => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;

describe('netspan agent → OTLP receiver', { skip }, () => {
  const files = skip ? [] : ioamPcaps();
  const dir = mkdtempSync(join(tmpdir(), 'netspan-agent-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('files over OTLP/HTTP: one log record per observation, each decoding back to what the decoders give', async () => {
    const r = await startReceiver({ http: { endpoint: '127.0.0.1:0' } });
    try {
      const config = parseAgentConfig(
        [
          `capture: { files: ${yamlList(files)} }`,
          'observer: { name: agent-http }',
          `exporter: { otlphttp: { endpoint: "http://${r.receiver.addresses.http}" }, batch: { send_batch_size: 7, timeout: 10ms } }`,
        ].join('\n'),
      );
      const settings = recordingSettings('agent');
      const agent = new Agent(config, { logger: settings.logger, metrics: settings.metrics });
      await agent.start();
      await agent.finished;
      await agent.shutdown();
      const want = expectedObservations(files, 'agent-http');
      assertDeliveredOnce(observationsOf(r.logs.received), want);
      // Batches of at most 7 records, each with the agent's resource.
      for (const logs of r.logs.received)
        for (const rl of logs.resourceLogs) {
          assert.deepEqual(fromKeyValues(rl.resource?.attributes ?? []), { 'service.name': 'netspan-agent', 'host.name': hostname() });
          assert.ok(rl.scopeLogs.every((sl) => sl.logRecords.length <= 7));
        }
      const packets = files.reduce((n, f) => n + countPackets(f), 0);
      assert.equal(await settings.metrics.value('netspan_agent_packets_captured_total'), packets);
      assert.equal(await settings.metrics.value('netspan_agent_observations_total', { kind: 'ioam' }), want.length);
      assert.equal(await settings.metrics.value('netspan_exporter_sent_log_records_total'), want.length);
      assert.equal(await settings.metrics.value('netspan_agent_observations_dropped_total'), 0);
      const stopped = settings.logs.find((l) => l.msg === 'netspan agent stopped');
      assert.equal(stopped?.observations, want.length);
    } finally {
      await r.receiver.shutdown();
    }
  });

  test('the CLI over OTLP/gRPC (--protocol grpc): every observation arrives, then the agent exits 0 by itself', async () => {
    const r = await startReceiver({ grpc: { endpoint: '127.0.0.1:0' } });
    try {
      const agent = new AgentProcess([
        ...files.flatMap((f) => ['--file', f]),
        '--endpoint',
        `http://${r.receiver.addresses.grpc}`,
        '--protocol',
        'grpc',
        '--observer',
        'agent-grpc',
      ]);
      assert.equal(await agent.exited(), 0, agent.dump());
      assertDeliveredOnce(observationsOf(r.logs.received), expectedObservations(files, 'agent-grpc'));
    } finally {
      await r.receiver.shutdown();
    }
  });

  test('--output -: one JSON line per observation, the flat form, without an exporter', async () => {
    const agent = new AgentProcess([...files.flatMap((f) => ['--file', f]), '--output', '-', '--observer', 'agent-json']);
    assert.equal(await agent.exited(), 0, agent.dump());
    const want = expectedObservations(files, 'agent-json').map(observationJson);
    assert.deepEqual(agent.stdout, want);
    assert.deepEqual(JSON.parse(agent.stdout[0]!).kind, 'ioam');
  });

  test('collector away at first: the bounded queue holds the observations, each is delivered once when it comes up', async () => {
    const port = await freePort();
    const config = join(dir, 'away.yaml');
    writeFileSync(
      config,
      [
        `capture: { files: ${yamlList(files)} }`,
        'observer: { name: agent-away }',
        'exporter:',
        '  otlphttp:',
        `    endpoint: "http://127.0.0.1:${port}"`,
        '    retry_on_failure: { initial_interval: 20ms, max_interval: 100ms, max_elapsed_time: 0 }',
        '  batch: { send_batch_size: 5, timeout: 10ms }',
      ].join('\n'),
    );
    const agent = new AgentProcess(['--config', config]);
    let r: Receiver | undefined;
    try {
      await agent.waitForLog((l) => l.msg === 'exporting failed, will retry');
      assert.ok(agent.running, 'the agent waits for the collector');
      r = await startReceiver({ http: { endpoint: `127.0.0.1:${port}` } });
      assert.equal(await agent.exited(), 0, agent.dump());
      const want = expectedObservations(files, 'agent-away');
      assertDeliveredOnce(observationsOf(r.logs.received), want);
      const stopped = agent.logs.find((l) => l.msg === 'netspan agent stopped');
      assert.equal(stopped?.sent_log_records, want.length);
      assert.equal(stopped?.observations_dropped, 0);
      assert.equal(stopped?.send_failed_log_records, 0);
    } finally {
      await agent.stop();
      await r?.receiver.shutdown();
    }
  });

  test('a burst beyond a tiny sending queue: the overflow is dropped, counted and logged; the rest is delivered once', async () => {
    const port = await freePort();
    const parsed = parseAgentConfig(
      [
        `capture: { files: ${yamlList(files.slice(0, 1))} }`,
        'exporter:',
        '  otlphttp:',
        `    endpoint: "http://127.0.0.1:${port}"`,
        '    sending_queue: { queue_size: 1, num_consumers: 1 }',
        '    retry_on_failure: { initial_interval: 20ms, max_interval: 100ms, max_elapsed_time: 0 }',
        '  batch: { send_batch_size: 1, timeout: 10ms }',
      ].join('\n'),
    );
    // A live-like source (it cannot wait for room) instead of the file, which would wait.
    const burst = expectedObservations(files, 'burst');
    const source: ObservationSource = {
      name: 'burst',
      finished: Promise.resolve(),
      start: async (emit) => emit(burst),
      close: async () => undefined,
    };
    const settings = recordingSettings('agent');
    const agent = new Agent(
      { ...parsed, capture: { ...parsed.capture, files: [] } },
      {
        logger: settings.logger,
        metrics: settings.metrics,
        sources: () => [source],
      },
    );
    let r: Receiver | undefined;
    try {
      await agent.start();
      const value = (name: string, labels: Record<string, string> = {}) => settings.metrics.value(name, labels);
      const dropped = await value('netspan_agent_observations_dropped_total', { reason: 'queue_full' });
      assert.ok(dropped > 0 && dropped < burst.length, `${dropped} of ${burst.length} dropped`);
      // The first drop is logged at once (later ones are summed up into the next message).
      assert.equal(settings.logs.find((l) => l.msg.startsWith('dropping observations'))?.level, 'warn');
      await eventually(async () => (await value('netspan_exporter_retried_log_records_total')) > 0, 'a retry');
      r = await startReceiver({ http: { endpoint: `127.0.0.1:${port}` } });
      const held = burst.length - dropped;
      await eventually(async () => (await value('netspan_exporter_sent_log_records_total')) === held, `${held} sent`);
      await agent.shutdown();
      const dropLogs = settings.logs.filter((l) => l.msg.startsWith('dropping observations'));
      assert.equal(
        dropLogs.reduce((n, l) => n + (l.dropped_observations as number), 0),
        dropped,
        'every drop is in a log message',
      );
      const got = observationsOf(r.logs.received);
      assert.equal(got.length, held);
      const wanted = byKey(burst);
      for (const [key, list] of byKey(got)) {
        assert.equal(list.length, 1, `delivered once: ${key}`);
        assert.ok(wanted.has(key));
      }
    } finally {
      await agent.shutdown();
      await r?.receiver.shutdown();
    }
  });

  test('no sending queue and the collector away: shutdown ends within the exporter’s drain time; the loss is counted', async () => {
    const port = await freePort();
    const parsed = parseAgentConfig(
      [
        `capture: { files: ${yamlList(files.slice(0, 1))} }`,
        'exporter:',
        '  otlphttp:',
        `    endpoint: "http://127.0.0.1:${port}"`,
        '    timeout: 1s',
        '    sending_queue: { enabled: false }',
        '    retry_on_failure: { initial_interval: 20ms, max_interval: 100ms, max_elapsed_time: 0 }',
        '  batch: { send_batch_size: 2, timeout: 10ms }',
      ].join('\n'),
    );
    const burst = expectedObservations(files.slice(0, 4), 'no-queue');
    const source: ObservationSource = {
      name: 'burst',
      finished: Promise.resolve(),
      start: async (emit) => emit(burst),
      close: async () => undefined,
    };
    const settings = recordingSettings('agent');
    const agent = new Agent(
      { ...parsed, capture: { ...parsed.capture, files: [] } },
      { logger: settings.logger, metrics: settings.metrics, sources: () => [source] },
    );
    await agent.start();
    await eventually(async () => (await settings.metrics.value('netspan_exporter_retried_log_records_total')) > 0, 'a retry');
    await agent.shutdown();
    // Each batch had its last attempt at shutdown and was given up on, counted once (by the exporter).
    assert.equal(await agent.lost(), burst.length);
    assert.equal(await settings.metrics.value('netspan_exporter_send_failed_log_records_total'), burst.length);
  });
});

function countPackets(file: string): number {
  // pcap records: 16-byte header + captured length, after the 24-byte file header (little-endian files here).
  const b = readFileSync(file);
  let n = 0;
  for (let o = 24; o + 16 <= b.length; o += 16 + b.readUInt32LE(o + 8)) n++;
  return n;
}
