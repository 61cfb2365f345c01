/**
 * Request rate limit per credential (an API key, or a user), in fixed 10-second windows. With
 * Redis the count is shared by every process; without it, it is per process. Over the limit a
 * request answers 429 with Retry-After and does nothing.
 */
import type { Redis } from "ioredis";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import { credentialKey } from "../auth/principal.js";
import { systemClock, type Clock } from "../domain/time.js";
import { TooManyRequests } from "../errors.js";
import type { HubState } from "./context.js";

const WINDOW_MS = 10_000;

export interface RateLimiter {
  /** Counts one request for `who`; resolves with seconds to wait when over the limit, else 0. */
  hit(who: string): Promise<number>;
}

function windowOf(now: number): { id: number; retryAfter: number } {
  const id = Math.floor(now / WINDOW_MS);
  return { id, retryAfter: Math.max(1, Math.ceil(((id + 1) * WINDOW_MS - now) / 1000)) };
}

export function memoryRateLimiter(limit: number, clock: Clock = systemClock): RateLimiter {
  const counts = new Map<string, number>();
  let current = -1;
  return {
    async hit(who) {
      const w = windowOf(clock.now().getTime());
      if (w.id !== current) {
        counts.clear();
        current = w.id;
      }
      const n = (counts.get(who) ?? 0) + 1;
      counts.set(who, n);
      return n > limit ? w.retryAfter : 0;
    },
  };
}

export function redisRateLimiter(redis: Redis, prefix: string, limit: number, log: Logger, clock: Clock = systemClock): RateLimiter {
  return {
    async hit(who) {
      const w = windowOf(clock.now().getTime());
      const key = `${prefix}:rl:${who}:${w.id}`;
      try {
        const [[, n]] = (await redis.multi().incr(key).pexpire(key, WINDOW_MS * 2).exec()) as [[Error | null, number]];
        return n > limit ? w.retryAfter : 0;
      } catch (err) {
        // A limiter outage must not take the API down with it.
        log.warn({ err }, "rate limiter unavailable; allowing the request");
        return 0;
      }
    },
  };
}

/** Runs after authentication, so the limit follows the credential, not the address. */
export function rateLimit(limiter: RateLimiter | undefined): Middleware<HubState> {
  return async (ctx, next) => {
    if (limiter) {
      const wait = await limiter.hit(credentialKey(ctx.state.principal));
      if (wait > 0) throw new TooManyRequests(wait);
    }
    await next();
  };
}
