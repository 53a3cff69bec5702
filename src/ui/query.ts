/**
 * Query parameters of the UI's API: strict parsing (an unknown parameter or a bad value is a
 * BadRequest naming the parameter), field filters (`field=value`, `field_ne`, `field_gt`,
 * `field_lt`), sorting and pagination (`limit`, `offset` or an opaque `cursor`).
 */
import type { PlainValue } from './traces.js';

export class BadRequest extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

/** Reads each parameter once; `rest()` returns the ones nobody read (unknown, or field filters). */
export class Params {
  private readonly used = new Set<string>();

  constructor(private readonly search: URLSearchParams) {}

  all(name: string): string[] {
    this.used.add(name);
    return this.search.getAll(name);
  }

  one(name: string): string | undefined {
    const values = this.all(name);
    if (values.length > 1) throw new BadRequest(name, `parameter "${name}" is given more than once`);
    return values[0];
  }

  number(name: string, min = -Infinity, max = Infinity): number | undefined {
    const v = this.one(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new BadRequest(
        name,
        `parameter "${name}" must be a number${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}, not "${v}"`,
      );
    return n;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const n = this.number(name, min, max);
    if (n !== undefined && !Number.isInteger(n)) throw new BadRequest(name, `parameter "${name}" must be an integer, not "${n}"`);
    return n;
  }

  boolean(name: string): boolean | undefined {
    const v = this.one(name);
    if (v === undefined) return undefined;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new BadRequest(name, `parameter "${name}" must be true or false, not "${v}"`);
  }

  /** A time: RFC 3339 text, or Unix milliseconds; returned as Unix ms. */
  time(name: string): number | undefined {
    const v = this.one(name);
    if (v === undefined) return undefined;
    const ms = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(ms))
      throw new BadRequest(name, `parameter "${name}" must be RFC 3339 (2026-01-02T03:04:05Z) or Unix milliseconds, not "${v}"`);
    return ms;
  }

  enumOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.one(name);
    if (v === undefined) return undefined;
    if (!values.includes(v as T)) throw new BadRequest(name, `parameter "${name}" must be one of ${values.join(', ')}, not "${v}"`);
    return v as T;
  }

  /** Parameters not read so far, in order. */
  rest(): [string, string][] {
    return [...this.search.entries()].filter(([k]) => !this.used.has(k));
  }
}

export interface Page {
  offset: number;
  limit: number;
}

/** `limit` (1..1000) and `offset` or `cursor` (the opaque value a previous page returned as next_cursor). */
export function pageOf(p: Params): Page {
  const limit = p.integer('limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
  const offset = p.integer('offset', 0, Number.MAX_SAFE_INTEGER);
  const cursor = p.one('cursor');
  if (offset !== undefined && cursor !== undefined) throw new BadRequest('cursor', 'give either "cursor" or "offset", not both');
  if (cursor === undefined) return { limit, offset: offset ?? 0 };
  const m = /^o(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m) throw new BadRequest('cursor', `parameter "cursor" is not a cursor this server gave out: "${cursor}"`);
  return { limit, offset: Number(m[1]) };
}

export interface PageResult<T> {
  items: T[];
  /** Matches in all (within what was looked at). */
  total: number;
  offset: number;
  limit: number;
  /** Pass as `cursor` for the next page; absent on the last page. */
  next_cursor?: string;
}

export function paginate<T>(all: readonly T[], page: Page): PageResult<T> {
  const items = all.slice(page.offset, page.offset + page.limit);
  const next = page.offset + items.length;
  return {
    items,
    total: all.length,
    offset: page.offset,
    limit: page.limit,
    ...(next < all.length ? { next_cursor: Buffer.from(`o${next}`, 'latin1').toString('base64url') } : {}),
  };
}

// ---- field filters ----

export type FilterOp = 'eq' | 'ne' | 'gt' | 'lt';
export interface FieldFilter {
  field: string;
  op: FilterOp;
  value: string;
}

const SUFFIX: [string, FilterOp][] = [
  ['_ne', 'ne'],
  ['_gt', 'gt'],
  ['_lt', 'lt'],
];

/** Reads the remaining parameters as field filters over `fields`; anything else is an unknown parameter. */
export function fieldFilters(p: Params, fields: ReadonlySet<string>, reserved: readonly string[]): FieldFilter[] {
  const out: FieldFilter[] = [];
  for (const [key, value] of p.rest()) {
    let field = key;
    let op: FilterOp = 'eq';
    if (!fields.has(key))
      for (const [suffix, o] of SUFFIX)
        if (key.endsWith(suffix) && fields.has(key.slice(0, -suffix.length))) {
          field = key.slice(0, -suffix.length);
          op = o;
        }
    if (!fields.has(field))
      throw new BadRequest(
        key,
        `unknown parameter "${key}": use ${reserved.join(', ')}, or a field (${[...fields].join(', ')}) with an optional _ne, _gt or _lt suffix`,
      );
    if ((op === 'gt' || op === 'lt') && !isNumeric(value))
      throw new BadRequest(key, `parameter "${key}" compares numbers: "${value}" is not one`);
    out.push({ field, op, value });
  }
  return out;
}

const INTEGER = /^-?\d+$/;
const isNumeric = (v: string) => v.trim() !== '' && Number.isFinite(Number(v));

/** Orders two field values: numbers (and integer strings, exactly) by value, else text. */
export function compareValues(a: PlainValue | undefined, b: PlainValue | undefined): number {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : -1;
  if (b === undefined || b === null) return 1;
  const as = typeof a === 'object' ? JSON.stringify(a) : String(a);
  const bs = typeof b === 'object' ? JSON.stringify(b) : String(b);
  if (INTEGER.test(as) && INTEGER.test(bs)) {
    const x = BigInt(as);
    const y = BigInt(bs);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (isNumeric(as) && isNumeric(bs)) return Number(as) - Number(bs);
  return as < bs ? -1 : as > bs ? 1 : 0;
}

function equals(v: PlainValue | undefined, want: string): boolean {
  if (Array.isArray(v)) return v.some((x) => equals(x, want));
  if (v === undefined || v === null) return want === '';
  if (typeof v === 'number') return isNumeric(want) && Number(want) === v;
  return String(v) === want;
}

export function matches(record: Record<string, PlainValue>, filters: readonly FieldFilter[]): boolean {
  for (const f of filters) {
    const v = record[f.field];
    switch (f.op) {
      case 'eq':
        if (!equals(v, f.value)) return false;
        break;
      case 'ne':
        if (equals(v, f.value)) return false;
        break;
      case 'gt':
        if (v === undefined || v === null || compareValues(v, f.value) <= 0) return false;
        break;
      case 'lt':
        if (v === undefined || v === null || compareValues(v, f.value) >= 0) return false;
        break;
    }
  }
  return true;
}

/** `sort=field` (ascending) or `sort=-field` (descending), over `fields`. */
export function sortOf(p: Params, fields: ReadonlySet<string>, fallback: string): { field: string; descending: boolean } {
  const v = p.one('sort') ?? fallback;
  const descending = v.startsWith('-');
  const field = descending ? v.slice(1) : v;
  if (!fields.has(field))
    throw new BadRequest('sort', `parameter "sort" must be a field (${[...fields].join(', ')}), optionally with a leading "-", not "${v}"`);
  return { field, descending };
}
