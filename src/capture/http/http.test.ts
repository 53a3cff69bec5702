import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '../../testutil/index.js';
import { readPcap } from '../pcap/index.js';
import { concat, prng } from '../testkit.test.util.js';
import { isTraceparent, parseTraceparent } from '../../model/observation.js';
import { decodePacket } from '../decode/index.js';
import {
  HttpReassembler,
  bodyLength,
  headStart,
  hostWithoutPort,
  parseHttpHead,
  targetPath,
  type HttpHeadResult,
  type HttpMessage,
  type HttpRequestHead,
  type TcpSegment,
} from './index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const TP1 = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TP2 = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01';

function complete(r: HttpHeadResult) {
  assert.equal(r.status, 'complete', JSON.stringify(r));
  return r as Extract<HttpHeadResult, { status: 'complete' }>;
}
const codes = (r: HttpHeadResult): string[] => complete(r).issues.map((i) => i.code);

/** The TCP segments of the keep-alive capture (real Node client and server), in capture order. */
function captureSegments(file = 'http-lo.pcap'): { seg: TcpSegment; time: bigint }[] {
  const cap = readPcap(new Uint8Array(readFileSync(repoPath('src', 'capture', 'observe', 'testdata', file))));
  return cap.packets.map((p) => {
    const d = decodePacket(p.data, p.linkType);
    const seg: TcpSegment = {
      sourceAddress: d.sourceAddress,
      sourcePort: d.sourcePort,
      destinationAddress: d.destinationAddress,
      destinationPort: d.destinationPort,
      sequence: d.tcpSequence,
      flags: d.tcpFlags,
      payload: d.payload,
    };
    return { seg, time: p.timestampUnixNano };
  });
}

// ---- the head parser ----

