/**
 * Programs the CLT and IOAM event tests run inside lab namespaces
 * (`node dist/test/e2e/lab/clt-peer.js <command> [--key value ...]`); each prints JSON lines.
 *
 *   serve --tcp-port T --http-port H [--https-port S]
 *                                         line echo on T (answers "ok <line>"), HTTP on H and
 *                                         HTTPS on S (the OTLP receiver's test certificate; answer
 *                                         "hello"), all on ::; prints {"ready":true}
 *   tcp-client --to ADDR --port T --trace-id X --span-id Y --ns N --nodes K
 *                                         connects with CLT enabled (bound to '::' first, so the
 *                                         SYN carries it), sends "phase1", waits for its answer,
 *                                         disables CLT, sends "phase2", waits, closes; prints
 *                                         {"enable":..., "localPort":..., "warnings":[...]}
 *   http-client --to ADDR --port H --trace-id X --span-id Y --ns N [--requests R]
 *                                         R HTTP GETs (new connection each) with CLT enabled;
 *                                         prints {"results":[...], "responses":[...], "warnings":[...]}
 *   http-clt --to ADDR --port H --ns N --requests R --client http|https|fetch [--concurrency C]
 *                                         enableHttpClt on, then R GETs over keep-alive (node:http
 *                                         or node:https Agent, or fetch), C at a time, request i with
 *                                         its own traceparent (span id i+1, as an instrumentation
 *                                         would set); prints {"statuses":[...], "spanIds":[...],
 *                                         "localPorts":[...], "warnings":[...]} (localPorts[i]: the
 *                                         client port request i was sent from)
 *   events                                IoamEventSource in this namespace; prints {"ready":true},
 *                                         then one {"event":...} line per event until SIGTERM
 *
 * Importing the module runs nothing (the test runner loads every file under test/).
 */
import { connect, createServer, type Socket } from 'node:net';
import { Agent, createServer as createHttpServer, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { disable, enable, enableHttpClt, type CltResult } from '../../../src/clt/index.js';
import { IoamEventSource } from '../../../src/native/ioam-events.js';
import { repoPath } from '../../../src/testutil/index.js';

export const CLT_PEER_PATH = fileURLToPath(import.meta.url);

function args(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < argv.length; i += 2) m.set(argv[i]!.replace(/^--/, ''), argv[i + 1]!);
  return m;
}

function need(a: Map<string, string>, key: string): string {
  const v = a.get(key);
  if (v === undefined) throw new Error(`--${key} is required`);
  return v;
}

const print = (v: unknown): boolean => process.stdout.write(JSON.stringify(v) + '\n');

