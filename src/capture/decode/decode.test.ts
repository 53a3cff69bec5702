import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath, SHARED_DIR } from '../../testutil/index.js';
import { LINKTYPE, readPcap, type CapturedPacket } from '../pcap/index.js';
import { assertGolden, concat, hex, loadTsharkFields, mutate, prng, toJson } from '../testkit.test.util.js';
import { authHeader, ethernet, extensionHeader, fragmentHeader, ip6, ipv4, ipv6, sll, sll2, tcp, udp } from './build.test.util.js';
import { decodePacket, formatIPv6, type DecodedPacket } from './index.js';

const SHARED_DATA = join(SHARED_DIR, 'data');
const hasShared = existsSync(SHARED_DATA);
const text = new TextEncoder();
const TCP = 6;
const UDP = 17;

function readCapture(key: string): CapturedPacket[] {
  const [where, name] = key.split(/:(.*)/s) as [string, string];
  const path =
    where === 'shared'
      ? join(SHARED_DATA, name)
      : where === 'testdata'
        ? repoPath('src', 'capture', 'pcap', 'testdata', name)
        : repoPath('src', 'capture', 'decode', 'testdata', name);
  return readPcap(new Uint8Array(readFileSync(path))).packets;
}

// ---- addresses ----

test('IPv6 text is RFC 5952 canonical', () => {
  const cases: [string, string][] = [
    ['20010db8000000000000000000020001', '2001:db8::2:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['20010000000000010000000000000001', '2001:0:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010DB8AAAABBBBCCCCDDDDEEEE0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['00010000000000000000000000000000', '1::'],
    ['fe800000000000000000000000000001', 'fe80::1'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
    ['000000000000000000000000c0000201', '::c000:201'],
    ['0064ff9b0000000000000000c0000221', '64:ff9b::c000:221'],
    ['00010002000300040005000600070000', '1:2:3:4:5:6:7:0'],
    ['00000001000000000000000000000000', '0:1::'],
    ['ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [bytes, expected] of cases) assert.equal(formatIPv6(hex(bytes), 0), expected, bytes);
});

test('IPv6 text agrees with the WHATWG URL serializer (same compression rule) on random addresses', () => {
  const rand = prng(5952);
  const b = new Uint8Array(16);
  for (let i = 0; i < 20_000; i++) {
    for (let g = 0; g < 8; g++) {
      const v = rand() % 3 === 0 ? rand() & 0xffff : 0;
      b[2 * g] = v >> 8;
      b[2 * g + 1] = v & 0xff;
    }
    const ours = formatIPv6(b, 0);
    if (ours.includes('.')) continue; // mapped: RFC 5952 section 5 mixed notation, which WHATWG does not use
    assert.equal(ours, new URL(`http://[${ours}]/`).hostname.slice(1, -1));
    const full = Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16)).join(':');
    assert.equal(ours, new URL(`http://[${full}]/`).hostname.slice(1, -1));
  }
});

test('the IPv6 text cache never answers with another address: a pool larger than the cache, revisited, near neighbours', () => {
  const rand = prng(1024);
  // Addresses that differ in one byte (same prefix, as on one subnet) and random ones: slots collide and are replaced.
  const pool = Array.from({ length: 5000 }, (_, k) => {
    const b = new Uint8Array(16);
    if (k % 2 === 0) for (let i = 0; i < 16; i++) b[i] = rand() & 0xff;
    else b.set([0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (k >> 8) & 0xff, k & 0xff]);
    return b;
  });
  const expected = (b: Uint8Array) => {
    const full = Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16)).join(':');
    return new URL(`http://[${full}]/`).hostname.slice(1, -1);
  };
  const texts = pool.map(expected);
  const frame = new Uint8Array(40);
  for (let i = 0; i < 50_000; i++) {
    const k = rand() % pool.length;
    const at = 3 + (i % 7); // not only offset 0
    frame.set(pool[k]!, at);
    const ours = formatIPv6(frame, at);
    if (ours.startsWith('::ffff:')) continue; // mapped: mixed notation, which WHATWG does not use
    assert.equal(ours, texts[k], `address ${k} at offset ${at}`);
  }
});

