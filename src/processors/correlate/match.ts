/**
 * Matching: which of the flows found for a connection's quartet in the window belong to the
 * session a span saw. The window (span ± `window`) is wide on purpose, to find flows whose
 * coarse times or skewed device clocks put them beside the span; it therefore also finds other
 * sessions that reused the same ephemeral port (the thesis attached those, putting spans of
 * other sessions into one trace). Here every flow is a candidate, and a device's flows are
 * attached only when exactly one session of the quartet fits the span; the rest are rejected
 * and counted, never attached. Zero wrong attachments comes before completeness: when the
 * flows cannot say which session is the span's, nothing is attached for that device and
 * direction.
 *
 * Per stream (one exporting device, one direction), and within it per observation point (the
 * observation domain and the flowDirection, ingress or egress: a device that meters a
 * connection at two points exports it twice), flows in start order:
 *  1. TCP flags, where exported, are trusted over time tolerances: a flow with SYN that starts
 *     after the span ended (beyond its own time resolution) opened a later session; a flow with
 *     FIN or RST that ended before the span started closed an earlier one. Both are rejected.
 *  2. The rest is cut into sessions. A flow continues the current session only when something
 *     proves it is the same connection:
 *       - it overlaps the session in time beyond both resolutions (one quartet cannot carry
 *         two connections at once), or
 *       - TCP flags are exported on every flow, none of them sampled (a sampled flow may miss
 *         its SYN), the session has seen no FIN or RST, and the flow has no SYN: it continues
 *         a connection that was open, whatever the gap (an active timeout split, an idle gap).
 *     Anything else starts a new session: a SYN, a flow after FIN/RST, and also a flow that
 *     merely follows the last one within the resolution, without flags to tell (an active
 *     timeout split and a port reused a moment later look the same then).
 *  3. A session fits the span when its time, widened by its flows' resolution and by
 *     `clock_skew`, overlaps the span. Exactly one fitting session: it is attached, whole. More
 *     than one: they cannot be told apart (by flags, or by time at that resolution and skew),
 *     so NONE is attached; the stream is ambiguous. A device whose observation points each
 *     hold one fitting session is attached only when those sessions overlap each other
 *     (within resolution): one clock, one connection.
 * Ambiguous flows are counted (Selection.ambiguous) apart from the other rejected ones.
 *
 * Limits: a stream is judged on its own. When a device did not export the span's own session
 * (loss, sampling, a filter) but exported exactly one neighbouring session within the
 * tolerances, that session is attached; the rule cannot see a session that is not there. An
 * exporter whose flow cache merged two sessions into one record (port reused before the entry
 * expired) reports them as one flow.
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
  /** Candidates found in the window but not attached (other sessions, and ambiguous ones). */
  rejected: number;
  /**
   * Of the rejected: flows of sessions that did fit the span, left out because more than one
   * session fitted in their device and direction (they cannot be told apart).
   */
  ambiguous: number;
  /** Device/direction streams left without a span for that reason. */
  ambiguousStreams: number;
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
  /** A flow with FIN or RST was seen. */
  closed: boolean;
  /** Every flow so far carries TCP flags that can prove continuity (see trustsFlags). */
  trusted: boolean;
}

interface Stream {
  exporter: string;
  direction: ConnectionDirection;
  /** Flows by observation point (observation domain | flowDirection). */
  points: Map<string, Timed[]>;
  count: number;
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
  const streams = new Map<string, Stream>();
  for (const m of matches) {
    const exporter = exporterOf(m.flow.samplerAddress);
    const key = `${m.direction}|${exporter}`;
    let stream = streams.get(key);
    if (!stream) {
      stream = { exporter, direction: m.direction, points: new Map(), count: 0 };
      streams.set(key, stream);
    }
    const point = `${m.flow.observationDomainId}|${m.flow.flowDirection ?? ''}`;
    let list = stream.points.get(point);
    if (!list) {
      list = [];
      stream.points.set(point, list);
    }
    const startUs = nanoToMicros(m.flow.startUnixNano);
    const endUs = Math.max(startUs, nanoToMicros(m.flow.endUnixNano));
    list.push({ flow: m.flow, startUs, endUs, resUs: resolutionMicros(m.flow.timeResolutionNano) });
    stream.count++;
  }