async function serve(a: Map<string, string>): Promise<void> {
  const tcp = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        s.write(`ok ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  const hello = (_req: IncomingMessage, res: ServerResponse): void => void res.end('hello');
  const listening = [tcp.listen(Number(need(a, 'tcp-port')), '::'), createHttpServer(hello).listen(Number(need(a, 'http-port')), '::')];
  const httpsPort = a.get('https-port');
  if (httpsPort !== undefined) {
    const testdata = (name: string): Buffer => readFileSync(repoPath('src', 'receivers', 'otlp', 'testdata', name));
    const tls = { cert: testdata('server.crt'), key: testdata('server.key') };
    listening.push(createHttpsServer(tls, hello).listen(Number(httpsPort), '::'));
  }
  await Promise.all(listening.map((server) => once(server, 'listening')));
  print({ ready: true });
}

/** Resolves with the next line the socket receives. */
function nextLine(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i < 0) return;
      s.off('data', onData);
      s.off('error', reject);
      resolve(buf.slice(0, i));
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

async function tcpClient(a: Map<string, string>): Promise<void> {
  const warnings: string[] = [];
  const s = connect({ host: need(a, 'to'), port: Number(need(a, 'port')), localAddress: '::' });
  const result = enable(s, need(a, 'trace-id'), need(a, 'span-id'), {
    namespaceId: Number(need(a, 'ns')),
    nodes: Number(a.get('nodes') ?? 2),
    warn: (m) => warnings.push(m),
  });
  await once(s, 'connect');
  const localPort = s.localPort;
  s.write('phase1\n');
  const first = await nextLine(s);
  disable(s);
  s.write('phase2\n');
  const second = await nextLine(s);
  s.end();
  await once(s, 'close');
  print({ enable: result, localPort, answers: [first, second], warnings });
}

async function httpClient(a: Map<string, string>): Promise<void> {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
  };
  const host = need(a, 'to');
  const port = Number(need(a, 'port'));
  const results: CltResult[] = [];
  const responses: { status: number | undefined; body: string }[] = [];
  for (let i = 0; i < Number(a.get('requests') ?? 1); i++) {
    const req = request({
      host,
      port,
      path: '/',
      createConnection: () => {
        const s = connect({ host, port, localAddress: host.includes(':') ? '::' : '0.0.0.0' });
        results.push(enable(s, need(a, 'trace-id'), need(a, 'span-id'), { namespaceId: Number(need(a, 'ns')), warn }));
        return s;
      },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let body = '';
    for await (const chunk of res) body += String(chunk);
    responses.push({ status: res.statusCode, body });
  }
  print({ results, responses, warnings });
}

async function httpClt(a: Map<string, string>): Promise<void> {
  const warnings: string[] = [];
  enableHttpClt({ namespaceId: Number(need(a, 'ns')), warn: (m) => void warnings.push(m) });
  const client = a.get('client') ?? 'http';
  const url = `${client === 'https' ? 'https' : 'http'}://[${need(a, 'to')}]:${need(a, 'port')}/`;
  const requests = Number(a.get('requests') ?? 1);
  const concurrency = Number(a.get('concurrency') ?? 1);
  // The certificate is not checked: what is tested is which packets carry which span id, not TLS trust.
  const agent =
    client === 'https'
      ? new HttpsAgent({ keepAlive: true, maxSockets: concurrency, rejectUnauthorized: false })
      : new Agent({ keepAlive: true, maxSockets: concurrency });
  const send = client === 'https' ? httpsRequest : request;
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const spanIds: string[] = [];
  const statuses: number[] = [];
  const localPorts: (number | undefined)[] = [];
  const get = async (i: number, spanId: string): Promise<number> => {
    const traceparent = `00-${traceId}-${spanId}-01`;
    if (client === 'fetch') {
      const res = await fetch(url, { headers: { traceparent } });
      await res.text();
      return res.status;
    }
    const req: ClientRequest = send(url, { agent, headers: { traceparent } });
    // A new socket has its port once connected, a reused one already.
    req.once('socket', (s) => {
      if (s.localPort !== undefined) localPorts[i] = s.localPort;
      else s.once('connect', () => (localPorts[i] = s.localPort));
    });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    for await (const chunk of res) void chunk;
    return res.statusCode ?? 0;
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const spanId = (i + 1).toString(16).padStart(16, '0');
        spanIds[i] = spanId;
        statuses[i] = await get(i, spanId);
      }
    }),
  );
  agent.destroy();
  print({ statuses, spanIds, localPorts, warnings });
}

async function events(): Promise<void> {
  const source = new IoamEventSource();
  source.on('event', (e) => print({ event: { ...e, data: Buffer.from(e.data).toString('hex') } }));
  source.on('lost', (n) => print({ lost: n }));
  source.on('error', (err) => print({ error: err.message }));
  source.start();
  process.once('SIGTERM', () => {
    source.close();
    process.exit(0);
  });
  print({ ready: true });
}

const COMMANDS: Record<string, (a: Map<string, string>) => Promise<void>> = {
  serve,
  'tcp-client': tcpClient,
  'http-client': httpClient,
  'http-clt': httpClt,
  events,
};

const command = process.argv[2];
if (command !== undefined && process.argv[1] === CLT_PEER_PATH && COMMANDS[command]) {
  COMMANDS[command](args(process.argv.slice(3))).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