// ---- real captures against TShark ----

/**
 * `sflowInside`: TShark also dissects the packet headers sampled inside sFlow datagrams, and their
 * vlan.id / tcp.* are then the first occurrence in a frame that has neither: skip those fields.
 */
function checkAgainstTshark(p: DecodedPacket, row: Record<string, string>, where: string, sflowInside: boolean): void {
  assert.deepEqual(p.issues, [], where);
  if (row['vlan.id'] && !sflowInside) assert.equal(p.vlanIds[0], Number(row['vlan.id']), where);
  if (row['sll.pkttype']) assert.equal(p.sllPacketType, Number(row['sll.pkttype']), where);
  if (row['sll.ifindex']) assert.equal(p.sllInterfaceIndex, Number(row['sll.ifindex']), where);
  if (row['ip.src']) {
    assert.equal(p.ipVersion, 4, where);
    assert.equal(p.sourceAddress, row['ip.src'], where);
    assert.equal(p.destinationAddress, row['ip.dst'], where);
    assert.equal(p.ttl, Number(row['ip.ttl']), where);
    assert.equal(p.ipTotalLength, Number(row['ip.len']), where);
    assert.equal(p.protocol, Number(row['ip.proto']), where);
    assert.equal(p.fragmentOffset, Number(row['ip.frag_offset']), where);
  } else if (row['ipv6.src']) {
    assert.equal(p.ipVersion, 6, where);
    assert.equal(p.sourceAddress, row['ipv6.src'], where);
    assert.equal(p.destinationAddress, row['ipv6.dst'], where);
    assert.equal(p.ttl, Number(row['ipv6.hlim']), where);
    assert.equal(p.ipTotalLength, 40 + Number(row['ipv6.plen']), where);
    if (row['ipv6.nxt'] !== '0') assert.equal(p.protocol, Number(row['ipv6.nxt']), where);
  } else {
    assert.equal(p.ipVersion, 0, where);
  }
  if (row['tcp.srcport'] && !sflowInside) {
    assert.equal(p.protocol, TCP, where);
    assert.equal(p.sourcePort, Number(row['tcp.srcport']), where);
    assert.equal(p.destinationPort, Number(row['tcp.dstport']), where);
    assert.equal(p.tcpFlags, parseInt(row['tcp.flags']!, 16), where);
    assert.equal(p.tcpSequence, Number(row['tcp.seq_raw']), where);
    assert.equal(p.tcpAcknowledgement, Number(row['tcp.ack_raw']), where);
    assert.equal(p.tcpHeaderLength, Number(row['tcp.hdr_len']), where);
    if (!p.truncated) assert.equal(p.payload.length, Number(row['tcp.len']), where);
  }
  if (row['udp.srcport']) {
    assert.equal(p.protocol, UDP, where);
    assert.equal(p.sourcePort, Number(row['udp.srcport']), where);
    assert.equal(p.destinationPort, Number(row['udp.dstport']), where);
    if (!p.truncated) assert.equal(p.payload.length, Number(row['udp.length']) - 8, where);
  }
}

test('every packet of the shared and local captures decodes as TShark decodes it', async () => {
  const tshark = await loadTsharkFields();
  let checked = 0;
  for (const [key, rows] of tshark) {
    if (key.startsWith('shared:') && !hasShared) continue;
    const packets = readCapture(key);
    assert.equal(packets.length, rows.length, key);
    packets.forEach((cp, i) => {
      const p = decodePacket(cp.data, cp.linkType);
      const sflowInside = p.protocol === UDP && p.destinationPort === 6343;
      checkAgainstTshark(p, rows[i]!, `${key} #${i + 1}`, sflowInside);
      checked++;
    });
  }
  assert.ok(checked >= (hasShared ? 240 : 100), `${checked} packets`);
});

