/**
 * Reads an agent: sysUpTime with one Get, then all table columns at once: one GetBulk (v2c,
 * v3) or GetNext (v1) asks for the next rows of every column still open, each column
 * continuing from its own last OID until the agent answers beyond it. Bounded by max_rows
 * and by a request count; a response that moves no column forward ends the walk.
 */
import snmp from 'net-snmp';
import { SnmpPollError, classifySnmpError } from './errors.js';
import { COLUMNS, SYS_UPTIME, type ColumnName } from './oids.js';
import type { SnmpValue, WalkedColumns } from './parse.js';

type Varbind = snmp.Varbind;

function call<T>(run: (cb: snmp.ResponseCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    try {
      run((error, result) => {
        if (error) reject(classifySnmpError(error));
        else if (result === undefined) reject(new SnmpPollError('error', 'empty response'));
        else resolve(result);
      });
    } catch (err) {
      reject(classifySnmpError(err));
    }
  });
}

function isEndOfView(err: unknown): boolean {
  const cause = err instanceof SnmpPollError ? err.cause : err;
  return cause instanceof snmp.RequestFailedError && cause.status === snmp.ErrorStatus.NoSuchName;
}

/** Compares dotted OIDs numerically. */
export function compareOids(a: string, b: string): number {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** sysUpTime in ticks; an agent without it (noSuchObject) gives undefined. */
export async function getUptime(session: snmp.Session): Promise<number | undefined> {
  const [vb] = await call<Varbind[]>((cb) => session.get([SYS_UPTIME], cb));
  if (!vb || snmp.isVarbindError(vb) || typeof vb.value !== 'number') return undefined;
  return vb.value;
}

export interface WalkOptions {
  bulk: boolean;
  maxRepetitions: number;
  maxRows: number;
  /** Called when the first response arrives (its rows are most of a small agent's counters). */
  onFirstResponse?: () => void;
}

/** Walks the given columns (all of COLUMNS by default); columns the agent lacks come back empty. */
export async function walkColumns(
  session: snmp.Session,
  options: WalkOptions,
  names: readonly ColumnName[] = Object.keys(COLUMNS) as ColumnName[],
): Promise<WalkedColumns> {
  const out: WalkedColumns = {};
  const open = new Map<ColumnName, string>();
  for (const n of names) {
    out[n] = new Map<string, SnmpValue>();
    open.set(n, COLUMNS[n]);
  }
  let rows = 0;
  // Each request moves at least one column by one row, or the walk ends: this bounds it too.
  const maxRequests = options.maxRows + names.length;
  for (let requests = 0; open.size > 0 && requests < maxRequests && rows < options.maxRows; requests++) {
    const pending = [...open.entries()];
    const oids = pending.map(([, oid]) => oid);
    let groups: Varbind[][];
    if (options.bulk) {
      const result = await call<(Varbind | Varbind[])[]>((cb) => session.getBulk(oids, 0, options.maxRepetitions, cb));
      groups = result.map((g) => (Array.isArray(g) ? g : [g]));
    } else {
      try {
        const result = await call<Varbind[]>((cb) => session.getNext(oids, cb));
        groups = result.map((vb) => [vb]);
      } catch (err) {
        // SNMPv1 ends a walk at the end of the agent's view with noSuchName for the whole request.
        if (isEndOfView(err)) break;
        throw err;
      }
    }
    if (requests === 0) options.onFirstResponse?.();
    let progressed = false;
    pending.forEach(([name, last], i) => {
      const prefix = `${COLUMNS[name]}.`;
      let cursor = last;
      let done = false;
      for (const vb of groups[i] ?? []) {
        if (snmp.isVarbindError(vb) || !vb.oid.startsWith(prefix) || compareOids(vb.oid, cursor) <= 0) {
          done = true;
          break;
        }
        out[name]!.set(vb.oid.slice(prefix.length), vb.value as SnmpValue);
        cursor = vb.oid;
        rows++;
        progressed = true;
      }
      if (done) open.delete(name);
      else open.set(name, cursor);
    });
    if (!progressed) break;
  }
  return out;
}
