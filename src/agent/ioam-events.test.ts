/**
 * The join of captured IOAM traces with the kernel's events for the same packets: the event's
 * earlier nodes are the captured packet's nodes, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IoamObservation, Observation } from '../model/observation.js';
import { IoamJoiner, eventObservation } from './ioam-events.js';

const router = (us: number) => ({
  hop_limit: 63,
  node_id: 1,
  ingress_if_id: 11,
  egress_if_id: 12,
  timestamp_seconds: 1_763_000_000,
  timestamp_subseconds: us,
});
const server = (us: number) => ({
  hop_limit: 62,
  node_id: 2,
  ingress_if_id: 21,
  egress_if_id: null,
  timestamp_seconds: 1_763_000_000,
  timestamp_subseconds: us,
});

function captured(us: number, port: number): IoamObservation {
  return {
    kind: 'ioam',
    source: 'capture',
    timeUnixNano: 1_763_000_000_000_000_000n + BigInt(us + 50) * 1000n,
    observer: 'aramis',
    interfaceName: 'ara0',
    sourceAddress: 'fd00:1::2',
    sourcePort: port,
    destinationAddress: 'fd00:3::2',
    destinationPort: 8080,
    protocol: 6,
    optionType: 0,
    namespaceId: 123,
    traceType: 0xf00000,
    overflow: false,
    nodes: [router(us)],
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: port.toString(16).padStart(16, '0'),
  };
}

function kernel(routerUs: number, serverUs: number): IoamObservation {
  return {
    ...captured(routerUs, 0),
    source: 'netlink',
    interfaceName: '',
    sourceAddress: '',
    sourcePort: 0,
    destinationAddress: '',
    destinationPort: 0,
    protocol: 0,
    nodes: [router(routerUs), server(serverUs)],
    traceId: undefined,
    spanId: undefined,
  } as IoamObservation;
}

test('a captured trace and the event of the same packet become one observation with every node', () => {
  const out: Observation[] = [];
  const now = 0;
  const j = new IoamJoiner(
    (o) => out.push(...o),
    200,
    () => now,
  );
  j.capture(captured(100, 40001));
  j.capture(captured(200, 40002));
  j.event(kernel(200, 260));
  j.event(kernel(100, 150));
  assert.equal(out.length, 2);
  const byPort = new Map(out.map((o) => [o.sourcePort, o as IoamObservation]));
  assert.deepEqual(byPort.get(40001)!.nodes, [router(100), server(150)]);
  assert.deepEqual(byPort.get(40002)!.nodes, [router(200), server(260)]);
  assert.equal(byPort.get(40002)!.spanId, (40002).toString(16).padStart(16, '0'));
  assert.deepEqual(j.stats, { joined: 2, capturesAlone: 0, eventsAlone: 0, unkeyed: 0 });
});

test('what finds no partner within the window goes on alone; flush empties the joiner', () => {
  const out: Observation[] = [];
  let now = 0;
  const j = new IoamJoiner(
    (o) => out.push(...o),
    200,
    () => now,
  );
  j.capture(captured(100, 40001));
  j.event(kernel(300, 350));
  now = 150;
  j.flush();
  assert.equal(out.length, 2);
  assert.deepEqual(j.stats, { joined: 0, capturesAlone: 1, eventsAlone: 1, unkeyed: 0 });
});

test('an event becomes an observation timed by its own node', () => {
  const data = new Uint8Array(2 * 16);
  const view = new DataView(data.buffer);
  // Packet order: the reporting node first (server), then the router.
  view.setUint32(0, (62 << 24) | 2);
  view.setUint32(4, (21 << 16) | 0xffff);
  view.setUint32(8, 1_763_000_000);
  view.setUint32(12, 260);
  view.setUint32(16, (63 << 24) | 1);
  view.setUint32(20, (11 << 16) | 12);
  view.setUint32(24, 1_763_000_000);
  view.setUint32(28, 200);
  const o = eventObservation({ namespaceId: 123, nodeLength: 4, traceType: 0xf00000, data }, 'aramis', 1n);
  assert.deepEqual(o.nodes, [router(200), server(260)]);
  assert.equal(o.timeUnixNano, 1_763_000_000_000_260_000n);
  assert.equal(o.source, 'netlink');
});
