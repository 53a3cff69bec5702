/**
 * Matching: which of the flows found for a connection's quartet in the window belong to the
 * session a span saw. The window (span ± `window`) is wide on purpose, to find flows whose
 * coarse times or skewed device clocks put them beside the span; it therefore also finds other
 * sessions that reused the same ephemeral port (the thesis attached those, putting spans of
 * other sessions into one trace). Here every flow is a candidate, and only the session that
 * overlaps the span is attached; the rest are rejected and counted, never attached.
 *
 * Per stream (one exporting device, one direction), flows in start order:
 *  1. TCP flags, where exported, are trusted over time tolerances: a flow with SYN that starts
 *     after the span ended (beyond its own time resolution) opened a later session; a flow with
 *     FIN or RST that ended before the span started closed an earlier one. Both are rejected.
 *  2. The rest is cut into sessions: a new one starts at a flow with SYN, after a flow with FIN
 *     or RST, or after a gap (a flow starting after the session's last end, beyond resolution).
 *     Flows split by an active timeout follow each other without a gap and stay one session.
 *  3. A session is attached when its time, widened by the flows' resolution and `clock_skew`,
 *     overlaps the span. When several are, and some of them overlap it even without the
 *     clock_skew allowance, only those are attached.
 * Flows whose times are coarser than the gaps between sessions (1 s timestamps) cannot be told
 * apart by time; then every such session overlaps and is attached (the flags still help).
 */
import type { FlowRecord } from '../../model/flow.js';
import { nanoToMicros, resolutionMicros, type ConnectionDirection, type FlowMatch } from '../../evidence/store.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;

/** The attached flows of one exporting device in one direction. */
export interface FlowGroup {
  /** The exporter's address in canonical form. */
  exporter: string;
  direction: ConnectionDirection;
  /** In start order. */
  flows: FlowRecord[];
}

export interface Selection {
  /** In order of their first flow. */
  groups: FlowGroup[];
  /** Candidates found in the window but not attached (other sessions). */
  rejected: number;
}

interface Timed {
  flow: FlowRecord;
  startUs: number;
  endUs: number;
  resUs: number;
}

interface Session {
  flows: Timed[];
  startUs: number;
  endUs: number;
  resUs: number;
  closed: boolean;
}

/**
 * Splits `matches` (one connection's, in the store's start order) into attached groups and
 * rejected candidates, for a span from spanStartUs to spanEndUs (whole microseconds).
 * `exporterOf` gives the canonical exporter address of a flow's samplerAddress.
 */
export function selectFlows(
  matches: readonly FlowMatch[],
  spanStartUs: number,
  spanEndUs: number,
  clockSkewUs: number,
  exporterOf: (samplerAddress: string) => string,
): Selection {
  const streams = new Map<string, { exporter: string; direction: ConnectionDirection; flows: Timed[] }>();
  for (const m of matches) {
    const exporter = exporterOf(m.flow.samplerAddress);
    const key = `${m.direction}|${exporter}`;
    let stream = streams.get(key);
    if (!stream) {
      stream = { exporter, direction: m.direction, flows: [] };
      streams.set(key, stream);
    }
    const startUs = nanoToMicros(m.flow.startUnixNano);
    const endUs = Math.max(startUs, nanoToMicros(m.flow.endUnixNano));
    stream.flows.push({ flow: m.flow, startUs, endUs, resUs: resolutionMicros(m.flow.timeResolutionNano) });
  }

  const groups: FlowGroup[] = [];
  let rejected = 0;
  for (const stream of streams.values()) {
    const kept = attach(stream.flows, spanStartUs, spanEndUs, clockSkewUs);
    rejected += stream.flows.length - kept.length;
    if (kept.length > 0) groups.push({ exporter: stream.exporter, direction: stream.direction, flows: kept.map((t) => t.flow) });
  }
  return { groups, rejected };
}

function flags(t: Timed): number {
  return t.flow.protocol === 6 ? t.flow.tcpFlags : 0;
}

/** The flows of one stream that belong to the span's session. */
function attach(flows: Timed[], spanStartUs: number, spanEndUs: number, skewUs: number): Timed[] {
  flows.sort((a, b) => a.startUs - b.startUs || a.endUs - b.endUs);
  const sessions: Session[] = [];
  let current: Session | undefined;
  for (const t of flows) {
    const f = flags(t);
    // 1. Flags say it is another session, whatever the clocks.
    if (f & TCP_SYN && t.startUs - t.resUs > spanEndUs) continue;
    if (f & (TCP_FIN | TCP_RST) && t.endUs + t.resUs < spanStartUs) continue;
    // 2. Sessions.
    const gap = current !== undefined && t.startUs - t.resUs > current.endUs + current.resUs;
    if (!current || f & TCP_SYN || current.closed || gap) {
      current = { flows: [], startUs: t.startUs, endUs: t.endUs, resUs: t.resUs, closed: false };
      sessions.push(current);
    }
    current.flows.push(t);
    if (t.startUs < current.startUs) current.startUs = t.startUs;
    if (t.endUs > current.endUs) current.endUs = t.endUs;
    if (t.resUs > current.resUs) current.resUs = t.resUs;
    if (f & (TCP_FIN | TCP_RST)) current.closed = true;
  }
  // 3. Overlap with the span: with the clock skew allowance, and without it.
  const loose: Session[] = [];
  let strict = 0;
  for (const s of sessions) {
    const widen = s.resUs + skewUs;
    if (s.startUs - widen > spanEndUs || s.endUs + widen < spanStartUs) continue;
    loose.push(s);
    if (!(s.startUs - s.resUs > spanEndUs || s.endUs + s.resUs < spanStartUs)) strict++;
  }
  const chosen =
    strict > 0 && strict < loose.length
      ? loose.filter((s) => !(s.startUs - s.resUs > spanEndUs || s.endUs + s.resUs < spanStartUs))
      : loose;
  if (chosen.length === 1) return chosen[0]!.flows;
  const out: Timed[] = [];
  for (const s of chosen) for (const t of s.flows) out.push(t);
  out.sort((a, b) => a.startUs - b.startUs || a.endUs - b.endUs);
  return out;
}
