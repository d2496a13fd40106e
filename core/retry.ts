import { OptionsInvalidError } from './errors.js';

/** How a failing handler is retried before its message is dead-lettered. */
export interface RetryPolicy {
  /** Total handler attempts, the first included. 1 = no retry. */
  maxAttempts: number;
  /** Delay before the second attempt, in ms. */
  initialDelayMs: number;
  /** Upper bound for any delay, in ms. */
  maxDelayMs: number;
  /** Growth per attempt. */
  multiplier: number;
  /** 0..1: share of each delay drawn at random ("equal jitter"), so retries of a burst spread out. */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 30_000, multiplier: 2, jitter: 0.5 };

export function resolveRetryPolicy(partial: Partial<RetryPolicy> | undefined): RetryPolicy {
  const p = { ...DEFAULT_RETRY, ...partial };
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new OptionsInvalidError('retry.maxAttempts must be an integer >= 1', { details: { field: 'maxAttempts' } });
  if (!(p.initialDelayMs >= 0)) throw new OptionsInvalidError('retry.initialDelayMs must be >= 0', { details: { field: 'initialDelayMs' } });
  if (!(p.maxDelayMs >= p.initialDelayMs)) throw new OptionsInvalidError('retry.maxDelayMs must be >= initialDelayMs', { details: { field: 'maxDelayMs' } });
  if (!(p.multiplier >= 1)) throw new OptionsInvalidError('retry.multiplier must be >= 1', { details: { field: 'multiplier' } });
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw new OptionsInvalidError('retry.jitter must be between 0 and 1', { details: { field: 'jitter' } });
  return p;
}

/**
 * Delay before attempt `attempt + 1`, after `attempt` failures (1-based):
 * initial * multiplier^(attempt-1), capped, with the jittered share drawn uniformly.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
  const fixed = base * (1 - policy.jitter);
  return Math.round(fixed + base * policy.jitter * random());
}
