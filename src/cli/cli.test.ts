/** The command line as a user runs it: the compiled CLI in a child process. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, SHARED_DIR } from '../testutil/index.js';
import { observationFromAttributes, type FlatAttributes, type HttpObservation, type IoamObservation } from '../model/observation.js';
import { IOAM_DIR, assertMatchesExpected, loadExpected, skipWithoutShared } from '../capture/observe/kernel-ioam.test.util.js';

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

  test(
    'decode --kind ioam: every kernel-generated IOAM capture gives its EXPECTED.json, field by field',
    { skip: skipWithoutShared },
    () => {
      const expected = loadExpected();
      const r = run('decode', '--kind', 'ioam', ...expected.map((f) => join(IOAM_DIR, f.file)));
      assert.equal(r.status, 0, r.stderr);
      // The overflowed traces are records with ioam.overflow true, not errors; nothing else is wrong in them.
      assert.equal(r.stderr, '');
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as FlatAttributes);
      // One trace per packet, in file and packet order.
      assert.equal(
        lines.length,
        expected.reduce((n, f) => n + f.packets.length, 0),
      );
      let k = 0;
      for (const f of expected)
        for (const e of f.packets) {
          const where = `${f.file} frame ${e.frame}`;
          const { kind, ...attributes } = lines[k++]!;
          assert.equal(kind, 'ioam', where);
          const o = observationFromAttributes('ioam', attributes) as IoamObservation;
          assertMatchesExpected(where, f.file, e, o);
          assert.equal(o.source, 'capture', where);
          assert.equal(o.timeUnixNano, BigInt(Math.round(e.capture_time * 1e6)) * 1000n, where);
          assert.deepEqual(
            [o.sourceAddress, o.destinationAddress, attributes['network.transport']],
            ['2001:db8:1::2', '2001:db8:2::2', 'icmpv6'],
            where,
          );
          assert.equal(o.traceparent, undefined, `${where}: no HTTP on an ICMPv6 probe`);
        }
    },
  );

  test('decode --kind http: one record per request and response head of a real capture, with its traceparent', () => {
    const testdata = join(REPO_ROOT, 'src', 'capture', 'observe', 'testdata');
    const sent = (
      JSON.parse(readFileSync(join(testdata, 'http-requests.json'), 'utf8')) as { requests: { path: string; traceparent: string }[] }
    ).requests;
    const r = run('decode', '--kind', 'http', join(testdata, 'http-lo.pcap'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const { kind, ...attributes } = JSON.parse(l) as FlatAttributes;
        assert.equal(kind, 'http');
        return observationFromAttributes('http', attributes) as HttpObservation;
      });
    assert.deepEqual(
      records.map((o) => [o.message, o.message === 'request' ? o.target : o.status, o.traceparent]),
      sent.flatMap((s) => [
        ['request', s.path.replace(/\?.*/, ''), s.traceparent],
        ['response', 200, s.traceparent],
      ]),
    );
    // --kind flow alone leaves them out: the flow output is what it was.
    assert.equal(run('decode', '--kind', 'flow', join(testdata, 'http-lo.pcap')).stdout, '');
  });
});
