/**
 * The transport-independent part of receiving OTLP: check ids, drop the invalid items into a
 * partial success, hand the rest to the pipeline, and count every item either way.
 */
import { create, type DescMessage, type Message } from '@bufbuild/protobuf';
import { CapacityError, NetspanError } from '../../core/errors.js';
import { RESPONSE_SCHEMA } from '../../wire/otlp/codec.js';
import type { Consumer } from '../../core/component.js';
import type { ReceiverReport } from '../../core/obsreport.js';
import { ObservationIntake } from './observations.js';
import { itemCount, type Logs, type Signal, type SignalData, type Traces } from '../../model/otlp.js';

export interface IngestResult {
  /** Items rejected for invalid content, reported back as partial success. */
  rejected: number;
  /** Why, for partial_success.error_message; "" when all were accepted. */
  message: string;
}

/** Every item of the request was invalid: answered with 400 / INVALID_ARGUMENT. */
export class AllRejectedError extends NetspanError {
  override readonly name = 'AllRejectedError';
  constructor(
    message: string,
    readonly rejected: number,
  ) {
    super('OTLP_ALL_REJECTED', message);
  }
}

const isZero = (b: Uint8Array) => b.every((x) => x === 0);

function traceProblem(traceId: Uint8Array, spanId: Uint8Array, parentSpanId: Uint8Array): string | undefined {
  if (traceId.length !== 16) return `trace_id has ${traceId.length} bytes, want 16`;
  if (isZero(traceId)) return 'trace_id is all zeros';
  if (spanId.length !== 8) return `span_id has ${spanId.length} bytes, want 8`;
  if (isZero(spanId)) return 'span_id is all zeros';
  if (parentSpanId.length !== 0 && parentSpanId.length !== 8) return `parent_span_id has ${parentSpanId.length} bytes, want 0 or 8`;
  return undefined;
}

/** Removes spans with invalid ids, in place; returns how many and the first reason. */
function dropInvalidSpans(traces: Traces): IngestResult {
  let rejected = 0;
  let message = '';
  traces.resourceSpans.forEach((rs, r) =>
    rs.scopeSpans.forEach((ss, s) => {
      ss.spans = ss.spans.filter((span, i) => {
        const problem = traceProblem(span.traceId, span.spanId, span.parentSpanId);
        if (!problem) return true;
        rejected++;
        message ||= `resource_spans[${r}].scope_spans[${s}].spans[${i}]: ${problem}`;
        return false;
      });
    }),
  );
  return { rejected, message };
}

/** Log records may omit ids, but ids that are present must have the right length. */
function dropInvalidLogs(logs: Logs): IngestResult {
  let rejected = 0;
  let message = '';
  logs.resourceLogs.forEach((rl, r) =>
    rl.scopeLogs.forEach((sl, s) => {
      sl.logRecords = sl.logRecords.filter((rec, i) => {
        const problem =
          rec.traceId.length !== 0 && rec.traceId.length !== 16
            ? `trace_id has ${rec.traceId.length} bytes, want 0 or 16`
            : rec.spanId.length !== 0 && rec.spanId.length !== 8
              ? `span_id has ${rec.spanId.length} bytes, want 0 or 8`
              : undefined;
        if (!problem) return true;
        rejected++;
        message ||= `resource_logs[${r}].scope_logs[${s}].log_records[${i}]: ${problem}`;
        return false;
      });
    }),
  );
  return { rejected, message };
}

export async function ingest<S extends Signal>(
  signal: S,
  data: SignalData[S],
  consumer: Consumer<S>,
  report: ReceiverReport,
  transport: string,
): Promise<IngestResult> {
  const result =
    signal === 'traces'
      ? dropInvalidSpans(data as Traces)
      : signal === 'logs'
        ? dropInvalidLogs(data as Logs)
        : { rejected: 0, message: '' };
  if (consumer instanceof ObservationIntake) {
    const screened = consumer.screen(data as Logs);
    result.rejected += screened.rejected;
    result.message ||= screened.message;
  }
  const count = itemCount(signal, data);
  report.refused(signal, transport, 'invalid', result.rejected);
  if (count === 0 && result.rejected > 0) throw new AllRejectedError(result.message, result.rejected);
  if (count === 0) return result;
  try {
    await consumer.consume(data);
  } catch (err) {
    report.refused(signal, transport, err instanceof CapacityError ? 'capacity' : 'pipeline_error', count);
    throw err;
  }
  report.accepted(signal, transport, count);
  return result;
}

const PARTIAL_SUCCESS_FIELD: Record<Signal, string> = {
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
};

/** The Export*ServiceResponse for a result: empty, or a partial success with count and reason. */
export function exportResponse(signal: Signal, result: IngestResult): { schema: DescMessage; message: Message } {
  const schema = RESPONSE_SCHEMA[signal] as DescMessage;
  const init =
    result.rejected > 0
      ? { partialSuccess: { [PARTIAL_SUCCESS_FIELD[signal]]: BigInt(result.rejected), errorMessage: result.message } }
      : {};
  return { schema, message: create(schema, init as never) };
}