test('the goflow2 sampled headers: a truncated IPv6/TCP frame and a VLAN-tagged IPv4/TCP frame', () => {
  const [v6, v4] = readCapture('decode:goflow2-sampled-headers.pcap').map((p) => decodePacket(p.data, p.linkType));
  assert.equal(v6!.sourceAddress, 'fd01:0:ff01:8210:cdff:ff1c:0:150');
  assert.equal(v6!.destinationAddress, 'fd01:0:ff01:1:2ff:ff93:0:246');
  assert.deepEqual([v6!.sourcePort, v6!.destinationPort, v6!.protocol, v6!.tcpFlags], [53194, 80, TCP, 0x18]);
  assert.equal(v6!.truncated, true, 'payload length 460, 86 bytes captured');
  assert.deepEqual(v6!.issues, []);
  assert.deepEqual(v4!.vlanIds, [952]);
  assert.deepEqual(
    [v4!.sourceAddress, v4!.sourcePort, v4!.destinationAddress, v4!.destinationPort],
    ['185.59.223.182', 9080, '50.68.5.137', 51462],
  );
  assert.equal(v4!.truncated, true);
});

test(
  'IOAM captures: the Hop-by-Hop options bytes are exposed exactly as the kernel wrote them',
  { skip: !hasShared && 'no ../shared' },
  () => {
    const base = join(SHARED_DATA, 'ioam', 'linux-kernel-6.18-generated');
    const expected = JSON.parse(readFileSync(join(base, 'EXPECTED.json'), 'utf8')) as {
      file: string;
      packets: { hbh_hex: string; ipv6_hop_limit_at_capture: number }[];
    }[];
    let n = 0;
    for (const file of expected) {
      const packets = readPcap(new Uint8Array(readFileSync(join(base, file.file)))).packets;
      assert.equal(packets.length, file.packets.length, file.file);
      packets.forEach((cp, i) => {
        const p = decodePacket(cp.data, cp.linkType);
        const want = file.packets[i]!;
        assert.equal(p.hopByHopOffset, 14 + 40 + 2, file.file);
        assert.equal(Buffer.from(p.hopByHopOptions!).toString('hex'), want.hbh_hex.slice(4), file.file);
        assert.equal(p.hopByHopOptions!.buffer, cp.data.buffer, 'a view, not a copy');
        assert.equal(p.ttl, want.ipv6_hop_limit_at_capture);
        assert.equal(p.protocol, 58);
        assert.equal(p.unknownNextHeader, false);
        n++;
      });
    }
    assert.ok(n >= 40);
  },
);

test('HTTP over TCP on Linux cooked v2: the payload is the request, with its traceparent', () => {
  const packets = readCapture('testdata:lo-sll2.pcapng').map((p) => decodePacket(p.data, p.linkType));
  const requests = packets.filter((p) => p.payload.length > 0 && new TextDecoder().decode(p.payload).startsWith('GET /'));
  assert.equal(requests.length, 2);
  assert.deepEqual(
    requests.map((p) => [p.ipVersion, p.destinationPort, p.link, p.sllPacketType]),
    [
      [4, 47003, 'sll2', 0],
      [6, 47004, 'sll2', 0],
    ],
  );
  for (const p of requests) assert.match(new TextDecoder().decode(p.payload), /traceparent: 00-0af7651916cd43dd8448eb211c80319c-/);
});

// ---- built frames ----

const HTTP = text.encode('GET / HTTP/1.1\r\n\r\n');

