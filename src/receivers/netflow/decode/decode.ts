/**
 * The NetFlow/IPFIX decoder: one datagram (or one IPFIX message stream chunk) in, flow records and issues
 * out. Pure apart from the TemplateState it is given; never throws on bad input.
 */
import { decodeIpfix } from './ipfix.js';
import { issue, newOutput } from './sets.js';
import type { TemplateState } from './templates.js';
import type { DecodeContext, DecodeOutput } from './types.js';
import { decodeV5 } from './v5.js';
import { decodeV9 } from './v9.js';

/** Message of the issue returned if a decoder bug ever throws (the fuzz test asserts it never appears). */
export const INTERNAL_ERROR_MESSAGE = 'internal decoder error';

/** Decodes a NetFlow v5, v9 or IPFIX datagram, dispatching on its version field. */
export function decodeNetflow(bytes: Uint8Array, ctx: DecodeContext, state: TemplateState): DecodeOutput {
  const out = newOutput();
  const rowsBefore = ctx.rows && !ctx.keepAllFields ? ctx.rows.records : 0;
  state.stats.packets++;
  if (state.heldSetsWaiting > 0) state.expireHeld();
  try {
    if (bytes.length < 2) {
      issue(out, 'TRUNCATED', `datagram of ${bytes.length} bytes has no version field`, 0);
    } else {
      const version = ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0);
      switch (version) {
        case 5:
          decodeV5(bytes, ctx, state, out);
          break;
        case 9:
          decodeV9(bytes, ctx, state, out);
          break;
        case 10:
          decodeIpfix(bytes, ctx, state, out);
          break;
        default:
          issue(out, 'BAD_VERSION', `version ${version} is not NetFlow v5, v9 or IPFIX`, 0, { version });
      }
    }
  } catch (err) {
    // a safety net for a network-facing decoder: keep what was decoded, report where we were
    issue(out, 'MALFORMED', `${INTERNAL_ERROR_MESSAGE}: ${err instanceof Error ? err.message : String(err)}`, 0);
  }
  state.stats.records += out.records.length + (ctx.rows && !ctx.keepAllFields ? ctx.rows.records - rowsBefore : 0);
  state.stats.optionsRecords += out.options.length;
  state.stats.issues += out.issues.length;
  return out;
}
