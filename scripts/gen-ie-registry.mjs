#!/usr/bin/env node
// Builds src/receivers/netflow/decode/ie-registry.gen.ts: the IPFIX information elements (IANA + vendor
// PENs) and the NetFlow v9 field types the decoders name and type their fields with.
//
// Run by hand when a source changes; the output is committed:
//   node scripts/gen-ie-registry.mjs [--shared DIR] [--out FILE]
// DIR defaults to ../shared beside the checkout (the lab's read-only data folder).
//
// Sources, in order of authority (see each folder's PROVENANCE.md):
//   registries/iana-ipfix/ipfix-information-elements.csv   IANA registry (names, abstract data types)
//   registries/libfds-elements/elements/iana.xml           fills IANA rows without a type (deprecated v9-compat ids)
//   registries/libfds-elements/elements/{cisco,netscaler,vmware,cert}.xml   vendor PENs 9, 5951, 6876, 6871
//   registries/libfds-elements/elements/netflow{,Extra}.xml                 v9 types >= 128 / >= 32768 (libfds pseudo-PENs)
//   netflow/logstash-codec-netflow/fielddefs/netflow.yaml  v9 types with their RFC 3954-style (logstash) names
//   netflow/logstash-codec-netflow/fielddefs/ipfix.yaml    vendor PENs libfds lacks (Barracuda, Ixia, vIPtela, ...)
// Reverse elements (RFC 5103 PEN 29305, CERT's bit 14) are derived at run time from the forward ones.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { parse as parseYaml } from 'yaml';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const argValue = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && args[i + 1] ? resolve(args[i + 1]) : fallback;
};
const sharedDir = argValue('--shared', resolve(repoRoot, '..', 'shared'));
const outFile = argValue('--out', join(repoRoot, 'src/receivers/netflow/decode/ie-registry.gen.ts'));
const data = (...parts) => join(sharedDir, 'data', ...parts);

const TYPES = [
  'octetArray',
  'unsigned8',
  'unsigned16',
  'unsigned32',
  'unsigned64',
  'signed8',
  'signed16',
  'signed32',
  'signed64',
  'float32',
  'float64',
  'boolean',
  'macAddress',
  'string',
  'dateTimeSeconds',
  'dateTimeMilliseconds',
  'dateTimeMicroseconds',
  'dateTimeNanoseconds',
  'ipv4Address',
  'ipv6Address',
  'basicList',
  'subTemplateList',
  'subTemplateMultiList',
  'unsigned256',
];
const TYPE_SET = new Set(TYPES);
function normaliseType(t, where) {
  if (t === 'ipv6address') return 'ipv6Address'; // a case slip in libfds cisco/netflowExtra
  if (!TYPE_SET.has(t)) throw new Error(`${where}: unknown abstract data type ${JSON.stringify(t)}`);
  return t;
}

// logstash's BinData types → RFC 7012 abstract types. Numbers are v9 "default length" counters (unsigned,
// any length); the special parsers (acl ids, application ids, label stacks) are opaque bytes to us.
function logstashType(t) {
  if (typeof t === 'number') return 'unsigned64';
  switch (String(t).replace(/^:/, '')) {
    case 'uint8':
      return 'unsigned8';
    case 'uint15':
    case 'uint16':
      return 'unsigned16';
    case 'uint24':
    case 'uint32':
      return 'unsigned32';
    case 'uint64':
      return 'unsigned64';
    case 'int8':
      return 'signed8';
    case 'int32':
      return 'signed32';
    case 'float':
      return 'float32';
    case 'double':
      return 'float64';
    case 'ip4_addr':
      return 'ipv4Address';
    case 'ip6_addr':
      return 'ipv6Address';
    case 'mac_addr':
      return 'macAddress';
    case 'string':
      return 'string';
    case 'forwarding_status':
      return 'unsigned8';
    default:
      return 'octetArray';
  }
}