test('Ethernet with 802.1Q, QinQ (802.1ad) and the old 0x9100 tag', () => {
  const inner = ipv4({ protocol: TCP, payload: tcp({ sport: 40000, dport: 80, flags: 0x02 }) });
  for (const [tags, ids] of [
    [[[0x8100, 0x2000 | 30]], [30]],
    [
      [
        [0x88a8, 100],
        [0x8100, 200],
      ],
      [100, 200],
    ],
    [
      [
        [0x9100, 7],
        [0x8100, 4095],
      ],
      [7, 4095],
    ],
  ] as [[number, number][], number[]][]) {
    const p = decodePacket(ethernet(0x0800, inner, tags), LINKTYPE.ETHERNET);
    assert.deepEqual(p.vlanIds, ids);
    assert.equal(p.etherType, 0x0800);
    assert.equal(p.networkOffset, 14 + 4 * tags.length);
    assert.deepEqual(
      [p.sourceAddress, p.sourcePort, p.destinationAddress, p.destinationPort, p.tcpFlags],
      ['192.0.2.1', 40000, '198.51.100.2', 80, 2],
    );
    assert.deepEqual(p.issues, []);
  }
});

test('Linux cooked v1 and v2, raw IP (101, 12, 228, 229), BSD loopback', () => {
  const v4 = ipv4({ protocol: UDP, payload: udp(53, 5353, text.encode('dns')) });
  const v6 = ipv6({ nextHeader: UDP, payload: udp(547, 546, text.encode('dhcp')) });
  const a = decodePacket(sll(0x0800, v4, 3), LINKTYPE.LINUX_SLL);
  assert.deepEqual([a.link, a.sllPacketType, a.sllInterfaceIndex, a.sourcePort, a.networkOffset], ['sll', 3, -1, 53, 16]);
  const b = decodePacket(sll2(0x86dd, v6, 7, 4), LINKTYPE.LINUX_SLL2);
  assert.deepEqual(
    [b.link, b.sllPacketType, b.sllInterfaceIndex, b.sourceAddress, b.destinationPort, b.networkOffset],
    ['sll2', 4, 7, '2001:db8::1', 546, 20],
  );
  for (const lt of [LINKTYPE.RAW, LINKTYPE.RAW_DLT12, LINKTYPE.RAW_DLT14]) {
    assert.equal(decodePacket(v4, lt).sourceAddress, '192.0.2.1');
    assert.equal(decodePacket(v6, lt).sourceAddress, '2001:db8::1');
  }
  assert.equal(decodePacket(v4, LINKTYPE.IPV4).payload.length, 3);
  assert.equal(decodePacket(v6, LINKTYPE.IPV6).payload.length, 4);
  assert.equal(decodePacket(v6, LINKTYPE.IPV4).issues[0]!.code, 'BAD_VERSION');
  assert.equal(decodePacket(concat(Uint8Array.of(2, 0, 0, 0), v4), LINKTYPE.NULL).sourcePort, 53);
  assert.equal(decodePacket(concat(Uint8Array.of(0, 0, 0, 30), v6), LINKTYPE.NULL).destinationPort, 546);
  assert.equal(decodePacket(concat(Uint8Array.of(0, 0, 0, 24), v6), LINKTYPE.LOOP).destinationPort, 546);
  const unknown = decodePacket(v4, 147);
  assert.deepEqual([unknown.link, unknown.ipVersion, unknown.issues[0]!.code], ['unknown', 0, 'UNSUPPORTED_LINK']);
});

test('MPLS, PPPoE and LLC/SNAP lead on to IP; ARP is not IP', () => {
  const v4 = ipv4({ protocol: UDP, payload: udp(1, 2, new Uint8Array(4)) });
  const mpls = decodePacket(ethernet(0x8847, concat(hex('000640ff'), hex('000651ff'), v4)), LINKTYPE.ETHERNET);
  assert.deepEqual([mpls.mplsLabels, mpls.etherType, mpls.ipVersion, mpls.sourcePort], [[100, 101], 0x0800, 4, 1]);
  const pppoe = decodePacket(ethernet(0x8864, concat(hex('110000010000'), hex('0021'), v4)), LINKTYPE.ETHERNET);
  assert.deepEqual([pppoe.ipVersion, pppoe.destinationPort], [4, 2]);
  const snap = decodePacket(ethernet(v4.length + 8, concat(hex('aaaa030000000800'), v4)), LINKTYPE.ETHERNET);
  assert.deepEqual([snap.ipVersion, snap.etherType], [4, 0x0800]);
  const arp = decodePacket(ethernet(0x0806, new Uint8Array(28)), LINKTYPE.ETHERNET);
  assert.deepEqual([arp.etherType, arp.ipVersion, arp.issues], [0x0806, 0, []]);
});

