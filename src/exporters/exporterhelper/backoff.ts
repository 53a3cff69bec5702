/**
 * Exponential backoff with jitter, the collector's (cenkalti/backoff): each interval is the
 * current one spread by ±randomization_factor, and the current one grows by `multiplier` up
 * to `max_interval`.
 */
import type { RetryOnFailureConfig } from './config.js';

export class ExponentialBackoff {
  private current: number;

  constructor(
    private readonly config: Pick<RetryOnFailureConfig, 'initial_interval' | 'max_interval' | 'multiplier' | 'randomization_factor'>,
    private readonly random: () => number = Math.random,
  ) {
    this.current = config.initial_interval;
  }

  /** The next wait in milliseconds. */
  next(): number {
    const spread = this.config.randomization_factor * this.current;
    const low = this.current - spread;
    const wait = low + this.random() * (2 * spread);
    this.current = Math.min(this.current * this.config.multiplier, this.config.max_interval);
    return Math.max(0, Math.round(wait));
  }
}
