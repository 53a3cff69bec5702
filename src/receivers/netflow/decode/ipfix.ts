/**
 * IPFIX (RFC 7011): a 16-byte message header, then sets: 2 templates, 3 options templates, >= 256 data.
 * Field specifiers with the enterprise bit carry a PEN; length 65535 marks variable-length elements.
 * One message per call: bytes after it are reported, not decoded (as for v5; logstash does the same).
 */
import type { TemplateFieldSpec } from './plan.js';
import { ipfixElement } from './registry.js';
import { dataSet, defineTemplate, issue, packetContext, type Output, type SetContext } from './sets.js';
import { templateKey, type TemplateState } from './templates.js';
import type { DecodeContext } from './types.js';

const HEADER_LENGTH = 16;
const SET_HEADER_LENGTH = 4;
const TEMPLATE_SET = 2;
const OPTIONS_TEMPLATE_SET = 3;
const FIRST_DATA_SET = 256;
const ENTERPRISE_BIT = 0x8000;

export function decodeIpfix(bytes: Uint8Array, ctx: DecodeContext, state: TemplateState, out: Output): void {
  if (bytes.length < HEADER_LENGTH) {
    issue(out, 'TRUNCATED', `IPFIX message header needs ${HEADER_LENGTH} bytes, datagram has ${bytes.length}`, 0);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint16(2);
  if (length < HEADER_LENGTH) {
    issue(out, 'BAD_LENGTH', `IPFIX message length ${length} is shorter than its header`, 2);
    return;
  }
  let end = length;
  if (end > bytes.length) {
    issue(out, 'TRUNCATED', `IPFIX message of ${length} bytes, datagram has ${bytes.length}`, 2);
    end = bytes.length;
  } else if (end < bytes.length) {
    // one message per datagram (RFC 7011 §10.3.3); a stream transport frames messages before decoding
    issue(out, 'BAD_LENGTH', `${bytes.length - end} bytes after the ${length}-byte message (concatenated datagrams?) not decoded`, end);
  }
  decodeMessage(bytes, view, end, ctx, state, out);
}

/** One message, bytes 0 to `end` (its length, or what the datagram holds of it): nothing past `end` is read. */
function decodeMessage(bytes: Uint8Array, view: DataView, end: number, ctx: DecodeContext, state: TemplateState, out: Output): void {
  const exportSeconds = view.getUint32(4);
  const sequence = view.getUint32(8);
  const domainId = view.getUint32(12);
  const exp = state.exporter(ctx.exporter);
  const packet = packetContext(state, exp, ctx, 10, domainId, sequence, exportSeconds * 1000, -1);
  const sc: SetContext = { state, bytes, view, exp, packet, version: 10, ctx, out };

  let dataRecords = 0;
  let countKnown = true;
  let pos = HEADER_LENGTH;
  while (pos < end) {
    if (end - pos < SET_HEADER_LENGTH) {
      issue(out, 'BAD_LENGTH', `${end - pos} bytes left in the message, too few for a set header`, pos);
      break;
    }
    const setId = view.getUint16(pos);
    const setLength = view.getUint16(pos + 2);
    if (setLength < SET_HEADER_LENGTH) {
      issue(out, 'BAD_LENGTH', `set ${setId} has length ${setLength}`, pos + 2, { setId });
      countKnown = false;
      break;
    }
    let setEnd = pos + setLength;
    const truncated = setEnd > end;
    if (truncated) {
      issue(out, 'TRUNCATED', `set ${setId} of ${setLength} bytes runs past the end of the message`, pos, { setId });
      setEnd = end;
    }
    const bodyOffset = pos + SET_HEADER_LENGTH;
    if (setId === TEMPLATE_SET || setId === OPTIONS_TEMPLATE_SET) {
      // template sets get a sub-view; data sets, the bulk, are read within their bounds of the message's view
      const body = bytes.subarray(bodyOffset, setEnd);
      if (body.length !== setEnd - bodyOffset) break; // subarray clamps; cannot happen after the checks above
      templateSet(sc, body, bodyOffset, setId === OPTIONS_TEMPLATE_SET);
    } else if (setId >= FIRST_DATA_SET) {
      const n = dataSet(sc, setId, bodyOffset, setEnd);
      if (n < 0) countKnown = false;
      else dataRecords += n;
    } else {
      issue(out, 'MALFORMED', `reserved set id ${setId} skipped`, pos, { setId });
    }
    if (truncated) {
      countKnown = false;
      break;
    }
    pos = setEnd;
  }
  // IPFIX sequence numbers count data records (options data included) before this message
  state.trackSequence(packet.domain, sequence, countKnown ? dataRecords : -1);
}

/** Where the field specifiers of a template record end, or -1 if they run past `limit`. */
function specifiersEnd(view: DataView, at: number, count: number, limit: number): number {
  let p = at;
  for (let i = 0; i < count; i++) {
    if (p + 4 > limit) return -1;
    p += view.getUint16(p) & ENTERPRISE_BIT ? 8 : 4;
  }
  return p > limit ? -1 : p;
}

function fieldSpecs(view: DataView, at: number, count: number): TemplateFieldSpec[] {
  const specs: TemplateFieldSpec[] = [];
  let p = at;
  for (let i = 0; i < count; i++) {
    const id = view.getUint16(p);
    const length = view.getUint16(p + 2);
    if (id & ENTERPRISE_BIT) {
      specs.push({ def: ipfixElement(view.getUint32(p + 4), id & ~ENTERPRISE_BIT), length });
      p += 8;
    } else {
      specs.push({ def: ipfixElement(0, id), length });
      p += 4;
    }
  }
  return specs;
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function templateSet(sc: SetContext, body: Uint8Array, bodyOffset: number, options: boolean): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const { state, exp, packet, out } = sc;
  const setId = options ? OPTIONS_TEMPLATE_SET : TEMPLATE_SET;
  let p = 0;
  while (body.length - p >= 4) {
    const templateId = view.getUint16(p);
    const fieldCount = view.getUint16(p + 2);
    if (fieldCount === 0) {
      // RFC 7011 §8.1: a withdrawal; the set id as template id withdraws all of that kind
      if (templateId === setId) state.withdrawAll(exp, 10, packet.domainId, options);
      else if (templateId >= FIRST_DATA_SET) state.withdrawTemplate(exp, templateKey(10, packet.domainId, templateId));
      else if (templateId === 0 && allZero(body, p))
        return; // padding
      else issue(out, 'BAD_TEMPLATE', `withdrawal of reserved template id ${templateId}`, bodyOffset + p, { templateId });
      p += 4;
      continue;
    }
    const headerLength = options ? 6 : 4;
    if (body.length - p < headerLength) {
      issue(out, 'TRUNCATED', `options template ${templateId} header runs past the end of its set`, bodyOffset + p, { templateId });
      return;
    }
    const scopeCount = options ? view.getUint16(p + 4) : 0;
    const end = specifiersEnd(view, p + headerLength, fieldCount, body.length);
    if (end < 0) {
      issue(out, 'TRUNCATED', `template ${templateId} with ${fieldCount} fields runs past the end of its set`, bodyOffset + p, {
        templateId,
      });
      return;
    }
    const bad =
      templateId < FIRST_DATA_SET
        ? `template id ${templateId} is reserved (< 256)`
        : options && (scopeCount === 0 || scopeCount > fieldCount)
          ? `options template scope field count ${scopeCount} of ${fieldCount} fields`
          : undefined;
    if (bad) {
      state.stats.badTemplates++;
      issue(out, 'BAD_TEMPLATE', bad, bodyOffset + p, { templateId });
    } else {
      const at = p + headerLength;
      defineTemplate(sc, templateId, body.subarray(p, end), scopeCount, options, () => fieldSpecs(view, at, fieldCount), bodyOffset + p);
    }
    p = end;
  }
}
