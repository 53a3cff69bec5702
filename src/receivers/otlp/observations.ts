/**
 * Agent observations arriving as OTLP logs (src/model/observation-logs.ts): log records whose
 * event name is a netspan observation event become network evidence; the other records go to
 * the logs pipeline, if the receiver has one. Without one, only observation records are
 * accepted and the rest are refused by partial success, so nothing accepted is lost silently.
 */
import type { Consumer, EvidenceSink } from '../../core/component.js';
import type { Logs } from '../../model/otlp.js';
import { observationFromLogRecord, observationKindOf, ObservationFormatError } from '../../model/observation-logs.js';
import type { Observation } from '../../model/observation.js';
import type { IngestResult } from './ingest.js';

/** The logs consumer of an OTLP receiver that takes agent observations. */
export class ObservationIntake implements Consumer<'logs'> {
  /** Observations parsed by the last screen(), stored by the next consume(). */
  private pending: Observation[] = [];

  constructor(
    private readonly evidence: EvidenceSink,
    private readonly next: Consumer<'logs'> | undefined,
  ) {}

  canAccept(): boolean {
    return this.next ? this.next.canAccept() : true;
  }

  /**
   * Parses the observation records of `logs` (in place: the malformed ones, and without a logs
   * pipeline the records that are not observations, are removed) and says what was refused.
   * Called by ingest() right before consume().
   */
  screen(logs: Logs): IngestResult {
    let rejected = 0;
    let message = '';
    const parsed: Observation[] = [];
    logs.resourceLogs.forEach((rl, r) =>
      rl.scopeLogs.forEach((sl, s) => {
        sl.logRecords = sl.logRecords.filter((rec, i) => {
          const where = `resource_logs[${r}].scope_logs[${s}].log_records[${i}]`;
          if (!observationKindOf(rec)) {
            if (this.next) return true;
            rejected++;
            message ||= `${where}: not a netspan observation, and no logs pipeline takes other records from this receiver`;
            return false;
          }
          try {
            parsed.push(observationFromLogRecord(rec)!);
            return true;
          } catch (err) {
            if (!(err instanceof ObservationFormatError)) throw err;
            rejected++;
            message ||= `${where}: malformed ${rec.eventName}: ${err.message}`;
            return false;
          }
        });
      }),
    );
    this.pending = parsed;
    return { rejected, message };
  }

  async consume(logs: Logs): Promise<void> {
    const observations = this.pending;
    this.pending = [];
    if (observations.length > 0) this.evidence.addObservations(observations);
    // Observation records go on too, so a logs pipeline can keep or export them.
    if (this.next) await this.next.consume(logs);
  }
}
