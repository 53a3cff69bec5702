/**
 * NetFlow v5/v9 and IPFIX decoding: `decodeNetflow(bytes, ctx, state)` turns one datagram into flow
 * records, options records and typed issues; a TemplateState per receiver carries templates, options and
 * counters across datagrams.
 */
export { decodeNetflow, INTERNAL_ERROR_MESSAGE } from './decode.js';
export { TemplateState, TEMPLATE_STATE_DEFAULTS, type DecodeStats, type TemplateStateOptions } from './templates.js';
export { RESOLUTION, type TemplatePlan } from './plan.js';
export { ipfixElement, netflowV9Field, netflowV9Scope, REVERSE_PEN, type IeDef, type V9FieldDef } from './registry.js';
export { IeType, IE_TYPE_NAMES } from './ie-types.js';
export type { DecodeContext, DecodeIssue, DecodeIssueCode, DecodeOutput, OptionsRecord } from './types.js';
