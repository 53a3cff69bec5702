/**
 * Issue 7 end to end: device state and a verdict on traces taken during real incidents on a
 * router, and none on traces taken outside them.
 *
 *   client ── router porthos (IOAM node, snmpd) ── server aramis (app, netspan agent, netspan run)
 *
 * (device-lab.ts). The client is an application with the OpenTelemetry SDK whose packets carry
 * IOAM traces (CLT); `netspan run` polls the router's snmpd every second, takes the packets'
 * IOAM data from `netspan agent`, and writes enriched traces. Phases, each with its own
 * client run (its requests are tagged with the phase):
 *
 *   baseline  quiet
 *   flap      `ip link set down` on the router's client-side interface while requests run,
 *             `up` once netspan has polled it down; requests in flight while the link was down
 *             must get `interface_flap` / `link_flap` naming porthos and that interface
 *   tbf       a tbf bottleneck on the router's server-side egress, kept full by a UDP blaster;
 *             requests must get `ioam_queue` / `queue` naming porthos and that interface
 *   delay     100 ms on the router's server-side egress (NFQUEUE); `ioam_transit` / `delay`
 *   quiet     quiet again
 *
 * Every request of the quiet phases must carry no verdict (false positives counted: must be
 * 0). The flap begins after netspan has polled the router once more after the baseline's last
 * request (before that, by the polls, it may have begun during the baseline's last requests). The tbf phase starts as soon as netspan has seen the link up again: the flap is within its
 * anomaly window but over before its requests began, and must not be their verdict.
 *
 * Needs root, network namespaces, snmpd, tcpdump, tc, iptables-legacy, python3 and the native
 * addon; skips saying why otherwise (in CI, CI=true, that is a failure).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { IN_CI, Lab } from './lab/netns.js';
import { ioamLabUnavailable } from './lab/ioam.js';
import { DEVICE_LAB_COMMANDS, DeviceLab, ROUTER_NAME } from './lab/device-lab.js';
import { cltRecordsSoFar, enrichedSummaries, ioamHopsOf, runCltClient, startCltClient, stopCltClient } from './lab/clt-stack.js';
import type { ClientRecord } from './lab/clt-app.js';
import type { FileSpan } from './lab/otlp-file.js';
import { poll } from './lab/proc.js';

const skipReason = await ioamLabUnavailable(DEVICE_LAB_COMMANDS);
if (skipReason) console.log(`# device incidents lab skipped: ${skipReason}`);

type Phase = 'baseline' | 'flap' | 'tbf' | 'delay' | 'quiet';

/** How long after `ip link set down` returned a request may still end without having crossed the down link. */
const FLAP_EDGE_MS = 50;

interface Tagged extends ClientRecord {
  phase: Phase;
}

/** What a request's trace says: its summary's verdict and its router hop. */
interface Outcome {
  record: Tagged;
  summary?: FileSpan;
  router?: FileSpan;
}

const QUIET_REQUESTS = 200;
const INCIDENT_REQUESTS = 24;