test('IPv4 options are skipped by IHL; Ethernet padding is not payload', () => {
  const options = hex('94040000' + '01010100'); // router alert + NOPs
  const frame = ethernet(0x0800, concat(ipv4({ protocol: UDP, options, payload: udp(10, 20, text.encode('hi')) }), new Uint8Array(20)));
  const p = decodePacket(frame, LINKTYPE.ETHERNET);
  assert.deepEqual([p.ipHeaderLength, p.transportOffset, p.sourcePort, p.truncated], [28, 14 + 28, 10, false]);
  assert.equal(new TextDecoder().decode(p.payload), 'hi');
});

test('IPv4 fragments: only the first carries ports', () => {
  const first = decodePacket(
    ipv4({ protocol: TCP, moreFragments: true, payload: tcp({ sport: 1, dport: 2, flags: 0x18, payload: HTTP }) }),
    LINKTYPE.IPV4,
  );
  assert.deepEqual(
    [first.isFragment, first.moreFragments, first.fragmentOffset, first.sourcePort, first.destinationPort],
    [true, true, 0, 1, 2],
  );
  const later = decodePacket(ipv4({ protocol: TCP, fragmentOffset: 1480, payload: new Uint8Array(40).fill(9) }), LINKTYPE.IPV4);
  assert.deepEqual(
    [later.isFragment, later.fragmentOffset, later.transportOffset, later.sourcePort, later.protocol],
    [true, 1480, -1, 0, TCP],
  );
  assert.deepEqual(later.issues, []);
});

test('IPv6 extension headers are walked: Hop-by-Hop, Routing, Fragment, Destination Options, AH', () => {
  const hbhBody = hex('3106' + '000000000000'); // an IOAM-like option type 0x31, 6 bytes
  const chain = concat(
    extensionHeader(43, hbhBody), // HBH → Routing
    extensionHeader(44, hex('0400' + '00000000')), // Routing → Fragment (type 4, segments left 0)
    fragmentHeader(60, 0, true, 0xdeadbeef), // Fragment (first) → Destination Options
    extensionHeader(51, new Uint8Array(4)), // Dest opts → AH
    authHeader(TCP, 3), // AH → TCP
    tcp({ sport: 443, dport: 50000, flags: 0x11, payload: HTTP }),
  );
  const p = decodePacket(ethernet(0x86dd, ipv6({ nextHeader: 0, payload: chain })), LINKTYPE.ETHERNET);
  assert.deepEqual(p.issues, []);
  assert.equal(p.protocol, TCP);
  assert.equal(p.unknownNextHeader, false);
  assert.deepEqual([p.isFragment, p.moreFragments, p.fragmentOffset, p.fragmentId], [true, true, 0, 0xdeadbeef]);
  assert.equal(p.hopByHopOffset, 14 + 40 + 2);
  // the option, then the PadN the builder adds to fill 8n bytes
  assert.equal(Buffer.from(p.hopByHopOptions!).toString('hex'), '3106000000000000' + '010400000000');
  assert.equal(p.ipHeaderLength, 40 + 16 + 8 + 8 + 8 + 24);
  assert.deepEqual([p.sourcePort, p.destinationPort, p.tcpFlags], [443, 50000, 0x11]);
  assert.equal(new TextDecoder().decode(p.payload), 'GET / HTTP/1.1\r\n\r\n');
});

