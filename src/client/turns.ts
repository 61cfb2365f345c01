/**
 * Turn rendering: a live message per running turn, built from a `session:watch` ack's snapshot
 * (`turns: [{turn, seq, snapshot}]`) and the `turn:event` deltas after it, with the hub's own
 * reducer (src/domain/turns/events.ts), so what renders is what the hub will store. Events are
 * applied once each, in seq order; a snapshot newer than what was applied replaces it (after a
 * reconnect). The turn ends with `turn:ended`, or with its stored answer arriving as a message.
 * What the turn asks people (approvals) is kept beside it, from the ack and `turn:approval`.
 */
import type { AgentEvent } from "../domain/turns/events.js";
import { emptySnapshot, reduce, type TurnSnapshot } from "../domain/turns/reduce.js";
import type { Approval, Message, RunningTurn, Turn } from "./types.js";

/** A running turn's answer so far, shaped like the message it will be stored as. */
export interface LiveMessage extends TurnSnapshot {
  /** The id the answer is stored under (`turn.message_id`), once the turn is known. */
  id: string | undefined;
  role: "assistant";
}

export interface LiveTurn {
  sessionId: string;
  turnId: string;
  /** The turn as last seen (started, ended, or from a watch ack); undefined until one of those arrives. */
  turn: Turn | undefined;
  /** The last event applied (0: none). */
  seq: number;
  /** The live answer: the same object for the turn's whole life, updated in place. */
  message: LiveMessage;
  /** What the turn asked people (`turn:approval`, or the watch ack's), oldest first, each as last seen. */
  approvals: Approval[];
  ended: boolean;
}

export type TurnUpdate = Readonly<LiveTurn>;

interface Entry extends LiveTurn {
  pending: Map<number, AgentEvent>;
  /** When a gap in the events opened (ms), or undefined. */
  gapSince: number | undefined;
}

/** How long an ended turn is kept, so late events (or its stored message) still find it. */
const ENDED_KEEP_MS = 30_000;

export class TurnRenderer {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(update: TurnUpdate) => void>();

  /** Called with a turn after every change to it; returns a function that stops it. */
  onUpdate(listener: (update: TurnUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The live turns of a session (all sessions without one), running first. */
  list(sessionId?: string): LiveTurn[] {
    return [...this.entries.values()].filter((e) => sessionId === undefined || e.sessionId === sessionId).sort((a, b) => Number(a.ended) - Number(b.ended));
  }

  get(turnId: string): LiveTurn | undefined {
    return this.entries.get(turnId);
  }

  started(sessionId: string, turn: Turn): void {
    const e = this.entry(sessionId, turn.id);
    e.turn = turn;
    e.message.id = turn.message_id;
    this.notify(e);
  }

  /** A `turn:event`. */
  event(sessionId: string, turnId: string, seq: number, event: AgentEvent): void {
    const e = this.entry(sessionId, turnId);
    if (seq <= e.seq) return;
    if (seq > e.seq + 1) {
      e.pending.set(seq, event);
      e.gapSince ??= Date.now();
      return;
    }
    reduce(e.message, event);
    e.seq = seq;
    this.drain(e);
    this.notify(e);
  }

  /** A running turn from a watch ack: its snapshot covers every event up to `seq`. */
  snapshot(sessionId: string, running: RunningTurn): void {
    const e = this.entry(sessionId, running.turn.id);
    e.turn = running.turn;
    e.message.id = running.turn.message_id;
    if (running.seq > e.seq || e.seq === 0) {
      const fresh = structuredClone(running.snapshot);
      for (const key of ["model", "finishReason", "tokenUsage", "error"] as const) delete e.message[key];
      Object.assign(e.message, emptySnapshot(), fresh);
      e.seq = running.seq;
    }
    for (const a of running.approvals ?? []) this.keepApproval(e, a);
    this.drain(e);
    this.notify(e);
  }

  /** A `turn:approval`: the approval asked, decided on or settled. */
  approval(sessionId: string, turnId: string, approval: Approval): void {
    const e = this.entry(sessionId, turnId);
    this.keepApproval(e, approval);
    this.notify(e);
  }

  /** A watch ack of the session listed its running turns: the session's other turns ended while away. */
  runningAre(sessionId: string, turnIds: string[]): void {
    for (const e of this.entries.values()) {
      if (e.sessionId === sessionId && !e.ended && !turnIds.includes(e.turnId)) this.end(e, e.turn);
    }
  }

  ended(sessionId: string, turn: Turn): void {
    const e = this.entry(sessionId, turn.id);
    e.message.id = turn.message_id;
    this.end(e, turn);
  }

  /** A session message: when it is a live turn's stored answer, that turn has ended. */
  message(sessionId: string, message: Message): void {
    for (const e of this.entries.values()) {
      if (e.sessionId === sessionId && !e.ended && e.message.id === message.id) this.end(e, e.turn);
    }
  }

  /** Turns whose events have a gap open for longer than `ms` (to be filled by watching again). */
  gapped(ms: number): LiveTurn[] {
    const now = Date.now();
    const out = [...this.entries.values()].filter((e) => !e.ended && e.gapSince !== undefined && now - e.gapSince >= ms);
    for (const e of out) e.gapSince = now; // asked again only after another `ms`
    return out;
  }

  clear(): void {
    this.entries.clear();
  }

  private entry(sessionId: string, turnId: string): Entry {
    let e = this.entries.get(turnId);
    if (!e) {
      e = { sessionId, turnId, turn: undefined, seq: 0, message: { id: undefined, role: "assistant", ...emptySnapshot() }, approvals: [], ended: false, pending: new Map(), gapSince: undefined };
      this.entries.set(turnId, e);
    }
    return e;
  }

  /** Keeps the later of two views of one approval: more decisions, or settled, wins (events of two nodes may cross). */
  private keepApproval(e: Entry, approval: Approval): void {
    const i = e.approvals.findIndex((a) => a.id === approval.id);
    if (i < 0) return void e.approvals.push(approval);
    const old = e.approvals[i]!;
    const newer = (old.status === "pending" && approval.status !== "pending") || (old.status === approval.status && approval.decisions.length >= old.decisions.length);
    if (newer) e.approvals[i] = approval;
  }

  private drain(e: Entry): void {
    for (const seq of [...e.pending.keys()]) if (seq <= e.seq) e.pending.delete(seq);
    let next: AgentEvent | undefined;
    while ((next = e.pending.get(e.seq + 1)) !== undefined) {
      e.pending.delete(e.seq + 1);
      reduce(e.message, next);
      e.seq++;
    }
    e.gapSince = e.pending.size ? (e.gapSince ?? Date.now()) : undefined;
  }

  private end(e: Entry, turn: Turn | undefined): void {
    if (turn) e.turn = turn;
    if (e.ended) return this.notify(e);
    e.ended = true;
    this.notify(e);
    const timer = setTimeout(() => {
      if (this.entries.get(e.turnId) === e) this.entries.delete(e.turnId);
    }, ENDED_KEEP_MS);
    timer.unref?.();
  }

  private notify(e: Entry): void {
    for (const listener of this.listeners) listener(e);
  }
}