describe('device incidents: device state and verdicts on real incidents, none outside them', { timeout: 300_000 }, () => {
  if (skipReason) {
    if (IN_CI) test('prerequisites', () => assert.fail(`CI must run the device incidents lab: ${skipReason}`));
    else test('device incidents lab (skipped)', { skip: skipReason }, () => {});
    return;
  }

  let lab: Lab;
  let D: DeviceLab;

  before(async () => {
    lab = Lab.create('incidents');
    D = await DeviceLab.start(lab);
  });

  after(async () => {
    await D?.stop();
    await lab?.destroy();
  });

  const run = async (phase: Phase, requests: number, concurrency: number): Promise<Tagged[]> =>
    (await runCltClient(lab, D.ioam.client.ns, D.client, ['--requests', String(requests), '--concurrency', String(concurrency)])).map(
      (r) => ({ ...r, phase }),
    );

  test('flap, tbf and delay on the router: verdicts that name it, its interface and the cause; quiet phases: none', async (t: TestContext) => {
    const records: Tagged[] = [];
    records.push(...(await run('baseline', QUIET_REQUESTS, 4)));
    // The flap must begin after the baseline as netspan sees it (after a poll that followed it):
    // with polls a second apart, a flap just after a request may otherwise have begun during it.
    await D.awaitReadingAfter(D.clientSide, Math.max(...records.map((r) => r.endMs)));

    // Flap: requests keep coming (16 at a time, every 100 ms each) while the link goes down and up.
    // The client's own spans cross the flapped link too: its exporter waits for the link.
    const flapping = startCltClient(
      lab,
      D.ioam.client.ns,
      D.client,
      ['--requests', '100000', '--concurrency', '16', '--interval-ms', '100'],
      { OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '60000' },
    );
    await poll(() => (cltRecordsSoFar(flapping) >= 32 ? true : undefined), 30_000);
    await D.setLink(D.clientSide, 'down');
    const downAt = Date.now();
    await D.awaitInterface(D.clientSide, (v) => v.operStatus === 2);
    const upAt = Date.now();
    await D.setLink(D.clientSide, 'up');
    await D.awaitInterface(D.clientSide, (v) => v.operStatus === 1);
    const doneAtUp = cltRecordsSoFar(flapping);
    await poll(() => (cltRecordsSoFar(flapping) >= doneAtUp + 32 ? true : undefined), 60_000);
    const flapRecords = (await stopCltClient(flapping)).map((r): Tagged => ({ ...r, phase: 'flap' }));
    records.push(...flapRecords);
    t.diagnostic(`link ${D.clientSide.name} down for ${upAt - downAt} ms until netspan had polled it down`);

    // The next phases start as soon as netspan has seen the link up again: the flap is then in
    // their anomaly window, but over before they began, so it must not be their verdict.
    const removeBottleneck = await D.bottleneck();
    try {
      records.push(...(await run('tbf', INCIDENT_REQUESTS, 4)));
    } finally {
      await removeBottleneck();
    }

    const delay = await D.delay(100);
    try {
      records.push(...(await run('delay', INCIDENT_REQUESTS, 4)));
    } finally {
      await delay.stop();
    }

    records.push(...(await run('quiet', QUIET_REQUESTS, 4)));

    const { spans, summaries } = await enrichedSummaries(D.tracesPath, records, 90_000);
    const outcomes: Outcome[] = records.map((record) => {
      const summary = summaries.get(record.clientSpanId);
      const router = summary
        ? ioamHopsOf(spans, summary).find(
            (h) => h.attributes['ioam.node_id'] === D.ioam.router.nodeId && h.attributes['netspan.direction'] === 'request',
          )
        : undefined;
      return { record, ...(summary ? { summary } : {}), ...(router ? { router } : {}) };
    });
    const verdictOf = (o: Outcome) => o.summary?.attributes['netspan.verdict.rule'];
    const describeOne = (o: Outcome) =>
      `${o.record.phase} #${o.record.seq} ${o.record.startMs}..${o.record.endMs}: ${
        o.summary ? `${String(o.summary.attributes['netspan.verdict'] ?? 'no verdict')}` : 'no summary'
      }${o.router ? '' : ', no router hop'}`;

    // Every request's trace came out enriched, with the router's IOAM hop and its device state.
    const missing = outcomes.filter((o) => !o.summary || !o.router);
    assert.deepEqual(missing.map(describeOne), [], 'every request has a summary and a router hop');
    const noState = outcomes.filter(
      (o) =>
        o.router!.attributes['netspan.interface.name'] !== D.serverSide.name ||
        o.router!.attributes['netspan.interface.oper_status'] !== 'up' ||
        typeof o.router!.attributes['netspan.interface.out.utilisation'] !== 'number' ||
        typeof o.router!.attributes['netspan.device.state_age_ms'] !== 'number',
    );
    assert.deepEqual(noState.map(describeOne), [], "the router hop carries its egress interface's polled state");

    const byPhase = (p: Phase) => outcomes.filter((o) => o.record.phase === p);
    const counts: Record<string, string> = {};

    // Quiet phases: no verdict at all.
    const quiet = [...byPhase('baseline'), ...byPhase('quiet')];
    const falsePositives = quiet.filter((o) => verdictOf(o) !== undefined);
    counts.quiet = `${quiet.length} requests, ${falsePositives.length} with a verdict (false positives)`;

    // The verdict an incident's request must carry.
    const expectVerdict = (o: Outcome, rule: string, cause: string, iface: string): string | undefined => {
      const a = o.summary!.attributes;
      const got = [a['netspan.verdict.rule'], a['netspan.verdict.cause'], a['netspan.verdict.device'], a['netspan.verdict.interface']];
      return JSON.stringify(got) === JSON.stringify([rule, cause, ROUTER_NAME, iface]) ? undefined : describeOne(o);
    };

    // Flap: the requests in flight while the link was down (from after `down` returned to before `up`
    // was run). The link goes down somewhere inside `ip link set down`, before `downAt`, so a request
    // that ends just after `downAt` may have had its response before the link went down (seen: five
    // 15 ms requests ending 1-3 ms after it, rightly without a verdict); one that crossed the down
    // link stalls until it is up again. The requests ending within FLAP_EDGE_MS of `downAt` are
    // neither claimed nor excused: they count among the others.
    const flap = byPhase('flap');
    const hit = flap.filter((o) => o.record.startMs < upAt && o.record.endMs > downAt + FLAP_EDGE_MS);
    const flapWrong = hit.flatMap((o) => {
      const wrong = expectVerdict(o, 'interface_flap', 'link_flap', D.clientSide.name);
      const event = o.router!.events.find(
        (e) => e.name === 'anomaly: flap' && e.attributes['netspan.interface.name'] === D.clientSide.name,
      );
      return wrong ? [wrong] : event ? [] : [`${describeOne(o)}: no flap event on the router hop`];
    });
    const nearFlap = flap.filter((o) => !hit.includes(o) && verdictOf(o) !== undefined).length;
    counts.flap = `${hit.length} requests in flight while ${D.clientSide.name} was down, ${flapWrong.length} without the flap verdict; ${flap.length - hit.length} others in the phase, ${nearFlap} of them with a verdict`;

    const tbf = byPhase('tbf');
    const tbfWrong = tbf.flatMap((o) => {
      const wrong = expectVerdict(o, 'ioam_queue', 'queue', D.serverSide.name);
      if (wrong) return [wrong];
      return (o.router!.attributes['netspan.ioam.queue_depth_max'] as number) > 0 ? [] : [`${describeOne(o)}: queue depth 0`];
    });
    counts.tbf = `${tbf.length} requests, ${tbfWrong.length} without the queue verdict`;

    const delayed = byPhase('delay');
    const delayWrong = delayed.flatMap((o) => {
      const wrong = expectVerdict(o, 'ioam_transit', 'delay', D.serverSide.name);
      if (wrong) return [wrong];
      const added = o.summary!.attributes['netspan.verdict.added_ms'] as number;
      return added >= 98 ? [] : [`${describeOne(o)}: added_ms ${added} below the 100 ms delay`];
    });
    counts.delay = `${delayed.length} requests, ${delayWrong.length} without the delay verdict`;

    for (const [phase, line] of Object.entries(counts)) t.diagnostic(`${phase}: ${line}`);
    for (const [phase, list] of [
      ['flap', hit],
      ['tbf', tbf],
      ['delay', delayed],
    ] as const)
      t.diagnostic(`${phase}, e.g.: ${String(list[0]?.summary?.attributes['netspan.verdict'])}`);
    assert.deepEqual(falsePositives.map(describeOne), [], 'quiet requests with a verdict');
    assert.ok(hit.length > 0, 'some requests were in flight while the link was down');
    assert.deepEqual(flapWrong, [], 'flap');
    assert.deepEqual(tbfWrong, [], 'tbf');
    assert.deepEqual(delayWrong, [], 'delay');
  });
});
