/** Connection extraction: each attribute convention, each span kind, malformed values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { correlateConfigSchema } from './config.js';
import { QuartetExtractor, type Endpoint } from './quartet.js';
import { canonicalIp, formatEndpoint, hostName, splitHostPort, urlHostPort } from './address.js';
import { fnv1a64Hex, spanIdOf } from './ids.js';
import { pairConnections } from './pair.js';
import { span, Span_SpanKind, type AttrValue } from './testkit.test.util.js';

function extractor(overrides: Record<string, unknown> = {}): QuartetExtractor {
  const c = correlateConfigSchema.parse(overrides);
  return new QuartetExtractor(c.attributes, c.hosts);
}

function extract(
  kind: Span_SpanKind,
  attributes: Record<string, AttrValue>,
  overrides: Record<string, unknown> = {},
): Endpoint | undefined {
  return extractor(overrides).extract(span({ id: 1, kind, startMs: 0, endMs: 10, attributes }));
}

/** "src:sport > dst:dport / protocol" for compact assertions. */
function q(e: Endpoint | undefined): string {
  if (!e) return 'none';
  return `${e.sourceAddress ?? '?'}:${e.sourcePort || '?'} > ${e.destinationAddress ?? '?'}:${e.destinationPort || '?'} / ${e.protocol ?? '-'}`;
}

const { CLIENT, SERVER, INTERNAL, PRODUCER, CONSUMER, UNSPECIFIED } = Span_SpanKind;

test('current conventions, CLIENT: local end → peer', () => {
  const e = extract(CLIENT, {
    'server.address': 'aramis.example',
    'server.port': 8080,
    'network.peer.address': '10.0.2.20',
    'network.peer.port': 8080,
    'network.local.address': '10.0.1.10',
    'network.local.port': 40000,
    'network.transport': 'tcp',
  });
  assert.equal(q(e), '10.0.1.10:40000 > 10.0.2.20:8080 / 6');
  assert.equal(e!.role, 'client');
  assert.deepEqual(e!.states, ['ok', 'ok', 'ok', 'ok']);
  assert.deepEqual(e!.unresolvedHosts, [], 'the host name is not needed when an IP is there');
});

test('current conventions, CLIENT: server.address/port as the peer when network.peer.* is absent', () => {
  assert.equal(
    q(
      extract(CLIENT, {
        'server.address': '10.0.2.20',
        'server.port': 443,
        'network.local.address': '10.0.1.10',
        'network.local.port': 40001,
      }),
    ),
    '10.0.1.10:40001 > 10.0.2.20:443 / -',
  );
});

test('current conventions, SERVER: peer → local end; server.port is the listening port', () => {
  const e = extract(SERVER, {
    'client.address': '203.0.113.9', // the original client behind a proxy: network.peer.* is the socket
    'client.port': 5555,
    'network.peer.address': '10.0.1.10',
    'network.peer.port': 40000,
    'network.local.address': '10.0.2.20',
    'server.address': 'aramis.example',
    'server.port': 8080,
  });
  assert.equal(q(e), '10.0.1.10:40000 > 10.0.2.20:8080 / -');
  assert.equal(e!.role, 'server');
  assert.equal(
    q(extract(SERVER, { 'client.address': '10.0.1.10', 'client.port': 40000, 'server.address': '10.0.2.20', 'server.port': 8080 })),
    '10.0.1.10:40000 > 10.0.2.20:8080 / -',
    'client.* and server.* alone',
  );
  assert.equal(
    q(
      extract(SERVER, {
        'network.peer.address': '10.0.1.10',
        'network.peer.port': 40000,
        'network.local.address': '10.0.2.20',
        'network.local.port': 8080,
      }),
    ),
    '10.0.1.10:40000 > 10.0.2.20:8080 / -',
  );
});

test('older conventions: net.peer.*, net.host.*, net.sock.*, for both kinds', () => {
  assert.equal(
    q(
      extract(CLIENT, {
        'net.peer.ip': '10.0.2.20',
        'net.peer.port': 8080,
        'net.host.ip': '10.0.1.10',
        'net.host.port': 40000,
        'net.transport': 'ip_tcp',
      }),
    ),
    '10.0.1.10:40000 > 10.0.2.20:8080 / 6',
  );
  assert.equal(
    q(extract(SERVER, { 'net.peer.ip': '10.0.1.10', 'net.peer.port': 40000, 'net.host.ip': '10.0.2.20', 'net.host.port': 8080 })),
    '10.0.1.10:40000 > 10.0.2.20:8080 / -',
  );
  assert.equal(
    q(
      extract(CLIENT, {
        'net.sock.peer.addr': '10.0.2.20',
        'net.sock.peer.port': 8080,
        'net.sock.host.addr': '10.0.1.10',
        'net.sock.host.port': 40000,
        'net.transport': 'ip_udp',
      }),
    ),
    '10.0.1.10:40000 > 10.0.2.20:8080 / 17',
  );
  assert.equal(
    q(
      extract(SERVER, {
        'net.sock.peer.addr': '10.0.1.10',
        'net.sock.peer.port': 40000,
        'net.sock.host.addr': '10.0.2.20',
        'net.host.port': 8080,
      }),
    ),
    '10.0.1.10:40000 > 10.0.2.20:8080 / -',
  );
});

