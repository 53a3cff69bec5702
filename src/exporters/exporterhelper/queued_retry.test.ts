import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { CapacityError, NetspanError } from '../../core/errors.js';
import type { Traces } from '../../model/otlp.js';
import {
  DEFAULT_RETRY_ON_FAILURE,
  DEFAULT_SENDING_QUEUE,
  DEFAULT_TIMEOUT_MS,
  ExponentialBackoff,
  QueuedRetryExporter,
  exporterHelperFields,
  permanentFailure,
  retryableFailure,
  success,
  type ExportResult,
  type ExportTransport,
  type SleepFn,
} from './index.js';
import { eventually, exporterCounter, fakeClock, recordingSettings, sampleTraces, SAMPLE_TRACES_SPANS } from './otlp_testkit.test.util.js';

const helperSchema = z.object(exporterHelperFields()).strict();

function helperConfig(overrides: Record<string, unknown> = {}) {
  return helperSchema.parse({
    timeout: '1s',
    retry_on_failure: { initial_interval: '1ms', max_interval: '5ms', max_elapsed_time: '10s', randomization_factor: 0 },
    ...overrides,
  });
}

interface Call {
  data: Traces;
  abort: AbortSignal;
  deadline: number;
  settle(result: ExportResult): void;
}

/** A transport whose answers the test gives, call by call (or at once with `script`). */
class ScriptedTransport implements ExportTransport<Traces> {
  readonly calls: Call[] = [];
  started = 0;
  closed = 0;
  /** Results for the next calls, in order; when empty, calls wait for settle(). */
  script: (ExportResult | Error)[] = [];
  private waiters: (() => void)[] = [];

  async start() {
    this.started++;
  }
  async close() {
    this.closed++;
  }

  send(data: Traces, abort: AbortSignal, deadline: number): Promise<ExportResult> {
    return new Promise((resolve, reject) => {
      const next = this.script.shift();
      this.calls.push({ data, abort, deadline, settle: resolve });
      for (const w of this.waiters.splice(0)) w();
      if (next instanceof Error) reject(next);
      else if (next) resolve(next);
    });
  }

  async waitForCalls(n: number): Promise<void> {
    while (this.calls.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }
}

/** Records the waits asked for and waits none of them. */
function recordingSleep(): { sleep: SleepFn; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}

const unavailable = () => retryableFailure(new Error('backend unavailable'));

describe('exporterhelper config', () => {
  test('defaults are the collector’s', () => {
    const c = helperSchema.parse({});
    assert.equal(c.timeout, DEFAULT_TIMEOUT_MS);
    assert.equal(c.timeout, 5_000);
    assert.deepEqual(c.sending_queue, { enabled: true, num_consumers: 10, queue_size: 1000 });
    assert.deepEqual(c.sending_queue, { ...DEFAULT_SENDING_QUEUE });
    assert.deepEqual(c.retry_on_failure, {
      enabled: true,
      initial_interval: 5_000,
      max_interval: 30_000,
      max_elapsed_time: 300_000,
      multiplier: 1.5,
      randomization_factor: 0.5,
    });
    assert.equal(c.retry_on_failure.initial_interval, DEFAULT_RETRY_ON_FAILURE.initial_interval_ms);
  });

  test('durations are parsed and unknown keys refused', () => {
    const c = helperSchema.parse({ timeout: '250ms', retry_on_failure: { max_elapsed_time: '1m30s' } });
    assert.equal(c.timeout, 250);
    assert.equal(c.retry_on_failure.max_elapsed_time, 90_000);
    assert.equal(helperSchema.safeParse({ sending_queue: { size: 3 } }).success, false);
    assert.equal(helperSchema.safeParse({ timeout: 5 }).success, false);
  });
});

describe('ExponentialBackoff', () => {
  test('grows by the multiplier up to max_interval', () => {
    const b = new ExponentialBackoff({ initial_interval: 100, max_interval: 300, multiplier: 1.5, randomization_factor: 0.5 }, () => 0.5);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 150, 225, 300, 300]);
  });

  test('spreads each interval by ±randomization_factor', () => {
    const cfg = { initial_interval: 1000, max_interval: 1000, multiplier: 2, randomization_factor: 0.5 };
    assert.equal(new ExponentialBackoff(cfg, () => 0).next(), 500);
    assert.equal(new ExponentialBackoff(cfg, () => 0.999999).next(), 1500);
  });
});