test('a real request head: request line, headers of interest, body length', () => {
  const first = captureSegments().find((s) => s.seg.payload.length > 0)!;
  const r = complete(parseHttpHead(first.seg.payload));
  assert.deepEqual(r.issues, []);
  const h = r.head as HttpRequestHead;
  assert.equal(h.message, 'request');
  assert.equal(h.method, 'GET');
  assert.equal(h.target, '/api/items?id=1');
  assert.equal(h.minorVersion, 1);
  assert.equal(h.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4701-00f067aa0ba902b1-01');
  assert.equal(h.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  assert.match(h.host!, /^127\.0\.0\.2:\d+$/);
  assert.equal(h.headLength, first.seg.payload.length);
  assert.equal(bodyLength(h), 0);
});

test('status line, with and without a reason; bare LF line ends', () => {
  const r = complete(parseHttpHead(enc('HTTP/1.1 204 No Content\r\nTraceParent: ' + TP1 + '\r\n\r\n')));
  assert.deepEqual([r.head.message, r.head.message === 'response' && r.head.status, r.head.traceparent], ['response', 204, TP1]);
  const bare = complete(parseHttpHead(enc('HTTP/1.0 200\nContent-Length: 12\n\nhello, world')));
  assert.deepEqual([bare.head.minorVersion, bare.head.contentLength, bare.head.headLength], [0, 12, 33]);
  assert.equal(bodyLength(bare.head), 12);
  assert.equal(bodyLength(bare.head, 'HEAD'), 0);
});

test('header names are case-insensitive; values trimmed', () => {
  const r = complete(parseHttpHead(enc(`GET / HTTP/1.1\r\nHOST:  example.com:8080 \r\nTRACEPARENT:${TP1}\r\ntraceState: a=1\r\n\r\n`)));
  const h = r.head as HttpRequestHead;
  assert.deepEqual([h.host, h.traceparent, h.tracestate], ['example.com:8080', TP1, 'a=1']);
});

test('repeated headers: tracestate lines join; a traceparent or host given twice differently is dropped', () => {
  const same = complete(parseHttpHead(enc(`GET / HTTP/1.1\r\ntraceparent: ${TP1}\r\ntraceparent: ${TP1}\r\n\r\n`)));
  assert.equal(same.head.traceparent, TP1);
  assert.deepEqual(same.issues, []);
  const text = `GET / HTTP/1.1\r\ntraceparent: ${TP1}\r\nHost: a\r\ntracestate: a=1\r\ntraceparent: ${TP2}\r\ntracestate: b=2\r\nHost: b\r\n\r\n`;
  const r = parseHttpHead(enc(text));
  assert.deepEqual(codes(r), ['REPEATED_HEADER', 'REPEATED_HEADER']);
  const h = complete(r).head as HttpRequestHead;
  assert.deepEqual([h.traceparent, h.host, h.tracestate], [undefined, undefined, 'a=1,b=2']);
});

test('malformed and oversized lines are flagged and skipped; the rest of the head stands', () => {
  const big = 'x'.repeat(2000);
  const text = [
    'GET /a?b=c HTTP/1.1',
    'no colon here',
    'Bad Name: 1',
    `tracestate: ${big}`,
    `traceparent: ${TP1}`,
    ' folded continuation',
    'Host: h',
    'Content-Length: 12x',
    '',
    '',
  ].join('\r\n');
  const r = parseHttpHead(enc(text));
  assert.deepEqual(codes(r), ['BAD_HEADER_LINE', 'BAD_HEADER_LINE', 'OVERSIZED_HEADER', 'BAD_HEADER_LINE', 'BAD_CONTENT_LENGTH']);
  const h = complete(r).head as HttpRequestHead;
  // The folded header (traceparent) is not trusted; the oversized tracestate is dropped.
  assert.deepEqual(
    [h.method, h.target, h.host, h.traceparent, h.tracestate, h.contentLength],
    ['GET', '/a?b=c', 'h', undefined, undefined, undefined],
  );
  // An oversized traceparent is dropped even when a short one repeats it.
  const over = parseHttpHead(enc(`GET / HTTP/1.1\r\ntraceparent: ${big}\r\ntraceparent: ${TP1}\r\n\r\n`));
  assert.deepEqual(codes(over), ['OVERSIZED_HEADER']);
  assert.equal(complete(over).head.traceparent, undefined);
  // Not a W3C traceparent (upper-case hex, version ff, zero ids).
  for (const bad of [TP1.toUpperCase(), TP1.replace(/^00/, 'ff'), `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, 'nonsense']) {
    const b = parseHttpHead(enc(`GET / HTTP/1.1\r\ntraceparent: ${bad}\r\n\r\n`));
    assert.deepEqual(codes(b), ['BAD_TRACEPARENT'], bad);
    assert.equal(complete(b).head.traceparent, undefined);
  }
});

test('head-size limit: incomplete below it, HEAD_TOO_LARGE at it', () => {
  const start = enc('GET / HTTP/1.1\r\nX-Filler: ' + 'a'.repeat(100));
  assert.equal(parseHttpHead(start).status, 'incomplete');
  const huge = enc('GET / HTTP/1.1\r\nX-Filler: ' + 'a'.repeat(20_000) + '\r\n\r\n');
  const r = parseHttpHead(huge);
  assert.equal(r.status, 'invalid');
  assert.equal(r.status === 'invalid' && r.issue.code, 'HEAD_TOO_LARGE');
  assert.equal(parseHttpHead(huge, 32 * 1024).status, 'complete');
});

test('where a head can start', () => {
  assert.equal(headStart(enc('GET /')), 'yes');
  assert.equal(headStart(enc('HTTP/1.1 200')), 'yes');
  assert.equal(headStart(enc('MKCALENDAR /')), 'yes');
  assert.equal(headStart(enc('GE')), 'maybe');
  assert.equal(headStart(enc('HTT')), 'maybe');
  assert.equal(headStart(enc('')), 'maybe');
  for (const no of ['get /', 'PRI * HTTP/2.0', 'HTTP/2 200', 'GETX /', '\x16\x03\x01', '{"a":1}', 'Hello world'])
    assert.equal(headStart(enc(no)), 'no', no);
  assert.equal(parseHttpHead(enc('HTTP/2 200 OK\r\n\r\n')).status, 'not_http');
  const bad = parseHttpHead(enc('GET  HTTP/1.1 extra\r\n\r\n'));
  assert.equal(bad.status === 'invalid' && bad.issue.code, 'BAD_START_LINE');
  assert.equal(parseHttpHead(enc('GET / HTTP/1.1\r\n')).status, 'incomplete');
});

test('path and host as the observation attributes want them', () => {
  assert.equal(targetPath('/a/b?c=d#e'), '/a/b');
  assert.equal(targetPath('http://example.com:80/x?y'), '/x');
  assert.equal(targetPath('http://example.com?y'), '/');
  assert.equal(targetPath('*'), '*');
  assert.equal(targetPath('example.com:443'), undefined);
  assert.equal(hostWithoutPort('example.com:8080'), 'example.com');
  assert.equal(hostWithoutPort('[::1]:8080'), '::1');
  assert.equal(hostWithoutPort('[2001:db8::1]'), '2001:db8::1');
  assert.equal(hostWithoutPort('example.com'), 'example.com');
});

// ---- the reassembler ----

const CLIENT = { sourceAddress: '10.0.0.1', sourcePort: 40000, destinationAddress: '10.0.0.2', destinationPort: 80 };
const SERVER = { sourceAddress: '10.0.0.2', sourcePort: 80, destinationAddress: '10.0.0.1', destinationPort: 40000 };
const ACK = 0x10;
const seg = (side: typeof CLIENT, sequence: number, payload: Uint8Array | string, flags = ACK): TcpSegment => ({
  ...side,
  sequence: sequence >>> 0,
  flags,
  payload: typeof payload === 'string' ? enc(payload) : payload,
});
const heads = (ms: HttpMessage[]) =>
  ms.map((m) => (m.head.message === 'request' ? `${m.head.method} ${m.head.target}` : `${m.head.status}`));

test('the real capture: every head, responses matched to their requests', () => {
  const r = new HttpReassembler();
  const seen: string[] = [];
  for (const { seg: s, time } of captureSegments()) {
    const out = r.push(s, time);
    assert.deepEqual(out.issues, []);
    for (const m of out.messages) {
      if (m.head.message === 'request') seen.push(`${m.head.method} ${m.head.target} ${m.head.traceparent!.slice(33, 35)}`);
      else seen.push(`${m.head.status} for ${m.request?.target}`);
    }
  }
  assert.deepEqual(seen, [
    'GET /api/items?id=1 01',
    '200 for /api/items?id=1',
    'POST /api/items 02',
    '200 for /api/items',
    'GET /chunked 03',
    '200 for /chunked',
    'GET /after-chunked 04',
    '200 for /after-chunked',
    'GET /split?x=1 05',
    '200 for /split?x=1',
    'GET /second 06',
    '200 for /second',
  ]);
  assert.equal(r.stats.connections, 0, 'both connections closed (FIN each way)');
  assert.equal(r.stats.closed, 2);
});

test('a real head split at every byte offset, and in three parts, is put together', () => {
  const head = captureSegments().find((s) => s.seg.payload.length > 0)!.seg;
  const p = head.payload;
  const whole = complete(parseHttpHead(p)).head;
  for (let k = 1; k < p.length; k++) {
    const r = new HttpReassembler();
    const a = r.push({ ...head, payload: p.subarray(0, k) }, 1n);
    assert.deepEqual([a.messages, a.issues], [[], []], `split at ${k}`);
    const b = r.push({ ...head, sequence: (head.sequence + k) >>> 0, payload: p.subarray(k) }, 2n);
    assert.deepEqual(
      b.messages.map((m) => m.head),
      [whole],
      `split at ${k}`,
    );
    assert.equal(b.inFlight, b.messages[0]!.head);
  }
  const r = new HttpReassembler();
  const cuts = [0, 20, 90, p.length];
  const out: HttpMessage[] = [];
  for (let i = 0; i < 3; i++)
    out.push(...r.push({ ...head, sequence: head.sequence + cuts[i]!, payload: p.subarray(cuts[i], cuts[i + 1]) }, 1n).messages);
  assert.deepEqual(
    out.map((m) => m.head),
    [whole],
  );
});

test('retransmissions are ignored; sequence numbers wrap', () => {
  const r = new HttpReassembler();
  const base = 0xfffffff0;
  const text = `GET /wrap HTTP/1.1\r\ntraceparent: ${TP1}\r\n\r\n`;
  assert.equal(r.push(seg(CLIENT, base, text.slice(0, 10)), 1n).messages.length, 0);
  assert.equal(r.push(seg(CLIENT, base, text.slice(0, 10)), 2n).messages.length, 0); // retransmitted
  // The second part crosses 2^32, and overlaps the first by 4 bytes.
  const m = r.push(seg(CLIENT, base + 6, text.slice(6)), 3n).messages;
  assert.deepEqual(heads(m), ['GET /wrap']);
  assert.equal(r.push(seg(CLIENT, base + 6, text.slice(6)), 4n).messages.length, 0);
  assert.equal(r.stats.retransmissions, 3);
});

test('a gap or reordering inside a head drops it (HEAD_GAP, counted); the next head is found', () => {
  const r = new HttpReassembler();
  const text = `GET /lost HTTP/1.1\r\ntraceparent: ${TP1}\r\n\r\n`;
  r.push(seg(CLIENT, 1000, text.slice(0, 10)), 1n);
  // The middle part never arrives (capture loss): the third part shows the gap.
  const third = r.push(seg(CLIENT, 1020, text.slice(20)), 2n);
  assert.deepEqual(
    third.issues.map((i) => i.code),
    ['HEAD_GAP'],
  );
  assert.equal(third.messages.length, 0);
  // The middle part arrives late (reordering): already behind, ignored.
  assert.equal(r.push(seg(CLIENT, 1010, text.slice(10, 20)), 3n).messages.length, 0);
  const next = r.push(seg(CLIENT, 1000 + text.length, `GET /next HTTP/1.1\r\ntraceparent: ${TP2}\r\n\r\n`), 4n);
  assert.deepEqual(heads(next.messages), ['GET /next']);
  assert.equal(next.inFlight?.traceparent, TP2);
  assert.deepEqual([r.stats.gaps, r.stats.retransmissions, r.stats.headsDropped], [1, 1, 1]);
});

test('bodies: Content-Length skipped across segments (a "GET " inside is body); unknown length: the next head at a segment start', () => {
  const r = new HttpReassembler();
  const body = 'GET /not-a-head HTTP/1.1\r\n\r\n' + 'z'.repeat(50);
  let s = 5000;
  const send = (text: string) => {
    const out = r.push(seg(CLIENT, s, text), 1n);
    s += text.length;
    return heads(out.messages);
  };
  assert.deepEqual(send(`POST /upload HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`), ['POST /upload']);
  assert.deepEqual(send(body.slice(10, 30)), []);
  // The body ends inside this segment and the next head follows directly.
  assert.deepEqual(send(body.slice(30) + 'GET /after HTTP/1.1\r\n\r\n'), ['GET /after']);
  // Chunked: the framing is followed ("GET /" is chunk data).
  assert.deepEqual(send('POST /chunky HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n'), ['POST /chunky']);
  assert.deepEqual(send('0\r\n\r\n'), []);
  assert.deepEqual(send('GET /found HTTP/1.1\r\n\r\n'), ['GET /found']);
  // A transfer coding that is not chunked last: unknown length, the next head only where a segment starts.
  assert.deepEqual(send('POST /gz HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nGET /inside HTTP/1.1\r\n\r\n'), ['POST /gz']);
  assert.deepEqual(send('GET /found-again HTTP/1.1\r\n\r\n'), ['GET /found-again']);
  // Not HTTP at all (after the head of a stream of another protocol): nothing, no issue.
  const other = new HttpReassembler();
  assert.deepEqual(other.push(seg(CLIENT, 1, '\x16\x03\x01\x02\x00'), 1n), { messages: [], issues: [], inFlight: undefined });
  assert.equal(other.stats.connections, 0, 'no table entry for a connection that shows no HTTP');
});

test('responses: FIFO over pipelined requests, interim 1xx, HEAD responses have no body', () => {
  const r = new HttpReassembler();
  const reqs = r.push(
    seg(
      CLIENT,
      1,
      `GET /1 HTTP/1.1\r\ntraceparent: ${TP1}\r\n\r\nHEAD /2 HTTP/1.1\r\ntraceparent: ${TP2}\r\n\r\nPOST /3 HTTP/1.1\r\nContent-Length: 0\r\n\r\n`,
    ),
    1n,
  );
  assert.deepEqual(heads(reqs.messages), ['GET /1', 'HEAD /2', 'POST /3']);
  assert.equal(reqs.inFlight?.target, '/3');
  const resp = r.push(
    seg(
      SERVER,
      9,
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' +
        'HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n' + // HEAD: no body follows despite the length
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
    ),
    2n,
  );
  assert.deepEqual(
    resp.messages.map((m) => [m.head.message === 'response' && m.head.status, m.request?.target]),
    [
      [200, '/1'],
      [200, '/2'],
      [100, '/3'],
      [201, '/3'],
    ],
  );
});

test('the connection table is bounded: least recently used evicted, idle ones expire, partial heads counted', () => {
  const r = new HttpReassembler({ maxConnections: 8, idleTimeoutNanos: 1000n });
  let abandoned = 0;
  for (let i = 0; i < 100; i++) {
    const out = r.push({ ...CLIENT, sourcePort: 10000 + i, sequence: 1, flags: ACK, payload: enc('GET /partial HTTP/1.1\r\n') }, BigInt(i));
    abandoned += out.issues.filter((x) => x.code === 'HEAD_ABANDONED').length;
    assert.ok(r.stats.connections <= 8);
  }
  assert.deepEqual([r.stats.evictedForCapacity, abandoned, r.stats.headsDropped], [92, 92, 92]);
  // The most recent connection is still there: its head completes.
  const last = r.push({ ...CLIENT, sourcePort: 10099, sequence: 24, flags: ACK, payload: enc('\r\n') }, 100n);
  assert.deepEqual(heads(last.messages), ['GET /partial']);
  // Much later: everything idle goes (a few per segment), counted.
  for (let k = 0; k < 4; k++) r.push({ ...SERVER, sequence: 1, flags: ACK, payload: new Uint8Array(0) }, 1_000_000n);
  assert.equal(r.stats.connections, 0);
  assert.equal(r.stats.evictedIdle, 8);
});

test('a partial head is kept as a copy: reusing the capture buffer does not change it', () => {
  const r = new HttpReassembler();
  const text = `GET /copied HTTP/1.1\r\ntraceparent: ${TP1}\r\n\r\n`;
  // A Buffer, as the capture reader gives: its slice is a view, so the reassembler must copy.
  const chunk = Buffer.from(text.slice(0, 25), 'latin1');
  assert.equal(r.push(seg(CLIENT, 1, chunk), 1n).messages.length, 0);
  chunk.fill(0x58); // the reader reuses its chunk for the next packets
  const done = r.push(seg(CLIENT, 26, text.slice(25)), 2n);
  assert.deepEqual(heads(done.messages), ['GET /copied']);
  assert.equal(done.messages[0]!.head.traceparent, TP1);
});

test('SYN starts a stream at a boundary; a new SYN on the same quartet starts afresh; RST ends it; a cut segment is a gap', () => {
  const r = new HttpReassembler();
  r.push(seg(CLIENT, 100, '', 0x02), 1n); // SYN
  r.push(seg(CLIENT, 101, 'GET /a HTTP/1.1\r\n'), 2n);
  // Port reuse: a new SYN with another sequence number; the partial head is abandoned.
  const again = r.push(seg(CLIENT, 5000, '', 0x02), 3n);
  assert.deepEqual(
    again.issues.map((i) => i.code),
    ['HEAD_ABANDONED'],
  );
  assert.deepEqual(heads(r.push(seg(CLIENT, 5001, 'GET /b HTTP/1.1\r\n\r\n'), 4n).messages), ['GET /b']);
  const rst = r.push(seg(CLIENT, 5020, 'GET /c HTTP/1.1\r\n', 0x14), 5n);
  assert.deepEqual(
    rst.issues.map((i) => i.code),
    ['HEAD_ABANDONED'],
  );
  assert.equal(r.stats.connections, 0);
  // A snap length that cut the segment: the missing tail is a gap inside the head.
  const cut = new HttpReassembler();
  const out = cut.push({ ...seg(CLIENT, 1, 'GET /long HTTP/1.1\r\nX: '), wireLength: 500 }, 1n);
  assert.deepEqual(
    out.issues.map((i) => i.code),
    ['HEAD_GAP'],
  );
  assert.deepEqual(heads(cut.push(seg(CLIENT, 501, 'GET /next HTTP/1.1\r\n\r\n'), 2n).messages), ['GET /next']);
});

test('chunked bodies: the real chunked response, then a head in the same segment, split at every offset', () => {
  // The /chunked response of the capture: head and first chunk in one segment, the last chunk in the next.
  const segs = captureSegments();
  const at = segs.findIndex((x) => new TextDecoder().decode(x.seg.payload).includes('Transfer-Encoding: chunked'));
  const body = concat(segs[at]!.seg.payload, segs[at + 1]!.seg.payload);
  assert.ok(new TextDecoder().decode(segs[at + 1]!.seg.payload).endsWith('0\r\n\r\n'));
  const stream = concat(body, enc('HTTP/1.1 204 No Content\r\n\r\n'));
  for (let k = 1; k < stream.length; k++) {
    const r = new HttpReassembler();
    const m = [
      ...r.push(seg(SERVER, 1, stream.subarray(0, k)), 1n).messages,
      ...r.push(seg(SERVER, 1 + k, stream.subarray(k)), 2n).messages,
    ];
    assert.deepEqual(heads(m), ['200', '204'], `split at ${k}`);
    assert.equal(r.stats.chunkedBodiesLost, 0);
  }
});

test('chunked bodies: extensions, trailers, upper-case hex; malformed framing is lost (counted) and recovered at a segment start', () => {
  const r = new HttpReassembler();
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n';
  const out = r.push(
    seg(SERVER, 1, `${chunked}3;name=val\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n`),
    1n,
  );
  assert.deepEqual(heads(out.messages), ['200', '204']);
  let s = 1000;
  const send = (text: string, skipBytes = 0) => {
    s += skipBytes;
    const m = heads(r.push(seg(CLIENT, s, text), 2n).messages);
    s += text.length;
    return m;
  };
  assert.deepEqual(send('POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 200 OK\r\n\r\n'), ['POST /a']);
  assert.equal(r.stats.chunkedBodiesLost, 1);
  assert.deepEqual(send('GET /b HTTP/1.1\r\n\r\n'), ['GET /b']);
  // A gap inside chunk data: the chunk is still followed to its end.
  assert.deepEqual(send('POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123'), ['POST /c']);
  assert.deepEqual(send('CDEF\r\n0\r\n\r\nGET /d HTTP/1.1\r\n\r\n', 8), ['GET /d']);
  assert.equal(r.stats.chunkedBodiesLost, 1);
  // A gap over the framing: lost.
  assert.deepEqual(send('POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd'), ['POST /e']);
  assert.deepEqual(send('0\r\n\r\nGET /hidden HTTP/1.1\r\n\r\n', 2), []);
  assert.equal(r.stats.chunkedBodiesLost, 2);
  assert.deepEqual(send('GET /f HTTP/1.1\r\n\r\n'), ['GET /f']);
});

/** `seed` after one to three random edits (replace, insert or delete a character of `alphabet`). */
function mutated(seed: string, alphabet: string, rand: () => number): string {
  const chars = [...seed];
  for (let e = rand() % 3; e >= 0; e--) {
    const at = rand() % (chars.length + 1);
    const c = alphabet[rand() % alphabet.length]!;
    const op = rand() % 3;
    if (op === 0) chars[at] = c;
    else if (op === 1) chars.splice(at, 0, c);
    else chars.splice(at, 1);
  }
  return chars.join('');
}

test('isTraceparent and parseTraceparent accept exactly what the W3C regular expression accepts (mutated values)', () => {
  // The W3C Trace Context grammar as a regular expression: the reference the char-by-char check must agree with.
  const reference = (value: string) => {
    const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/.exec(value.trim());
    if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
    if (m[1] === '00' && value.trim().length !== 55) return undefined;
    return { traceId: m[2]!, spanId: m[3]!, flags: parseInt(m[4]!, 16) };
  };
  const good = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const seeds = [
    good,
    `01${good.slice(2)}`,
    `ff${good.slice(2)}`,
    `01${good.slice(2)}-future`,
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
    ` ${good}\t`,
    `\u00a0${good}\u2028`,
  ];
  const alphabet = '0123456789abcdefABF-ff x\t\n\r\u00a0\u2028\ufeff';
  const rand = prng(55);
  let accepted = 0;
  for (let i = 0; i < 100_000; i++) {
    const value = mutated(seeds[i % seeds.length]!, alphabet, rand);
    const want = reference(value);
    assert.deepEqual(parseTraceparent(value), want, JSON.stringify(value));
    assert.equal(isTraceparent(value), want !== undefined, JSON.stringify(value));
    if (want) accepted++;
  }
  assert.ok(accepted > 1000, `the mutations must leave valid values too (${accepted})`);
});

test('start lines: the byte-by-byte check accepts exactly what the regular expressions did (mutated lines)', () => {
  // The grammar as the head parser's earlier regular expressions had it: the reference.
  const STATUS = /^HTTP\/1\.(\d) (\d{3})(?: [^\r\n]*)?$/;
  const REQUEST = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\s]+) HTTP\/1\.(\d)$/;
  const reference = (line: string) => {
    const s = STATUS.exec(line);
    if (s) return { message: 'response', status: Number(s[2]), minorVersion: Number(s[1]) };
    const r = REQUEST.exec(line);
    return r ? { message: 'request', method: r[1], target: r[2], minorVersion: Number(r[3]) } : undefined;
  };
  const seeds = [
    'GET /api/items?id=1 HTTP/1.1',
    'M-SEARCH * HTTP/1.0',
    'POST http://h:8080/x HTTP/1.1',
    'HTTP/1.1 200 OK',
    'HTTP/1.0 404',
    'HTTP/1.1 301 Moved Permanently',
  ];
  const alphabet = 'GETHTP/1.0 9x*:\t\r\u000b\u000c\u00a0\u0085\u00ff';
  const rand = prng(56);
  let accepted = 0;
  for (let i = 0; i < 50_000; i++) {
    const line = mutated(seeds[i % seeds.length]!, alphabet, rand);
    const want = reference(line);
    const r = parseHttpHead(Buffer.from(`${line}\r\n\r\n`, 'latin1'));
    if (r.status === 'not_http') continue; // headStart's verdict on the first bytes, before the start line
    if (want === undefined) {
      assert.equal(r.status, 'invalid', JSON.stringify(line));
      continue;
    }
    const { head } = complete(r);
    const got =
      head.message === 'response'
        ? { message: head.message, status: head.status, minorVersion: head.minorVersion }
        : { message: head.message, method: head.method, target: head.target, minorVersion: head.minorVersion };
    assert.deepEqual(got, want, JSON.stringify(line));
    accepted++;
  }
  assert.ok(accepted > 5000, `the mutations must leave valid lines too (${accepted})`);
});
