import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '../testkit.test.util.js';
import { QuartetEntry, QuartetTable } from './quartet-table.js';

class Entry extends QuartetEntry {
  constructor(readonly name: string) {
    super();
  }
}

const entry = (name: string): Entry => new Entry(name);

/** The entries from least to most recently used. */
function order(t: QuartetTable<Entry>): string[] {
  const names: string[] = [];
  for (let e = t.oldest; e; e = e.newer) names.push(e.name);
  return names;
}

test('quartets are found by address text and port in the order given; LRU order follows touches', () => {
  const t = new QuartetTable<Entry>();
  t.add(entry('a'), 'fd00:1::1', 40000, 'fd00:3::2', 8080);
  t.add(entry('b'), 'fd00:1::1', 40001, 'fd00:3::2', 8080);
  t.add(entry('c'), '198.18.1.1', 5, '198.18.1.1', 6);
  assert.equal(t.get('fd00:1::1', 40000, 'fd00:3::2', 8080)?.name, 'a');
  assert.equal(t.get('fd00:1::1', 40001, 'fd00:3::2', 8080)?.name, 'b');
  assert.equal(t.get('198.18.1.1', 5, '198.18.1.1', 6)?.name, 'c');
  // Another order, port or address is another quartet.
  assert.equal(t.get('fd00:3::2', 8080, 'fd00:1::1', 40000), undefined);
  assert.equal(t.get('fd00:1::1', 40002, 'fd00:3::2', 8080), undefined);
  assert.equal(t.get('fd00:1::9', 40000, 'fd00:3::2', 8080), undefined);
  assert.deepEqual(order(t), ['a', 'b', 'c']);
  t.touch(t.get('fd00:1::1', 40000, 'fd00:3::2', 8080)!);
  assert.deepEqual(order(t), ['b', 'c', 'a']);
  t.touch(t.get('fd00:1::1', 40000, 'fd00:3::2', 8080)!); // already the newest
  t.delete(t.get('198.18.1.1', 5, '198.18.1.1', 6)!);
  assert.deepEqual(order(t), ['b', 'a']);
  assert.deepEqual([t.size, t.addressCount], [2, 2]);
});

test('interned addresses are freed with their last entry and their ids reused', () => {
  const t = new QuartetTable<Entry>();
  for (let round = 0; round < 3; round++) {
    const entries = Array.from({ length: 500 }, (_, i) => {
      const e = entry(`${round}/${i}`);
      t.add(e, `10.0.${i >> 8}.${i & 0xff}`, 1000 + round, '10.1.0.1', 80);
      return e;
    });
    assert.deepEqual([t.size, t.addressCount], [500, 501]);
    for (const [i, e] of entries.entries()) assert.equal(t.get(`10.0.${i >> 8}.${i & 0xff}`, 1000 + round, '10.1.0.1', 80), e);
    for (const e of entries) t.delete(e);
    assert.deepEqual([t.size, t.addressCount, t.oldest], [0, 0, undefined]);
  }
});

test('quartets with the same hash are told apart, and deleting one keeps the others', () => {
  const t = new QuartetTable<Entry>();
  // Enough quartets that some share a 32-bit hash (the birthday bound is about 77,000), with random
  // ports both sides (regular grids of ids and ports happen not to collide).
  const random = prng(7);
  const quartets = new Map<Entry, [string, number, string, number]>();
  const byHash = new Map<number, Entry[]>();
  for (let i = 0; i < 200_000; i++) {
    const e = entry(String(i));
    const q: [string, number, string, number] = [`fd00:1::${(i % 2000).toString(16)}`, random() & 0xffff, 'fd00:3::2', random() & 0xffff];
    if (t.get(...q)) continue; // a quartet drawn twice
    t.add(e, ...q);
    quartets.set(e, q);
    const same = byHash.get(e.hash);
    if (same) same.push(e);
    else byHash.set(e.hash, [e]);
  }
  const shared = [...byHash.values()].filter((es) => es.length > 1);
  assert.ok(shared.length > 0, 'some quartets share a hash');
  const find = (e: Entry) => t.get(...quartets.get(e)!);
  for (const es of shared) {
    for (const e of es) assert.equal(find(e), e);
    // The first added sits deepest in the chain: delete it, then the newest (the chain's head).
    t.delete(es[0]!);
    assert.equal(find(es[0]!), undefined);
    for (const e of es.slice(1)) assert.equal(find(e), e);
    t.delete(es[es.length - 1]!);
    for (const e of es.slice(1, -1)) assert.equal(find(e), e);
  }
  assert.equal(t.size, quartets.size - shared.reduce((n, es) => n + Math.min(es.length, 2), 0));
});
