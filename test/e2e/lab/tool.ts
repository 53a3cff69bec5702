/**
 * Small programs that lab tests run inside namespaces (`node dist/test/e2e/lab/tool.js <command>`):
 *
 *   serve   --http-port P --udp-port U        HTTP server (GET /bytes/N answers N bytes) and a UDP
 *                                             echo, dual-stack on ::; prints {"ready":true}
 *   traffic --to ADDR[,ADDR] --http-port P --udp-port U [--udp-datagrams N]
 *                                             per address: two HTTP GETs (200 kB and 6 B, a new
 *                                             TCP connection each), a UDP exchange of N datagrams
 *                                             and one datagram to the closed port U+1 (ICMP port
 *                                             unreachable back); prints the flows made as JSON
 *   replay  --pcap FILE --dport D --to HOST:PORT
 *                                             re-sends the payload of every captured UDP datagram
 *                                             to port D, from its captured source address
 *
 * Importing the module runs nothing (the test runner loads every file under test/).
 */
import { createServer, request } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { canonicalIp, readUdpDatagrams } from './pcap.js';

export const TOOL_PATH = fileURLToPath(import.meta.url);

/** One flow the traffic command made, as the client saw it. */
export interface GeneratedFlow {
  /** udp-closed: one datagram to a port nobody listens on; the server answers ICMP port unreachable. */
  protocol: 'tcp' | 'udp' | 'udp-closed';
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  /** Application bytes the client received (HTTP body or echoed UDP payload). */
  received: number;
}

function args(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k?.startsWith('--') || v === undefined) throw new Error(`bad arguments: ${argv.join(' ')}`);
    m.set(k.slice(2), v);
  }
  return m;
}

function need(m: Map<string, string>, key: string): string {
  const v = m.get(key);
  if (v === undefined) throw new Error(`--${key} is required`);
  return v;
}

async function serve(a: Map<string, string>): Promise<void> {
  const httpPort = Number(need(a, 'http-port'));
  const udpPort = Number(need(a, 'udp-port'));
  const http = createServer((req, res) => {
    const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const body = Buffer.alloc(Math.min(Number(m[1]), 10_000_000), 0x61);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, connection: 'close' }).end(body);
  });
  await new Promise<void>((r) => http.listen({ port: httpPort, host: '::', ipv6Only: false }, r));
  const udp = createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => udp.bind(udpPort, '::', r));
  process.stdout.write(JSON.stringify({ ready: true, httpPort, udpPort }) + '\n');
  const stop = () => {
    http.close();
    udp.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function httpGet(host: string, port: number, path: string): Promise<GeneratedFlow> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, headers: { connection: 'close' }, timeout: 5_000 }, (res) => {
      let received = 0;
      res.on('data', (b: Buffer) => (received += b.length));
      res.on('end', () =>
        resolve({
          protocol: 'tcp',
          client: canonicalIp(req.socket!.localAddress!),
          clientPort: req.socket!.localPort!,
          server: canonicalIp(host),
          serverPort: port,
          received,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function udpExchange(host: string, port: number, datagrams: number): Promise<GeneratedFlow> {
  const s: Socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, r));
  // connect() pins the 4-tuple, so the echo is matched and the local address is known.
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.connect(port, host, () => {
      s.off('error', j);
      r();
    });
  });
  let received = 0;
  let answers = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`UDP ${host}:${port}: ${answers}/${datagrams} echoes`)), 3_000);
    s.on('message', (m) => {
      received += m.length;
      if (++answers === datagrams) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (let i = 0; i < datagrams; i++) {
    s.send(Buffer.alloc(100, 0x75));
    await new Promise((r) => setTimeout(r, 20));
  }
  await done;
  const local = s.address();
  s.close();
  return {
    protocol: 'udp',
    client: canonicalIp(local.address),
    clientPort: local.port,
    server: canonicalIp(host),
    serverPort: port,
    received,
  };
}

/** One datagram to a closed port: the answer is an ICMP (or ICMPv6) port unreachable. */
async function udpToClosedPort(host: string, port: number): Promise<GeneratedFlow> {
  const s: Socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  s.on('error', () => {}); // the unreachable may surface as ECONNREFUSED
  await new Promise<void>((r) => s.bind(0, r));
  await new Promise<void>((r, j) => s.send(Buffer.alloc(60, 0x63), port, host, (e) => (e ? j(e) : r())));
  await new Promise((r) => setTimeout(r, 50));
  const local = s.address();
  s.close();
  const client = isIPv6(host) ? await localAddressTowards(host, 6) : await localAddressTowards(host, 4);
  return { protocol: 'udp-closed', client, clientPort: local.port, server: canonicalIp(host), serverPort: port, received: 0 };
}

/** The source address the kernel picks towards host (an unbound socket reports the wildcard). */
async function localAddressTowards(host: string, family: 4 | 6): Promise<string> {
  const s = createSocket(family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.connect(9, host, () => r());
  });
  const a = s.address().address;
  s.close();
  return canonicalIp(a);
}

async function traffic(a: Map<string, string>): Promise<void> {
  const httpPort = Number(need(a, 'http-port'));
  const udpPort = Number(need(a, 'udp-port'));
  const datagrams = Number(a.get('udp-datagrams') ?? 5);
  const flows: GeneratedFlow[] = [];
  for (const host of need(a, 'to').split(',')) {
    flows.push(await httpGet(host, httpPort, '/bytes/200000'));
    flows.push(await httpGet(host, httpPort, '/bytes/6'));
    flows.push(await udpExchange(host, udpPort, datagrams));
    flows.push(await udpToClosedPort(host, udpPort + 1));
  }
  process.stdout.write(JSON.stringify(flows) + '\n');
}

async function replay(a: Map<string, string>): Promise<void> {
  const dport = Number(need(a, 'dport'));
  const to = need(a, 'to');
  const colon = to.lastIndexOf(':');
  const host = to.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(to.slice(colon + 1));
  const sockets = new Map<string, Socket>();
  let sent = 0;
  for (const d of readUdpDatagrams(need(a, 'pcap'))) {
    if (d.destinationPort !== dport) continue;
    let s = sockets.get(d.source);
    if (!s) {
      s = createSocket(isIPv6(d.source) ? 'udp6' : 'udp4');
      const bound = s;
      await new Promise<void>((r, j) => bound.once('error', j).bind(0, d.source, () => r()));
      sockets.set(d.source, s);
    }
    const sock = s;
    await new Promise<void>((r, j) => sock.send(d.payload, port, host, (e) => (e ? j(e) : r())));
    sent++;
    // Paced, so the reference collector's socket never overflows.
    await new Promise((r) => setTimeout(r, 2));
  }
  for (const s of sockets.values()) s.close();
  process.stdout.write(JSON.stringify({ sent }) + '\n');
}

const COMMANDS: Record<string, (a: Map<string, string>) => Promise<void>> = { serve, traffic, replay };

const command = process.argv[2];
if (command !== undefined && process.argv[1] === TOOL_PATH && COMMANDS[command]) {
  COMMANDS[command](args(process.argv.slice(3))).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
