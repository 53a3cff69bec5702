/**
 * Protobuf codec of the IOAM API's messages (proto/ioam_api/), written by hand because two
 * revisions of `IOAMTrace` share one method path (`/ioam_api.IOAMService/Report`):
 *
 *   ioam_api.proto      NamespaceId = 1 (varint)   BitField = 2 (fixed32)   Nodes = 3 (message)
 *   ioam-clt_api.proto  TraceId_High = 1, TraceId_Low = 2, SpanId = 3 (fixed64 each),
 *                       NamespaceId = 4 (varint), BitField = 5 (fixed32), Nodes = 6 (message)
 *
 * Fields 1-3 have a different wire type in each revision, so every message says which one it is
 * (an empty message means the same in both). `IOAMNode` and `Opaque` are the same in both.
 * Decoding checks wire types and lengths and throws DecodeError; unknown fields are skipped, as
 * protobuf requires. The encoder is for tests and tools.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { DecodeError, errorMessage } from '../../core/errors.js';

/** Which revision of IOAMTrace a message used: `standard` (ioam_api.proto) or `clt` (ioam-clt_api.proto). */
export type IoamApiLayout = 'standard' | 'clt';

export interface IoamApiOpaque {
  SchemaId: number;
  Data: Uint8Array;
}

/** An IOAMNode as sent, proto3 defaults (0, empty bytes) for fields the agent left out. */
export interface IoamApiNode {
  HopLimit: number;
  Id: number;
  IngressId: number;
  EgressId: number;
  TimestampSecs: number;
  TimestampFrac: number;
  TransitDelay: number;
  QueueDepth: number;
  CsumComp: number;
  BufferOccupancy: number;
  IngressIdWide: number;
  EgressIdWide: number;
  IdWide: bigint;
  NamespaceData: Uint8Array;
  NamespaceDataWide: Uint8Array;
  /** Absent when the agent sent no Opaque message. */
  OSS?: IoamApiOpaque;
}

export interface IoamApiTrace {
  /** The revision the message was encoded with; `standard` for an empty message. */
  layout: IoamApiLayout;
  TraceId_High: bigint;
  TraceId_Low: bigint;
  SpanId: bigint;
  NamespaceId: number;
  BitField: number;
  Nodes: IoamApiNode[];
}

/** The uint32 fields of IOAMNode, by field number. */
const NODE_UINT32: Record<number, keyof IoamApiNode> = {
  1: 'HopLimit',
  2: 'Id',
  3: 'IngressId',
  4: 'EgressId',
  5: 'TimestampSecs',
  6: 'TimestampFrac',
  7: 'TransitDelay',
  8: 'QueueDepth',
  9: 'CsumComp',
  10: 'BufferOccupancy',
  11: 'IngressIdWide',
  12: 'EgressIdWide',
};

const WIRE_NAME: Record<number, string> = { 0: 'varint', 1: 'fixed64', 2: 'length-delimited', 5: 'fixed32' };

export function emptyNode(): IoamApiNode {
  return {
    HopLimit: 0,
    Id: 0,
    IngressId: 0,
    EgressId: 0,
    TimestampSecs: 0,
    TimestampFrac: 0,
    TransitDelay: 0,
    QueueDepth: 0,
    CsumComp: 0,
    BufferOccupancy: 0,
    IngressIdWide: 0,
    EgressIdWide: 0,
    IdWide: 0n,
    NamespaceData: new Uint8Array(0),
    NamespaceDataWide: new Uint8Array(0),
  };
}

function wrongWire(message: string, fieldNo: number, wireType: WireType, want: WireType): DecodeError {
  return new DecodeError(
    'IOAM_API_WIRE_TYPE',
    `${message} field ${fieldNo} is ${WIRE_NAME[wireType] ?? `wire type ${wireType}`}, want ${WIRE_NAME[want]}`,
    { fieldNo, wireType },
  );
}

