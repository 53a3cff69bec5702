/**
 * The addon's UDP batch receive against real kernel sockets: datagram boundaries and bytes,
 * source addresses (IPv4, IPv6), truncation past the slot size, many datagrams per round,
 * SO_REUSEPORT steering by source address, and shutdown; and batch send (sendmmsg).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { IN_CI } from '../../test/e2e/lab/netns.js';
import { loadNative } from './index.js';
import { closeUdpSockets, DatagramBuffers, openUdpGroup, UdpBatchReader, udpReceiveAvailable, type SharedUdpSocket } from './udp.js';

const available = udpReceiveAvailable();
// CI builds the addon: there, a missing addon is a failure.
const skip = available.ok || IN_CI ? false : available.reason;

interface Got {
  bytes: Buffer;
  source: string;
  port: number;
  truncated: boolean;
}

/** A reader on fd that copies out every datagram of every round (rounds: their sizes). */
function collect(fd: number, slotSize = 65_535, slots = 64): { got: Got[]; rounds: number[]; reader: UdpBatchReader } {
  const got: Got[] = [];
  const rounds: number[] = [];
  const reader = new UdpBatchReader(
    fd,
    new DatagramBuffers(slotSize, slots),
    (round) => {
      rounds.push(round.count);
      for (let i = 0; i < round.count; i++)
        got.push({ bytes: Buffer.from(round.bytes(i)), source: round.source(i), port: round.sourcePort(i), truncated: round.truncated(i) });
    },
    (err) => assert.fail(err),
  );
  return { got, rounds, reader };
}

async function sender(type: 'udp4' | 'udp6', address: string): Promise<Socket> {
  const s = createSocket(type);
  s.bind(0, address);
  await once(s, 'listening');
  return s;
}

async function send(s: Socket, payloads: Uint8Array[], host: string, port: number): Promise<void> {
  for (const p of payloads) await new Promise<void>((resolve, reject) => s.send(p, port, host, (err) => (err ? reject(err) : resolve())));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Distinct bytes per datagram, so that a shifted or merged boundary shows. */
const pattern = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed * 7) & 0xff);

async function withGroup(host: string, count: number, fn: (group: SharedUdpSocket[]) => Promise<void>): Promise<void> {
  const group = openUdpGroup(host, 0, count, 1 << 20);
  try {
    await fn(group);
  } finally {
    closeUdpSockets(group);
  }
}

test('datagram boundaries and bytes: every size from 1 byte to 65,000, in order, with the sender', { skip }, async () => {
  await withGroup('127.0.0.1', 1, async ([socket]) => {
    const { got, reader } = collect(socket!.fd);
    const s = await sender('udp4', '127.0.0.2');
    try {
      const sizes = [1, 2, 3, 100, 1472, 1473, 9000, 65_000, 7];
      await send(
        s,
        sizes.map((n, i) => pattern(n, i)),
        '127.0.0.1',
        socket!.port,
      );
      await until(() => got.length === sizes.length, 'all datagrams');
      assert.deepEqual(
        got.map((g) => g.bytes.length),
        sizes,
      );
      got.forEach((g, i) => assert.deepEqual(new Uint8Array(g.bytes), pattern(sizes[i]!, i)));
      assert.ok(got.every((g) => g.source === '127.0.0.2' && g.port === s.address().port && !g.truncated));
    } finally {
      reader.close();
      s.close();
    }
  });
});

test('IPv6 source address and port, as node:dgram gives them', { skip }, async () => {
  await withGroup('::1', 1, async ([socket]) => {
    const { got, reader } = collect(socket!.fd);
    const s = await sender('udp6', '::1');
    try {
      await send(s, [pattern(50, 1)], '::1', socket!.port);
      await until(() => got.length === 1, 'the datagram');
      assert.equal(got[0]!.source, '::1');
      assert.equal(got[0]!.port, s.address().port);
    } finally {
      reader.close();
      s.close();
    }
  });
});

test('a datagram larger than the slot is flagged truncated; the next one is whole', { skip }, async () => {
  await withGroup('127.0.0.1', 1, async ([socket]) => {
    const { got, reader } = collect(socket!.fd, 512, 4);
    const s = await sender('udp4', '127.0.0.1');
    try {
      await send(s, [pattern(600, 1), pattern(512, 2), pattern(100, 3)], '127.0.0.1', socket!.port);
      await until(() => got.length === 3, 'the datagrams');
      assert.deepEqual(
        got.map((g) => g.truncated),
        [true, false, false],
      );
      assert.deepEqual(new Uint8Array(got[1]!.bytes), pattern(512, 2));
      assert.deepEqual(new Uint8Array(got[2]!.bytes), pattern(100, 3));
    } finally {
      reader.close();
      s.close();
    }
  });
});

