export * from './config.js';
export * from './result.js';
export * from './backoff.js';
export * from './queued_retry.js';
export * from './otlp.js';
