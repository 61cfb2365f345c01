/**
 * What the turn use cases (service.ts) and asks need of whatever runs turns: src/turns/runtime.ts
 * implements it. domain/ owns no timers, processes or agent protocols, so it is handed a runner
 * at construction; the types every side of a turn shares live here too.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import type { Emit } from "../events.js";
import type { MessageView } from "../sessions/messages.js";
import type { Session } from "../sessions/repository.js";
import type { TurnSnapshot } from "./events.js";
import type { Turn, TurnView } from "./repository.js";

/** What a listener of a turn hears: each event as this process receives it, then the end. */
export type TurnFeedItem = { kind: "event"; seq: number; event: unknown } | { kind: "ended"; turn: TurnView };

export type TurnOutcome = { status: "completed" } | { status: "failed"; error: string } | { status: "cancelled" };

/**
 * Runs inside the transaction that ends a turn (after its answer is stored): asks use it to
 * record their progress atomically with their turns. Answers turns to cancel after the commit.
 */
export type TurnEndHook = (trx: Knex.Transaction, emit: Emit, ended: Turn) => Promise<{ cancel: Turn[] } | void>;

export interface TurnRunner {
  /** After their transaction committed: announces the turns and hands each to its agent, at once. */
  launch(started: Turn[], session: Session, trigger: MessageView, asker: Principal): void;
  /** Ends an active turn as cancelled, here and now, and tells whoever runs it to stop. */
  stop(turn: Turn): Promise<void>;
  /** Adds `hook` to those run in every turn's ending transaction (asks.ts). */
  onEnd(hook: TurnEndHook): void;
  /** A turn's answer so far, and the seq it is at. */
  snapshot(turnId: string): Promise<{ seq: number; snapshot: TurnSnapshot }>;
  /** A turn's logged events after `afterSeq`. */
  eventsAfter(turnId: string, afterSeq: number, limit: number): Promise<Array<{ seq: number; event: unknown }>>;
  /** Listens to a turn's events as this process receives them; answers how to stop listening. */
  listen(turnId: string, listener: (item: TurnFeedItem) => void): () => void;
}
