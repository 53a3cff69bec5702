/**
 * CPU time and memory of another process from Linux's /proc: utime+stime (all threads) in
 * clock ticks from /proc/<pid>/stat, and VmRSS / VmHWM (peak RSS) / Threads from
 * /proc/<pid>/status. Plus machine-wide busy time from /proc/stat and how busy the machine is
 * over a short window.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { round, sleep } from './util.js';

/** Clock ticks per second (`getconf CLK_TCK`), 100 on practically every Linux. */
export function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of the process, in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** Machine-wide CPU time from /proc/stat's "cpu" line, in clock ticks: busy (user, nice, system, irq, softirq) and steal. */
export function systemTicks(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = v;
  return { busy: user + nice + system + irq + softirq, steal };
}

export interface MemoryStatus {
  rssKiB: number;
  /** Peak RSS since the process started. */
  hwmKiB: number;
  threads: number;
}

export function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM'), threads: field('Threads') };
}

/** How busy the whole machine is over the next `ms` milliseconds, % of one core (1 decimal). */
export async function busyPercentOver(ms: number, ticksPerSecond: number): Promise<number> {
  const t0 = systemTicks();
  await sleep(ms);
  return round(((systemTicks().busy - t0.busy) / ticksPerSecond / (ms / 1000)) * 100, 1);
}

/** Warns (on stderr) when the machine is busy before a run: the figures are only as quiet as it. */
export function warnIfBusy(busyPercent: number, log: (line: string) => void = (l) => console.error(l)): void {
  if (busyPercent > 20) log(`⚠ the machine is busy before the run (${busyPercent} % of one core in use): expect noisy figures`);
}
