/**
 * Network-namespace labs for end-to-end tests: uniquely named namespaces (the test's pid and a
 * random part in every name, so parallel runs and leftovers of killed runs never clash), veth
 * links, lab-only addresses (198.18.x.0/24 and fd00:x::/64, no default route, no link to the
 * host: nothing reaches outside), commands and daemons run inside a namespace with `ip netns
 * exec`, each bounded. `destroy()` kills only the processes inside the lab's own namespaces
 * and deletes them; a lab not destroyed by its test is torn down when the process exits.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { LabProcess, run, type RunOptions, type RunResult, type SpawnOptions } from './proc.js';

/** Running in CI (CI set, not "false"/"0"): a lab test that cannot run there fails instead of skipping. */
export const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** Every lab namespace name starts with this, then the pid of the test process. */
export const LAB_NS_PREFIX = 'nslab';

const live = new Set<Lab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The test runner's `after` hooks are the normal path; this covers a process that exits early.
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      for (const lab of live) lab.destroySync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
}

function ipSync(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

export interface CommandOptions extends RunOptions {
  /** Default 30 s. */
  timeoutMs?: number;
}

export class Lab {
  /** Namespaces created so far, in creation order. */
  readonly namespaces: string[] = [];
  private readonly processes = new Set<LabProcess>();
  private destroyed = false;

  private constructor(readonly prefix: string) {}

  /** A new, empty lab; `tag` (letters, digits, '-') makes its namespace names readable. */
  static create(tag: string): Lab {
    if (!/^[a-z0-9-]{1,24}$/.test(tag)) throw new Error(`lab tag must be [a-z0-9-]{1,24}: ${tag}`);
    const lab = new Lab(`${LAB_NS_PREFIX}${process.pid}-${randomBytes(2).toString('hex')}-${tag}`);
    live.add(lab);
    installExitHook();
    return lab;
  }

  /** Labs not destroyed yet (for an `after` hook that destroys whatever a failed test left). */
  static async destroyAll(): Promise<void> {
    await Promise.all([...live].map((l) => l.destroy()));
  }

  /** Creates namespace `<prefix>-<role>` with loopback up and DAD off; returns its name. */
  async addNamespace(role: string): Promise<string> {
    if (this.destroyed) throw new Error('lab destroyed');
    const name = `${this.prefix}-${role}`;
    await run(['ip', 'netns', 'add', name], { timeoutMs: 10_000 });
    this.namespaces.push(name);
    await this.ip(name, ['link', 'set', 'lo', 'up']);
    await this.sysctl(name, {
      'net.ipv6.conf.all.accept_dad': 0,
      'net.ipv6.conf.default.accept_dad': 0,
      'net.ipv6.conf.all.keep_addr_on_down': 1,
      'net.ipv6.conf.default.keep_addr_on_down': 1,
    });
    return name;
  }

  /** `ip -n ns ...` */
  ip(ns: string, args: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
    return run(['ip', '-n', ns, ...args], { timeoutMs });
  }

  async sysctl(ns: string, values: Record<string, string | number>): Promise<void> {
    await this.exec(ns, ['sysctl', '-qw', ...Object.entries(values).map(([k, v]) => `${k}=${v}`)], { timeoutMs: 10_000 });
  }

  /** A veth pair created inside namespace a (ifA) with its peer inside namespace b (ifB), both up. */
  async veth(a: string, ifA: string, b: string, ifB: string): Promise<void> {
    await this.ip(a, ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', b]);
    await this.ip(a, ['link', 'set', ifA, 'up']);
    await this.ip(b, ['link', 'set', ifB, 'up']);
  }

  async address(ns: string, ifname: string, cidr: string): Promise<void> {
    await this.ip(ns, [
      ...(cidr.includes(':') ? ['-6'] : []),
      'addr',
      'add',
      cidr,
      'dev',
      ifname,
      ...(cidr.includes(':') ? ['nodad'] : []),
    ]);
  }

  async route(ns: string, prefix: string, via: string): Promise<void> {
    await this.ip(ns, [...(prefix.includes(':') ? ['-6'] : []), 'route', 'add', prefix, 'via', via]);
  }

  /** Runs argv inside ns to completion (bounded by timeoutMs, default 30 s). */
  exec(ns: string, argv: readonly string[], options: CommandOptions = {}): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', ns, ...argv], options);
  }

  /**
   * Starts argv inside ns (`ip netns exec` execs it, so the child's pid is the program's own);
   * killed after maxLifetimeMs at the latest, and by destroy().
   */
  spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): LabProcess {
    if (this.destroyed) throw new Error('lab destroyed');
    const p = new LabProcess(['ip', 'netns', 'exec', ns, ...argv], options);
    this.processes.add(p);
    void p.exited.then(() => this.processes.delete(p));
    return p;
  }

  /** Pids of every process inside one of the lab's namespaces (none can be outside the lab). */
  async pids(): Promise<number[]> {
    const out: number[] = [];
    for (const ns of this.namespaces) {
      const r = await run(['ip', 'netns', 'pids', ns], { timeoutMs: 10_000, check: false });
      for (const t of r.stdout.split(/\s+/)) if (/^\d+$/.test(t)) out.push(Number(t));
    }
    return out;
  }

  /** Kills the lab's own children and every process inside its namespaces, then deletes them. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.processes) if (p.running) p.child.kill('SIGKILL');
    await Promise.all([...this.processes].map((p) => p.waitForExit(5_000)));
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of [...this.namespaces].reverse()) await run(['ip', 'netns', 'del', ns], { timeoutMs: 10_000, check: false });
    live.delete(this);
  }

  /** destroy() for an exiting process (synchronous). */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.processes) if (p.running) p.child.kill('SIGKILL');
    for (const ns of this.namespaces) {
      for (const t of ipSync(['netns', 'pids', ns]).split(/\s+/)) {
        if (!/^\d+$/.test(t)) continue;
        try {
          process.kill(Number(t), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...this.namespaces].reverse()) ipSync(['netns', 'del', ns]);
    live.delete(this);
  }
}