function decodeOpaque(bytes: Uint8Array): IoamApiOpaque {
  const r = new BinaryReader(bytes);
  const oss: IoamApiOpaque = { SchemaId: 0, Data: new Uint8Array(0) };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) {
      if (wt !== WireType.Varint) throw wrongWire('Opaque', no, wt, WireType.Varint);
      oss.SchemaId = r.uint32();
    } else if (no === 2) {
      if (wt !== WireType.LengthDelimited) throw wrongWire('Opaque', no, wt, WireType.LengthDelimited);
      oss.Data = r.bytes();
    } else r.skip(wt, no);
  }
  return oss;
}

function decodeNode(bytes: Uint8Array): IoamApiNode {
  const r = new BinaryReader(bytes);
  const node = emptyNode();
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const u32 = NODE_UINT32[no];
    if (u32 !== undefined) {
      if (wt !== WireType.Varint) throw wrongWire('IOAMNode', no, wt, WireType.Varint);
      (node as unknown as Record<string, number>)[u32] = r.uint32();
    } else if (no === 13) {
      if (wt !== WireType.Varint) throw wrongWire('IOAMNode', no, wt, WireType.Varint);
      node.IdWide = BigInt(r.uint64());
    } else if (no === 14 || no === 15) {
      if (wt !== WireType.LengthDelimited) throw wrongWire('IOAMNode', no, wt, WireType.LengthDelimited);
      node[no === 14 ? 'NamespaceData' : 'NamespaceDataWide'] = r.bytes();
    } else if (no === 16) {
      if (wt !== WireType.LengthDelimited) throw wrongWire('IOAMNode', no, wt, WireType.LengthDelimited);
      node.OSS = decodeOpaque(r.bytes());
    } else r.skip(wt, no);
  }
  return node;
}

/** Field → (wire type → meaning) of both revisions of IOAMTrace. */
const TRACE_FIELDS: Record<number, Partial<Record<WireType, { layout?: IoamApiLayout; field: string }>>> = {
  1: { [WireType.Varint]: { layout: 'standard', field: 'NamespaceId' }, [WireType.Bit64]: { layout: 'clt', field: 'TraceId_High' } },
  2: { [WireType.Bit32]: { layout: 'standard', field: 'BitField' }, [WireType.Bit64]: { layout: 'clt', field: 'TraceId_Low' } },
  3: { [WireType.LengthDelimited]: { layout: 'standard', field: 'Nodes' }, [WireType.Bit64]: { layout: 'clt', field: 'SpanId' } },
  4: { [WireType.Varint]: { layout: 'clt', field: 'NamespaceId' } },
  5: { [WireType.Bit32]: { layout: 'clt', field: 'BitField' } },
  6: { [WireType.LengthDelimited]: { layout: 'clt', field: 'Nodes' } },
};

export interface DecodeLimits {
  /** Nodes beyond this many make the trace malformed (checked while decoding, before the nodes are built). */
  maxNodes: number;
}