describe('QueuedRetryExporter', () => {
  test('queues, sends and counts the items sent', async () => {
    const settings = recordingSettings('otlp/test');
    const transport = new ScriptedTransport();
    transport.script = [success()];
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig(), transport);
    await exporter.start();
    assert.equal(transport.started, 1);
    const batch = sampleTraces();
    await exporter.consume(batch);
    await transport.waitForCalls(1);
    assert.equal(transport.calls[0]!.data, batch);
    await eventually(async () => (await exporterCounter(settings, 'traces', 'sent')) === SAMPLE_TRACES_SPANS, 'sent counted');
    assert.equal(await settings.metrics.value('netspan_exporter_queue_capacity', { exporter: 'otlp/test' }), 1000);
    assert.equal(await settings.metrics.value('netspan_exporter_queue_size', { exporter: 'otlp/test' }), 0);
    await exporter.shutdown();
    assert.equal(transport.closed, 1);
  });

  test('retries with backoff, then counts the retry and the delivery once', async () => {
    const settings = recordingSettings('otlp/retry');
    const transport = new ScriptedTransport();
    transport.script = [unavailable(), unavailable(), success()];
    const { sleep, delays } = recordingSleep();
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({ retry_on_failure: { initial_interval: '100ms', max_interval: '1s', multiplier: 2, randomization_factor: 0 } }),
      transport,
      { sleep },
    );
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'sent')) === SAMPLE_TRACES_SPANS, 'sent');
    assert.equal(transport.calls.length, 3);
    assert.deepEqual(delays, [100, 200]);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 2 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 0);
    await exporter.shutdown();
  });

  test('waits as long as the server asks when that is longer than the backoff', async () => {
    const settings = recordingSettings('otlp/throttle');
    const transport = new ScriptedTransport();
    transport.script = [retryableFailure(new Error('slow down'), 7_000), retryableFailure(new Error('slow down'), 0), success()];
    const { sleep, delays } = recordingSleep();
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig({ sending_queue: { enabled: false } }), transport, { sleep });
    await exporter.start();
    await exporter.consume(sampleTraces());
    // The server's 7 s wins over the 1 ms backoff; a 0 from the server does not shorten the
    // backoff, which has grown by the multiplier meanwhile (1 ms × 1.5, rounded).
    assert.deepEqual(delays, [7_000, 2]);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
    await exporter.shutdown();
  });

  test('a permanent failure is dropped at once, counted and logged with the reason', async () => {
    const settings = recordingSettings('otlp/permanent');
    const transport = new ScriptedTransport();
    transport.script = [permanentFailure(new Error('HTTP 400: bad payload'))];
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig(), transport);
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'send_failed')) === SAMPLE_TRACES_SPANS, 'send_failed');
    await exporter.shutdown();
    assert.equal(transport.calls.length, 1);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 0);
    const error = settings.logs.find((l) => l.level === 'error');
    assert.ok(error, 'an error is logged');
    assert.equal(error.dropped_items, SAMPLE_TRACES_SPANS);
    assert.equal(error.reason, 'permanent error');
    assert.match(String(error.error), /bad payload/);
  });

  test('a throwing transport counts as a permanent failure', async () => {
    const settings = recordingSettings('otlp/throw');
    const transport = new ScriptedTransport();
    transport.script = [new Error('encoder bug')];
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig({ sending_queue: { enabled: false } }), transport);
    await assert.rejects(exporter.consume(sampleTraces()), /encoder bug/);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS);
    await exporter.shutdown();
  });

  test('gives up at max_elapsed_time and counts the batch as send_failed', async () => {
    const settings = recordingSettings('otlp/elapsed');
    const transport = new ScriptedTransport();
    transport.script = Array.from({ length: 100 }, unavailable);
    const { sleep, now, delays } = fakeClock();
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({
        retry_on_failure: {
          initial_interval: '10ms',
          max_interval: '1s',
          multiplier: 2,
          max_elapsed_time: '100ms',
          randomization_factor: 0,
        },
      }),
      transport,
      { sleep, now },
    );
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'send_failed')) === SAMPLE_TRACES_SPANS, 'given up');
    // 10 + 20 + 40 = 70 ms waited; the next wait (80 ms) would end past 100 ms.
    assert.deepEqual(delays, [10, 20, 40]);
    assert.equal(transport.calls.length, 4);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), 0);
    const error = settings.logs.find((l) => l.level === 'error');
    assert.match(String(error?.reason), /max_elapsed_time/);
    assert.equal(error?.dropped_items, SAMPLE_TRACES_SPANS);
    assert.equal(error?.attempts, 4);
    await exporter.shutdown();
  });

  test('with retry_on_failure disabled a retryable failure is dropped after one attempt', async () => {
    const settings = recordingSettings('otlp/noretry');
    const transport = new ScriptedTransport();
    transport.script = [unavailable()];
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig({ retry_on_failure: { enabled: false } }), transport);
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'send_failed')) === SAMPLE_TRACES_SPANS, 'dropped');
    assert.equal(transport.calls.length, 1);
    await exporter.shutdown();
  });

  test('a full queue refuses with CapacityError, counted as enqueue_failed, and accepts again once drained', async () => {
    const settings = recordingSettings('otlp/full');
    const transport = new ScriptedTransport();
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({ sending_queue: { num_consumers: 1, queue_size: 2 } }),
      transport,
    );
    await exporter.start();
    await exporter.consume(sampleTraces());
    await transport.waitForCalls(1); // the only consumer is busy with the first batch
    await exporter.consume(sampleTraces());
    await exporter.consume(sampleTraces());
    assert.equal(exporter.canAccept(), false);
    assert.equal(await settings.metrics.value('netspan_exporter_queue_size', { exporter: 'otlp/full' }), 2);
    await assert.rejects(exporter.consume(sampleTraces()), (err: unknown) => err instanceof CapacityError);
    assert.equal(await exporterCounter(settings, 'traces', 'enqueue_failed'), SAMPLE_TRACES_SPANS);

    transport.script = [success(), success()];
    transport.calls[0]!.settle(success());
    await eventually(async () => (await exporterCounter(settings, 'traces', 'sent')) === 3 * SAMPLE_TRACES_SPANS, 'all sent');
    assert.equal(exporter.canAccept(), true);
    await exporter.shutdown();
  });

  test('partial success counts the rejected items and logs the server’s message', async () => {
    const settings = recordingSettings('otlp/partial');
    const transport = new ScriptedTransport();
    transport.script = [success(2, 'two spans too old')];
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig({ sending_queue: { enabled: false } }), transport);
    await exporter.start();
    await exporter.consume(sampleTraces());
    assert.equal(await exporterCounter(settings, 'traces', 'rejected_by_backend'), 2);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS - 2);
    const warning = settings.logs.find((l) => l.level === 'warn');
    assert.equal(warning?.message, 'two spans too old');
    assert.equal(warning?.rejected_items, 2);
    await exporter.shutdown();
  });

  test('without a queue consume waits for the outcome and rejects when the batch is dropped', async () => {
    const settings = recordingSettings('otlp/direct');
    const transport = new ScriptedTransport();
    const exporter = new QueuedRetryExporter(settings, 'traces', helperConfig({ sending_queue: { enabled: false } }), transport);
    await exporter.start();
    let resolved = false;
    const consumed = exporter.consume(sampleTraces()).then(() => (resolved = true));
    await transport.waitForCalls(1);
    assert.equal(resolved, false, 'consume waits for the send');
    transport.calls[0]!.settle(success());
    await consumed;
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);

    transport.script = [permanentFailure(new Error('unauthorized'))];
    await assert.rejects(
      exporter.consume(sampleTraces()),
      (err: unknown) => err instanceof NetspanError && /unauthorized/.test(err.message),
    );
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS);
    await exporter.shutdown();
  });

  test('an attempt is abandoned at `timeout` even if the transport never answers', async () => {
    const settings = recordingSettings('otlp/timeout');
    const transport = new ScriptedTransport(); // never settles
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({ timeout: '20ms', sending_queue: { enabled: false }, retry_on_failure: { enabled: false } }),
      transport,
    );
    await exporter.start();
    const before = Date.now();
    await assert.rejects(exporter.consume(sampleTraces()), /timed out/);
    const call = transport.calls[0]!;
    assert.equal(call.abort.aborted, true, 'the transport was told to stop');
    assert.ok(call.deadline >= before && Number.isFinite(call.deadline), 'a finite deadline was passed');
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS);
    await exporter.shutdown();
  });

  test('shutdown gives a batch waiting for its retry one last attempt', async () => {
    const settings = recordingSettings('otlp/last-attempt');
    const transport = new ScriptedTransport();
    transport.script = [retryableFailure(new Error('busy'), 3_600_000), success()];
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({ retry_on_failure: { initial_interval: '1ms', max_elapsed_time: '2h' } }),
      transport,
    );
    await exporter.start();
    await exporter.consume(sampleTraces());
    await eventually(() => settings.logs.some((l) => l.msg === 'exporting failed, will retry'), 'waiting for the retry');
    await exporter.shutdown(); // would wait an hour without the wake-up
    assert.equal(transport.calls.length, 2);
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
  });

  test('shutdown drains the queue with one attempt per batch and counts what fails as dropped', async () => {
    const settings = recordingSettings('otlp/drain');
    const transport = new ScriptedTransport();
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({ sending_queue: { num_consumers: 1, queue_size: 5 } }),
      transport,
    );
    await exporter.start();
    for (let i = 0; i < 4; i++) await exporter.consume(sampleTraces());
    await transport.waitForCalls(1);
    transport.script = [success(), unavailable(), unavailable()];
    const stopping = exporter.shutdown();
    assert.equal(exporter.canAccept(), false);
    await assert.rejects(exporter.consume(sampleTraces()), (err: unknown) => err instanceof CapacityError);
    transport.calls[0]!.settle(unavailable());
    await stopping;
    assert.equal(transport.calls.length, 4, 'each batch had exactly one attempt');
    assert.equal(await exporterCounter(settings, 'traces', 'sent'), SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await exporterCounter(settings, 'traces', 'retried'), 0);
  });

  test('shutdown is bounded: a hung send is aborted and what is left counted and logged as dropped', async () => {
    const settings = recordingSettings('otlp/hung');
    const transport = new ScriptedTransport(); // never settles
    const exporter = new QueuedRetryExporter(
      settings,
      'traces',
      helperConfig({ timeout: '30ms', sending_queue: { num_consumers: 1, queue_size: 5 } }),
      transport,
    );
    await exporter.start();
    for (let i = 0; i < 3; i++) await exporter.consume(sampleTraces());
    await transport.waitForCalls(1);
    await exporter.shutdown();
    assert.equal(transport.calls[0]!.abort.aborted, true);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 3 * SAMPLE_TRACES_SPANS);
    assert.equal(await settings.metrics.value('netspan_exporter_queue_size', { exporter: 'otlp/hung' }), 0);
    assert.ok(settings.logs.some((l) => l.level === 'error' && typeof l.dropped_items === 'number' && l.dropped_items > 0));
    assert.equal(transport.closed, 1);
  });

  test('50 consumers sending, waiting for retries and shut down: no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const settings = recordingSettings('otlp/many');
      const transport = new ScriptedTransport(); // answers only when told
      const exporter = new QueuedRetryExporter(
        settings,
        'traces',
        helperConfig({
          timeout: '300ms',
          sending_queue: { num_consumers: 50, queue_size: 100 },
          // The real backoff wait (no `sleep` option), long enough that only shutdown ends it.
          retry_on_failure: { initial_interval: '1h', max_interval: '1h', max_elapsed_time: '0s', randomization_factor: 0 },
        }),
        transport,
      );
      await exporter.start();
      for (let i = 0; i < 100; i++) await exporter.consume(sampleTraces());
      // 50 sends at once, each with its abort signal and the shutdown's hold on it.
      await transport.waitForCalls(50);
      assert.equal(transport.calls.length, 50);
      for (const call of transport.calls) call.settle(unavailable());
      // 50 backoff waits at once.
      await eventually(() => settings.logs.filter((l) => l.msg === 'exporting failed, will retry').length === 50, '50 retries waiting');
      // Shutdown wakes all 50 for a last attempt, which hangs until the drain time is up and is abandoned.
      await exporter.shutdown();
      assert.equal(transport.calls.length, 100);
      assert.ok(
        transport.calls.slice(50).every((c) => c.abort.aborted),
        'the last attempts were aborted',
      );
      assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), 100 * SAMPLE_TRACES_SPANS);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
  });

  test('lifecycle: shutdown without start, twice, and start after shutdown', async () => {
    const settings = recordingSettings('otlp/lifecycle');
    const transport = new ScriptedTransport();
    const unstarted = new QueuedRetryExporter(settings, 'traces', helperConfig(), transport);
    await unstarted.consume(sampleTraces()); // queued before start
    await unstarted.shutdown();
    await unstarted.shutdown();
    assert.equal(transport.calls.length, 0);
    assert.equal(await exporterCounter(settings, 'traces', 'send_failed'), SAMPLE_TRACES_SPANS, 'the queued batch is counted as dropped');
    assert.ok(settings.logs.some((l) => l.level === 'error' && l.reason === 'exporter was never started'));
    await unstarted.start();
    assert.equal(transport.started, 0, 'a shut down exporter does not start again');
    assert.equal(unstarted.canAccept(), false);

    const other = new ScriptedTransport();
    const started = new QueuedRetryExporter(recordingSettings('otlp/twice'), 'traces', helperConfig(), other);
    await started.start();
    await started.start();
    assert.equal(other.started, 1);
    await Promise.all([started.shutdown(), started.shutdown()]);
    await started.shutdown();
    assert.equal(other.closed, 1);
  });
});
