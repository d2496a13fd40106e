/**
 * Per-client token buckets: `rate` requests per second with bursts up to `burst`. The table is
 * bounded (`maxClients`): when full, buckets that have refilled completely are forgotten first,
 * since forgetting them changes nothing.
 *
 * @example
 * const limiter = new RateLimiter({ requestsPerSecond: 100, burst: 200 });
 * if (!limiter.take(clientKey)) answer429();
 */
import { OptionsInvalidError } from '../core/index.js';

export interface RateLimitOptions {
  /** Sustained requests per second per client. */
  requestsPerSecond: number;
  /** Requests a client may make at once after being idle. Default: one second's worth. */
  burst?: number;
  /** Clients tracked at once. Default 10,000. */
  maxClients?: number;
}

interface Bucket { tokens: number; at: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxClients: number;

  constructor(options: RateLimitOptions) {
    this.rate = options.requestsPerSecond;
    this.burst = options.burst ?? Math.max(1, Math.ceil(this.rate));
    this.maxClients = options.maxClients ?? 10_000;
    if (!(Number.isFinite(this.rate) && this.rate > 0)) throw new OptionsInvalidError('rateLimit.requestsPerSecond must be a positive number', { details: { field: 'rateLimit.requestsPerSecond' } });
    if (!(Number.isFinite(this.burst) && this.burst >= 1)) throw new OptionsInvalidError('rateLimit.burst must be >= 1', { details: { field: 'rateLimit.burst' } });
    if (!(Number.isInteger(this.maxClients) && this.maxClients > 0)) throw new OptionsInvalidError('rateLimit.maxClients must be a positive integer', { details: { field: 'rateLimit.maxClients' } });
  }

  /** Takes one token for `client`; false when it has none left. */
  take(client: string, now = performance.now()): boolean {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= this.maxClients) this.evict(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Seconds until `client` has a token again (for Retry-After). */
  retryAfterSeconds(client: string): number {
    const b = this.buckets.get(client);
    return b ? Math.max(1, Math.ceil((1 - b.tokens) / this.rate)) : 1;
  }

  private evict(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    }
    // Everyone is busy: drop the oldest entries rather than grow without bound.
    if (this.buckets.size >= this.maxClients) {
      let n = Math.ceil(this.maxClients / 10);
      for (const k of this.buckets.keys()) { this.buckets.delete(k); if (--n === 0) break; }
    }
  }
}
