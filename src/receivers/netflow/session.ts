/**
 * A decoder session: one template state and the decoder for a scheme, as a function of
 * (exporter, receive time, bytes). A worker owns one; `netspan decode` uses one per run.
 */
import { decodeNetflow } from './decode/decode.js';
import { TemplateState } from './decode/templates.js';
import { decodeSflow } from './sflow/decode.js';
import type { DecodeOutput } from './decode/types.js';
import type { RowWriter } from '../../evidence/memory/rows.js';

export type DecoderSession = (exporter: string, receivedAtMs: number, bytes: Uint8Array) => DecodeOutput;

/**
 * With `rows` (NetFlow/IPFIX, not keepAllFields) flows are written there as evidence store rows
 * instead of being returned as records (DecodeContext.rows); sFlow ignores it.
 */
export function createDecoderSession(scheme: 'netflow' | 'sflow', keepAllFields: boolean, rows?: RowWriter): DecoderSession {
  if (scheme === 'sflow')
    return (exporter, receivedAtMs, bytes) =>
      decodeSflow(bytes, { exporter, keepAllFields, receivedAtUnixNano: BigInt(Math.round(receivedAtMs)) * 1_000_000n });
  const state = new TemplateState();
  // NetFlow and IPFIX carry their own export time and ignore the receive time: no BigInt per datagram
  return (exporter, _receivedAtMs, bytes) => decodeNetflow(bytes, { exporter, keepAllFields, rows }, state);
}
