/**
 * Information element lookup over the generated tables: IPFIX (PEN, id) and NetFlow v9 field types to a
 * name and an abstract data type. Unknown elements get the stable name `<pen>.<id>` and are decoded as raw
 * bytes, never dropped. Lookups happen when a template is compiled, not per record.
 */
import { IE_TABLES, NETFLOW_V9_FIELDS } from './ie-registry.gen.js';
import { IeType } from './ie-types.js';

/** RFC 5103: the reverse direction of IANA element N is element N under this PEN. */
export const REVERSE_PEN = 29305;
/** CERT (YAF) marks its own reverse elements with bit 14 of the element id ("split" biflow mode). */
const CERT_PEN = 6871;
const CERT_REVERSE_BIT = 0x4000;

export interface IeDef {
  readonly pen: number;
  readonly id: number;
  readonly name: string;
  readonly type: IeType;
  /**
   * The IANA element this is (or, with `reverse`, the reverse of), which is what maps it into FlowRecord;
   * -1 when it has no IANA meaning (vendor elements, unknown ids).
   */
  readonly ianaId: number;
  /** Describes a biflow's reverse direction: RFC 5103 (PEN 29305), or CERT's own bit-14 elements. */
  readonly reverse: boolean;
  /** False for elements no registry knows (kept as raw bytes under `<pen>.<id>`). */
  readonly known: boolean;
}

export interface V9FieldDef extends IeDef {
  /** The RFC 3954-style name as logstash spells it (in_bytes, ipv4_src_addr), '' when there is none. */
  readonly v9Name: string;
}

const byPen = new Map<number, Map<number, IeDef>>();
for (const table of IE_TABLES) {
  const m = new Map<number, IeDef>();
  for (const [id, name, type] of table.elements) {
    m.set(id, { pen: table.pen, id, name, type: type as IeType, ianaId: table.pen === 0 ? id : -1, reverse: false, known: true });
  }
  byPen.set(table.pen, m);
}
const iana = byPen.get(0) ?? new Map<number, IeDef>();

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function unknownElement(pen: number, id: number): IeDef {
  return { pen, id, name: `${pen}.${id}`, type: IeType.octetArray, ianaId: -1, reverse: false, known: false };
}

// Derived definitions are cached so a template compiles to the same objects every time.
const derived = new Map<string, IeDef>();

/** The definition of IPFIX element `id` of enterprise `pen` (0 = IANA). */
export function ipfixElement(pen: number, id: number): IeDef {
  const table = byPen.get(pen);
  const direct = table?.get(id);
  if (direct) return direct;
  const key = `${pen}.${id}`;
  const cached = derived.get(key);
  if (cached) return cached;
  let def: IeDef;
  if (pen === REVERSE_PEN) {
    const fwd = iana.get(id);
    def = fwd
      ? { pen, id, name: `reverse${capitalise(fwd.name)}`, type: fwd.type, ianaId: id, reverse: true, known: true }
      : unknownElement(pen, id);
  } else if (pen === CERT_PEN && id & CERT_REVERSE_BIT) {
    const fwd = table?.get(id & ~CERT_REVERSE_BIT);
    // YAF's reverse vendor elements have no IANA meaning, so they stay out of the RFC 5103 mapping
    def = fwd ? { ...fwd, id, name: `reverse${capitalise(fwd.name)}`, reverse: true } : unknownElement(pen, id);
  } else {
    def = unknownElement(pen, id);
  }
  derived.set(key, def);
  return def;
}

const v9Fields = new Map<number, V9FieldDef>();
for (const [type, v9Name, name, ieType, ianaId] of NETFLOW_V9_FIELDS) {
  v9Fields.set(type, { pen: 0, id: type, name, type: ieType as IeType, ianaId, reverse: false, known: true, v9Name });
}

/** The definition of NetFlow v9 field type `type` (RFC 3954 and vendor extensions). */
export function netflowV9Field(type: number): V9FieldDef {
  const listed = v9Fields.get(type);
  if (listed) return listed;
  const key = `v9.${type}`;
  const cached = derived.get(key) as V9FieldDef | undefined;
  if (cached) return cached;
  const fwd = type < 32768 ? iana.get(type) : undefined;
  const def: V9FieldDef = fwd ? { ...fwd, v9Name: '' } : { ...unknownElement(0, type), v9Name: '' };
  derived.set(key, def);
  return def;
}

/** RFC 3954 §6.1 option scope field types. */
const V9_SCOPES: Record<number, string> = {
  1: 'scopeSystem',
  2: 'scopeInterface',
  3: 'scopeLineCard',
  4: 'scopeCache',
  5: 'scopeTemplate',
};

/** The definition of a NetFlow v9 options-template scope field (System, Interface, Line Card, Cache, Template). */
export function netflowV9Scope(type: number): IeDef {
  const key = `v9scope.${type}`;
  const cached = derived.get(key);
  if (cached) return cached;
  const name = V9_SCOPES[type];
  const def: IeDef = name
    ? { pen: 0, id: type, name, type: IeType.unsigned32, ianaId: -1, reverse: false, known: true }
    : { ...unknownElement(0, type), name: `scope.${type}` };
  derived.set(key, def);
  return def;
}

/** Every registered IPFIX element (for tooling and tests). */
export function* allIpfixElements(): Iterable<IeDef> {
  for (const m of byPen.values()) yield* m.values();
}
