/** The turn log in Redis: one list per turn (RPUSH answers the new length: the event's seq). */
import type { Redis } from "ioredis";
import type { TurnLog } from "./domain/turns/log.js";

/** Every turn's log lives at most this long, even if no process ends it. */
const MAX_LIFE_MS = 6 * 3_600_000;

export function redisTurnLog(redis: Redis, prefix: string): TurnLog {
  const key = (turnId: string) => `${prefix}:turn:${turnId}`;
  return {
    async append(turnId, event) {
      const [[err, seq]] = (await redis.multi().rpush(key(turnId), JSON.stringify(event)).pexpire(key(turnId), MAX_LIFE_MS).exec()) as [[Error | null, number]];
      if (err) throw err;
      return seq;
    },
    async read(turnId, afterSeq, limit) {
      const raw = await redis.lrange(key(turnId), afterSeq, afterSeq + limit - 1);
      return raw.map((r, i) => ({ seq: afterSeq + i + 1, event: JSON.parse(r) }));
    },
    async expire(turnId, ms) {
      await redis.pexpire(key(turnId), ms);
    },
  };
}
