import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { disable, enable } from './index.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

/** Connects to an echo server on host, applying `before` to the socket; resolves with what came back. */
async function echo(host: string, before: (s: Socket) => void): Promise<string> {
  const server = createServer((s) => s.pipe(s));
  server.listen(0, host);
  await once(server, 'listening');
  try {
    const s = connect({ host, port: (server.address() as AddressInfo).port });
    before(s);
    await once(s, 'connect');
    s.end('ping');
    let got = '';
    for await (const chunk of s) got += String(chunk);
    disable(s);
    return got;
  } finally {
    server.close();
  }
}

test('over IPv4, or with ids that cannot be encoded, CLT is off: one warning per reason, the connection unchanged', async () => {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
  };
  const results: unknown[] = [];
  for (let i = 0; i < 2; i++)
    assert.equal(await echo('127.0.0.1', (s) => results.push(enable(s, TRACE_ID, SPAN_ID, { namespaceId: 123, warn }))), 'ping');
  for (let i = 0; i < 2; i++)
    assert.equal(await echo('127.0.0.1', (s) => results.push(enable(s, 'not-an-id', SPAN_ID, { namespaceId: 123, warn }))), 'ping');
  // Without the addon every call says so instead (and warns once).
  if (!warnings.some((w) => /native addon/.test(w))) {
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /IPv6/);
    assert.match(warnings[1]!, /traceId/);
    assert.equal((results[3] as { code: string }).code, 'INVALID_OPTIONS');
  } else assert.equal(warnings.length, 1);
});
