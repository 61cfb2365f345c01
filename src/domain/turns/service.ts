/**
 * Turns: the hub runs an agent on a session. Starting one stores the user's message and a turn
 * row in one transaction (one active turn per session), then hands it to the agent's endpoint
 * (an HTTP agent server, or a serving socket: `TurnEndpoint`, wired by server.ts). Whatever
 * process receives the agent's events records them: validated, numbered in the turn log,
 * published to every watcher. The end stores the reduced answer as the session's next message
 * (id = the turn's message_id) and the turn's outcome. A process that dies mid-turn leaves its
 * lease to lapse; any process then fails the turn, keeping what arrived.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { userIdOf, type Principal } from "../../auth/principal.js";
import { Conflict, NotFound, isUniqueViolation } from "../../errors.js";
import { newId } from "../../ids.js";
import { agents, type Agent } from "../agents/repository.js";
import type { Knex } from "knex";
import { agentServers } from "../backplane/repository.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import type { MessageView, SessionMessages } from "../sessions/messages.js";
import { loadSessionFor, sessionAudience } from "../sessions/policy.js";
import { messages, sessions, type Session } from "../sessions/repository.js";
import { MAX_TURN_BYTES, MAX_TURN_EVENTS, emptySnapshot, readAgentEvent, reduce, type AgentEvent, type TurnSnapshot } from "./events.js";
import type { TurnLog } from "../../turns/log.js";
import { assertTakesTurns } from "./policy.js";
import { ONE_ACTIVE_PER_SESSION, presentTurn, turns, type Turn, type TurnView } from "./repository.js";

/** History a turn's agent is given. */
export const HISTORY_MESSAGES = 50;
/** A finished turn's log is kept this long for late readers (and a cancel remembered as long). */
const KEEP_LOG_MS = 60_000;
/** At most this many cancels are remembered. */
const MAX_REMEMBERED_CANCELS = 10_000;

export interface TurnContext {
  turn: Turn;
  agent: Agent;
  session: Session;
  trigger: MessageView;
  /** The messages before the trigger, oldest first. */
  history: MessageView[];
  /** Who asked, for the short-lived token an HTTP agent gets to act for them. */
  asker: Principal;
}

/** How a turn reaches its agent; events come back through `Turns.record`, the end through `Turns.finish`. */
export interface TurnEndpoint {
  run(context: TurnContext): void;
}

export type TurnFeedItem = { kind: "event"; seq: number; event: unknown } | { kind: "ended"; turn: TurnView };

export type TurnOutcome = { status: "completed" } | { status: "failed"; error: string } | { status: "cancelled" };

/**
 * Runs inside the transaction that ends a turn (after its answer is stored): asks use it to
 * record their progress atomically with their turns. Answers turns to cancel after the commit.
 */
export type TurnEndHook = (trx: Knex.Transaction, emit: Emit, ended: Turn) => Promise<{ cancel: Turn[] } | void>;

/** What this process knows of a turn it records. */
interface Recording {
  turn: Turn;
  /** A cancel was asked for: the end the agent reports is a cancel. */
  cancelling: boolean;
  audience: ReturnType<typeof sessionAudience>;
  snapshot: TurnSnapshot;
  events: number;
  bytes: number;
  ended: boolean;
}