test('url.full / http.url / http.host give the destination of CLIENT spans (default port by scheme)', () => {
  const local = { 'network.local.address': '10.0.1.10', 'network.local.port': 40000 };
  assert.equal(q(extract(CLIENT, { ...local, 'url.full': 'https://10.0.2.20/x?y' })), '10.0.1.10:40000 > 10.0.2.20:443 / -');
  assert.equal(q(extract(CLIENT, { ...local, 'url.full': 'http://user:pw@10.0.2.20:8080/x' })), '10.0.1.10:40000 > 10.0.2.20:8080 / -');
  assert.equal(q(extract(CLIENT, { ...local, 'url.full': 'http://[2001:db8::20]/' })), '10.0.1.10:40000 > 2001:db8::20:80 / -');
  assert.equal(q(extract(CLIENT, { ...local, 'http.url': 'http://10.0.2.20:9000' })), '10.0.1.10:40000 > 10.0.2.20:9000 / -');
  assert.equal(q(extract(CLIENT, { ...local, 'http.host': '10.0.2.20:8081' })), '10.0.1.10:40000 > 10.0.2.20:8081 / -');
  // Explicit keys come first; the URL fills in what they lack.
  assert.equal(
    q(extract(CLIENT, { ...local, 'server.port': 7000, 'url.full': 'http://10.0.2.20:8080/' })),
    '10.0.1.10:40000 > 10.0.2.20:7000 / -',
  );
  // A URL with a host name, resolved through hosts.
  assert.equal(
    q(extract(CLIENT, { ...local, 'url.full': 'https://Aramis.Example./' }, { hosts: { 'aramis.example': '10.0.2.20' } })),
    '10.0.1.10:40000 > 10.0.2.20:443 / -',
  );
});

test("the thesis's src.ip/src.port/dst.ip/dst.port, on any kind", () => {
  const thesis = { 'src.ip': '10.0.1.10', 'src.port': '40000', 'dst.ip': '10.0.2.20', 'dst.port': '8080' };
  for (const kind of [CLIENT, SERVER, INTERNAL, UNSPECIFIED])
    assert.equal(q(extract(kind, thesis)), '10.0.1.10:40000 > 10.0.2.20:8080 / -', `kind ${kind}`);
  assert.equal(extract(INTERNAL, thesis)!.role, 'other');
  // An INTERNAL span is not read for the kind-relative keys.
  assert.equal(extract(INTERNAL, { 'network.peer.address': '10.0.2.20', 'server.port': 1 }), undefined);
});

test('PRODUCER and CONSUMER spans read as clients (they connect out to the broker)', () => {
  const a = { 'server.address': '10.0.9.9', 'server.port': 9092, 'network.local.address': '10.0.1.10', 'network.local.port': 45000 };
  assert.equal(q(extract(PRODUCER, a)), '10.0.1.10:45000 > 10.0.9.9:9092 / -');
  assert.equal(q(extract(CONSUMER, a)), '10.0.1.10:45000 > 10.0.9.9:9092 / -');
});

test('an IP address wins over a host name whatever the key order; names resolve through hosts only', () => {
  const e = extract(CLIENT, { 'server.address': 'aramis', 'net.peer.name': 'other', 'dst.ip': '10.0.2.20', 'server.port': 80 });
  assert.equal(e!.destinationAddress, '10.0.2.20');
  assert.deepEqual(e!.unresolvedHosts, []);

  const unresolved = extract(CLIENT, { 'server.address': 'aramis', 'server.port': 80 });
  assert.equal(unresolved!.destinationAddress, undefined);
  assert.deepEqual(unresolved!.states, ['missing', 'missing', 'unresolved', 'ok']);
  assert.deepEqual(unresolved!.unresolvedHosts, ['aramis']);

  const resolved = extract(CLIENT, { 'server.address': 'ARAMIS', 'server.port': 80 }, { hosts: { aramis: '::ffff:10.0.2.20' } });
  assert.equal(resolved!.destinationAddress, '10.0.2.20', 'host map values are canonical, v4-mapped as IPv4');
});

