/**
 * Fixed 10-second windows of counts per key (a credential, an address), for REST and sockets
 * alike. In memory the count is per process; in Redis it is shared by every process.
 */
import type { Logger } from "pino";
import { systemClock, type Clock } from "./domain/time.js";
import type { RedisClient } from "./redis.js";
import { withTimeout } from "./timeout.js";

export const WINDOW_MS = 10_000;
/** A Redis count that takes longer than this is given up on (the request is counted locally). */
const REDIS_ANSWER_MS = 250;
/** Keys one in-memory window tracks at most; past it new keys pass uncounted until the next window. */
const MAX_KEYS = 200_000;

export interface RateLimiter {
  /** Counts one event for `who`; resolves with seconds to wait when over the limit, else 0. */
  hit(who: string): Promise<number>;
}

export interface LocalRateLimiter extends RateLimiter {
  /** Seconds to wait when `who` is already over the limit, else 0; counts nothing. */
  over(who: string): number;
}

function windowOf(now: number): { id: number; retryAfter: number } {
  const id = Math.floor(now / WINDOW_MS);
  return { id, retryAfter: Math.max(1, Math.ceil(((id + 1) * WINDOW_MS - now) / 1000)) };
}

export function memoryRateLimiter(limit: number, clock: Clock = systemClock): LocalRateLimiter {
  const counts = new Map<string, number>();
  let current = -1;
  const windowNow = () => {
    const w = windowOf(clock.now().getTime());
    if (w.id !== current) {
      counts.clear();
      current = w.id;
    }
    return w;
  };
  return {
    async hit(who) {
      const w = windowNow();
      if (!counts.has(who) && counts.size >= MAX_KEYS) return 0;
      const n = (counts.get(who) ?? 0) + 1;
      counts.set(who, n);
      return n > limit ? w.retryAfter : 0;
    },
    over(who) {
      const w = windowNow();
      return (counts.get(who) ?? 0) >= limit ? w.retryAfter : 0;
    },
  };
}

/**
 * Counts in Redis, shared by every process. While Redis is down or slow (no answer within
 * REDIS_ANSWER_MS) it counts per process instead: a deliberate choice to keep the API up and
 * still bounded (each process allows the limit) rather than refuse everything or hang on
 * ioredis's offline queue. It logs once when it falls back and once when Redis is back.
 */
export function redisRateLimiter(redis: RedisClient, prefix: string, limit: number, log: Logger, clock: Clock = systemClock): RateLimiter {
  const local = memoryRateLimiter(limit, clock);
  let degraded = false;
  const fallback = (who: string, reason: string) => {
    if (!degraded) log.warn({ reason }, "rate limiter: Redis unavailable; counting per process until it is back");
    degraded = true;
    return local.hit(who);
  };
  return {
    async hit(who) {
      if (redis.status !== "ready") return fallback(who, `redis is ${redis.status}`);
      const w = windowOf(clock.now().getTime());
      // One key per count: MULTI on it runs on its slot's shard of a cluster.
      const key = `${prefix}:${who}:${w.id}`;
      try {
        const result = await withTimeout(redis.multi().incr(key).pexpire(key, WINDOW_MS * 2).exec(), REDIS_ANSWER_MS);
        const n = Number(result?.[0]?.[1]);
        if (degraded) log.info("rate limiter: counting in Redis again");
        degraded = false;
        return n > limit ? w.retryAfter : 0;
      } catch (err) {
        return fallback(who, (err as Error).message);
      }
    },
  };
}