test('IPv6: a later fragment has no ports; ESP and no-next-header stop; unknown next headers are flagged', () => {
  const later = decodePacket(
    ipv6({ nextHeader: 44, payload: concat(fragmentHeader(TCP, 1232, false, 7), new Uint8Array(32)) }),
    LINKTYPE.IPV6,
  );
  assert.deepEqual(
    [later.isFragment, later.fragmentOffset, later.protocol, later.transportOffset, later.sourcePort],
    [true, 1232, TCP, -1, 0],
  );
  const esp = decodePacket(ipv6({ nextHeader: 50, payload: new Uint8Array(32) }), LINKTYPE.IPV6);
  assert.deepEqual([esp.protocol, esp.unknownNextHeader, esp.transportOffset], [50, false, -1]);
  const none = decodePacket(ipv6({ nextHeader: 60, payload: extensionHeader(59, new Uint8Array(4)) }), LINKTYPE.IPV6);
  assert.deepEqual([none.protocol, none.unknownNextHeader, none.ipHeaderLength], [59, false, 48]);
  const unknown = decodePacket(ipv6({ nextHeader: 0, payload: extensionHeader(200, new Uint8Array(4)) }), LINKTYPE.IPV6);
  assert.deepEqual([unknown.protocol, unknown.unknownNextHeader, unknown.transportOffset], [200, true, -1]);
  const experimental = decodePacket(ipv6({ nextHeader: 253, payload: new Uint8Array(16) }), LINKTYPE.IPV6);
  assert.deepEqual([experimental.protocol, experimental.unknownNextHeader], [253, true]);
});

test('IPv6: Hop-by-Hop not first is reported and not exposed; too many extension headers stop the walk', () => {
  const late = decodePacket(
    ipv6({
      nextHeader: 60,
      payload: concat(extensionHeader(0, new Uint8Array(4)), extensionHeader(UDP, new Uint8Array(4)), udp(1, 2, new Uint8Array(0))),
    }),
    LINKTYPE.IPV6,
  );
  assert.equal(late.hopByHopOptions, undefined);
  assert.equal(late.issues[0]!.code, 'BAD_HEADER');
  assert.equal(late.sourcePort, 1, 'the walk goes on');
  const many = concat(...Array.from({ length: 40 }, () => extensionHeader(60, new Uint8Array(4))));
  const deep = decodePacket(ipv6({ nextHeader: 60, payload: many }), LINKTYPE.IPV6);
  assert.equal(deep.issues[0]!.code, 'BAD_HEADER');
  assert.match(deep.issues[0]!.message, /more than 16/);
});

test('malformed lengths: flags and issues, never a throw', () => {
  const badIhl = ipv4({ protocol: TCP, payload: new Uint8Array(20) });
  badIhl[0] = 0x43;
  assert.deepEqual(
    decodePacket(badIhl, LINKTYPE.IPV4).issues.map((i) => [i.code, i.layer, i.offset]),
    [['BAD_LENGTH', 'ipv4', 0]],
  );

  const shortTotal = decodePacket(ipv4({ protocol: UDP, totalLength: 10, payload: udp(1, 2, new Uint8Array(4)) }), LINKTYPE.IPV4);
  assert.deepEqual(
    shortTotal.issues.map((i) => [i.code, i.offset]),
    [['BAD_LENGTH', 2]],
  );
  assert.equal(shortTotal.sourcePort, 1, 'decoding goes on with the captured length');

  const badOffset = tcp({ sport: 1, dport: 2, flags: 2 });
  badOffset[12] = 0x40;
  const t = decodePacket(ipv4({ protocol: TCP, payload: badOffset }), LINKTYPE.IPV4);
  assert.deepEqual([t.sourcePort, t.issues[0]!.code, t.issues[0]!.offset], [1, 'BAD_LENGTH', 32]);

  const u = decodePacket(ipv4({ protocol: UDP, payload: udp(1, 2, new Uint8Array(4), 5) }), LINKTYPE.IPV4);
  assert.deepEqual([u.issues[0]!.code, u.issues[0]!.layer], ['BAD_LENGTH', 'udp']);

  const longUdp = decodePacket(ipv4({ protocol: UDP, payload: udp(1, 2, new Uint8Array(4), 400) }), LINKTYPE.IPV4);
  assert.deepEqual([longUdp.issues[0]!.code, longUdp.payload.length], ['BAD_LENGTH', 4]);

  const extPastPayload = decodePacket(
    ipv6({ nextHeader: 0, payloadLength: 4, payload: extensionHeader(UDP, new Uint8Array(4)) }),
    LINKTYPE.IPV6,
  );
  assert.deepEqual(
    [extPastPayload.issues[0]!.code, extPastPayload.issues[0]!.offset, extPastPayload.hopByHopOptions],
    ['BAD_LENGTH', 40, undefined],
  );
});