export class Turns {
  private endpoint: TurnEndpoint | undefined;
  /** Turns whose events this process records (it runs them, or hosts their serving socket). */
  private readonly recording = new Map<string, Recording>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Local listeners of turns' events (an SSE answer), and of cancels (an HTTP call to abort). */
  private readonly listeners = new Map<string, Set<(e: TurnFeedItem) => void>>();
  private readonly cancelHandlers = new Map<string, () => void>();
  /** Cancels that reached this process (turn id -> when), oldest first, bounded. */
  private readonly cancels = new Map<string, number>();
  /** Each turn's recording steps, run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private endHook: TurnEndHook | undefined;

  constructor(
    private readonly deps: TxDeps,
    private readonly log: TurnLog,
    private readonly sessionMessages: SessionMessages,
    private readonly logger: Logger,
    private readonly limits: {
      /** The longest a whole turn may take, whoever runs it. */
      turnTimeoutMs: number;
      /** A running turn's lease, renewed every third of it by the process working on it. */
      leaseMs: number;
    },
  ) {}

  /** Wires how turns reach agents, and starts renewing leases and failing lapsed turns. */
  useEndpoint(endpoint: TurnEndpoint): void {
    this.endpoint = endpoint;
    const renew = setInterval(() => void this.renewLeases(), this.limits.leaseMs / 3);
    const sweep = setInterval(() => void this.failLapsed(), this.limits.leaseMs / 3);
    renew.unref();
    sweep.unref();
    this.timers.push(renew, sweep);
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
  }

  /** Runs `hook` in every turn's ending transaction (asks.ts). */
  onEnd(hook: TurnEndHook): void {
    this.endHook = hook;
  }

  /**
   * Stores the user's message (idempotent by id) and starts a turn on it. The same message id
   * again answers the turn it started; another turn while one is active is 409.
   */
  async start(actor: Principal, agentId: string, sessionId: string, input: { content: string; id?: string | undefined }): Promise<{ turn: TurnView; message: MessageView }> {
    const prepared = this.sessionMessages.prepare({ id: input.id ?? randomUUID(), role: "user", content: input.content });
    let started: { turn: Turn; message: MessageView; session: Session; created: boolean };
    try {
      started = await transact(this.deps, async (trx, emit) => {
        const session = await loadSessionFor(trx, actor, sessionId, "append", agentId);
        const agent = session.agent_id;
        if (agent === null) throw new Conflict("This is a group conversation: ask the group (POST /api/groups/{groupId}/conversations/{sessionId}/ask)");
        assertTakesTurns(agent, (await agentServers.fields(trx, session.workspace_id, [agent])).get(agent)?.status);
        const { message, created } = await this.sessionMessages.appendLocked(trx, emit, session, prepared);
        if (!created) {
          const earlier = await trx("turns").where({ session_id: session.id, trigger_message_id: message.id }).first("id");
          if (earlier) return { turn: (await turns.byId(trx, earlier.id))!, message, session, created: false };
        }
        const [turn] = await this.insertTurns(trx, session, [agent], message, actor);
        return { turn: turn!, message, session, created: true };
      });
    } catch (err) {
      if (isUniqueViolation(err, ONE_ACTIVE_PER_SESSION)) throw new Conflict("A turn is already running on this session; wait for it to end or cancel it");
      throw err;
    }
    const { turn, message, session } = started;
    if (started.created) this.launch([turn], session, message, actor);
    return { turn: presentTurn(turn), message };
  }

  /**
   * Inside the caller's transaction: one queued turn per agent on the session, triggered by
   * `trigger` (part of `askId` when given). The caller launches them after the commit.
   */
  async insertTurns(trx: Knex.Transaction, session: Session, agentIds: string[], trigger: MessageView, actor: Principal, askId?: string): Promise<Turn[]> {
    const rows = [];
    for (const agentId of agentIds) {
      rows.push(
        await turns.insert(
          trx,
          { id: newId("trn"), workspace_id: session.workspace_id, session_id: session.id, agent_id: agentId, trigger_message_id: trigger.id, message_id: randomUUID(), created_by: userIdOf(actor), ask_id: askId ?? null },
          this.limits.leaseMs,
        ),
      );
    }
    return rows;
  }

  /** After their transaction committed: announces the turns and hands each to its agent's endpoint, at once. */
  launch(started: Turn[], session: Session, trigger: MessageView, asker: Principal): void {
    for (const turn of started) {
      this.publish(turn, session, "turn.started");
      void this.dispatch(turn, session, trigger, asker);
    }
  }

  /** A turn of the session, with the answer so far. */
  /** `agentId` undefined: a session by id alone (group conversations; their route checked the group). */
  async get(actor: Principal, agentId: string | undefined, sessionId: string, turnId: string): Promise<TurnView & { seq: number; snapshot: TurnSnapshot }> {
    const { db } = this.deps;
    const session = await loadSessionFor(db, actor, sessionId, "read", agentId);
    const turn = await turns.find(db, session.workspace_id, turnId);
    if (!turn || turn.session_id !== session.id) throw new NotFound("Turn");
    return { ...presentTurn(turn), ...(await this.snapshot(turn.id)) };
  }

  /** For watchers: the session's queued or running turns (the caller checked access). */
  async active(sessionId: string): Promise<TurnView[]> {
    return (await turns.active(this.deps.db, sessionId)).map(presentTurn);
  }

  /** For watchers: a turn's answer so far, and the seq it is at. */
  async snapshot(turnId: string): Promise<{ seq: number; snapshot: TurnSnapshot }> {
    const entries = await this.log.read(turnId, 0, MAX_TURN_EVENTS + 2);
    const snapshot = emptySnapshot();
    for (const e of entries) reduce(snapshot, e.event as AgentEvent);
    return { seq: entries.length, snapshot };
  }

  /** A turn's events after `afterSeq`, as watchers receive them (for gap repair). */
  async eventsAfter(turnId: string, afterSeq: number, limit: number): Promise<Array<{ seq: number; event: unknown }>> {
    return this.log.read(turnId, afterSeq, limit);
  }

  /**
   * Ends the turn at once as cancelled, keeping what arrived before the cancel and dropping
   * anything the agent sends after it, and tells whoever runs it to stop. Answers the turn as
   * it now is (another end that won the race stands: a turn that completed first stays so).
   */
  async cancel(actor: Principal, agentId: string | undefined, sessionId: string, turnId: string): Promise<TurnView> {
    const { db } = this.deps;
    const session = await loadSessionFor(db, actor, sessionId, "append", agentId);
    const turn = await turns.find(db, session.workspace_id, turnId);
    if (!turn || turn.session_id !== session.id) throw new NotFound("Turn");
    await this.stop(turn);
    return presentTurn((await turns.byId(db, turn.id)) ?? turn);
  }

  /**
   * Ends an active turn as cancelled, here and now: its log is closed first, so the answer
   * stored is exactly what was logged before the cancel, on whichever process records it.
   * Then whoever runs it is told to stop (an HTTP call is aborted, a serving socket gets
   * `turn:cancel`). Should the end fail here (Postgres away), the process running the turn
   * ends it when the cancel reaches it, and the lease sweep after that.
   */
  async stop(turn: Turn): Promise<void> {
    if (turn.status !== "queued" && turn.status !== "running") return;
    try {
      await this.log.close(turn.id);
      await this.finish(turn.id, { status: "cancelled" });
    } finally {
      this.deps.bus.publish({ type: "turn.cancel", workspaceId: turn.workspace_id, agentId: turn.agent_id, turnId: turn.id });
    }
  }

  /** The turn is being worked on by this process from now: it records its events and renews its lease. */
  async begin(turnId: string): Promise<Turn | undefined> {
    const turn = await turns.markRunning(this.deps.db, turnId, this.limits.leaseMs);
    if (!turn) return undefined;
    await this.track(turn);
    const limit = setTimeout(() => void this.finish(turnId, { status: "failed", error: `the turn took longer than ${this.limits.turnTimeoutMs / 1000} s` }), this.limits.turnTimeoutMs);
    limit.unref();
    return turn;
  }

  /**
   * One event from the agent: validated, numbered, published. A bad one ends the turn with an
   * error (keeping what arrived); `done` ends it. Answers false once the turn is over.
   */
  record(turnId: string, raw: unknown, from?: { workspaceId: string; agentId: string }): Promise<boolean> {
    return this.inOrder(turnId, () => this.recordNow(turnId, raw, from)).catch((err) => {
      this.logger.error({ err, turn: turnId }, "could not record a turn's event");
      return false;
    });
  }

  /**
   * Runs a turn's recording steps one after another, in the order they were asked for: events of
   * one turn arrive faster than the first one's lookups finish, and must be logged in order.
   */
  private inOrder<T>(turnId: string, step: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(turnId) ?? Promise.resolve();
    const next = previous.then(step, step);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(turnId, settled);
    void settled.then(() => {
      if (this.queues.get(turnId) === settled) this.queues.delete(turnId);
    });
    return next;
  }

  private async recordNow(turnId: string, raw: unknown, from?: { workspaceId: string; agentId: string }): Promise<boolean> {
    const rec = this.recording.get(turnId) ?? (await this.trackById(turnId));
    if (!rec || rec.ended) return false;
    // A serving socket answers only its own agent's turns.
    if (from && (from.workspaceId !== rec.turn.workspace_id || from.agentId !== rec.turn.agent_id)) return false;
    const read = readAgentEvent(raw);
    if ("problem" in read) {
      await this.finishNow(turnId, { status: "failed", error: `the agent sent ${read.problem}` });
      return false;
    }
    const event = read.event;
    if (event.type === "done") {
      // An agent that says it stopped because it was cancelled was (its cancel may have reached it from another node first).
      const cancelled = rec.cancelling || rec.snapshot.finishReason === "cancelled";
      const outcome: TurnOutcome = cancelled ? { status: "cancelled" } : rec.snapshot.error ? { status: "failed", error: rec.snapshot.error } : { status: "completed" };
      await this.finishNow(turnId, outcome);
      return false;
    }
    rec.events++;
    rec.bytes += Buffer.byteLength(JSON.stringify(event));
    if (rec.events > MAX_TURN_EVENTS || rec.bytes > MAX_TURN_BYTES) {
      await this.finishNow(turnId, { status: "failed", error: `the agent sent more than ${MAX_TURN_EVENTS} events or ${MAX_TURN_BYTES} bytes` });
      return false;
    }
    return this.append(rec, event);
  }

  /**
   * Ends a turn once, whichever process asks first: in one transaction the turn's outcome is
   * recorded and what arrived is stored as the assistant message (only one process can win it),
   * then the stream is closed (an `error` event when it failed, `done` last).
   */
  finish(turnId: string, outcome: TurnOutcome): Promise<void> {
    return this.inOrder(turnId, () => this.finishNow(turnId, outcome)).catch((err) => {
      this.logger.error({ err, turn: turnId }, "could not end a turn; the lease sweep will try again");
    });
  }

  private async finishNow(turnId: string, outcome: TurnOutcome): Promise<void> {
    const rec = this.recording.get(turnId) ?? (await this.trackById(turnId));
    if (!rec || rec.ended) return;
    rec.ended = true;
    try {
      // A cancel may end the turn on a process that does not record its events (the one that
      // dispatched it to a socket elsewhere): the closed log holds everything the answer keeps.
      if (outcome.status === "cancelled") rec.snapshot = (await this.snapshot(turnId)).snapshot;
      const error = outcome.status === "failed" ? storableError(outcome.error) : null;
      let followUp: { cancel: Turn[] } | void = undefined;
      const ended = await transact(this.deps, async (trx, emit) => {
        const t = await turns.end(trx, turnId, outcome.status, error);
        if (t) {
          await this.storeAnswer(trx, emit, rec, outcome);
          followUp = await this.endHook?.(trx, emit, t);
        }
        return t;
      });
      this.recording.delete(turnId);
      if (!ended) return; // another process ended it
      for (const other of (followUp as { cancel: Turn[] } | void)?.cancel ?? []) void this.stop(other).catch((err) => this.logger.warn({ err, turn: other.id }, "could not cancel a turn"));
      if (error) await this.append(rec, { type: "error", error }, true);
      await this.append(rec, { type: "done" }, true);
      const session = await sessions.find(this.deps.db, ended.workspace_id, ended.session_id);
      if (session) this.publish(ended, session, "turn.ended");
      await this.log.expire(turnId, KEEP_LOG_MS);
    } catch (err) {
      rec.ended = false; // tried again by the next event, a cancel, or the lease sweep
      this.logger.error({ err, turn: turnId }, "could not end a turn");
    }
  }

  // ---- this process's view of turns' events (fed by the realtime router, every process) ------

  /** Listens to a turn's events as this process receives them; answers how to stop listening. */
  listen(turnId: string, listener: (e: TurnFeedItem) => void): () => void {
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

  /** Runs `handler` when a cancel of the turn reaches this process (until the turn ends here). */
  whenCancelled(turnId: string, handler: () => void): () => void {
    this.cancelHandlers.set(turnId, handler);
    return () => this.cancelHandlers.delete(turnId);
  }

  /**
   * A cancel of the turn reached this process. It is remembered for a while too: the agent's
   * answer to it may reach this process before this process has started recording the turn.
   */
  cancelRequested(turnId: string): void {
    const rec = this.recording.get(turnId);
    if (rec) rec.cancelling = true;
    this.cancels.set(turnId, Date.now());
    for (const [id, at] of this.cancels) {
      if (this.cancels.size <= MAX_REMEMBERED_CANCELS && Date.now() - at < KEEP_LOG_MS) break;
      this.cancels.delete(id);
    }
    this.cancelHandlers.get(turnId)?.();
    // The canceller ended the turn before telling anyone: this ends it here only if that failed,
    // and stops this process recording (and renewing the lease of) a turn that is over.
    if (rec) void this.finish(turnId, { status: "cancelled" });
  }

  /** Whether this process records the turn (it runs it or hosts its serving socket). */
  isRecording(turnId: string): boolean {
    return this.recording.has(turnId);
  }

  private async dispatch(turn: Turn, session: Session, trigger: MessageView, asker: Principal): Promise<void> {
    try {
      const agent = await agents.find(this.deps.db, turn.workspace_id, turn.agent_id);
      if (!agent || !this.endpoint) return void (await this.finish(turn.id, { status: "failed", error: "the agent has no endpoint" }));
      const before = Math.max(0, trigger.seq - 1 - HISTORY_MESSAGES);
      const history = await messages.after(this.deps.db, session.id, before, Math.min(HISTORY_MESSAGES, trigger.seq - 1));
      this.endpoint.run({ turn, agent, session, trigger, history, asker });
    } catch (err) {
      this.logger.error({ err, turn: turn.id }, "could not dispatch a turn");
      await this.finish(turn.id, { status: "failed", error: "the hub could not start the turn" });
    }
  }

  /**
   * Logs and publishes one event; false when the log was closed (the turn ended on another
   * process, e.g. cancelled there): the event is dropped and this process stops recording it.
   */
  private async append(rec: Recording, event: AgentEvent | { type: "error"; error: string } | { type: "done" }, final = false): Promise<boolean> {
    const seq = await this.log.append(rec.turn.id, event, final);
    if (seq === 0) {
      rec.ended = true;
      this.recording.delete(rec.turn.id);
      return false;
    }
    reduce(rec.snapshot, event as AgentEvent);
    const t = rec.turn;
    this.deps.bus.publish({ type: "turn.event", workspaceId: t.workspace_id, agentId: t.agent_id, sessionId: t.session_id, turnId: t.id, seq, event, audience: rec.audience });
    return true;
  }

  /** Stores what arrived as the assistant message; an answer the agent stored itself under the turn's message id stands. */
  private async storeAnswer(trx: Knex.Transaction, emit: Emit, rec: Recording, outcome: TurnOutcome): Promise<void> {
    const s = rec.snapshot;
    const session = await sessions.find(trx, rec.turn.workspace_id, rec.turn.session_id);
    if (!session || (await messages.find(trx, session.id, rec.turn.message_id))) return;
    const finishReason = outcome.status === "completed" ? (s.finishReason ?? "stop") : outcome.status === "failed" ? "error" : "cancelled";
    const prepared = this.sessionMessages.prepare({
      id: rec.turn.message_id,
      role: "assistant",
      // In a group's conversation, who answered.
      agentId: session.agent_id === null ? rec.turn.agent_id : undefined,
      content: s.content,
      thinking: s.thinking.length ? s.thinking : undefined,
      toolCalls: s.toolCalls.length ? s.toolCalls : undefined,
      sources: s.sources.length ? s.sources : undefined,
      model: s.model,
      finishReason,
      tokenUsage: s.tokenUsage,
      metadata: Object.keys(s.metadata).length ? s.metadata : undefined,
    }, 2 * MAX_TURN_BYTES);
    await this.sessionMessages.appendLocked(trx, emit, session, prepared);
  }

  private async track(turn: Turn): Promise<Recording> {
    const existing = this.recording.get(turn.id);
    if (existing) return existing;
    const session = await sessions.find(this.deps.db, turn.workspace_id, turn.session_id);
    const { seq, snapshot } = await this.snapshot(turn.id);
    const rec: Recording = { turn, cancelling: this.cancels.has(turn.id), audience: session ? sessionAudience(session.readers) : { agentId: null, ownerUserId: null, groupIds: [] }, snapshot, events: seq, bytes: 0, ended: false };
    this.recording.set(turn.id, rec);
    return rec;
  }

  private async trackById(turnId: string): Promise<Recording | undefined> {
    const turn = await turns.byId(this.deps.db, turnId);
    if (!turn || (turn.status !== "queued" && turn.status !== "running")) return undefined;
    return this.track(turn);
  }

  private publish(turn: Turn, session: Session, type: "turn.started" | "turn.ended"): void {
    this.deps.bus.publish({ type, workspaceId: turn.workspace_id, agentId: turn.agent_id, sessionId: turn.session_id, turn: presentTurn(turn), audience: sessionAudience(session.readers) });
  }

  private async renewLeases(): Promise<void> {
    for (const id of this.recording.keys()) await turns.renew(this.deps.db, id, this.limits.leaseMs).catch((err) => this.logger.warn({ err, turn: id }, "could not renew a turn's lease"));
  }

  /** Turns whose process stopped (lease lapsed) are failed here, keeping what their log holds. */
  private async failLapsed(): Promise<void> {
    try {
      for (const turn of await turns.lapsed(this.deps.db, 100)) {
        if (this.recording.has(turn.id)) continue;
        await this.finish(turn.id, { status: "failed", error: "the hub process running this turn stopped" });
      }
    } catch (err) {
      this.logger.warn({ err }, "could not look for lapsed turns");
    }
  }
}

/** A turn's error as Postgres can store it and people can read it: no NUL or other control characters, bounded. */
function storableError(error: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = error.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "\ufffd").trim();
  return (clean || "the turn failed").slice(0, 4000);
}
