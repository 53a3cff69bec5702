import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { Consumer, ExporterFactory, Factory, ProcessorFactory, ReceiverFactory, Consumers } from './component.js';
import { validateServiceConfig } from './config/service.js';
import { Service } from './service.js';
import { silentLogger } from './telemetry/logger.js';
import { SelfMetrics } from './telemetry/metrics.js';
import { CapacityError } from './errors.js';
import { emptyTraces, type Traces } from '../model/otlp.js';
import { RecordingEvidence } from '../testutil/index.js';

/** Test components that log their lifecycle into one shared list. */
function harness() {
  const events: string[] = [];
  const receivers = new Map<string, Consumers>();
  const exported = new Map<string, Traces[]>();
  const full = new Set<string>();
  const lifecycle = (name: string) => ({
    start: async () => void events.push(`start ${name}`),
    shutdown: async () => void events.push(`stop ${name}`),
  });
  const rx: ReceiverFactory<object> = {
    kind: 'receiver',
    type: 'rx',
    description: 'test receiver',
    signals: ['traces'],
    configSchema: z.object({}),
    create: (s, _c, next) => {
      receivers.set(s.id, next);
      return lifecycle(s.id);
    },
  };
  const tag: ProcessorFactory<{ name: string }> = {
    kind: 'processor',
    type: 'tag',
    description: 'appends its name to the first resource',
    signals: ['traces'],
    configSchema: z.object({ name: z.string() }),
    create: (s, c, _signal, next) => ({
      ...lifecycle(s.id),
      canAccept: () => next.canAccept(),
      consume: async (data) => {
        (data as Traces).resourceSpans.push({ $typeName: 'opentelemetry.proto.trace.v1.ResourceSpans', schemaUrl: c.name, scopeSpans: [] });
        await next.consume(data);
      },
    }),
  };
  const ex: ExporterFactory<object> = {
    kind: 'exporter',
    type: 'ex',
    description: 'records batches',
    signals: ['traces'],
    configSchema: z.object({}),
    create: (s) => ({
      ...lifecycle(s.id),
      canAccept: () => !full.has(s.id),
      consume: async (data) => {
        if (full.has(s.id)) throw new CapacityError(s.id, 'full');
        exported.set(s.id, [...(exported.get(s.id) ?? []), data as Traces]);
      },
    }),
  };
  return { events, receivers, exported, full, factories: [rx, tag, ex] as Factory[] };
}

const CONFIG = {
  receivers: { rx: {}, 'rx/b': {} },
  processors: { 'tag/one': { name: 'one' }, 'tag/two': { name: 'two' } },
  exporters: { 'ex/a': {}, 'ex/b': {} },
  service: {
    pipelines: {
      traces: { receivers: ['rx'], processors: ['tag/one', 'tag/two'], exporters: ['ex/a', 'ex/b'] },
      'traces/2': { receivers: ['rx', 'rx/b'], exporters: ['ex/b'] },
    },
  },
};

describe('service graph', () => {
  test('starts exporters, then processors back to front, then receivers; stops in reverse', async () => {
    const h = harness();
    const service = new Service(validateServiceConfig(CONFIG, h.factories), silentLogger(), new SelfMetrics(), new RecordingEvidence());
    await service.start();
    await service.shutdown();
    const starts = h.events.filter((e) => e.startsWith('start'));
    assert.deepEqual(starts, ['start ex/a', 'start ex/b', 'start tag/two', 'start tag/one', 'start rx', 'start rx/b']);
    assert.deepEqual(
      h.events.filter((e) => e.startsWith('stop')),
      starts.reverse().map((e) => e.replace('start', 'stop')),
    );
  });

  test('fans out to every pipeline and exporter, each branch with its own copy, in processor order', async () => {
    const h = harness();
    const service = new Service(validateServiceConfig(CONFIG, h.factories), silentLogger(), new SelfMetrics(), new RecordingEvidence());
    await service.start();
    await h.receivers.get('rx')!.traces!.consume(emptyTraces());
    // ex/a and ex/b from pipeline "traces" (tagged one, two), and ex/b again from "traces/2" (untagged).
    assert.deepEqual(
      h.exported.get('ex/a')!.map((t) => t.resourceSpans.map((r) => r.schemaUrl)),
      [['one', 'two']],
    );
    assert.deepEqual(
      h.exported
        .get('ex/b')!
        .map((t) => t.resourceSpans.map((r) => r.schemaUrl))
        .sort(),
      [[], ['one', 'two']],
    );
    assert.notEqual(h.exported.get('ex/a')![0], h.exported.get('ex/b')![0]);
    await service.shutdown();
  });

  test('a full branch refuses the whole batch, so no branch gets a partial copy', async () => {
    const h = harness();
    const service = new Service(validateServiceConfig(CONFIG, h.factories), silentLogger(), new SelfMetrics(), new RecordingEvidence());
    await service.start();
    h.full.add('ex/b');
    const input: Consumer<'traces'> = h.receivers.get('rx')!.traces!;
    assert.equal(input.canAccept(), false);
    await assert.rejects(input.consume(emptyTraces()), CapacityError);
    assert.equal(h.exported.get('ex/a'), undefined);
    await service.shutdown();
  });
});
