import type { Middleware } from 'koa';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';

// TODO: buckets live in each api process, so N processes allow N times the configured rate;
// a shared store (PostgreSQL or Redis) would make the limit global.
export type TokenBucketOptions = {
  /** Tokens added per second: the sustained rate allowed. */
  ratePerSecond: number;
  /** Bucket size: how many requests may arrive at once after a quiet spell. */
  burst: number;
  /** Milliseconds clock; tests pass their own. */
  now?: () => number;
  /** Buckets kept before full (idle) ones are dropped (default 10,000). */
  maxKeys?: number;
};

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export type RateLimiter = {
  /** Takes one token from the key's bucket if it has one. */
  take(key: string): RateDecision;
  /** Buckets held in memory. */
  size(): number;
};

type Bucket = { tokens: number; updatedAt: number };

/**
 * Token buckets in memory, one per key. Each api process limits on its own, so the rate a key gets
 * across the service is the configured rate times the number of api processes. A full bucket is
 * the same as no bucket, which is what lets idle keys be dropped without changing any decision.
 */
export function createTokenBucketLimiter(options: TokenBucketOptions): RateLimiter {
  const { ratePerSecond, burst } = options;
  const clock = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const buckets = new Map<string, Bucket>();

  function refilled(bucket: Bucket, now: number): number {
    const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;

    return Math.min(burst, bucket.tokens + elapsedSeconds * ratePerSecond);
  }

  function dropIdleBuckets(now: number): void {
    for (const [key, bucket] of buckets) {
      if (refilled(bucket, now) >= burst) {
        buckets.delete(key);
      }
    }
  }

  return {
    take(key) {
      const now = clock();
      const bucket = buckets.get(key) ?? { tokens: burst, updatedAt: now };
      const tokens = refilled(bucket, now);
      bucket.updatedAt = now;

      if (tokens >= 1) {
        bucket.tokens = tokens - 1;
        buckets.set(key, bucket);
        if (buckets.size > maxKeys) {
          dropIdleBuckets(now);
        }

        return { allowed: true };
      }

      bucket.tokens = tokens;
      buckets.set(key, bucket);

      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / ratePerSecond)),
      };
    },
    size: () => buckets.size,
  };
}

/**
 * Limits each integration's webhook to its token bucket, so one misconfigured dialer cannot starve
 * the others. Runs after authentication: unauthenticated requests never reach a bucket, and so can
 * neither fill the map nor drain another integration's tokens.
 */
export function rateLimitIntegration(limiter: RateLimiter): Middleware<AppState> {
  return async (ctx, next) => {
    const decision = limiter.take(ctx.state.integration!.id);
    if (!decision.allowed) {
      throw new AppError('rate_limited', undefined, {
        'Retry-After': String(decision.retryAfterSeconds),
      });
    }

    await next();
  };
}