/** Decodes one IOAMTrace of either revision; throws DecodeError (code IOAM_API_*) when it is not one. */
export function decodeIoamTrace(bytes: Uint8Array, limits: DecodeLimits): IoamApiTrace {
  const trace: IoamApiTrace = { layout: 'standard', TraceId_High: 0n, TraceId_Low: 0n, SpanId: 0n, NamespaceId: 0, BitField: 0, Nodes: [] };
  let layout: IoamApiLayout | undefined;
  try {
    const r = new BinaryReader(bytes);
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      const meaning = TRACE_FIELDS[no]?.[wt];
      if (!meaning) {
        if (TRACE_FIELDS[no]) {
          const wants = Object.keys(TRACE_FIELDS[no]!).map((w) => WIRE_NAME[Number(w)]);
          throw new DecodeError(
            'IOAM_API_WIRE_TYPE',
            `IOAMTrace field ${no} is ${WIRE_NAME[wt] ?? `wire type ${wt}`}, want ${wants.join(' or ')}`,
            { fieldNo: no, wireType: wt },
          );
        }
        r.skip(wt, no);
        continue;
      }
      if (meaning.layout) {
        if (layout !== undefined && layout !== meaning.layout)
          throw new DecodeError(
            'IOAM_API_MIXED_LAYOUT',
            `IOAMTrace mixes the ioam_api.proto and ioam-clt_api.proto layouts (field ${no} as ${meaning.field})`,
            { fieldNo: no },
          );
        layout = meaning.layout;
      }
      switch (meaning.field) {
        case 'NamespaceId':
          trace.NamespaceId = r.uint32();
          break;
        case 'BitField':
          trace.BitField = r.fixed32();
          break;
        case 'TraceId_High':
          trace.TraceId_High = BigInt(r.fixed64());
          break;
        case 'TraceId_Low':
          trace.TraceId_Low = BigInt(r.fixed64());
          break;
        case 'SpanId':
          trace.SpanId = BigInt(r.fixed64());
          break;
        case 'Nodes': {
          const nodeBytes = r.bytes();
          if (trace.Nodes.length >= limits.maxNodes)
            throw new DecodeError('IOAM_API_TOO_MANY_NODES', `IOAMTrace has more than ${limits.maxNodes} nodes`, {
              maxNodes: limits.maxNodes,
            });
          trace.Nodes.push(decodeNode(nodeBytes));
          break;
        }
      }
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    // The reader's own errors: a varint too long, a length past the end, a bad wire type.
    throw new DecodeError('IOAM_API_MALFORMED', `not an IOAMTrace: ${errorMessage(err)}`, {}, err);
  }
  trace.layout = layout ?? 'standard';
  return trace;
}

export type IoamApiTraceInit = Partial<Omit<IoamApiTrace, 'Nodes'>> & { Nodes?: Partial<IoamApiNode>[] };

/** Encodes an IOAMTrace in the given revision (fields with their proto3 default are left out, as protoc's code does). */
export function encodeIoamTrace(init: IoamApiTraceInit, layout: IoamApiLayout = init.layout ?? 'standard'): Uint8Array {
  const w = new BinaryWriter();
  const clt = layout === 'clt';
  if (clt) {
    if (init.TraceId_High) w.tag(1, WireType.Bit64).fixed64(init.TraceId_High);
    if (init.TraceId_Low) w.tag(2, WireType.Bit64).fixed64(init.TraceId_Low);
    if (init.SpanId) w.tag(3, WireType.Bit64).fixed64(init.SpanId);
  }
  if (init.NamespaceId) w.tag(clt ? 4 : 1, WireType.Varint).uint32(init.NamespaceId);
  if (init.BitField) w.tag(clt ? 5 : 2, WireType.Bit32).fixed32(init.BitField);
  for (const n of init.Nodes ?? []) w.tag(clt ? 6 : 3, WireType.LengthDelimited).bytes(encodeNode(n));
  return w.finish();
}

function encodeNode(n: Partial<IoamApiNode>): Uint8Array {
  const w = new BinaryWriter();
  for (const [no, key] of Object.entries(NODE_UINT32)) {
    const v = n[key] as number | undefined;
    if (v) w.tag(Number(no), WireType.Varint).uint32(v);
  }
  if (n.IdWide) w.tag(13, WireType.Varint).uint64(n.IdWide);
  if (n.NamespaceData?.length) w.tag(14, WireType.LengthDelimited).bytes(n.NamespaceData);
  if (n.NamespaceDataWide?.length) w.tag(15, WireType.LengthDelimited).bytes(n.NamespaceDataWide);
  if (n.OSS) {
    const o = new BinaryWriter();
    if (n.OSS.SchemaId) o.tag(1, WireType.Varint).uint32(n.OSS.SchemaId);
    if (n.OSS.Data.length) o.tag(2, WireType.LengthDelimited).bytes(n.OSS.Data);
    w.tag(16, WireType.LengthDelimited).bytes(o.finish());
  }
  return w.finish();
}
