import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readPcap } from '../capture/pcap/index.js';
import { createObserver, type ObserveIssue } from './observe.js';
import { expectedObservations, ioamPcaps, IOAM_PCAP_DIR } from './agent_testkit.test.util.js';

const skip = existsSync(IOAM_PCAP_DIR) ? false : `no IOAM captures at ${IOAM_PCAP_DIR}`;

test('the observer makes one IOAM observation per trace of the kernel captures, as the decoders give them', { skip }, () => {
  const issues: ObserveIssue[] = [];
  const observer = createObserver({ observer: 'host-a', cltIds: false, onIssue: (i) => issues.push(i) });
  const files = ioamPcaps();
  const got = files.flatMap((f) =>
    readPcap(new Uint8Array(readFileSync(f))).packets.flatMap((p) => observer.observe(p.data, p.linkType, p.timestampUnixNano, '')),
  );
  const want = expectedObservations(files, 'host-a');
  assert.ok(want.length >= files.length, `${want.length} traces`);
  assert.deepEqual(got, want);
  // The overflow cases of the corpus are reported as IOAM issues, the rest decodes cleanly.
  assert.ok(issues.some((i) => i.decoder === 'ioam' && i.code === 'OVERFLOW'));
  assert.ok(issues.every((i) => i.decoder === 'ioam'));
});

test('a packet without IOAM gives nothing; a cut one is an issue', () => {
  const issues: ObserveIssue[] = [];
  const observer = createObserver({ observer: 'h', cltIds: true, onIssue: (i) => issues.push(i) });
  // Raw IPv6 (link type 101), UDP, no extension headers.
  const udp = new Uint8Array(48);
  udp.set([0x60, 0, 0, 0, 0, 8, 17, 64]);
  udp[23] = 1;
  udp[39] = 2;
  udp.set([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0], 40);
  assert.deepEqual(observer.observe(udp, 101, 1n, 'eth0'), []);
  assert.equal(issues.length, 0);
  assert.deepEqual(observer.observe(udp.subarray(0, 20), 101, 1n, 'eth0'), []);
  assert.deepEqual(
    issues.map((i) => [i.decoder, i.code]),
    [['packet', 'TRUNCATED']],
  );
});
