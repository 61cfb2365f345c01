/**
 * The running state of turns, readable by every process: each turn's events in order, numbered
 * from 1. Deltas never cost a Postgres write; Postgres records the turn at start and end. In
 * server mode this is a Redis list per turn (redis-log.ts), in the embedded default a map in
 * the process. Entries expire on their own after the turn (a bound for any a process forgot).
 */
export interface TurnLogEntry {
  seq: number;
  event: unknown;
}

export interface TurnLog {
  /**
   * Appends an event; answers its seq (1 for the first), or 0 when the log was closed (the turn
   * ended, perhaps on another process): the event is dropped. `final` appends past the close
   * (the `error` and `done` that end the stream).
   */
  append(turnId: string, event: unknown, final?: boolean): Promise<number>;
  /**
   * Closes the log to further events, atomically with respect to every append: what was
   * appended before is everything the turn's answer holds (a cancel ends a turn at once).
   */
  close(turnId: string): Promise<void>;
  /** Up to `limit` entries with seq > afterSeq, in order. */
  read(turnId: string, afterSeq: number, limit: number): Promise<TurnLogEntry[]>;
  /** Forgets a turn after `ms` (kept a while for watchers that ask late). */
  expire(turnId: string, ms: number): Promise<void>;
}

/** In-process, for the embedded default (one process). */
export function memoryTurnLog(): TurnLog {
  const logs = new Map<string, unknown[]>();
  const closed = new Set<string>();
  return {
    async append(turnId, event, final) {
      if (closed.has(turnId) && !final) return 0;
      const log = logs.get(turnId) ?? [];
      logs.set(turnId, log);
      return log.push(event);
    },
    async close(turnId) {
      closed.add(turnId);
    },
    async read(turnId, afterSeq, limit) {
      return (logs.get(turnId) ?? []).slice(afterSeq, afterSeq + limit).map((event, i) => ({ seq: afterSeq + i + 1, event }));
    },
    async expire(turnId, ms) {
      setTimeout(() => {
        logs.delete(turnId);
        closed.delete(turnId);
      }, ms).unref();
    },
  };
}
