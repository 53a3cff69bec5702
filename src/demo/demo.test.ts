import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../testutil/index.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

test('netspan demo --once: prints the UI address and an enriched trace, then exits', () => {
  const r = spawnSync(process.execPath, [CLI, 'demo', '--once', '--ui-endpoint', '127.0.0.1:0', '--requests', '8'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /the web UI is at http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(r.stdout, /8 enriched traces held/);
  assert.match(r.stdout, /slowest hop: porthos \(porthos request \(IOAM\)\) 1\d\d\.\d ms/);
  // The debug exporter's tree: client → network summary → device and hop spans → server.
  assert.match(r.stdout, /\[frontend\] GET \/api\/cart CLIENT/);
  assert.match(r.stdout, /\[network\] network 10\.0\.1\.10:\d+ → 10\.0\.2\.20:8080 INTERNAL/);
  for (const name of ['porthos request', 'porthos request (IOAM)', 'porthos observed', 'dartagnan request', 'porthos response'])
    assert.ok(r.stdout.includes(`[network] ${name} INTERNAL`), name);
  assert.match(r.stdout, /\[network\] network 10\.0\.2\.20:\d+ → 10\.0\.3\.30:5432 INTERNAL/);
});

test('netspan demo: bad options are usage errors', () => {
  const r = spawnSync(process.execPath, [CLI, 'demo', '--requests', 'many'], { encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--requests/);
});
