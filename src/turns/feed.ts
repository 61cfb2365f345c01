/**
 * A turn's events as readers take them: what was logged (the turn log, every process's), and
 * what this process receives from now on (the realtime router feeds it every turn's events and
 * ends, from every process). SSE answers read it, and so will the protocol streams.
 */
import { MAX_TURN_EVENTS, emptySnapshot, reduce, type AgentEvent, type TurnSnapshot } from "../domain/turns/events.js";
import type { TurnFeedItem } from "../domain/turns/runner.js";
import type { TurnLog, TurnLogEntry } from "./log.js";

export class TurnFeed {
  private readonly listeners = new Map<string, Set<(item: TurnFeedItem) => void>>();

  constructor(private readonly log: TurnLog) {}

  /** Listens to a turn's events as this process receives them; answers how to stop listening. */
  listen(turnId: string, listener: (item: TurnFeedItem) => void): () => void {
    const set = this.listeners.get(turnId) ?? new Set();
    this.listeners.set(turnId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(turnId);
    };
  }

  /** A turn's event or end reached this process. */
  received(turnId: string, item: TurnFeedItem): void {
    for (const listener of this.listeners.get(turnId) ?? []) listener(item);
  }

  /** A turn's logged events after `afterSeq` (for gap repair and late readers). */
  eventsAfter(turnId: string, afterSeq: number, limit: number): Promise<TurnLogEntry[]> {
    return this.log.read(turnId, afterSeq, limit);
  }

  /** A turn's answer so far, reduced from its log, and the seq it is at. */
  async snapshot(turnId: string): Promise<{ seq: number; snapshot: TurnSnapshot }> {
    const entries = await this.log.read(turnId, 0, MAX_TURN_EVENTS + 2);
    const snapshot = emptySnapshot();
    for (const e of entries) reduce(snapshot, e.event as AgentEvent);
    return { seq: entries.length, snapshot };
  }
}
