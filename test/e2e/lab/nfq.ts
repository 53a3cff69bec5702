/**
 * A fixed one-way delay on a router's forwarding path (netem is not in every kernel): iptables
 * NFQUEUE rules send the packets leaving through one interface to a queue, and nfq-delay.py
 * (this folder) gives each its ACCEPT verdict `delayMs` later, in order. `--queue-bypass` makes
 * the kernel accept packets itself whenever no daemon is bound, so starting and stopping never
 * blackholes traffic. The legacy iptables front ends are used (the nft ones need nf_tables).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../src/testutil/index.js';
import type { Lab } from './netns.js';
import type { LabProcess } from './proc.js';

export const NFQ_DELAY_PATH = join(REPO_ROOT, 'test', 'e2e', 'lab', 'nfq-delay.py');
/** Debian's python3 (a per-user shim on PATH may not work inside `ip netns exec`). */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const NFQ_COMMANDS = ['iptables-legacy', 'ip6tables-legacy'];

export interface NfqStats {
  queued: number;
  verdicts: number;
  /** The latest a verdict came after its due time, ms. */
  max_late_ms: number;
  reason: string;
}

export interface NfqDelay {
  readonly process: LabProcess;
  /** Removes the rules, then stops the daemon (it accepts what it still holds); its statistics. */
  stop(): Promise<NfqStats>;
}

export interface NfqDelayOptions {
  /** Packets forwarded out of this interface are delayed. */
  outInterface: string;
  /** NFQUEUE number, unique within the namespace. */
  queue: number;
  delayMs: number;
  /** The daemon exits by itself after this long (default 180 s). */
  maxSeconds?: number;
}

function rule(o: NfqDelayOptions): string[] {
  return ['FORWARD', '-o', o.outInterface, '-j', 'NFQUEUE', '--queue-num', String(o.queue), '--queue-bypass'];
}

/** Installs the rules (IPv4 and IPv6) in namespace `ns` and starts the daemon; resolves once it is bound. */
export async function startNfqDelay(lab: Lab, ns: string, o: NfqDelayOptions): Promise<NfqDelay> {
  const maxSeconds = o.maxSeconds ?? 180;
  for (const cmd of NFQ_COMMANDS) await lab.exec(ns, [cmd, '-A', ...rule(o)], { timeoutMs: 10_000 });
  const p = lab.spawn(
    ns,
    [PYTHON, NFQ_DELAY_PATH, '--queue', String(o.queue), '--delay-ms', String(o.delayMs), '--max-seconds', String(maxSeconds)],
    { maxLifetimeMs: (maxSeconds + 10) * 1000 },
  );
  await p.waitForLine(/^nfq-delay ready/, 10_000);
  let stopped: Promise<NfqStats> | undefined;
  return {
    process: p,
    stop() {
      stopped ??= (async () => {
        for (const cmd of NFQ_COMMANDS) await lab.exec(ns, [cmd, '-D', ...rule(o)], { timeoutMs: 10_000, check: false });
        await p.stop('SIGTERM', 5_000);
        const line = p.lines.find((l) => l.startsWith('nfq-delay stats '));
        if (!line) throw new Error(`nfq-delay printed no statistics:\n${p.output}`);
        return JSON.parse(line.slice('nfq-delay stats '.length)) as NfqStats;
      })();
      return stopped;
    },
  };
}
