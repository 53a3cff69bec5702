/**
 * NetFlow v9 (RFC 3954): a 20-byte header, then flowsets: 0 templates, 1 options templates, >= 256 data.
 * The header's record count is not trusted (exporters get it wrong); flowsets are read to the end of the
 * datagram, and trailing zero bytes (Palo Alto pads datagrams with them) end the packet quietly.
 */
import type { TemplateFieldSpec } from './plan.js';
import { netflowV9Field, netflowV9Scope } from './registry.js';
import { dataSet, defineTemplate, issue, packetContext, type Output, type SetContext } from './sets.js';
import type { TemplateState } from './templates.js';
import type { DecodeContext } from './types.js';

const HEADER_LENGTH = 20;
const SET_HEADER_LENGTH = 4;
const TEMPLATE_SET = 0;
const OPTIONS_TEMPLATE_SET = 1;
const FIRST_DATA_SET = 256;

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function decodeV9(bytes: Uint8Array, ctx: DecodeContext, state: TemplateState, out: Output): void {
  if (bytes.length < HEADER_LENGTH) {
    issue(out, 'TRUNCATED', `NetFlow v9 header needs ${HEADER_LENGTH} bytes, datagram has ${bytes.length}`, 0);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sysUptimeMs = view.getUint32(4);
  const unixSeconds = view.getUint32(8);
  const sequence = view.getUint32(12);
  const sourceId = view.getUint32(16);
  const exp = state.exporter(ctx.exporter);
  const packet = packetContext(state, exp, ctx, 9, sourceId, sequence, unixSeconds * 1000, sysUptimeMs);
  const sc: SetContext = { state, bytes, view, exp, packet, version: 9, ctx, out };

  let pos = HEADER_LENGTH;
  while (pos < bytes.length) {
    if (bytes.length - pos < SET_HEADER_LENGTH || view.getUint16(pos + 2) < SET_HEADER_LENGTH) {
      if (!allZero(bytes, pos, bytes.length)) {
        issue(out, 'BAD_LENGTH', `flowset header at ${pos} is shorter than 4 bytes or has a length below 4`, pos);
      }
      break;
    }
    const setId = view.getUint16(pos);
    const setLength = view.getUint16(pos + 2);
    let setEnd = pos + setLength;
    const truncated = setEnd > bytes.length;
    if (truncated) {
      issue(out, 'TRUNCATED', `flowset ${setId} of ${setLength} bytes runs past the end of the datagram`, pos, { setId });
      setEnd = bytes.length;
    }
    const bodyOffset = pos + SET_HEADER_LENGTH;
    // data sets, the bulk, are read within their bounds of the datagram's view; template sets get a sub-view
    if (setId >= FIRST_DATA_SET) dataSet(sc, setId, bodyOffset, setEnd);
    else if (setId === TEMPLATE_SET || setId === OPTIONS_TEMPLATE_SET) {
      const body = bytes.subarray(bodyOffset, setEnd);
      if (body.length !== setEnd - bodyOffset) break; // subarray clamps; cannot happen after the checks above
      if (setId === TEMPLATE_SET) templateFlowset(sc, body, bodyOffset);
      else optionsTemplateFlowset(sc, body, bodyOffset);
    } else issue(out, 'MALFORMED', `reserved flowset id ${setId} skipped`, pos, { setId });
    if (truncated) break;
    pos = setEnd;
  }
  state.trackSequence(packet.domain, sequence, 1); // v9 sequence numbers count export packets
}

function templateFlowset(sc: SetContext, body: Uint8Array, bodyOffset: number): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let p = 0;
  while (body.length - p >= 4) {
    const templateId = view.getUint16(p);
    const fieldCount = view.getUint16(p + 2);
    if (templateId === 0 && fieldCount === 0 && allZero(body, p, body.length)) return; // padding
    const recordLength = 4 + 4 * fieldCount;
    if (p + recordLength > body.length) {
      issue(sc.out, 'TRUNCATED', `template ${templateId} with ${fieldCount} fields runs past the end of its flowset`, bodyOffset + p, {
        templateId,
      });
      return;
    }
    if (unusableTemplate(sc, 'template', templateId, fieldCount, bodyOffset + p)) {
      p += recordLength;
      continue;
    }
    const start = p;
    defineTemplate(
      sc,
      templateId,
      body.subarray(start, start + recordLength),
      0,
      false,
      () => fieldSpecs(view, start + 4, fieldCount, 0),
      bodyOffset + p,
    );
    p += recordLength;
  }
}

/** A (options) template without fields or with a reserved id: counted and reported; true when it must be skipped. */
function unusableTemplate(
  sc: SetContext,
  kind: 'template' | 'options template',
  templateId: number,
  fieldCount: number,
  offset: number,
): boolean {
  if (fieldCount > 0 && templateId >= FIRST_DATA_SET) return false;
  sc.state.stats.badTemplates++;
  issue(sc.out, 'BAD_TEMPLATE', fieldCount === 0 ? `${kind} has no fields` : `template id ${templateId} is reserved (< 256)`, offset, {
    templateId,
  });
  return true;
}

/** `count` (type, length) pairs from `at`; the first `scopeCount` are option scope fields. */
function fieldSpecs(view: DataView, at: number, count: number, scopeCount: number): TemplateFieldSpec[] {
  const specs: TemplateFieldSpec[] = [];
  for (let i = 0; i < count; i++) {
    const type = view.getUint16(at + 4 * i);
    specs.push({ def: i < scopeCount ? netflowV9Scope(type) : netflowV9Field(type), length: view.getUint16(at + 4 * i + 2) });
  }
  return specs;
}

function optionsTemplateFlowset(sc: SetContext, body: Uint8Array, bodyOffset: number): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let p = 0;
  while (body.length - p >= 6) {
    const templateId = view.getUint16(p);
    const scopeLength = view.getUint16(p + 2);
    const optionLength = view.getUint16(p + 4);
    if (templateId === 0 && scopeLength === 0 && optionLength === 0 && allZero(body, p, body.length)) return; // padding
    if (scopeLength % 4 !== 0 || optionLength % 4 !== 0) {
      sc.state.stats.badTemplates++;
      issue(
        sc.out,
        'BAD_TEMPLATE',
        `options template ${templateId}: scope/option lengths ${scopeLength}/${optionLength} are not multiples of 4`,
        bodyOffset + p,
        {
          templateId,
        },
      );
      return;
    }
    const recordLength = 6 + scopeLength + optionLength;
    if (p + recordLength > body.length) {
      issue(sc.out, 'TRUNCATED', `options template ${templateId} runs past the end of its flowset`, bodyOffset + p, { templateId });
      return;
    }
    const scopeCount = scopeLength / 4;
    const count = scopeCount + optionLength / 4;
    if (unusableTemplate(sc, 'options template', templateId, count, bodyOffset + p)) {
      p += recordLength;
      continue;
    }
    const start = p;
    defineTemplate(
      sc,
      templateId,
      body.subarray(start, start + recordLength),
      scopeCount,
      true,
      () => fieldSpecs(view, start + 6, count, scopeCount),
      bodyOffset + p,
    );
    p += recordLength;
  }
}
