/**
 * The decoder contract. Decoders are pure: bytes and the exporter's template state in, records
 * and typed issues out; no I/O, no logging. A bad set does not spoil the good sets around it:
 * what could be decoded is returned together with an issue saying where parsing stopped.
 */
import type { FieldValue, FlowRecord, FlowType, InterfaceCounters } from '../../../model/flow.js';
import type { RowWriter } from '../../../evidence/memory/rows.js';

export interface DecodeContext {
  /** The exporter as the receiver saw it (datagram source address, text). Templates are kept per exporter. */
  exporter: string;
  /** Keep every element in FlowRecord.fields (for `netspan decode` and OTLP logs); off for the evidence-only path. */
  keepAllFields: boolean;
  /**
   * When the datagram was received, Unix nanoseconds. sFlow carries no wall-clock time (only the
   * agent's uptime), so its records are stamped with this; other formats may ignore it.
   */
  receivedAtUnixNano?: bigint;
  /**
   * The evidence path without objects: NetFlow/IPFIX flows are written here as evidence store rows
   * (the rows packFlows would make of the records) instead of into DecodeOutput.records. Only
   * without keepAllFields. Options records, issues and counters are unchanged.
   */
  rows?: RowWriter;
}

export type DecodeIssueCode =
  /** Fewer bytes than a header, set or record needs. */
  | 'TRUNCATED'
  /** A length field that is impossible (past the end, shorter than its header, zero where it must not be). */
  | 'BAD_LENGTH'
  /** A version this decoder does not handle. */
  | 'BAD_VERSION'
  /** A template or options template that cannot be used (zero fields, bad field length, ...). */
  | 'BAD_TEMPLATE'
  /** Data for a template not (yet) known: held for a while or dropped, and counted. A soft error. */
  | 'MISSING_TEMPLATE'
  /** Anything else malformed in a record. */
  | 'MALFORMED';

export interface DecodeIssue {
  code: DecodeIssueCode;
  message: string;
  /** Byte offset in the datagram where parsing stopped. */
  offset: number;
  /** Set id / template id / sample type where it applies. */
  context?: Record<string, number | string>;
}

export interface DecodeOutput {
  records: FlowRecord[];
  /** sFlow counter samples (generic interface counters). */
  counters: InterfaceCounters[];
  issues: DecodeIssue[];
  /**
   * NetFlow v9 / IPFIX options data records (sampler settings, interface names, exporter statistics):
   * not flows, so not in `records`; the decoder also keeps what it needs of them in its template state.
   */
  options?: OptionsRecord[];
}

/** One data record of an options template (RFC 3954 §6.1, RFC 7011 §3.4.2.2). */
export interface OptionsRecord {
  type: FlowType;
  samplerAddress: string;
  observationDomainId: number;
  templateId: number;
  sequenceNumber: number;
  exportTimeUnixNano: bigint;
  /** The scope fields (what the options describe: the system, an interface, a sampler, ...). */
  scope: Record<string, FieldValue>;
  /** The other fields, by registry name. */
  fields: Record<string, FieldValue>;
  /**
   * How many flow records of the same output precede this one, so options and flows can be listed in wire order.
   * With DecodeContext.rows the flows are not in the output; it then counts those before it in the output only (none).
   */
  flowIndex: number;
}
