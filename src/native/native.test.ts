import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { buildHopByHopOptions } from '../clt/hbh.js';
import { decodeIoamNodeData } from '../capture/ioam/decode.js';
import { nativeAvailable, NativeSystemError, NativeUnavailableError, setHopByHopOptions } from './index.js';
import { IoamEventSource, ioamEventNode, ioamEventNodes } from './ioam-events.js';
import { IN_CI } from '../../test/e2e/lab/netns.js';

const available = nativeAvailable();
if (!available.ok) console.log(`# native addon tests skipped: ${available.reason}`);
// CI builds the addon (`npm ci` runs node-gyp): there, a missing addon is a failure.
const skip = available.ok || IN_CI ? false : available.reason;
const isRoot = process.getuid?.() === 0;

async function boundFd(type: 'udp4' | 'udp6'): Promise<{ socket: Socket; fd: number }> {
  const socket = createSocket(type);
  socket.bind(0, type === 'udp6' ? '::1' : '127.0.0.1');
  await once(socket, 'listening');
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  return { socket, fd };
}

const systemError = (code: string) => (e: unknown) => e instanceof NativeSystemError && e.code === code && e.name === 'NativeSystemError';

test('nativeAvailable() says ok, or why not', () => {
  if (available.ok) assert.deepEqual(available, { ok: true });
  else {
    assert.equal(typeof available.reason, 'string');
    assert.throws(() => setHopByHopOptions(0, null), NativeUnavailableError);
  }
});

test('setHopByHopOptions: sets and clears on an IPv6 socket (EPERM without CAP_NET_RAW); errno names as codes', { skip }, async () => {
  const hbh = buildHopByHopOptions({ namespaceId: 1, nodes: 1, traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
  const v6 = await boundFd('udp6');
  const v4 = await boundFd('udp4');
  try {
    if (isRoot) {
      setHopByHopOptions(v6.fd, hbh);
      setHopByHopOptions(v6.fd, null);
      setHopByHopOptions(v6.fd, new Uint8Array(0));
      // Not a whole Hop-by-Hop header (length must match Hdr Ext Len and be 8n).
      assert.throws(() => setHopByHopOptions(v6.fd, hbh.subarray(0, 12)), systemError('EINVAL'));
    } else {
      assert.throws(() => setHopByHopOptions(v6.fd, hbh), systemError('EPERM'));
    }
    // IPv4 sockets have no IPv6 options.
    assert.throws(() => setHopByHopOptions(v4.fd, hbh), systemError('ENOPROTOOPT'));
    assert.throws(() => setHopByHopOptions(-1, hbh), systemError('EBADF'));
    assert.throws(() => setHopByHopOptions(v6.fd, 'x' as unknown as Uint8Array), TypeError);
  } finally {
    v6.socket.close();
    v4.socket.close();
  }
});

test('IoamEventSource opens the IOAM6 event group (EPERM without CAP_NET_ADMIN) and closes', { skip }, () => {
  const source = new IoamEventSource();
  if (!isRoot) {
    assert.throws(() => source.start(), systemError('EPERM'));
    return;
  }
  let closed = 0;
  source.on('close', () => closed++);
  source.start().unref();
  assert.equal(source.running, true);
  source.start();
  source.close();
  source.close();
  assert.equal(source.running, false);
  assert.equal(closed, 1);
});

test('event node decoding: the reporting node first in the data, path order from ioamEventNodes', () => {
  const node = (hop: number, id: number, ingress: number, egress: number, sec: number, usec: number): number[] => [
    hop,
    (id >> 16) & 0xff,
    (id >> 8) & 0xff,
    id & 0xff,
    ingress >> 8,
    ingress & 0xff,
    egress >> 8,
    egress & 0xff,
    ...[24, 16, 8, 0].map((s) => (sec >>> s) & 0xff),
    ...[24, 16, 8, 0].map((s) => (usec >>> s) & 0xff),
  ];
  // As the server's event: its own node (egress unavailable), then the router's.
  const data = Uint8Array.from([...node(62, 1002, 21, 0xffff, 1_700_000_000, 20), ...node(63, 1001, 11, 12, 1_700_000_000, 10)]);
  const event = { namespaceId: 123, nodeLength: 4, traceType: 0xf00000, data };
  const server = {
    hop_limit: 62,
    node_id: 1002,
    ingress_if_id: 21,
    egress_if_id: null,
    timestamp_seconds: 1_700_000_000,
    timestamp_subseconds: 20,
  };
  const router = {
    hop_limit: 63,
    node_id: 1001,
    ingress_if_id: 11,
    egress_if_id: 12,
    timestamp_seconds: 1_700_000_000,
    timestamp_subseconds: 10,
  };
  assert.deepEqual(ioamEventNode(event), server);
  assert.deepEqual(ioamEventNodes(event), [router, server]);
  assert.deepEqual(ioamEventNodes({ ...event, data: data.subarray(0, 20) }), [server], 'a partial node is left out');

  // Bit 0 and the opaque state snapshot (bit 22): 1 fixed word, then the snapshot header and data.
  const oss = Uint8Array.from([5, 0, 0, 7, 1, 0, 0, 0x2a, 0xde, 0xad, 0xbe, 0xef, 4, 0, 0, 8, 0, 0xff, 0xff, 0xff]);
  const ossEvent = { namespaceId: 1, nodeLength: 1, traceType: 0x800002, data: oss };
  assert.deepEqual(decodeIoamNodeData(oss, 0x800002, 1), {
    hop_limit: 5,
    node_id: 7,
    opaque_state_snapshot: { length: 1, schema_id: 0x2a, data: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) },
  });
  assert.deepEqual(ioamEventNodes(ossEvent), [
    { hop_limit: 4, node_id: 8, opaque_state_snapshot: { length: 0, schema_id: null, data: new Uint8Array(0) } },
    ioamEventNode(ossEvent),
  ]);
});
