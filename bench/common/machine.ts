/** The machine a benchmark ran on, for its report. */
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux: keep os.cpus()'s model
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

/** The banner line a benchmark starts with: "netspan bench/<name> on <cpu> (<n> cores), node <v>". */
export function machineBanner(benchmark: string, machine: MachineInfo): string {
  return `netspan ${benchmark} on ${machine.cpuModel} (${machine.cores} cores), node ${machine.node}`;
}
