/**
 * Set-level handling shared by NetFlow v9 and IPFIX once their (different) set headers and template
 * record layouts are parsed: defining templates (a refresh with the same bytes is not recompiled), data
 * sets with or without their template (held until it arrives), and decoding held sets.
 */
import type { FlowType } from '../../../model/flow.js';
import { compileTemplate, decodeDataSet, type PacketContext, type TemplateFieldSpec, type TemplatePlan } from './plan.js';
import { templateKey, type ExporterState, type HeldSet, type TemplateState } from './templates.js';
import type { DecodeContext, DecodeIssue, DecodeOutput, OptionsRecord } from './types.js';
import { unixNanos } from './values.js';

/** A DecodeOutput whose options list is always there (the v9/IPFIX decoders fill it). */
export type Output = DecodeOutput & { options: OptionsRecord[] };

/** Everything a set needs: the state, the packet it came in, and where results go. */
export interface SetContext {
  readonly state: TemplateState;
  /** The datagram (or IPFIX message) and a view of all of it; data sets are read within their bounds. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly exp: ExporterState;
  readonly packet: PacketContext;
  readonly version: 9 | 10;
  readonly ctx: DecodeContext;
  readonly out: Output;
}

export function issue(
  out: DecodeOutput,
  code: DecodeIssue['code'],
  message: string,
  offset: number,
  context?: DecodeIssue['context'],
): void {
  out.issues.push(context === undefined ? { code, message, offset } : { code, message, offset, context });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Defines (or refreshes) a template from its wire record. `specs` is only called when the bytes differ
 * from the template already known, so periodic refreshes cost a comparison, not a compilation.
 */
export function defineTemplate(
  sc: SetContext,
  templateId: number,
  wire: Uint8Array,
  scopeCount: number,
  options: boolean,
  specs: () => TemplateFieldSpec[],
  offset: number,
): void {
  const { state, exp, packet } = sc;
  const key = templateKey(sc.version, packet.domainId, templateId);
  const known = state.getTemplate(exp, key);
  if (known && known.options === options && sameBytes(known.wire, wire)) {
    state.touchTemplate(exp, key, known);
    return;
  }
  const plan = compileTemplate(sc.version, packet.domainId, templateId, specs(), scopeCount, options, wire.slice());
  if (typeof plan === 'string') {
    state.stats.badTemplates++;
    // a template that cannot be used replaces nothing, but the old definition is stale now
    if (known) state.withdrawTemplate(exp, key);
    issue(sc.out, 'BAD_TEMPLATE', plan, offset, { templateId });
    return;
  }
  state.putTemplate(exp, key, plan);
  for (const held of state.takeHeld(exp, key)) decodeHeld(sc, plan, held, offset);
}

function packetTypeOf(version: 9 | 10): FlowType {
  return version === 9 ? 'netflow_v9' : 'ipfix';
}

/** Builds the packet context of a header (for a fresh packet or a held set). */
export function packetContext(
  state: TemplateState,
  exp: ExporterState,
  ctx: DecodeContext,
  version: 9 | 10,
  domainId: number,
  sequenceNumber: number,
  exportMs: number,
  sysUptimeMs: number,
): PacketContext {
  return {
    type: packetTypeOf(version),
    exporter: ctx.exporter,
    domainId,
    sequenceNumber,
    exportMs,
    exportTimeUnixNano: unixNanos(exportMs, 0),
    sysUptimeMs,
    // v9's header time is whole seconds, so times anchored on its sysUptime are only good to a second
    uptimeResolution: 1e9,
    domain: state.domain(exp, version, domainId),
    keepAllFields: ctx.keepAllFields,
    rows: ctx.keepAllFields ? undefined : ctx.rows,
    exportUs: exportMs * 1000,
  };
}

/** Decodes a held set now that its template (defined at `offset` of this datagram) is known. */
function decodeHeld(sc: SetContext, plan: TemplatePlan, held: HeldSet, offset: number): void {
  const h = held.header;
  const packet = packetContext(sc.state, sc.exp, sc.ctx, h.version, h.domainId, h.sequenceNumber, h.exportMs, h.sysUptimeMs);
  const body = held.body;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const result = decodeDataSet(plan, body, view, 0, body.length, held.offset, packet, sc.out.records, sc.out.options);
  if (result.issue) {
    // the set came in an earlier datagram: the issue points at the template that released it, and says
    // where in that earlier datagram parsing stopped
    result.issue.context = { ...result.issue.context, heldFromSequence: h.sequenceNumber, heldOffset: result.issue.offset };
    result.issue.offset = offset;
    sc.out.issues.push(result.issue);
  }
}

/**
 * A data set, bytes `start` (its body, after the set header) to `end` of the datagram: decoded with its
 * template, or held for it. Returns the data records decoded, -1 when the template is missing (the
 * count is then unknown, which matters to IPFIX sequence tracking).
 */
export function dataSet(sc: SetContext, templateId: number, start: number, end: number): number {
  const { state, exp, packet } = sc;
  const key = templateKey(sc.version, packet.domainId, templateId);
  const plan = state.getTemplate(exp, key);
  if (plan) {
    const result = decodeDataSet(plan, sc.bytes, sc.view, start, end, 0, packet, sc.out.records, sc.out.options);
    if (result.issue) sc.out.issues.push(result.issue);
    return result.records;
  }
  state.stats.missingTemplate++;
  const held = state.hold(exp, {
    templateKey: key,
    templateId,
    header: {
      version: sc.version,
      domainId: packet.domainId,
      sequenceNumber: packet.sequenceNumber,
      exportMs: packet.exportMs,
      sysUptimeMs: packet.sysUptimeMs,
    },
    body: sc.bytes.subarray(start, end),
    offset: start,
  });
  issue(
    sc.out,
    'MISSING_TEMPLATE',
    `no template ${templateId} (yet) for domain ${packet.domainId}: ${held ? 'held' : 'dropped'}`,
    start - 4,
    {
      templateId,
      held: held ? 1 : 0,
    },
  );
  return -1;
}

/** A fresh output. */
export function newOutput(): Output {
  return { records: [], counters: [], issues: [], options: [] };
}