/** One leg of a routed star: a namespace linked to the router on its own subnet. */
export interface Leg {
  role: string;
  ns: string;
  /** Interface in the leg's namespace (eth0) and its peer in the router. */
  ifname: string;
  routerIfname: string;
  ipv4: string;
  ipv6: string;
  routerIpv4: string;
  routerIpv6: string;
}

export interface RoutedStar {
  router: string;
  legs: Record<string, Leg>;
}

/**
 * A router namespace with one leg per role: leg i (from 1) is 198.18.i.0/24 and fd00:i::/64,
 * router .1 / ::1, leg .2 / ::2; each leg routes only 198.18.0.0/16 and fd00::/16 via the
 * router (no default route); the router forwards IPv4 and IPv6.
 */
export async function routedStar(lab: Lab, roles: readonly string[]): Promise<RoutedStar> {
  if (roles.length < 1 || roles.length > 250) throw new Error('routedStar: 1..250 legs');
  const router = await lab.addNamespace('router');
  await lab.sysctl(router, { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
  const legs: Record<string, Leg> = {};
  for (const [k, role] of roles.entries()) {
    const i = k + 1;
    const ns = await lab.addNamespace(role);
    const leg: Leg = {
      role,
      ns,
      ifname: 'eth0',
      routerIfname: `r-${role}`.slice(0, 15),
      ipv4: `198.18.${i}.2`,
      ipv6: `fd00:${i.toString(16)}::2`,
      routerIpv4: `198.18.${i}.1`,
      routerIpv6: `fd00:${i.toString(16)}::1`,
    };
    await lab.veth(router, leg.routerIfname, ns, leg.ifname);
    await lab.address(router, leg.routerIfname, `${leg.routerIpv4}/24`);
    await lab.address(router, leg.routerIfname, `${leg.routerIpv6}/64`);
    await lab.address(ns, leg.ifname, `${leg.ipv4}/24`);
    await lab.address(ns, leg.ifname, `${leg.ipv6}/64`);
    await lab.route(ns, '198.18.0.0/16', leg.routerIpv4);
    await lab.route(ns, 'fd00::/16', leg.routerIpv6);
    legs[role] = leg;
  }
  return { router, legs };
}

/** Why namespace labs cannot run here (not Linux, not root, `ip netns` not working), or undefined. */
export async function namespaceSupport(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, as CI does)';
  const name = `${LAB_NS_PREFIX}${process.pid}-${randomBytes(2).toString('hex')}-probe`;
  try {
    await run(['ip', 'netns', 'add', name], { timeoutMs: 10_000 });
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await run(['ip', 'netns', 'del', name], { timeoutMs: 10_000, check: false }).catch(() => undefined);
  }
  return undefined;
}

/** The commands of `names` not found on PATH. */
export async function missingCommands(names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const n of names) {
    const r = await run(['sh', '-c', 'command -v "$1"', 'sh', n], { timeoutMs: 5_000, check: false });
    if (r.code !== 0) missing.push(n);
  }
  return missing;
}
