/**
 * Where the time goes: V8 CPU profiles (.cpuprofile, from `node --cpu-prof` or the inspector)
 * summarized as the functions with the most self time.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotFunction {
  function: string;
  /** file:line, relative to the repository for our own code. */
  location: string;
  selfPercent: number;
  selfMs: number;
}

export interface ProfileSummary {
  file?: string;
  totalMs: number;
  /** Share of samples that were the idle or program/GC pseudo-nodes. */
  idlePercent: number;
  gcPercent: number;
  top: HotFunction[];
}

export function summarizeProfile(profile: CpuProfile, root: string, topN = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  } else {
    for (const n of profile.nodes) self.set(n.id, n.hitCount ?? 0);
  }
  let total = 0;
  for (const v of self.values()) total += v;
  const agg = new Map<string, HotFunction>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') idle += us;
    if (f.functionName === '(garbage collector)') gc += us;
    let url = f.url;
    if (url.startsWith('file://')) url = relative(root, fileURLToPath(url));
    const location = url ? `${url}:${f.lineNumber + 1}` : '';
    const name = f.functionName || '(anonymous)';
    const key = `${name}@${location}`;
    const e = agg.get(key) ?? { function: name, location, selfPercent: 0, selfMs: 0 };
    e.selfMs += us / 1000;
    agg.set(key, e);
  }
  const busy = Math.max(1, total - idle);
  const top = [...agg.values()]
    .filter((e) => e.function !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN)
    .map((e) => ({ ...e, selfMs: Math.round(e.selfMs), selfPercent: Math.round(((e.selfMs * 1000) / busy) * 1000) / 10 }));
  return {
    totalMs: Math.round(total / 1000),
    idlePercent: Math.round((idle / Math.max(1, total)) * 1000) / 10,
    gcPercent: Math.round((gc / busy) * 1000) / 10,
    top,
  };
}

export function summarizeProfileFile(file: string, root: string, topN = 15): ProfileSummary {
  return { file, ...summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, root, topN) };
}

/** Profiles `fn` in this thread with the inspector's sampling profiler. */
export async function profileInProcess<T>(fn: () => T, intervalUs = 200): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: intervalUs });
  await post('Profiler.start');
  const result = fn();
  const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
  session.disconnect();
  return { result, profile };
}
