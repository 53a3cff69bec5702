/**
 * The one lifecycle contract every component passes: start → shutdown, shutdown twice, and
 * shutdown without start. Each factory in the registry must have an entry below, so a new
 * component cannot skip it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACTORIES } from '../components.js';
import type { Component, Factory } from './component.js';
import { RecordingConsumer, testSettings } from '../testutil/index.js';

const dir = mkdtempSync(join(tmpdir(), 'netspan-lifecycle-'));

/** The smallest valid config of each component, listening on port 0 where it listens. */
const MINIMAL_CONFIG: Record<string, unknown> = {
  'receiver/otlp': { protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
  'receiver/netflow': { endpoints: ['127.0.0.1:0'], tcp_endpoint: '127.0.0.1:0', workers: 1 },
  'receiver/ioam_api': { endpoint: '127.0.0.1:0' },
  'receiver/network_metrics': {},
  'receiver/snmp': { targets: [{ address: '127.0.0.1', port: 1, timeout: '50ms', retries: 0 }], collection_interval: '1h' },
  'processor/groupbytrace': { wait_duration: '10ms' },
  'processor/correlate': {},
  'processor/ipfix_lookup': {},
  'exporter/debug': { verbosity: 'basic' },
  'exporter/file': { path: join(dir, 'out.jsonl') },
  'exporter/otlp': { endpoint: '127.0.0.1:1', tls: { insecure: true } },
  'exporter/otlphttp': { endpoint: 'http://127.0.0.1:1' },
  'exporter/ui': { endpoint: '127.0.0.1:0' },
};

function instantiate(factory: Factory): Component {
  const raw = MINIMAL_CONFIG[`${factory.kind}/${factory.type}`];
  assert.ok(raw !== undefined, `lifecycle.test.ts needs a minimal config for ${factory.kind}/${factory.type}`);
  const config = factory.configSchema.parse(raw);
  const settings = testSettings(factory.type);
  const signal = factory.signals[0]!;
  switch (factory.kind) {
    case 'receiver':
      return factory.create(settings, config, { [signal]: new RecordingConsumer() });
    case 'processor':
      return factory.create(settings, config, signal, new RecordingConsumer());
    case 'exporter':
      return factory.create(settings, config, signal);
  }
}

describe('component lifecycle', () => {
  for (const factory of FACTORIES) {
    const name = `${factory.kind} ${factory.type}`;
    test(`${name}: start, then shutdown, then shutdown again`, async () => {
      const c = instantiate(factory);
      await c.start();
      await c.shutdown();
      await c.shutdown();
    });
    test(`${name}: shutdown without start`, async () => {
      const c = instantiate(factory);
      await c.shutdown();
      await c.shutdown();
    });
    test(`${name}: declares its signals and a description`, () => {
      assert.ok(factory.signals.length > 0);
      assert.ok(factory.description.length > 10);
    });
  }
});
