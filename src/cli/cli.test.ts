/** The command line as a user runs it: the compiled CLI in a child process. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, SHARED_DIR } from '../testutil/index.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
const dir = mkdtempSync(join(tmpdir(), 'netspan-cli-'));

describe('netspan CLI', () => {
  test('--help describes every command', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    for (const command of ['run', 'validate', 'decode', 'agent', 'print-default-config', 'components'])
      assert.match(r.stdout, new RegExp(`\\b${command}\\b`));
  });

  test('an unknown command is a usage error', () => {
    const r = run('frobnicate');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  test('validate: the embedded default is valid', () => {
    const path = join(dir, 'default.yaml');
    writeFileSync(path, run('print-default-config').stdout);
    const r = run('validate', '--config', path);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /valid \(1 pipeline: traces\)/);
  });

  test('validate: every problem with its path, exit 1', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      [
        'receivers:',
        '  otlp: { protocols: { http: { endpoint: "nope" } } }',
        'exporters:',
        '  file: {}',
        'service:',
        '  pipelines:',
        '    traces: { receivers: [otlp], exporters: [file, debug] }',
      ].join('\n'),
    );
    const r = run('validate', '--config', path);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /receivers\.otlp\.protocols\.http\.endpoint: must be host:port/);
    assert.match(r.stderr, /exporters\.file\.path: path is required/);
    assert.match(r.stderr, /service\.pipelines\.traces\.exporters\.1: "debug" is not defined under exporters/);
  });

  test('validate: a missing file is reported, not thrown', () => {
    const r = run('validate', '--config', join(dir, 'missing.yaml'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read the file/);
  });

  test('decode: a raw NetFlow v9 payload prints one JSON flow per line with the contrib attribute names', () => {
    const r = run('decode', join(SHARED_DIR, 'data', 'netflow', 'logstash-codec-netflow', 'dat', 'netflow9_test_softflowd_tpl_data.dat'));
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.length > 0);
    for (const l of lines) {
      assert.equal(l.kind, 'flow');
      assert.equal(l['flow.type'], 'netflow_v9');
      assert.match(String(l['flow.start']), /^\d{19}$/);
      for (const key of [
        'source.address',
        'source.port',
        'destination.address',
        'destination.port',
        'network.transport',
        'flow.io.bytes',
        'flow.io.packets',
        'exporter',
        'observation_domain_id',
      ])
        assert.ok(key in l, `${key} present`);
    }
  });

  test('decode: --kind filters, and a file that is no capture is an error on stderr', () => {
    const dat = join(SHARED_DIR, 'data', 'netflow', 'logstash-codec-netflow', 'dat', 'netflow9_test_softflowd_tpl_data.dat');
    assert.equal(run('decode', '--kind', 'interface_counters', dat).stdout, '');
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'not a capture');
    const r = run('decode', junk);
    assert.equal(r.status, 1);
    const err = JSON.parse(r.stderr.trim()) as { file: string; reason: string };
    assert.equal(err.file, junk);
    assert.match(err.reason, /neither a pcap/);
    assert.equal(run('decode', '--kind', 'bogus', dat).status, 2);
  });
});