test('many datagrams per round, at most the slots; none lost or reordered', { skip }, async () => {
  await withGroup('127.0.0.1', 1, async ([socket]) => {
    const s = await sender('udp4', '127.0.0.1');
    // queued in the kernel before the reader starts: the first rounds are full
    const payloads = Array.from({ length: 300 }, (_, i) => pattern(200 + (i % 50), i));
    await send(s, payloads, '127.0.0.1', socket!.port);
    const { got, rounds, reader } = collect(socket!.fd, 2048, 64);
    try {
      await until(() => got.length === payloads.length, 'all datagrams');
      assert.equal(rounds[0], 64);
      assert.ok(rounds.every((n) => n >= 1 && n <= 64));
      got.forEach((g, i) => assert.deepEqual(new Uint8Array(g.bytes), payloads[i]));
    } finally {
      reader.close();
      s.close();
    }
  });
});

test('a group of sockets on one port: each sender address always reaches the same socket, whatever its port', { skip }, async () => {
  await withGroup('127.0.0.1', 2, async (group) => {
    assert.equal(group[0]!.port, group[1]!.port);
    const readers = group.map((g) => collect(g.fd));
    const senders: Socket[] = [];
    try {
      const addresses = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
      for (const address of addresses)
        for (let k = 0; k < 3; k++) {
          const s = await sender('udp4', address);
          senders.push(s);
          await send(s, [pattern(40, k)], '127.0.0.1', group[0]!.port);
        }
      await until(() => readers[0]!.got.length + readers[1]!.got.length === addresses.length * 3, 'all datagrams');
      const where = new Map<string, Set<number>>();
      readers.forEach((r, i) => r.got.forEach((g) => where.set(g.source, (where.get(g.source) ?? new Set()).add(i))));
      for (const address of addresses) assert.equal(where.get(address)?.size, 1, `${address} reached one socket`);
      // the hash spreads these 8 addresses over both sockets
      assert.ok(readers.every((r) => r.got.length > 0));
    } finally {
      for (const r of readers) r.reader.close();
      for (const s of senders) s.close();
    }
  });
});

test('shutdown: a closed reader gets nothing more, the fd keeps the datagrams; closing the group frees the port', { skip }, async () => {
  const group = openUdpGroup('127.0.0.1', 0, 1, 1 << 20);
  const [socket] = group;
  const s = await sender('udp4', '127.0.0.1');
  try {
    const first = collect(socket!.fd);
    await send(s, [pattern(10, 1)], '127.0.0.1', socket!.port);
    await until(() => first.got.length === 1, 'the first datagram');
    first.reader.close();
    first.reader.close(); // twice is harmless
    await send(s, [pattern(10, 2)], '127.0.0.1', socket!.port);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(first.got.length, 1);
    const second = collect(socket!.fd);
    await until(() => second.got.length === 1, 'the queued datagram');
    assert.deepEqual(new Uint8Array(second.got[0]!.bytes), pattern(10, 2));
    second.reader.close();
  } finally {
    s.close();
    closeUdpSockets(group);
  }
  // a socket without SO_REUSEPORT can bind the port only if no socket of the group is left
  const plain = createSocket('udp4');
  plain.bind(socket!.port, '127.0.0.1');
  await once(plain, 'listening');
  plain.close();
});

test('udpSendBatch: datagrams of one buffer sent with sendmmsg arrive whole, in order, only the range asked', { skip }, async () => {
  const binding = loadNative();
  const received = createSocket('udp4');
  received.bind(0, '127.0.0.1');
  await once(received, 'listening');
  const got: Buffer[] = [];
  received.on('message', (m) => got.push(m));
  const sizes = [1, 300, 1472, 2, 700];
  const datagrams = Array.from({ length: 100 }, (_, i) => pattern(sizes[i % sizes.length]!, i));
  const offsets = new Uint32Array(datagrams.length + 1);
  datagrams.forEach((d, i) => (offsets[i + 1] = offsets[i]! + d.length));
  const data = new Uint8Array(offsets[datagrams.length]!);
  datagrams.forEach((d, i) => data.set(d, offsets[i]!));
  const { fd } = binding.udpOpen('127.0.0.1', 0, 0);
  try {
    binding.udpConnect(fd, '127.0.0.1', received.address().port);
    // 80 datagrams from the 10th on: more than one sendmmsg call's worth (64), less than the receive buffer holds
    let sent = 0;
    while (sent < 80) sent += binding.udpSendBatch(fd, data, offsets, 10 + sent, 80 - sent);
    await until(() => got.length === 80, 'all datagrams');
    got.forEach((g, i) => assert.deepEqual(new Uint8Array(g), datagrams[10 + i]));
    assert.throws(() => binding.udpSendBatch(fd, data, offsets, 50, 51), { code: 'ERR_OUT_OF_RANGE' });
  } finally {
    binding.udpClose(fd);
    received.close();
  }
});
