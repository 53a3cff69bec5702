/**
 * The kernel's view of a receiving UDP socket, for either collector: bytes waiting in its
 * receive queue and datagrams the kernel dropped because the buffer was full (/proc/net/udp),
 * the effective receive buffer (ss -m: rb), and net.core.rmem_max.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export interface UdpSocketStat {
  rxQueueBytes: number;
  drops: number;
}

/**
 * The IPv4 sockets bound to 127.0.0.1:port (or 0.0.0.0:port), summed: netspan's native receive
 * binds one socket per worker to the port (SO_REUSEPORT). Undefined when there is none.
 */
export function udpSocketStat(port: number): UdpSocketStat | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1);
  let found: UdpSocketStat | undefined;
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const [, port16] = f[1]!.split(':');
    if (port16 !== hexPort) continue;
    const rx = f[4]!.split(':')[1]!;
    found ??= { rxQueueBytes: 0, drops: 0 };
    found.rxQueueBytes += parseInt(rx, 16);
    found.drops += Number(f[12]);
  }
  return found;
}

/** The socket's receive buffer as the kernel applied it (bytes, `rb` of `ss -uam`), undefined if ss fails. */
export function udpReceiveBuffer(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-H', '-uamn', `sport = :${port}`], { encoding: 'utf8', timeout: 5_000 });
    const m = /\brb(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const RMEM_MAX = '/proc/sys/net/core/rmem_max';

export function rmemMax(): number {
  return Number(readFileSync(RMEM_MAX, 'utf8').trim());
}

/** Raises net.core.rmem_max to at least `bytes` (root only); returns the value to restore, or undefined when unchanged. */
export function raiseRmemMax(bytes: number): number | undefined {
  const before = rmemMax();
  if (before >= bytes) return undefined;
  writeFileSync(RMEM_MAX, String(bytes));
  return before;
}

export function setRmemMax(bytes: number): void {
  writeFileSync(RMEM_MAX, String(bytes));
}
