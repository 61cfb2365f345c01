/**
 * The turn log in Redis: one list per turn (RPUSH answers the new length: the event's seq), and
 * beside it a marker that closes the list to further events. Both keys share the turn id as
 * their hash tag, so the script that checks the marker and appends, and the MULTI that expires
 * both, run on one slot (of a Redis Cluster too).
 */
import type { RedisClient } from "../redis.js";
import type { TurnLog } from "./log.js";

/** Every turn's log lives at most this long, even if no process ends it. */
const MAX_LIFE_MS = 6 * 3_600_000;

/** KEYS: list, closed marker; ARGV: event, ttl ms, final ("1": append past the close). 0: closed. */
const APPEND = `
if ARGV[3] ~= "1" and redis.call("EXISTS", KEYS[2]) == 1 then return 0 end
local seq = redis.call("RPUSH", KEYS[1], ARGV[1])
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return seq`;

type ScriptedRedis = RedisClient & { turnLogAppend(list: string, closed: string, event: string, ttl: number, final: string): Promise<number> };

export function redisTurnLog(redis: RedisClient, prefix: string): TurnLog {
  const key = (turnId: string) => `${prefix}:turn:{${turnId}}`;
  const closedKey = (turnId: string) => `${prefix}:turn:{${turnId}}:closed`;
  if (!("turnLogAppend" in redis)) redis.defineCommand("turnLogAppend", { numberOfKeys: 2, lua: APPEND });
  const scripted = redis as ScriptedRedis;
  return {
    async append(turnId, event, final) {
      return scripted.turnLogAppend(key(turnId), closedKey(turnId), JSON.stringify(event), MAX_LIFE_MS, final ? "1" : "0");
    },
    async close(turnId) {
      await redis.set(closedKey(turnId), "1", "PX", MAX_LIFE_MS);
    },
    async read(turnId, afterSeq, limit) {
      const raw = await redis.lrange(key(turnId), afterSeq, afterSeq + limit - 1);
      return raw.map((r, i) => ({ seq: afterSeq + i + 1, event: JSON.parse(r) }));
    },
    async expire(turnId, ms) {
      await redis.multi().pexpire(key(turnId), ms).pexpire(closedKey(turnId), ms).exec();
    },
  };
}
