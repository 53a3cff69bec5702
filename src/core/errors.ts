/**
 * Typed errors. Every error netspan raises on purpose is a NetspanError with a stable `code`,
 * an optional `cause` and a context object that says where it happened.
 */
export class NetspanError extends Error {
  override readonly name: string = 'NetspanError';
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** One problem found in a configuration, with the path of the offending key. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends NetspanError {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[], options: { cause?: unknown; source?: string } = {}) {
    const where = options.source ? `${options.source}: ` : '';
    super(
      'CONFIG_INVALID',
      `${where}invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n'),
      { cause: options.cause, context: { source: options.source } },
    );
    this.issues = issues;
  }
}

/**
 * Raised by a consumer that cannot take more data now (a full queue, a backlog waiting for
 * a backend). Receivers turn it into HTTP 429/503 with Retry-After or gRPC UNAVAILABLE, so the
 * sender retries and nothing is lost silently.
 */
export class CapacityError extends NetspanError {
  override readonly name = 'CapacityError';
  readonly retryAfterSeconds: number;
  constructor(component: string, reason: string, retryAfterSeconds = 1) {
    super('CAPACITY_EXHAUSTED', `${component}: ${reason}`, { context: { component } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Input from outside that cannot be decoded. `offset` says where parsing stopped, if known. */
export class DecodeError extends NetspanError {
  override readonly name = 'DecodeError';
  constructor(code: string, message: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, { cause, context });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
