/**
 * Small things done from inside a lab namespace with a one-off `node -e` (the test process is
 * outside, where the namespace's addresses and loopback are out of reach): send UDP datagrams or
 * a TCP connection attempt, read an HTTP URL (a /metrics page on the namespace's loopback).
 */
import type { Lab } from './netns.js';

/** Sends `count` datagrams of `size` bytes to [to]:port from ns, one after another; resolves when all were handed to the kernel. */
export async function sendUdp(lab: Lab, ns: string, to: string, port: number, count: number, size = 32): Promise<void> {
  const script = `
    const s = require('node:dgram').createSocket(${JSON.stringify(to.includes(':') ? 'udp6' : 'udp4')});
    let left = ${count};
    const next = () => left-- > 0 ? s.send(Buffer.alloc(${size}, 0x61), ${port}, ${JSON.stringify(to)}, next) : s.close();
    next();`;
  await lab.exec(ns, [process.execPath, '-e', script], { timeoutMs: 20_000 });
}

/** Opens a TCP connection to [to]:port from ns (refused or not) and closes it. */
export async function tryTcp(lab: Lab, ns: string, to: string, port: number): Promise<void> {
  const script = `
    const c = require('node:net').connect({ host: ${JSON.stringify(to)}, port: ${port} });
    c.on('connect', () => c.end()); c.on('error', () => undefined);`;
  await lab.exec(ns, [process.execPath, '-e', script], { timeoutMs: 20_000 });
}

/** The body of GET url, fetched from inside ns. */
export async function fetchInside(lab: Lab, ns: string, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); });`;
  return (await lab.exec(ns, [process.execPath, '-e', script], { timeoutMs: 20_000 })).stdout;
}

/** The sum of the Prometheus text's samples of `name` whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([0-9.e+-]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
