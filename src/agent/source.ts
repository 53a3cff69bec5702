/**
 * Where observations come from. A source is started with an `emit` callback and closed at
 * shutdown; the agent runs a list of them side by side (one tcpdump per interface, the files,
 * later the kernel's IOAM netlink events), so a new kind of source is one more class.
 */
import { NetspanError } from '../core/errors.js';
import type { Logger } from '../core/telemetry/logger.js';
import type { Observation } from '../model/observation.js';
import type { Observer } from './observe.js';
import type { AgentReport } from './report.js';

export type Emit = (observations: Observation[]) => void;

export interface ObservationSource {
  /** For logs: "tcpdump:eth0", "files". */
  readonly name: string;
  /** Begins producing; resolves once it runs (a capture listening, a file open). Rejects only when it can never run. */
  start(emit: Emit): Promise<void>;
  /** Stops; resolves once everything it will ever emit has been emitted. */
  close(): Promise<void>;
  /** Finite sources (files): resolves when they are done. Live ones leave it out: they end only at close(). */
  readonly finished?: Promise<void>;
}

/** What packet sources share: the observer and where to count and log. */
export interface PacketSourceContext {
  observer: Observer;
  report: AgentReport;
  logger: Logger;
  /**
   * Resolves when the pipeline can take more. Sources that can wait (files) await it between
   * chunks; live captures cannot stop the network, so what does not fit is dropped and counted.
   */
  ready(): Promise<void>;
}

/** Runs one packet through the observer, counting it; observations are appended to `out`. */
export function observePacket(
  ctx: PacketSourceContext,
  out: Observation[],
  data: Uint8Array,
  linkType: number,
  timeUnixNano: bigint,
  interfaceName: string,
): void {
  ctx.report.packets(interfaceName);
  const observations = ctx.observer.observe(data, linkType, timeUnixNano, interfaceName);
  for (const o of observations) out.push(o);
}

export type AgentErrorCode = 'TCPDUMP_UNAVAILABLE' | 'AGENT_START';

export class AgentError extends NetspanError {
  override readonly name = 'AgentError';
  constructor(code: AgentErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}