  const groups: FlowGroup[] = [];
  let rejected = 0;
  let ambiguous = 0;
  let ambiguousStreams = 0;
  for (const stream of streams.values()) {
    const fitting: Session[] = [];
    let unclear = false;
    for (const flows of stream.points.values()) {
      const fit = fittingSessions(flows, spanStartUs, spanEndUs, clockSkewUs);
      if (fit.length > 1) unclear = true;
      for (const s of fit) fitting.push(s);
    }
    // Several observation points of one device: their sessions must be one connection.
    if (!unclear && fitting.length > 1 && !overlapEachOther(fitting)) unclear = true;
    if (unclear) {
      for (const s of fitting) ambiguous += s.flows.length;
      ambiguousStreams++;
      rejected += stream.count;
      continue;
    }
    if (fitting.length === 0) {
      rejected += stream.count;
      continue;
    }
    let kept: Timed[];
    if (fitting.length === 1) kept = fitting[0]!.flows;
    else {
      kept = [];
      for (const s of fitting) for (const t of s.flows) kept.push(t);
      kept.sort(byTime);
    }
    rejected += stream.count - kept.length;
    groups.push({ exporter: stream.exporter, direction: stream.direction, flows: kept.map((t) => t.flow) });
  }
  return { groups, rejected, ambiguous, ambiguousStreams };
}

function byTime(a: Timed, b: Timed): number {
  return a.startUs - b.startUs || a.endUs - b.endUs;
}

function flags(t: Timed): number {
  return t.flow.protocol === 6 ? t.flow.tcpFlags : 0;
}

/**
 * The flow's TCP flags can prove that it continues an open connection: they are exported
 * (TCP, not 0: any segment after the handshake carries ACK) and the flow is not sampled (a
 * sampled flow may lack the SYN its connection opened with).
 */
function trustsFlags(t: Timed): boolean {
  return t.flow.protocol === 6 && t.flow.tcpFlags !== 0 && !(t.flow.samplingRate > 1);
}

/** `t` is provably the same connection as the session `s` (see the file comment, step 2). */
function continues(s: Session, t: Timed, f: number): boolean {
  // Provably concurrent: true intervals intersect whatever the truncation.
  if (t.startUs + t.resUs < s.endUs - s.resUs && s.startUs + s.resUs < t.endUs - t.resUs) return true;
  return s.trusted && !s.closed && (f & TCP_SYN) === 0 && trustsFlags(t);
}

/** The sessions of one observation point's flows that fit the span. */
function fittingSessions(flows: Timed[], spanStartUs: number, spanEndUs: number, skewUs: number): Session[] {
  if (flows.length > 1) flows.sort(byTime);
  const fit: Session[] = [];
  let current: Session | undefined;
  const close = (s: Session | undefined) => {
    if (!s) return;
    const widen = s.resUs + skewUs;
    if (!(s.startUs - widen > spanEndUs || s.endUs + widen < spanStartUs)) fit.push(s);
  };
  for (const t of flows) {
    const f = flags(t);
    // 1. Flags say it is another session, whatever the clocks.
    if (f & TCP_SYN && t.startUs - t.resUs > spanEndUs) continue;
    if (f & (TCP_FIN | TCP_RST) && t.endUs + t.resUs < spanStartUs) continue;
    // 2. Sessions.
    if (current && continues(current, t, f)) {
      current.flows.push(t);
      if (t.endUs > current.endUs) current.endUs = t.endUs;
      if (t.resUs > current.resUs) current.resUs = t.resUs;
    } else {
      close(current);
      current = { flows: [t], startUs: t.startUs, endUs: t.endUs, resUs: t.resUs, closed: false, trusted: true };
    }
    if (f & (TCP_FIN | TCP_RST)) current.closed = true;
    if (!trustsFlags(t)) current.trusted = false;
  }
  // 3. Fit with the span, widened by resolution and clock skew.
  close(current);
  return fit;
}

/** Every two sessions overlap in time, within their resolutions (one device clock). */
function overlapEachOther(sessions: readonly Session[]): boolean {
  for (let i = 0; i < sessions.length; i++)
    for (let j = i + 1; j < sessions.length; j++) {
      const a = sessions[i]!;
      const b = sessions[j]!;
      const r = a.resUs + b.resUs;
      if (a.startUs - r > b.endUs || b.startUs - r > a.endUs) return false;
    }
  return true;
}
