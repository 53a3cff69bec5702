/**
 * A table of TCP connections by their quartet, in least-recently-used order, made for one lookup
 * per packet: address texts are interned to small numbers (counted by the entries that use them,
 * so the intern table is as bounded as the connection table), a quartet is found by a 32-bit hash
 * of the numbers and ports (entries with the same hash are chained and compared), and the LRU
 * order is a doubly-linked list through the entries, so touching one makes no string and moves no
 * Map entry.
 */

/** An address text interned to a small number, counted by the entries that use it. */
export interface InternedAddress {
  readonly text: string;
  readonly id: number;
  entries: number;
}

/** The table's fields in an entry (the caller's entry class extends this one); `add` sets them. */
export class QuartetEntry {
  /** The endpoint given first to `add` (the caller's order: it decides which end is which) and the other. */
  low: InternedAddress | undefined = undefined;
  lowPort = 0;
  high: InternedAddress | undefined = undefined;
  highPort = 0;
  hash = 0;
  /** The next entry whose quartet has the same hash. */
  sameHash: this | undefined = undefined;
  /** Neighbours in least-recently-used order. */
  older: this | undefined = undefined;
  newer: this | undefined = undefined;
}

/** A 32-bit mix of a quartet of interned address ids and ports. */
function quartetHash(low: number, lowPort: number, high: number, highPort: number): number {
  let h = Math.imul(low, 0x9e3779b1) ^ Math.imul(high + 0x7f4a7c15, 0x85ebca77) ^ Math.imul((lowPort << 16) | highPort, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

export class QuartetTable<E extends QuartetEntry> {
  private readonly addresses = new Map<string, InternedAddress>();
  private readonly freeIds: number[] = [];
  private readonly byHash = new Map<number, E>();
  private oldestEntry: E | undefined;
  private newestEntry: E | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The least recently used entry. */
  get oldest(): E | undefined {
    return this.oldestEntry;
  }

  /** Interned addresses held now (for tests: it follows the entries). */
  get addressCount(): number {
    return this.addresses.size;
  }

  /** The entry added with this quartet in this order, or undefined. Does not touch it. */
  get(lowText: string, lowPort: number, highText: string, highPort: number): E | undefined {
    const low = this.addresses.get(lowText);
    if (low === undefined) return undefined;
    const high = highText === lowText ? low : this.addresses.get(highText);
    if (high === undefined) return undefined;
    for (let e = this.byHash.get(quartetHash(low.id, lowPort, high.id, highPort)); e !== undefined; e = e.sameHash) {
      if (e.low === low && e.high === high && e.lowPort === lowPort && e.highPort === highPort) return e;
    }
    return undefined;
  }

  /** Adds `entry` (not in the table, its quartet not either) under this quartet, as the most recently used. */
  add(entry: E, lowText: string, lowPort: number, highText: string, highPort: number): void {
    const low = this.intern(lowText);
    const high = this.intern(highText);
    entry.low = low;
    entry.lowPort = lowPort;
    entry.high = high;
    entry.highPort = highPort;
    entry.hash = quartetHash(low.id, lowPort, high.id, highPort);
    entry.sameHash = this.byHash.get(entry.hash);
    this.byHash.set(entry.hash, entry);
    entry.older = this.newestEntry;
    entry.newer = undefined;
    this.linkAsNewest(entry);
    this.count++;
  }

  /** Makes `entry` the most recently used. */
  touch(entry: E): void {
    if (entry === this.newestEntry) return;
    this.unlinkOrder(entry);
    entry.older = this.newestEntry;
    entry.newer = undefined;
    this.linkAsNewest(entry);
  }

  delete(entry: E): void {
    const first = this.byHash.get(entry.hash);
    if (first === entry) {
      if (entry.sameHash === undefined) this.byHash.delete(entry.hash);
      else this.byHash.set(entry.hash, entry.sameHash);
    } else {
      let e = first;
      while (e !== undefined && e.sameHash !== entry) e = e.sameHash;
      if (e === undefined) return; // not in the table
      e.sameHash = entry.sameHash;
    }
    entry.sameHash = undefined;
    this.unlinkOrder(entry);
    entry.older = entry.newer = undefined;
    this.release(entry.low!);
    this.release(entry.high!);
    this.count--;
  }

  private linkAsNewest(entry: E): void {
    if (this.newestEntry) this.newestEntry.newer = entry;
    else this.oldestEntry = entry;
    this.newestEntry = entry;
  }

  private unlinkOrder(entry: E): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldestEntry = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newestEntry = entry.older;
  }

  private intern(text: string): InternedAddress {
    let a = this.addresses.get(text);
    if (a === undefined) {
      // With no freed id, the ids in use are exactly 0 .. size - 1.
      a = { text, id: this.freeIds.pop() ?? this.addresses.size, entries: 0 };
      this.addresses.set(text, a);
    }
    a.entries++;
    return a;
  }

  private release(a: InternedAddress): void {
    if (--a.entries > 0) return;
    this.addresses.delete(a.text);
    this.freeIds.push(a.id);
  }
}