test('addresses are canonical: IPv6 compressed, brackets dropped, v4-mapped as IPv4', () => {
  const e = extract(CLIENT, {
    'network.peer.address': '[2001:DB8:0:0:0:0:0:20]',
    'network.peer.port': 443,
    'network.local.address': '::ffff:10.0.1.10',
    'network.local.port': 40000,
  });
  assert.equal(q(e), '10.0.1.10:40000 > 2001:db8::20:443 / -');
});

test('ports: integers, integral doubles and decimal strings; anything else is malformed', () => {
  const base = { 'network.peer.address': '10.0.2.20', 'network.local.address': '10.0.1.10' };
  assert.equal(extract(CLIENT, { ...base, 'network.peer.port': '8080', 'network.local.port': 40000.0 })!.destinationPort, 8080);
  const bad = extract(CLIENT, { ...base, 'network.peer.port': 70000, 'network.local.port': 'http' });
  assert.deepEqual(bad!.states, ['ok', 'malformed', 'ok', 'malformed']);
  const frac = extract(CLIENT, { ...base, 'network.peer.port': 80.5, 'network.local.port': -1 });
  assert.deepEqual(frac!.states, ['ok', 'malformed', 'ok', 'malformed']);
  // A bad value does not hide a good one at a later key.
  const later = extract(CLIENT, { ...base, 'network.peer.port': 'x', 'server.port': 8080, 'network.local.port': 1 });
  assert.equal(later!.destinationPort, 8080);
  assert.equal(later!.states[3], 'ok');
  // Port 0 says nothing.
  assert.equal(extract(CLIENT, { ...base, 'network.peer.port': 0, 'network.local.port': 1 })!.states[3], 'missing');
});

test('malformed addresses are told apart from host names', () => {
  for (const bad of ['10.0.0.300', '1.2.3', 'not an address', 'fe80::1%eth0', '', 'a..b']) {
    const e = extract(CLIENT, {
      'network.peer.address': bad,
      'network.peer.port': 1,
      'network.local.address': '10.0.1.10',
      'network.local.port': 2,
    });
    assert.ok(e!.states[2] === 'malformed' || e!.states[2] === 'missing', `${JSON.stringify(bad)}: ${e!.states[2]}`);
    assert.equal(e!.destinationAddress, undefined);
  }
  const nonString = extract(CLIENT, { 'network.peer.address': 42, 'network.peer.port': 1 });
  assert.equal(nonString!.states[2], 'malformed');
});

test('transport: network.transport / net.transport; non-IP transports are flagged', () => {
  const base = { 'network.peer.address': '10.0.2.20', 'network.peer.port': 53 };
  assert.equal(extract(CLIENT, { ...base, 'network.transport': 'udp' })!.protocol, 17);
  assert.equal(extract(CLIENT, { ...base, 'network.transport': 'QUIC' })!.protocol, 17);
  assert.equal(extract(CLIENT, { ...base, 'net.transport': 'ip_tcp' })!.protocol, 6);
  assert.equal(extract(CLIENT, { ...base, 'network.transport': 'unix' })!.notIp, true);
  assert.equal(extract(CLIENT, { ...base, 'net.transport': 'inproc' })!.notIp, true);
  assert.equal(extract(CLIENT, base)!.protocol, undefined);
  // Transport alone is not a connection.
  assert.equal(extract(CLIENT, { 'network.transport': 'tcp' }), undefined);
});

test('spans without connection attributes give nothing', () => {
  assert.equal(extract(CLIENT, {}), undefined);
  assert.equal(extract(SERVER, { 'http.request.method': 'GET', 'url.path': '/' }), undefined);
});

test('key lists are configurable (a list replaces the default)', () => {
  const cfg = { attributes: { client: { destination_address: ['peer.ip'], destination_port: ['peer.port'] } } };
  assert.equal(
    q(extract(CLIENT, { 'peer.ip': '10.0.2.20', 'peer.port': 8080, 'network.local.address': '10.0.1.10', 'network.local.port': 1 }, cfg)),
    '10.0.1.10:1 > 10.0.2.20:8080 / -',
  );
  assert.equal(extract(CLIENT, { 'network.peer.address': '10.0.2.20' }, cfg)?.destinationAddress, undefined);
});

