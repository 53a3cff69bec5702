import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPcap } from '../../src/capture/index.js';
import { repoRoot } from '../common/cli.js';
import { expandSeed } from './expand.js';
import { describeCapture, SEED_FILE, SEED_TRAFFIC } from './seed.js';

test('the large capture: whole copies of the seed, each copy new connections that give the seed observations again, times in order', () => {
  const seedBytes = readFileSync(join(repoRoot(), 'bench', 'packets', SEED_FILE));
  const seed = describeCapture(seedBytes);
  const dir = mkdtempSync(join(tmpdir(), 'netspan-packets-expand-'));
  try {
    const large = expandSeed(seedBytes, 2 * seed.packets + 1, SEED_TRAFFIC.port, join(dir, 'large.pcap'));
    assert.equal(large.copies, 3);
    const bytes = readFileSync(large.path);
    assert.equal(bytes.length, large.bytes);
    const mix = describeCapture(bytes);
    assert.equal(mix.packets, 3 * seed.packets);
    // Were the copies retransmissions of the first one's connections, the reassembler would ignore them.
    for (const key of ['ioamObservations', 'ioamWithTraceparent', 'httpRequests', 'httpResponses', 'httpWithTraceparent'] as const)
      assert.equal(mix[key], 3 * seed[key], key);
    const times = readPcap(bytes).packets.map((p) => p.timestampUnixNano);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `packet ${i} goes back in time`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
