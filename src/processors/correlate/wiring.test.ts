/**
 * The collector wiring: a `correlate` processor in a pipeline reads the flows that the
 * collector's evidence hub holds (the store receivers fill), through the component settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACTORIES } from '../../components.js';
import { Collector } from '../../core/collector.js';
import { validateServiceConfig } from '../../core/config/service.js';
import type { Component, Consumer } from '../../core/component.js';
import { silentLogger } from '../../core/telemetry/logger.js';
import { MAIN, clientServer, sessionFlows, T0_MS, traces } from './testkit.test.util.js';

test('the collector hands its flow store to correlate; enriched traces reach the exporter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspan-correlate-'));
  const out = join(dir, 'traces.jsonl');
  const raw = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:0' } } } },
    processors: { correlate: { devices: { '192.0.2.1': { name: 'porthos' }, '192.0.2.2': { name: 'dartagnan' } } } },
    exporters: { file: { path: out } },
    service: {
      telemetry: { metrics: { address: '' }, logs: { level: 'silent' } },
      pipelines: { traces: { receivers: ['otlp'], processors: ['correlate'], exporters: ['file'] } },
    },
  };
  const collector = new Collector({ config: validateServiceConfig(raw, FACTORIES), unsetVariables: [], source: 'test' }, silentLogger());
  await collector.start();
  try {
    // Recent times: the hub's store judges retention by the real clock.
    const base = Date.now() - T0_MS - 5_000;
    collector.evidence.addFlows(sessionFlows(MAIN, base + 5, base + 95, 4242));
    const { client, server } = clientServer(MAIN, { startMs: base, endMs: base + 100 });
    const processor = collector.service.component<Component & Consumer<'traces'>>('processor/traces/correlate');
    assert.ok(processor);
    await processor.consume(traces({ frontend: [client], backend: [server] }));
  } finally {
    await collector.shutdown();
  }
  const text = readFileSync(out, 'utf8');
  assert.match(text, /porthos request/);
  assert.match(text, /dartagnan response/);
  assert.match(text, /network 10\.0\.1\.10:40000 → 10\.0\.2\.20:8080/);
});
