/**
 * Property test: one million mutated packets (bytes changed, truncated, extended, link type swapped)
 * from the real IOAM and HTTP captures go through one PacketObserver. None throws, every packet is
 * accounted for in the stats, the connection table stays within its bound, and every observation has
 * a valid flat form. Seeded (mulberry32): a failure replays from FUZZ_SEED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../../testutil/index.js';
import { LINKTYPE, readPcap, type CapturedPacket } from '../pcap/index.js';
import { mutate, prng } from '../testkit.test.util.js';
import { observationAttributes, observationFromAttributes } from '../../model/observation.js';
import { IOAM_DIR, kernelHopByHop, skipWithoutShared, withHopByHop } from './kernel-ioam.test.util.js';
import { PacketObserver } from './index.js';

const N = Number(process.env.FUZZ_PACKETS ?? 1_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed0005);
const MAX_CONNECTIONS = 32;
const LINK_TYPES = Object.values(LINKTYPE);

function seeds(): CapturedPacket[] {
  const read = (path: string) => readPcap(new Uint8Array(readFileSync(path))).packets;
  const testdata = repoPath('src', 'capture', 'observe', 'testdata');
  const out = [...read(join(testdata, 'http-lo.pcap')), ...read(join(testdata, 'http-any-sll2.pcap'))];
  if (!skipWithoutShared) {
    for (const f of readdirSync(join(IOAM_DIR, 'pcap'))) out.push(...read(join(IOAM_DIR, 'pcap', f)));
    // IOAM inside the TCP connections: both the Hop-by-Hop walk and the reassembler see them.
    for (const hbh of [kernelHopByHop('full_supp_trace.after-hop2.pcap'), kernelHopByHop('bit22.after-hop2.pcap')])
      for (const p of read(join(testdata, 'http-any-sll2.pcap'))) out.push(withHopByHop(p, hbh));
  }
  return out;
}

test(`fuzz: ${N} mutated packets through PacketObserver never throw and are all accounted for`, () => {
  const all = seeds();
  const rand = prng(SEED);
  const observer = new PacketObserver({ maxConnections: MAX_CONNECTIONS, cltIds: false });
  const clt = new PacketObserver({ maxConnections: MAX_CONNECTIONS, cltIds: true, localAddresses: ['::1', '127.0.0.1'] });
  let observations = 0;
  let checked = 0;
  let time = 1_795_000_000_000_000_000n;
  for (let k = 0; k < N; k++) {
    const seed = all[rand() % all.length]!;
    let data = rand() % 16 === 0 ? seed.data : mutate(rand, seed.data);
    if (rand() % 16 === 0) {
      // Extended: random bytes appended (a longer payload or trailing garbage).
      const longer = new Uint8Array(data.length + 1 + (rand() % 64));
      longer.set(data);
      for (let i = data.length; i < longer.length; i++) longer[i] = rand() & 0xff;
      data = longer;
    }
    const linkType = rand() % 64 === 0 ? LINK_TYPES[rand() % LINK_TYPES.length]! : seed.linkType;
    // Mostly forward in time, sometimes far ahead (idle eviction) or behind (a clock step).
    time += BigInt(rand() % 1000 === 0 ? 200_000_000_000 : rand() % 1_000_000) - (rand() % 5000 === 0 ? 10_000_000_000n : 0n);
    const out = (k & 1 ? clt : observer).observe(data, linkType, time, 'fuzz0');
    observations += out.length;
    if (out.length > 0 && k % 97 === 0) {
      for (const o of out) {
        const flat = observationAttributes(o);
        assert.equal(observationFromAttributes(o.kind, flat).kind, o.kind);
        checked++;
      }
    }
  }
  let issues = 0;
  for (const o of [observer, clt]) {
    const s = o.stats;
    assert.equal(s.packets, s.packetsWithoutIp + s.packetsObserved + s.packetsUnobserved);
    assert.ok(s.http.connections <= MAX_CONNECTIONS);
    assert.ok(s.ioamObservations + s.httpRequests + s.httpResponses >= s.packetsObserved);
    for (const bySource of Object.values(s.issues)) for (const n of Object.values(bySource)) issues += n;
  }
  assert.equal(observer.stats.packets + clt.stats.packets, N);
  assert.equal(
    observations,
    [observer, clt].reduce((n, o) => n + o.stats.ioamObservations + o.stats.httpRequests + o.stats.httpResponses, 0),
  );
  // The mutations reach every layer: issues of all three sources, observations of both kinds, evictions.
  assert.ok(issues > N / 10, `${issues} issues`);
  for (const source of ['packet', 'http'] as const) assert.ok(Object.keys(observer.stats.issues[source]).length > 0, source);
  assert.ok(observer.stats.httpRequests > 0 && observer.stats.httpResponses > 0);
  if (!skipWithoutShared) {
    assert.ok(Object.keys(observer.stats.issues.ioam).length > 3);
    assert.ok(observer.stats.ioamObservations > 0 && clt.stats.ioamObservations > 0);
  }
  assert.ok(observer.stats.http.evictedForCapacity + observer.stats.http.evictedIdle > 0);
  assert.ok(checked > 100);
  if (process.env.FUZZ_STATS) console.log(JSON.stringify([observer.stats, clt.stats]));
});
