/**
 * softflowd as a router's flow exporter in a lab namespace. softflowd 1.1.0 needs libpcap's
 * immediate mode to see low-rate traffic on this kernel: `buildPcapShim` compiles the
 * LD_PRELOAD shim (pcap_immediate.c, this folder) that turns it on.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../../../src/testutil/index.js';
import type { Lab } from './netns.js';
import { run, type LabProcess } from './proc.js';

export const PCAP_SHIM_SOURCE = join(REPO_ROOT, 'test', 'e2e', 'lab', 'pcap_immediate.c');

/** Compiles pcap_immediate.so into `dir`; its path. */
export async function buildPcapShim(dir: string): Promise<string> {
  const shim = join(dir, 'pcap_immediate.so');
  await run(['gcc', '-O2', '-shared', '-fPIC', '-o', shim, PCAP_SHIM_SOURCE, '-ldl', '-lpcap'], { timeoutMs: 60_000 });
  return shim;
}

export interface SoftflowdOptions {
  /** Interface to sniff. */
  iface: string;
  /** `address:port` of the collector. */
  collector: string;
  /** The compiled shim (buildPcapShim). */
  shim: string;
  /** A private folder for the pid file and control socket. */
  dir: string;
  /** -v: 5, 9 or 10 (IPFIX, the default). */
  version?: 5 | 9 | 10;
  /** -A: absolute IPFIX times (default milli); undefined with version 5/9. */
  time?: 'sec' | 'milli' | 'micro' | 'nano';
  /**
   * -t name=seconds. Defaults: finished TCP flows (FIN both ways, or RST) expire 1 s after their
   * last packet, others after 5 s idle, every flow after 10 s; softflowd checks on whole
   * seconds, so a finished connection is exported 1–3 s after its last packet.
   */
  timeouts?: Record<string, number>;
  maxLifetimeMs?: number;
}

export interface Softflowd {
  readonly process: LabProcess;
  /** Exports every flow it holds now (softflowctl expire-all). */
  expireAll(): Promise<void>;
  /** Exports everything and exits (softflowctl shutdown), bounded. */
  shutdown(): Promise<void>;
}

export const FAST_TIMEOUTS: Record<string, number> = {
  maxlife: 10,
  expint: 1,
  tcp: 5,
  'tcp.fin': 1,
  'tcp.rst': 1,
  udp: 5,
  icmp: 5,
  general: 5,
};

/** Starts softflowd in namespace `ns` (foreground); resolves once it is capturing. */
export async function startSoftflowd(lab: Lab, ns: string, o: SoftflowdOptions): Promise<Softflowd> {
  const version = o.version ?? 10;
  const time = version === 10 ? (o.time ?? 'milli') : undefined;
  const ctl = join(o.dir, 'softflowd.ctl');
  const timeouts = { ...FAST_TIMEOUTS, ...(o.timeouts ?? {}) };
  const p = lab.spawn(
    ns,
    [
      'env',
      `LD_PRELOAD=${o.shim}`,
      'softflowd',
      '-d',
      '-i',
      o.iface,
      '-n',
      o.collector,
      '-v',
      String(version),
      ...(time ? ['-A', time] : []),
      ...Object.entries(timeouts).flatMap(([k, v]) => ['-t', `${k}=${v}`]),
      '-p',
      join(o.dir, 'softflowd.pid'),
      '-c',
      ctl,
    ],
    { maxLifetimeMs: o.maxLifetimeMs ?? 180_000 },
  );
  await p.waitForLine(/Exporting flows from/, 10_000);
  return {
    process: p,
    expireAll: async () => void (await lab.exec(ns, ['softflowctl', '-c', ctl, 'expire-all'], { timeoutMs: 10_000 })),
    shutdown: async () => {
      if (!p.running) return;
      await lab.exec(ns, ['softflowctl', '-c', ctl, 'shutdown'], { timeoutMs: 10_000, check: false });
      await p.waitForExit(10_000);
    },
  };
}
