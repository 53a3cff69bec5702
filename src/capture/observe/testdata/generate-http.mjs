#!/usr/bin/env node
// Makes the HTTP test captures: a real Node http server and clients on loopback, captured by tcpdump.
// Run by hand as root from the repository root:  node src/capture/observe/testdata/generate-http.mjs
// Writes http-lo.pcap (tcpdump -i lo, Ethernet), http-any-sll2.pcap (tcpdump -i any -y LINUX_SLL2)
// and http-requests.json (what the clients sent: the expectations of observe.test.ts). See PROVENANCE.md.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fixed W3C trace context values (the W3C spec's example ids, varied), so the expectations are stable.
const tp = (n) => `00-4bf92f3577b34da6a3ce929d0e0e47${String(n).padStart(2, '0')}-00f067aa0ba902b${n}-01`;

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/chunked') {
      // No Content-Length: a chunked body in two writes (two segments), a length the head does not give.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part\n');
      setTimeout(() => res.end('second part\n'), 30);
      return;
    }
    const text = `ok ${req.method} ${req.url} ${body.length}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.listen(0, '::');
await once(server, 'listening');
const port = server.address().port;

async function tcpdump(args, file) {
  const p = spawn('tcpdump', [...args, '--immediate-mode', '-U', '-w', join(OUT, file), `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (c) => (err += c));
  while (!err.includes('listening on')) {
    if (p.exitCode !== null) throw new Error(`tcpdump failed: ${err}`);
    await sleep(20);
  }
  p.report = () => err;
  return p;
}
const captures = [await tcpdump(['-i', 'lo'], 'http-lo.pcap'), await tcpdump(['-i', 'any', '-y', 'LINUX_SLL2'], 'http-any-sll2.pcap')];
await sleep(300);

const sent = [];

// 1. Node's http client, keep-alive, one socket: four requests on one connection from 127.0.0.1 to 127.0.0.2.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function request(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.2', port, method, path, headers, agent, localAddress: '127.0.0.1' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const requests = [
  ['GET', '/api/items?id=1', { traceparent: tp(1), tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' }],
  // Two tracestate header lines (one list split across lines) and a body with Content-Length (Node would chunk it otherwise).
  [
    'POST',
    '/api/items',
    { traceparent: tp(2), tracestate: ['rojo=00f067aa0ba902b7', 'congo=t61rcWkgMzE'], 'content-type': 'application/json', 'content-length': '27' },
    '{"name":"widget","count":3}',
  ],
  ['GET', '/chunked', { traceparent: tp(3) }],
  ['GET', '/after-chunked', { traceparent: tp(4) }],
];
for (const [method, path, headers, body] of requests) {
  const status = await request(method, path, headers, body);
  const tracestate = Array.isArray(headers.tracestate) ? headers.tracestate.join(',') : headers.tracestate;
  sent.push({ client: 'http.Agent', method, path, traceparent: headers.traceparent, ...(tracestate ? { tracestate } : {}), status });
  await sleep(20);
}
agent.destroy();

// 2. A raw socket over IPv6: the first head split across two TCP segments (inside the traceparent value),
//    then a second request in one segment on the same connection.
const sock = net.connect({ host: '::1', port, noDelay: true });
await once(sock, 'connect');
sock.setNoDelay(true);
let received = '';
sock.on('data', (c) => (received += c));
const waitFor = async (text) => {
  while (!received.includes(text)) await sleep(5);
};
const split = `GET /split?x=1 HTTP/1.1\r\nHost: [::1]:${port}\r\ntraceparent: ${tp(5)}\r\ntracestate: split=yes\r\n\r\n`;
const cut = split.indexOf('traceparent: ') + 30;
sock.write(split.slice(0, cut));
await sleep(60);
sock.write(split.slice(cut));
await waitFor('ok GET /split?x=1 0');
sent.push({ client: 'net.Socket', method: 'GET', path: '/split?x=1', traceparent: tp(5), tracestate: 'split=yes', status: 200, splitAt: cut });
sock.write(`GET /second HTTP/1.1\r\nHost: [::1]:${port}\r\ntraceparent: ${tp(6)}\r\n\r\n`);
await waitFor('ok GET /second 0');
sent.push({ client: 'net.Socket', method: 'GET', path: '/second', traceparent: tp(6), status: 200 });
sock.end();
await once(sock, 'close');

// TPACKET_V3 hands packets over in blocks: give the last ones time to arrive before stopping.
await sleep(1500);
for (const p of captures) {
  p.kill('SIGINT');
  await once(p, 'exit');
  console.log(p.report().trim());
}
server.close();
writeFileSync(join(OUT, 'http-requests.json'), JSON.stringify({ port, requests: sent }, null, 2) + '\n');
console.log(`port ${port}: ${sent.length} requests captured`);