test('address helpers', () => {
  assert.equal(canonicalIp('[::1]'), '::1');
  assert.equal(canonicalIp('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalIp('010.0.0.1'), undefined);
  assert.equal(formatEndpoint('2001:db8::1', 443), '[2001:db8::1]:443');
  assert.equal(formatEndpoint('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(hostName('Web-1.Example.COM.'), 'web-1.example.com');
  assert.equal(hostName('10.0.0.300'), undefined);
  assert.equal(hostName('-bad'), undefined);
  assert.deepEqual(urlHostPort('wss://h/x'), { host: 'h', port: 443, badPort: false });
  assert.deepEqual(urlHostPort('http://h:99999/'), { host: 'h', port: 0, badPort: true });
  assert.deepEqual(urlHostPort('foo://h/'), { host: 'h', port: 0, badPort: false });
  assert.equal(urlHostPort('/relative/path'), undefined);
  assert.deepEqual(splitHostPort('[::1]:8080'), { host: '[::1]', port: 8080, badPort: false });
  assert.deepEqual(splitHostPort('h'), { host: 'h', port: 0, badPort: false });
});

test('span ids: FNV-1a 64 reference values; deterministic, distinct per part, never zero', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(fnv1a64Hex(enc('')), 'cbf29ce484222325');
  assert.equal(fnv1a64Hex(enc('a')), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64Hex(enc('foobar')), '85944171f73967e8');
  const t = new Uint8Array(16).fill(1);
  const s = new Uint8Array(8).fill(2);
  assert.deepEqual(spanIdOf(t, s, 'x', 'summary'), spanIdOf(t, s, 'x', 'summary'));
  assert.notDeepEqual(spanIdOf(t, s, 'x', 'summary'), spanIdOf(t, s, 'x', 'device'));
  assert.notDeepEqual(spanIdOf(t, s, 'ab', 'c'), spanIdOf(t, s, 'a', 'bc'));
  assert.equal(spanIdOf(t, s, 'x').length, 8);
});

test('pairing: parent link with partial quartets fills gaps; NAT (differing quartets) stays two connections', () => {
  const ex = extractor();
  const client = ex.extract(
    span({ id: 2, kind: CLIENT, startMs: 0, endMs: 10, attributes: { 'server.address': '10.0.2.20', 'server.port': 8080 } }),
  )!;
  const server = ex.extract(
    span({
      id: 3,
      parent: 2,
      kind: SERVER,
      startMs: 1,
      endMs: 9,
      attributes: {
        'network.peer.address': '10.0.1.10',
        'network.peer.port': 40000,
        'network.local.address': '10.0.2.20',
        'server.port': 8080,
      },
    }),
  )!;
  const [c, ...rest] = pairConnections([client, server]);
  assert.equal(rest.length, 0);
  assert.equal(c!.client, client);
  assert.equal(c!.server, server);
  assert.equal(`${c!.sourceAddress}:${c!.sourcePort} > ${c!.destinationAddress}:${c!.destinationPort}`, '10.0.1.10:40000 > 10.0.2.20:8080');

  const natClient = ex.extract(
    span({
      id: 2,
      kind: CLIENT,
      startMs: 0,
      endMs: 10,
      attributes: {
        'network.local.address': '192.168.1.5',
        'network.local.port': 5000,
        'server.address': '203.0.113.1',
        'server.port': 443,
      },
    }),
  )!;
  const natServer = ex.extract(
    span({
      id: 3,
      parent: 2,
      kind: SERVER,
      startMs: 1,
      endMs: 9,
      attributes: {
        'network.peer.address': '203.0.113.200',
        'network.peer.port': 6000,
        'network.local.address': '10.0.2.20',
        'server.port': 443,
      },
    }),
  )!;
  const two = pairConnections([natClient, natServer]);
  assert.equal(two.length, 2);
  assert.ok(two[0]!.client && !two[0]!.server);
  assert.ok(!two[1]!.client && two[1]!.server);
});

test('pairing without parent links: equal complete quartets, the most overlapping client first', () => {
  const ex = extractor();
  const a = {
    'network.local.address': '10.0.1.10',
    'network.local.port': 40000,
    'network.peer.address': '10.0.2.20',
    'network.peer.port': 80,
  };
  const s = {
    'network.peer.address': '10.0.1.10',
    'network.peer.port': 40000,
    'network.local.address': '10.0.2.20',
    'network.local.port': 80,
  };
  const c1 = ex.extract(span({ id: 1, kind: CLIENT, startMs: 0, endMs: 10, attributes: a }))!;
  const c2 = ex.extract(span({ id: 2, kind: CLIENT, startMs: 100, endMs: 110, attributes: a }))!;
  const s2 = ex.extract(span({ id: 3, kind: SERVER, startMs: 101, endMs: 109, attributes: s }))!;
  const conns = pairConnections([c1, c2, s2]);
  assert.equal(conns.length, 2);
  assert.equal(conns[0]!.server, undefined);
  assert.equal(conns[1]!.server, s2);
});