// ---- minimal RFC 4180 CSV reader (IANA descriptions hold quoted newlines and doubled quotes)
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// ---- libfds element XML: flat <element><id/><name/><dataType/>...</element> lists, no nesting we need
function parseLibfds(file) {
  const text = readFileSync(file, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  const pen = Number(/<scope>[\s\S]*?<pen>(\d+)<\/pen>/.exec(text)?.[1]);
  const elements = [];
  for (const m of text.matchAll(/<element>([\s\S]*?)<\/element>/g)) {
    const tag = (t) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(m[1])?.[1]?.trim();
    const id = Number(tag('id'));
    const name = tag('name');
    const type = tag('dataType');
    if (!Number.isInteger(id) || !name || !type) throw new Error(`${file}: incomplete element ${m[1].slice(0, 80)}`);
    elements.push({ id, name, type: normaliseType(type, file) });
  }
  return { pen, elements };
}

const strip = (s) => String(s).replace(/^:/, '');

// ---- IANA: the CSV, with libfds's iana.xml for rows the CSV leaves untyped
const iana = new Map();
{
  const [header, ...rows] = parseCsv(readFileSync(data('registries/iana-ipfix/ipfix-information-elements.csv'), 'utf8'));
  const col = (n) => header.indexOf(n);
  const [cId, cName, cType] = [col('ElementID'), col('Name'), col('Abstract Data Type')];
  for (const r of rows) {
    if (!/^\d+$/.test(r[cId] ?? '') || !r[cName] || !r[cType]) continue; // ranges, reserved, unnamed deprecated rows
    iana.set(Number(r[cId]), { name: r[cName], type: normaliseType(r[cType], 'IANA CSV') });
  }
  for (const e of parseLibfds(data('registries/libfds-elements/elements/iana.xml')).elements) {
    if (!iana.has(e.id)) iana.set(e.id, { name: e.name, type: e.type });
  }
}

// ---- vendor PENs. libfds names are bare ("httpReqUrl"); FlowRecord.fields is one flat namespace, so
// vendors get their prefix as logstash and most collectors spell them ("netscalerHttpReqUrl").
const VENDOR_PREFIX = { 9: 'cisco', 5951: 'netscaler', 6876: 'vmware', 6871: '' /* YAF publishes its own names */ };
const VENDOR_NAME = {
  9: 'Cisco',
  637: 'Alcatel-Lucent/Nokia',
  3054: 'Ixia',
  5951: 'Citrix Netscaler',
  6871: 'CERT (YAF)',
  6876: 'VMware',
  9789: 'Astaro/Sophos',
  10704: 'Barracuda',
  12326: 'Barracuda',
  15397: 'Procera',
  21373: 'netfilter ipt_NETFLOW',
  26866: 'SSL/TLS metadata (logstash)',
  41916: 'vIPtela',
};
const prefixed = (prefix, name) =>
  !prefix || name.toLowerCase().startsWith(prefix) ? name : prefix + name[0].toUpperCase() + name.slice(1);

const vendors = new Map(); // pen → Map<id, {name, type, source}>
for (const [pen, file] of [
  [9, 'cisco'],
  [5951, 'netscaler'],
  [6876, 'vmware'],
  [6871, 'cert'],
]) {
  const t = parseLibfds(data(`registries/libfds-elements/elements/${file}.xml`));
  if (t.pen !== pen) throw new Error(`${file}.xml: PEN ${t.pen}, expected ${pen}`);
  const m = new Map();
  for (const e of t.elements) m.set(e.id, { name: prefixed(VENDOR_PREFIX[pen], e.name), type: e.type });
  vendors.set(pen, m);
}
const logstashIpfix = parseYaml(readFileSync(data('netflow/logstash-codec-netflow/fielddefs/ipfix.yaml'), 'utf8'), {
  uniqueKeys: false,
});
for (const [penText, elements] of Object.entries(logstashIpfix)) {
  const pen = Number(penText);
  if (pen === 0 || pen === 29305) continue; // IANA and RFC 5103 come from the IANA registry
  const m = vendors.get(pen) ?? new Map();
  for (const [idText, def] of Object.entries(elements)) {
    if (!Array.isArray(def) || def.length < 2) continue; // :skip
    const id = Number(idText);
    // CERT's reverse elements (bit 14) are derived from the forward ones at run time, with libfds's types
    if (pen === 6871 && id & 0x4000 && m.has(id & ~0x4000)) continue;
    if (!m.has(id)) m.set(id, { name: strip(def[1]), type: logstashType(def[0]) });
  }
  vendors.set(pen, m);
}

// ---- NetFlow v9 field types (RFC 3954 + vendor extensions). Cisco numbers v9 types >= 128 after the IANA
// IEs, so a type with an IANA element of the same id is that element; ids >= 32768 are libfds's netflowExtra
// (id - 32768); a logstash name shared with an IANA-backed type (ASA's 40001 xlate_src_addr_ipv4 = 225)
// points at that element; the rest keep their v9 names.
const netflowYaml = parseYaml(readFileSync(data('netflow/logstash-codec-netflow/fielddefs/netflow.yaml'), 'utf8'), {
  uniqueKeys: false,
});
const v9Logstash = new Map(); // type → {v9Name, type}
for (const [typeText, def] of Object.entries(netflowYaml)) {
  if (!Array.isArray(def) || def.length < 2) continue;
  v9Logstash.set(Number(typeText), { v9Name: strip(def[1]), type: logstashType(def[0]) });
}
const libfdsNetflow = new Map(parseLibfds(data('registries/libfds-elements/elements/netflow.xml')).elements.map((e) => [e.id, e]));
const libfdsNetflowExtra = new Map(
  parseLibfds(data('registries/libfds-elements/elements/netflowExtra.xml')).elements.map((e) => [e.id + 32768, e]),
);
const ianaIdByName = new Map([...iana].map(([id, e]) => [e.name, id]));
const ianaByLogstashName = new Map();
for (const [t, d] of [...v9Logstash].sort((a, b) => a[0] - b[0])) {
  if (t < 32768 && iana.has(t) && !ianaByLogstashName.has(d.v9Name)) ianaByLogstashName.set(d.v9Name, t);
}
const v9 = new Map(); // type → {v9Name, name, type, ianaId}
for (const t of new Set([...v9Logstash.keys(), ...libfdsNetflow.keys(), ...libfdsNetflowExtra.keys()])) {
  const ls = v9Logstash.get(t);
  const v9Name = ls?.v9Name ?? '';
  if (t < 32768 && iana.has(t)) {
    const e = iana.get(t);
    v9.set(t, { v9Name, name: e.name, type: e.type, ianaId: t });
  } else if (libfdsNetflowExtra.has(t)) {
    const e = libfdsNetflowExtra.get(t);
    const id = ianaIdByName.get(e.name); // ASA's 40000 username is IANA's userName
    v9.set(t, id === undefined ? { v9Name, name: e.name, type: e.type, ianaId: -1 } : { v9Name, ...iana.get(id), ianaId: id });
  } else if (ls && ianaByLogstashName.has(v9Name)) {
    const id = ianaByLogstashName.get(v9Name);
    const e = iana.get(id);
    v9.set(t, { v9Name, name: e.name, type: e.type, ianaId: id });
  } else if (libfdsNetflow.has(t)) {
    const e = libfdsNetflow.get(t);
    v9.set(t, { v9Name, name: e.name, type: e.type, ianaId: -1 });
  } else if (ls) {
    v9.set(t, { v9Name, name: v9Name, type: ls.type, ianaId: -1 });
  }
}

// ---- one flat namespace: reverse names are derived ("reverse" + Name), so check those too
const cap = (s) => s[0].toUpperCase() + s.slice(1);
const owner = new Map();
const claim = (name, who) => {
  const prev = owner.get(name);
  if (prev && prev !== who) return prev;
  owner.set(name, who);
  return undefined;
};
for (const [id, e] of iana) {
  claim(e.name, `0.${id}`);
  claim(`reverse${cap(e.name)}`, `29305.${id}`);
}
const collisions = [];
for (const [pen, m] of [...vendors].sort((a, b) => a[0] - b[0])) {
  for (const [id, e] of m) {
    let clash = claim(e.name, `${pen}.${id}`);
    // one vendor under two PENs (Barracuda 10704/12326) with the same element: one name is right
    const sameVendor = clash && VENDOR_NAME[Number(clash.split('.')[0])] === VENDOR_NAME[pen] && clash.split('.')[1] === String(id);
    if (clash && !sameVendor) {
      // keep both: the later one gets its PEN appended, deterministically
      collisions.push(`${e.name}: ${clash} and ${pen}.${id}`);
      e.name = `${e.name}_${pen}`;
      clash = claim(e.name, `${pen}.${id}`);
      if (clash) throw new Error(`cannot disambiguate ${e.name}`);
    }
    if (pen === 6871) claim(`reverse${cap(e.name)}`, `6871.${id | 0x4000}`);
  }
}
for (const [t, e] of v9) {
  if (e.ianaId >= 0) continue;
  const clash = owner.get(e.name);
  if (clash && !clash.startsWith('v9.')) {
    collisions.push(`${e.name}: ${clash} and v9 type ${t}`);
    e.name = `${e.name}_v9`;
  }
  owner.set(e.name, `v9.${t}`);
}

// ---- emit
const q = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const rows = (m) =>
  [...m]
    .sort((a, b) => a[0] - b[0])
    .map(([id, e]) => `      [${id}, ${q(e.name)}, T.${e.type}],`)
    .join('\n');
const tables = [
  `  {\n    pen: 0,\n    vendor: 'IANA',\n    elements: [\n${rows(iana)}\n    ],\n  },`,
  ...[...vendors]
    .sort((a, b) => a[0] - b[0])
    .map(
      ([pen, m]) => `  {\n    pen: ${pen},\n    vendor: ${q(VENDOR_NAME[pen] ?? `PEN ${pen}`)},\n    elements: [\n${rows(m)}\n    ],\n  },`,
    ),
];
// rows that only repeat the IANA element of the same id add nothing: the decoder falls back to IANA
const v9Rows = [...v9]
  .filter(([t, e]) => e.v9Name !== '' || e.ianaId !== t)
  .sort((a, b) => a[0] - b[0])
  .map(([t, e]) => `  [${t}, ${q(e.v9Name)}, ${q(e.name)}, T.${e.type}, ${e.ianaId}],`)
  .join('\n');

const out = `// Code generated by scripts/gen-ie-registry.mjs; DO NOT EDIT. Regenerate: node scripts/gen-ie-registry.mjs
//
// Sources (../shared/data, see the PROVENANCE.md files there):
//   IANA IPFIX IE registry CSV (rows up to IE 529) with CESNET libfds iana.xml for untyped rows;
//   libfds cisco/netscaler/vmware/cert.xml (PEN 9, 5951, 6876, 6871) and netflow/netflowExtra.xml;
//   logstash-codec-netflow netflow.yaml (v9 names) and ipfix.yaml (vendor PENs libfds lacks).
// Vendor names carry the vendor prefix (netscalerHttpReqUrl); reverse elements (RFC 5103 PEN 29305, CERT
// bit 14) are derived at run time. Name collisions resolved with a suffix: ${collisions.length}${collisions.length ? '\n//   ' + collisions.join('\n//   ') : ''}
import { IeType as T } from './ie-types.js';

/** [element id, name, abstract data type]. */
export type IeRow = readonly [id: number, name: string, type: number];

export interface IePenTable {
  pen: number;
  vendor: string;
  elements: readonly IeRow[];
}

export const IE_TABLES: readonly IePenTable[] = [
${tables.join('\n')}
];

/**
 * NetFlow v9 field types: [type, RFC 3954-style name as logstash spells it ('' if none), registry name,
 * abstract data type, IANA element id it is equivalent to (-1 if none)]. Types not listed here are the IANA
 * element of the same id when one exists (RFC 7012 keeps 1..127 compatible), else unknown.
 */
export const NETFLOW_V9_FIELDS: readonly (readonly [type: number, v9Name: string, name: string, ieType: number, ianaId: number])[] = [
${v9Rows}
];
`;
// formatted as the repository's Prettier config says, so `prettier --check` and this script agree
const prettierOptions = (await prettier.resolveConfig(join(repoRoot, 'src/receivers/netflow/decode/ie-registry.gen.ts'))) ?? {};
writeFileSync(outFile, await prettier.format(out, { ...prettierOptions, filepath: outFile }));
const count = [...vendors.values()].reduce((n, m) => n + m.size, iana.size);
console.log(`wrote ${outFile}: ${count} IPFIX elements in ${vendors.size + 1} PENs, ${v9.size} v9 types, ${collisions.length} renamed`);
