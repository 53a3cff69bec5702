/**
 * Our decoding against TShark 4.0's (../shared/data/netflow/*\/derived-pcap-and-tshark): the number of
 * records per datagram (TShark's "Flow N" includes options data records) and, for every flow, the
 * elements both decode: quartet, counters, interfaces, flags, direction, times, next hops.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  GOFLOW_DIR,
  GOFLOW_V5,
  GOFLOW_V9_DATA,
  GOFLOW_V9_TEMPLATE,
  LOGSTASH_DIR,
  decodeSequence,
  logstashExpected,
  logstashIndex,
  tsharkDifferences,
  tsharkPackets,
  type DecodedSequence,
} from './testkit.test.util.js';

/** Captures where TShark and we count differently, and why (logstash agrees with us on each). */
const COUNT_DIFFERENCES: Record<string, string> = {
  // H3C exports IPV4_ROUTER_SC (type 43) in 2 bytes; TShark insists on 4, marks the first record
  // malformed and stops. logstash and we decode all 16 (and the varstring one).
  'Netflow 9 H3C': 'TShark stops at a 2-byte type 43',
  'Netflow 9 H3C Netstream with varstring': 'TShark stops at a 2-byte type 43',
  // The header count says 2 (the two templates); TShark stops there. We read every flowset of the
  // datagram, as RFC 3954 exporters miscount: an options template, its record and 2 flows follow.
  'Netflow 9 invalid 01': 'TShark trusts the v9 header count',
};

function tsharkFileFor(expectedFile: string): string | undefined {
  const base = expectedFile.replace(/\.expected\.json$/, '');
  for (const name of [
    base,
    base.replace(/^missing-templates-no-template-caching-configured-/, '').replace(/^configured-with-template-caching-/, ''),
  ]) {
    const path = join(LOGSTASH_DIR, 'derived-pcap-and-tshark', `${name}.tshark.json`);
    if (existsSync(path)) return path;
  }
  return undefined;
}

function compare(decoded: DecodedSequence, tsharkFile: string, checkCounts: boolean): void {
  const packets = tsharkPackets(tsharkFile);
  // the pcap holds the test's files in test order; template-caching tests feed the template file first too
  assert.equal(packets.length, decoded.perDatagram.length, 'datagram count');
  if (checkCounts)
    assert.deepEqual(
      decoded.perDatagram,
      packets.map((p) => p.flows.length),
      'records per datagram',
    );
  const problems: string[] = [];
  let e = 0;
  packets.forEach((packet, i) => {
    const ours = decoded.events.slice(e, e + (decoded.perDatagram[i] ?? 0));
    e += decoded.perDatagram[i] ?? 0;
    packet.flows.forEach((flow, j) => {
      const event = ours[j];
      if (event) problems.push(...tsharkDifferences(event, flow, packet.header).map((p) => `datagram ${i} record ${j}: ${p}`));
    });
  });
  assert.deepEqual(problems, []);
}

describe('TShark agrees on the logstash captures', () => {
  for (const entry of logstashIndex()) {
    const tsharkFile = tsharkFileFor(entry.file);
    if (!tsharkFile) continue;
    const expected = logstashExpected(entry.file);
    const why = COUNT_DIFFERENCES[entry.test];
    test(`${entry.test}${why ? ` (counts differ: ${why})` : ''}`, () => {
      const decoded = decodeSequence([...(expected.template_files ?? []), ...expected.files]);
      compare(decoded, tsharkFile, why === undefined);
    });
  }
});

describe('TShark agrees on the goflow2 vectors', () => {
  test('NetFlow v5 (6 flows)', () => {
    const decoded = decodeSequence([GOFLOW_V5]);
    compare(decoded, join(GOFLOW_DIR, 'derived-pcap-and-tshark', 'nfv5.tshark.json'), true);
  });
  test('NetFlow v9 template then 21 records', () => {
    const decoded = decodeSequence([GOFLOW_V9_TEMPLATE, GOFLOW_V9_DATA]);
    compare(decoded, join(GOFLOW_DIR, 'derived-pcap-and-tshark', 'nfv9_template_then_data.tshark.json'), true);
  });
});
