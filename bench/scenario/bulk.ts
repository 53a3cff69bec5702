/**
 * Bulk TCP traffic for the congestion phases (no iperf on every machine):
 *
 *   node dist/bench/scenario/bulk.js sink --port P          accepts connections on ::, discards what comes
 *   node dist/bench/scenario/bulk.js send --to ADDR --port P --streams N
 *                                                           N connections writing as fast as TCP lets them, until SIGTERM
 *
 * Each prints {"ready":true} once listening / connected. Importing the module runs nothing.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BULK_PATH = fileURLToPath(import.meta.url);

const CHUNK = Buffer.alloc(64 * 1024, 0x62);

function sink(port: number): void {
  const server = createServer((s) => {
    s.on('data', () => undefined);
    s.on('error', () => undefined);
  });
  server.listen(port, '::', () => process.stdout.write(JSON.stringify({ ready: true }) + '\n'));
  process.once('SIGTERM', () => process.exit(0));
}

function send(to: string, port: number, streams: number): void {
  const sockets: Socket[] = [];
  let connected = 0;
  for (let i = 0; i < streams; i++) {
    const s = createConnection({ host: to, port }, () => {
      if (++connected === streams) process.stdout.write(JSON.stringify({ ready: true }) + '\n');
      const pump = (): void => {
        while (s.write(CHUNK));
      };
      s.on('drain', pump);
      pump();
    });
    s.on('error', (err) => {
      process.stderr.write(`bulk stream ${i}: ${err.message}\n`);
      process.exit(1);
    });
    sockets.push(s);
  }
  process.once('SIGTERM', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

if (process.argv[1] === BULK_PATH) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { to: { type: 'string' }, port: { type: 'string' }, streams: { type: 'string', default: '1' } },
  });
  const port = Number(values.port);
  if (positionals[0] === 'sink') sink(port);
  else if (positionals[0] === 'send') send(values.to!, port, Number(values.streams));
  else {
    process.stderr.write('usage: bulk.js sink --port P | send --to ADDR --port P [--streams N]\n');
    process.exit(2);
  }
}
