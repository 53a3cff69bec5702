/**
 * The web UI in headless Chromium (playwright-core, Debian's /usr/bin/chromium) against
 * `netspan demo` run in this process: find the slow trace, open it, see the network spans and
 * what names the congested router, open a hop's detail, filter the flow table by a quartet, open
 * a device page. Screenshots go to $NETSPAN_UI_SCREENSHOTS or a fresh directory under the OS temp
 * dir (printed). Without chromium the test skips, saying why, except in CI where it fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startDemo, type Demo } from '../demo/run.js';
import { HOSTS, BACKEND_PORT } from '../demo/scenario.js';
import { IN_CI } from '../../test/e2e/lab/netns.js';

/** The page's DOM, as the functions run in the browser see it (this project compiles without the DOM lib). */
declare const document: {
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): { length: number };
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && IN_CI) throw new Error(`${CHROMIUM} is missing: CI installs the Debian package chromium (.ci/run)`);
const skip = missing ? `${CHROMIUM} is not installed (apt-get install chromium); the browser tests need it` : false;
if (skip) process.stdout.write(`# skipping the UI browser tests: ${skip}\n`);

let demo: Demo;
let browser: Browser;
let page: Page;
let shots: string;

before(async () => {
  if (skip) return;
  shots = process.env.NETSPAN_UI_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'netspan-ui-'));
  mkdirSync(shots, { recursive: true });
  process.stdout.write(`# UI screenshots: ${shots}\n`);
  demo = await startDemo({ uiEndpoint: '127.0.0.1:0', requests: 24, intervalMs: 0 });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  page.on('pageerror', (err) => process.stdout.write(`# page error: ${err.message}\n`));
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

const shot = (name: string) => page.screenshot({ path: join(shots, name), fullPage: false });

test('trace list: the slow traces come first sorted by duration', { skip }, async () => {
  await page.goto(demo.url);
  await page.getByTestId('trace-row').first().waitFor();
  assert.equal(await page.getByTestId('trace-row').count(), 24);
  await page.getByTestId('sort-select').selectOption('-duration');
  await page.getByTestId('apply-filters').click();
  await page.waitForURL(/sort=-duration/);
  const first = page.getByTestId('trace-row').first();
  const slowIds = new Set(demo.requests.filter((r) => r.slow).map((r) => r.traceId));
  await page.waitForFunction(
    (ids) => ids.includes(document.querySelector('[data-testid=trace-row]')?.getAttribute('data-trace-id') ?? ''),
    [...slowIds],
  );
  assert.ok(slowIds.has((await first.getAttribute('data-trace-id'))!));
  await shot('traces.png');
});

test('trace view: network spans stand out, the congested router is named, hop detail', { skip }, async () => {
  await page.getByTestId('trace-row').first().getByRole('link').click();
  await page.getByTestId('waterfall').waitFor();
  const roles = await page.getByTestId('span-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-role')));
  for (const role of ['app', 'network_summary', 'flow_device', 'ioam_hop', 'observation_point'])
    assert.ok(roles.includes(role), `a ${role} span row`);
  assert.equal(roles.filter((r) => r === 'network_summary').length, 2);
  assert.match((await page.getByTestId('network-share').textContent())!, /\d+(\.\d+)? ms/);
  // The verdict names the congested router.
  const verdict = (await page.getByTestId('verdict').textContent())!;
  assert.match(verdict, /porthos/);

  await page.locator('[data-testid=span-row][data-role=ioam_hop]', { hasText: 'porthos' }).getByRole('button').click();
  const detail = page.getByTestId('hop-detail');
  await detail.waitFor();
  assert.equal(await detail.getByTestId('timing-accuracy').textContent(), 'exact');
  assert.match((await detail.getByTestId('hop-attributes').textContent())!, /ioam\.queue_depth/);
  await detail.getByTestId('chart-queue').locator('svg').waitFor();
  await detail.getByTestId('chart-utilisation').locator('svg').waitFor();
  assert.match((await detail.getByTestId('evidence-used').textContent())!, /ioam/);
  assert.match(
    (await detail.getByTestId('hop-evidence').textContent())!,
    /IOAM node 2 \(namespace 123\), 1 packet, queue depth up to \d{5}/,
  );
  await shot('trace.png');
});

test('evidence explorer: flows filtered by a quartet', { skip }, async () => {
  const slow = demo.requests.find((r) => r.slow)!;
  const flow = slow.flows.get('127.0.0.2')![0]!;
  await page.goto(`${demo.url}#/evidence/flows`);
  await page.getByTestId('evidence-row').first().waitFor();
  assert.ok((await page.getByTestId('evidence-row').count()) > 4);
  await page.getByTestId('evidence-filter-source.address').fill(HOSTS.frontend);
  await page.getByTestId('evidence-filter-source.port').fill(String(flow.sourcePort));
  await page.getByTestId('evidence-filter-destination.address').fill(HOSTS.backend);
  await page.getByTestId('evidence-filter-destination.port').fill(String(BACKEND_PORT));
  await page.getByTestId('evidence-apply').click();
  await page.waitForURL(/source\.port=/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=evidence-row]').length === 2);
  const rows = await page.getByTestId('evidence-row').allTextContents();
  for (const r of rows) assert.ok(r.includes(String(flow.sourcePort)) && r.includes(HOSTS.backend));
  await shot('evidence.png');
  await page.getByTestId('evidence-tab-ioam').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=evidence-row]').length === 1);
});

test('device page: utilisation, errors and queue charts of porthos', { skip }, async () => {
  await page.goto(`${demo.url}#/devices`);
  await page.getByTestId('device-row').first().waitFor();
  assert.deepEqual((await page.getByTestId('device-row').locator('td:first-child').allTextContents()).sort(), [
    'backend',
    'dartagnan',
    'porthos',
  ]);
  await page.getByRole('link', { name: 'porthos' }).click();
  await page.getByTestId('device-page').waitFor();
  for (const id of ['chart-utilisation', 'chart-errors', 'chart-queue', 'chart-cpu']) await page.getByTestId(id).locator('svg').waitFor();
  await shot('device.png');
});

test('traces with a verdict: the list marks them, has_verdict finds them, the trace view shows it first', { skip }, async () => {
  await page.goto(`${demo.url}#/?has_verdict=true`);
  const row = page.getByTestId('trace-row');
  await row.first().waitFor();
  const ids = await row.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-trace-id')));
  const slowIds = new Set(demo.requests.filter((r) => r.slow).map((r) => r.traceId));
  assert.ok(ids.length > 0, 'the congested requests have a verdict');
  // Only requests that met the congested router: no verdict without evidence.
  for (const id of ids) assert.ok(slowIds.has(id!), `trace ${id} has a verdict but met no congestion`);
  assert.match((await row.first().textContent())!, /porthos por1/);
  await row.first().getByRole('link').click();
  const verdict = page.getByTestId('verdict-text');
  await verdict.waitFor();
  assert.match((await verdict.textContent())!, /^porthos por1: queue depth \d+ B.*\+\d+(\.\d+)? ms$/);
  assert.match((await page.getByTestId('verdict').textContent())!, /device porthos.*interface por1.*cause queue/s);
  await shot('verdict.png');
});