test('a packet cut at every offset: never throws, what was decoded agrees with the whole packet', () => {
  const samples: [Uint8Array, number][] = [
    [
      ethernet(
        0x8100,
        concat(
          hex('006486dd'),
          ipv6({
            nextHeader: 0,
            payload: concat(
              extensionHeader(44, new Uint8Array(6)),
              fragmentHeader(TCP, 0, true, 1),
              tcp({ sport: 8080, dport: 1234, flags: 0x12, options: hex('020405b401010402'), payload: HTTP }),
            ),
          }),
        ),
      ),
      LINKTYPE.ETHERNET,
    ],
    [sll2(0x0800, ipv4({ protocol: UDP, options: hex('01010101'), payload: udp(4789, 4789, HTTP) }), 2), LINKTYPE.LINUX_SLL2],
    ...readCapture('testdata:lo-sll.pcap')
      .slice(0, 6)
      .map((p): [Uint8Array, number] => [p.data, p.linkType]),
  ];
  if (hasShared) {
    const ioam = readPcap(
      new Uint8Array(readFileSync(join(SHARED_DATA, 'ioam/linux-kernel-6.18-generated/pcap/full_supp_trace.after-hop2.pcap'))),
    ).packets[0]!;
    samples.push([ioam.data, ioam.linkType]);
  }
  for (const [frame, lt] of samples) {
    const whole = decodePacket(frame, lt);
    assert.deepEqual(whole.issues, []);
    for (let cut = 0; cut < frame.length; cut++) {
      const p = decodePacket(frame.subarray(0, cut), lt);
      const where = `cut at ${cut} of ${frame.length}`;
      if (p.ipVersion !== 0) {
        assert.equal(p.sourceAddress, whole.sourceAddress, where);
        assert.equal(p.ttl, whole.ttl, where);
        assert.ok(p.truncated, where);
      }
      if (whole.transportOffset >= 0 && cut >= whole.transportOffset + 4 && cut >= whole.networkOffset + whole.ipHeaderLength) {
        assert.deepEqual([p.sourcePort, p.destinationPort], [whole.sourcePort, whole.destinationPort], where);
      }
      if (p.hopByHopOptions) assert.deepEqual(p.hopByHopOptions, whole.hopByHopOptions, where);
      assert.ok(p.payload.length <= Math.max(0, cut - p.payloadOffset), where);
      for (const i of p.issues) assert.ok(i.offset >= 0 && i.offset <= cut, `${where}: ${i.message}`);
      if (p.issues.some((i) => i.code === 'TRUNCATED')) assert.ok(p.truncated, where);
    }
  }
});

