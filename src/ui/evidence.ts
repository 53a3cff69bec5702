/**
 * Evidence as the explorer shows it: flows and packet observations as flat records with the
 * attribute names netspan uses everywhere (flow attributes of the netflow receiver, the flat
 * observation form of `netspan decode`), plus a few derived columns, and the queries over them.
 */
import { flowAttributes } from '../receivers/netflow/flowlogs.js';
import type { EvidenceStores } from '../core/component.js';
import { MemoryFlowStore } from '../evidence/memory/store.js';
import { FLOW_ATTRIBUTE, type FlowRecord } from '../model/flow.js';
import { OBSERVATION_ATTRIBUTE, observationAttributes, type Observation } from '../model/observation.js';
import { BadRequest, compareValues, fieldFilters, matches, pageOf, paginate, sortOf, type PageResult, type Params } from './query.js';
import type { PlainValue } from './traces.js';

export type EvidenceKind = 'flows' | 'ioam' | 'http';
export type EvidenceRecord = Record<string, PlainValue>;

/** Time columns, Unix nanoseconds as decimal strings; the default sort is newest first on the first. */
const TIME_FIELD: Record<EvidenceKind, string> = { flows: 'flow.start', ioam: 'observation.time', http: 'observation.time' };

export const EVIDENCE_FIELDS: Record<EvidenceKind, ReadonlySet<string>> = {
  flows: new Set([...Object.values(FLOW_ATTRIBUTE), 'flow.direction', 'flow.biflow_direction', 'flow.duration_ms']),
  ioam: new Set([
    OBSERVATION_ATTRIBUTE.time,
    OBSERVATION_ATTRIBUTE.observer,
    OBSERVATION_ATTRIBUTE.interfaceName,
    OBSERVATION_ATTRIBUTE.sourceAddress,
    OBSERVATION_ATTRIBUTE.sourcePort,
    OBSERVATION_ATTRIBUTE.destinationAddress,
    OBSERVATION_ATTRIBUTE.destinationPort,
    OBSERVATION_ATTRIBUTE.protocol,
    OBSERVATION_ATTRIBUTE.ioamSource,
    OBSERVATION_ATTRIBUTE.ioamOptionType,
    OBSERVATION_ATTRIBUTE.ioamNamespace,
    OBSERVATION_ATTRIBUTE.ioamTraceType,
    OBSERVATION_ATTRIBUTE.ioamOverflow,
    OBSERVATION_ATTRIBUTE.ioamTraceId,
    OBSERVATION_ATTRIBUTE.ioamSpanId,
    OBSERVATION_ATTRIBUTE.traceparent,
    'ioam.node_ids',
    'ioam.node_count',
    'ioam.queue_depth_max',
    'ioam.transit_ms',
  ]),
  http: new Set([
    OBSERVATION_ATTRIBUTE.time,
    OBSERVATION_ATTRIBUTE.observer,
    OBSERVATION_ATTRIBUTE.interfaceName,
    OBSERVATION_ATTRIBUTE.sourceAddress,
    OBSERVATION_ATTRIBUTE.sourcePort,
    OBSERVATION_ATTRIBUTE.destinationAddress,
    OBSERVATION_ATTRIBUTE.destinationPort,
    OBSERVATION_ATTRIBUTE.protocol,
    OBSERVATION_ATTRIBUTE.direction,
    OBSERVATION_ATTRIBUTE.httpMessage,
    OBSERVATION_ATTRIBUTE.method,
    OBSERVATION_ATTRIBUTE.target,
    OBSERVATION_ATTRIBUTE.host,
    OBSERVATION_ATTRIBUTE.status,
    OBSERVATION_ATTRIBUTE.traceparent,
    OBSERVATION_ATTRIBUTE.tracestate,
  ]),
};

export function flowRecord(r: FlowRecord): EvidenceRecord {
  return { ...flowAttributes(r), 'flow.duration_ms': Number(r.endUnixNano - r.startUnixNano) / 1e6 };
}

export function observationRecord(o: Observation): EvidenceRecord {
  const a = observationAttributes(o) as EvidenceRecord;
  if (o.kind === 'ioam') {
    a['ioam.node_ids'] = o.nodes.map((n) => n.node_id ?? null);
    a['ioam.node_count'] = o.nodes.length;
    const depths = o.nodes.map((n) => n.queue_depth).filter((d): d is number => typeof d === 'number');
    if (depths.length > 0) a['ioam.queue_depth_max'] = Math.max(...depths);
    const ts = o.nodes.map((n) =>
      typeof n.timestamp_seconds === 'number' && typeof n.timestamp_subseconds === 'number'
        ? n.timestamp_seconds * 1000 + n.timestamp_subseconds / 1000
        : undefined,
    );
    const first = ts.find((t) => t !== undefined);
    const last = ts.findLast((t) => t !== undefined);
    if (first !== undefined && last !== undefined) a['ioam.transit_ms'] = Math.round((last - first) * 1000) / 1000;
  }
  return a;
}

const RESERVED = ['from', 'to', 'sort', 'limit', 'cursor', 'offset'];

export interface EvidenceAnswer extends PageResult<EvidenceRecord> {
  kind: EvidenceKind;
  /** The store held more records than one request looks at (max_evidence_scan): older ones were not searched. */
  truncated: boolean;
  /** Whether the collector keeps this evidence at all. */
  available: boolean;
}

/** GET /api/evidence/{kind}: filters, time range (from/to), sort, pagination. */
export function queryEvidence(kind: EvidenceKind, p: Params, stores: EvidenceStores | undefined, maxScan: number): EvidenceAnswer {
  const from = p.time('from');
  const to = p.time('to');
  if (from !== undefined && to !== undefined && from > to) throw new BadRequest('from', `"from" is after "to"`);
  const fields = EVIDENCE_FIELDS[kind];
  const sort = sortOf(p, fields, `-${TIME_FIELD[kind]}`);
  const page = pageOf(p);
  const filters = fieldFilters(p, fields, RESERVED);
  const fromNs = from === undefined ? undefined : BigInt(Math.floor(from)) * 1_000_000n;
  const toNs = to === undefined ? undefined : BigInt(Math.ceil(to)) * 1_000_000n;
  let records: EvidenceRecord[] = [];
  let available = false;
  let truncated = false;
  if (kind === 'flows') {
    const store = stores?.flows;
    if (store instanceof MemoryFlowStore) {
      available = true;
      const scanned = store.statsSync().flows;
      truncated = scanned > maxScan;
      store.listSync({
        limit: Infinity,
        maxScan,
        ...(fromNs === undefined ? {} : { fromUnixNano: fromNs }),
        ...(toNs === undefined ? {} : { toUnixNano: toNs }),
        keep: (f) => {
          const r = flowRecord(f);
          if (!matches(r, filters)) return false;
          records.push(r);
          return true;
        },
      });
    }
  } else {
    const store = stores?.observations;
    if (store) {
      available = true;
      truncated = store.size > maxScan;
      records = store
        .list({
          limit: Infinity,
          maxScan,
          kind: kind === 'ioam' ? 'ioam' : 'http',
          ...(fromNs === undefined ? {} : { fromNs }),
          ...(toNs === undefined ? {} : { toNs }),
        })
        .map(observationRecord)
        .filter((r) => matches(r, filters));
    }
  }
  const dir = sort.descending ? -1 : 1;
  records.sort((a, b) => dir * compareValues(a[sort.field], b[sort.field]));
  return { kind, available, truncated, ...paginate(records, page) };
}
