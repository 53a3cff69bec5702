/**
 * Why a poll failed, as the `outcome` label of netspan_snmp_polls_total says it: no answer
 * (timeout; also a wrong v1/v2c community, which agents drop silently), refused credentials
 * (auth_error: v3 USM reports, a community mismatch, authorizationError), anything else (error).
 */
import snmp from 'net-snmp';
import { NetspanError, errorMessage } from '../../core/errors.js';

export type PollOutcome = 'ok' | 'timeout' | 'auth_error' | 'error';

export class SnmpPollError extends NetspanError {
  override readonly name = 'SnmpPollError';
  constructor(
    readonly outcome: Exclude<PollOutcome, 'ok'>,
    message: string,
    cause?: unknown,
  ) {
    super(`SNMP_${outcome.toUpperCase()}`, message, { cause, context: { outcome } });
  }
}

const AUTH_RESPONSE_CODES = new Set(
  ['EAuthFailure', 'ECommunityNoMatch', 'ECouldNotDecrypt', 'ENotInTimeWindow'].map((k) => snmp.ResponseInvalidCode[k]),
);
const AUTH_STATUSES = new Set(['AuthorizationError', 'NoAccess'].map((k) => snmp.ErrorStatus[k]));

/** The library's error as an SnmpPollError with its outcome. */
export function classifySnmpError(err: unknown): SnmpPollError {
  if (err instanceof SnmpPollError) return err;
  if (err instanceof snmp.RequestTimedOutError)
    return new SnmpPollError('timeout', 'no response (agent unreachable, or community refused)', err);
  if (err instanceof snmp.ResponseInvalidError && AUTH_RESPONSE_CODES.has(err.code))
    return new SnmpPollError('auth_error', `credentials refused: ${err.message}`, err);
  if (err instanceof snmp.RequestFailedError && AUTH_STATUSES.has(err.status))
    return new SnmpPollError('auth_error', `access refused: ${err.message}`, err);
  return new SnmpPollError('error', errorMessage(err), err);
}