test('fuzz: 200,000 mutated packets decode without a throw, views stay inside the packet', () => {
  const seeds: [Uint8Array, number][] = readCapture('testdata:lo-sll2.pcapng').map((p) => [p.data, p.linkType]);
  for (const p of readCapture('testdata:lo-sll.pcap').slice(0, 4)) seeds.push([p.data, p.linkType]);
  for (const p of readCapture('decode:goflow2-sampled-headers.pcap')) seeds.push([p.data, p.linkType]);
  seeds.push([
    ethernet(
      0x88a8,
      concat(
        hex('0064810000c886dd'),
        ipv6({
          nextHeader: 0,
          payload: concat(
            extensionHeader(43, hex('3106000000000000')),
            extensionHeader(44, hex('0400000000000000')),
            fragmentHeader(51, 0, true, 9),
            authHeader(TCP, 1),
            tcp({ sport: 1, dport: 2, flags: 0x18, payload: HTTP }),
          ),
        }),
      ),
    ),
    LINKTYPE.ETHERNET,
  ]);
  seeds.push([
    ipv4({ protocol: TCP, options: hex('9404000001010100'), payload: tcp({ sport: 3, dport: 4, flags: 2, options: hex('020405b4') }) }),
    LINKTYPE.RAW,
  ]);
  if (hasShared) {
    for (const name of ['full_supp_trace.after-hop2.pcap', 'bit22.after-hop1.pcap', 'size244_bit0.after-hop2.pcap']) {
      const p = readPcap(new Uint8Array(readFileSync(join(SHARED_DATA, 'ioam/linux-kernel-6.18-generated/pcap', name)))).packets[0]!;
      seeds.push([p.data, p.linkType]);
    }
  }
  const linkTypes = [LINKTYPE.ETHERNET, LINKTYPE.LINUX_SLL, LINKTYPE.LINUX_SLL2, LINKTYPE.RAW, LINKTYPE.IPV4, LINKTYPE.IPV6, LINKTYPE.NULL];
  const rand = prng(0xf022);
  const started = Date.now();
  let withIssues = 0;
  for (let i = 0; i < 200_000; i++) {
    const [seed, lt] = seeds[i % seeds.length]!;
    const data = mutate(rand, seed);
    const p = decodePacket(data, rand() % 16 === 0 ? linkTypes[rand() % linkTypes.length]! : lt);
    if (p.issues.length > 0) withIssues++;
    if (p.payloadOffset >= 0) assert.ok(p.payloadOffset + p.payload.length <= data.length);
    if (p.hopByHopOptions) assert.ok(p.hopByHopOffset + p.hopByHopOptions.length <= data.length);
    assert.ok(p.sourcePort >= 0 && p.sourcePort <= 0xffff && p.destinationPort <= 0xffff);
  }
  const ms = Date.now() - started;
  assert.ok(withIssues > 1000, `${withIssues} packets with issues`);
  assert.ok(ms < 60_000, `${ms} ms`);
});

// ---- golden ----

test('decoded packets (golden)', async () => {
  const pick = (p: DecodedPacket) => ({ ...p, payload: p.payload.length > 48 ? `${p.payload.length} bytes` : p.payload });
  const out: Record<string, unknown> = {};
  readCapture('decode:goflow2-sampled-headers.pcap').forEach(
    (p, i) => (out[`goflow2-sampled-headers #${i + 1}`] = pick(decodePacket(p.data, p.linkType))),
  );
  const lo = readCapture('testdata:lo-sll2.pcapng');
  for (const i of [0, 1, 2, 15]) out[`lo-sll2.pcapng #${i + 1}`] = pick(decodePacket(lo[i]!.data, lo[i]!.linkType));
  out['lo-sll.pcap #1'] = pick(decodePacket(readCapture('testdata:lo-sll.pcap')[0]!.data, LINKTYPE.LINUX_SLL));
  const ioam = readCapture('testdata:ioam-full_supp_trace_x5.nsec.pcap')[0]!;
  out['ioam full_supp_trace #1'] = pick(decodePacket(ioam.data, ioam.linkType));
  await assertGolden(['capture', 'decode'], 'decoded-packets.golden.json', toJson(out));
});

test('ip6 test builder round-trips through the formatter', () => {
  for (const a of ['2001:db8::1', 'fe80::1:2', '::1', '2001:db8:0:1:1:1:1:1']) assert.equal(formatIPv6(ip6(a), 0), a);
});
