/**
 * Recording a turn's events on the process that receives them (it runs the turn, or hosts its
 * serving socket): each is validated, numbered in the turn log and published to every watcher,
 * one after another per turn. The end is recorded once, whichever process asks first: in one
 * transaction the outcome and the answer are stored (domain/turns/ending.ts) and the end hooks
 * run, then the stream is closed (an `error` event when it failed, `done` last).
 */
import type { Logger } from "pino";
import { transact, type TxDeps } from "../domain/events.js";
import type { SessionMessages } from "../domain/sessions/messages.js";
import { sessionAudience } from "../domain/sessions/policy.js";
import { sessions, type Session } from "../domain/sessions/repository.js";
import { endTurn, storableError } from "../domain/turns/ending.js";
import { MAX_TURN_BYTES, MAX_TURN_EVENTS, readAgentEvent, reduce, type AgentEvent, type ApprovalRequest, type TurnSnapshot } from "../domain/turns/events.js";
import { isActive, presentTurn, turns, type Turn } from "../domain/turns/repository.js";
import type { Approvals } from "../domain/approvals/service.js";
import type { ApprovalView } from "../domain/approvals/repository.js";
import type { TurnEndHook, TurnOutcome } from "../domain/turns/runner.js";
import type { TurnFeed } from "./feed.js";
import type { TurnLog } from "./log.js";

/** A finished turn's log is kept this long for late readers. */
export const KEEP_LOG_MS = 60_000;
/** The most approvals one turn may ask for. */
export const MAX_TURN_APPROVALS = 50;

/** What this process knows of a turn it records. */
interface Recording {
  turn: Turn;
  /** A cancel was asked for: the end the agent reports is a cancel. */
  cancelling: boolean;
  audience: ReturnType<typeof sessionAudience>;
  snapshot: TurnSnapshot;
  events: number;
  bytes: number;
  approvals: number;
  ended: boolean;
}

/** How a turn ends: `unlessWaiting` leaves a turn that waits for people as it is (its agent's socket went away; the decision will find it). */
export interface FinishOptions {
  unlessWaiting?: boolean;
}

export interface RecorderDeps {
  tx: TxDeps;
  log: TurnLog;
  feed: TurnFeed;
  sessionMessages: SessionMessages;
  logger: Logger;
  /** Run in every turn's ending transaction, in the order they were added. */
  endHooks: readonly TurnEndHook[];
  /** Whether a cancel of the turn reached this process before it recorded the turn. */
  wasCancelled(turnId: string): boolean;
  /** Cancels a turn an end hook asked to cancel. */
  stop(turn: Turn): Promise<void>;
  /** Stores what a turn asks people, and makes it wait (domain/approvals). */
  approvals: Pick<Approvals, "request">;
}

export class TurnRecorder {
  private readonly recording = new Map<string, Recording>();
  /** Each turn's recording steps, run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: RecorderDeps) {}

  /** The turns this process records. */
  ids(): IterableIterator<string> {
    return this.recording.keys();
  }

  isRecording(turnId: string): boolean {
    return this.recording.has(turnId);
  }

  /** A cancel reached this process: the end the agent reports for the turn is a cancel. Answers whether it records the turn. */
  markCancelling(turnId: string): boolean {
    const rec = this.recording.get(turnId);
    if (rec) rec.cancelling = true;
    return !!rec;
  }

  /** Starts recording the turn here (no-op when it already is). */
  async track(turn: Turn): Promise<void> {
    await this.trackTurn(turn);
  }

  /**
   * One event from the agent: validated, numbered, published. A bad one ends the turn with an
   * error (keeping what arrived); `done` ends it. Answers false once the turn is over.
   */
  record(turnId: string, raw: unknown, from?: { workspaceId: string; agentId: string }): Promise<boolean> {
    return this.inOrder(turnId, () => this.recordNow(turnId, raw, from)).catch((err) => {
      this.deps.logger.error({ err, turn: turnId }, "could not record a turn's event");
      return false;
    });
  }

  /**
   * The turn asks people (an endpoint running its agent here asks for it; a socket agent sends an
   * `approval_request`): in order with its events. Undefined when the turn is over or asked too often.
   */
  requestApproval(turnId: string, request: ApprovalRequest): Promise<ApprovalView | undefined> {
    return this.inOrder(turnId, async () => {
      const rec = this.recording.get(turnId) ?? (await this.trackById(turnId));
      if (!rec || rec.ended) return undefined;
      return this.ask(rec, request);
    });
  }

  /** Ends a turn once, whichever process asks first (a failure to end is logged; the lease sweep tries again). */
  finish(turnId: string, outcome: TurnOutcome, options: FinishOptions = {}): Promise<void> {
    return this.inOrder(turnId, () => this.finishNow(turnId, outcome, options)).catch((err) => {
      this.deps.logger.error({ err, turn: turnId }, "could not end a turn; the lease sweep will try again");
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
    if (event.type === "approval_request") return !!(await this.ask(rec, event));
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

  /** Stores the approval and makes the turn wait; past MAX_TURN_APPROVALS the turn fails instead. */
  private async ask(rec: Recording, request: ApprovalRequest): Promise<ApprovalView | undefined> {
    if (++rec.approvals > MAX_TURN_APPROVALS) {
      await this.finishNow(rec.turn.id, { status: "failed", error: `the agent asked for more than ${MAX_TURN_APPROVALS} approvals in one turn` });
      return undefined;
    }
    const asked = await this.deps.approvals.request(rec.turn, request);
    if (!asked) {
      rec.ended = true;
      this.recording.delete(rec.turn.id);
    }
    return asked;
  }

  private async finishNow(turnId: string, outcome: TurnOutcome, options: FinishOptions = {}): Promise<void> {
    const rec = this.recording.get(turnId) ?? (await this.trackById(turnId));
    if (!rec || rec.ended) return;
    rec.ended = true;
    const { tx, sessionMessages, endHooks } = this.deps;
    try {
      // A cancel may end the turn on a process that does not record its events (the one that
      // dispatched it to a socket elsewhere): the closed log holds everything the answer keeps.
      if (outcome.status === "cancelled") rec.snapshot = (await this.deps.feed.snapshot(turnId)).snapshot;
      const cancel: Turn[] = [];
      const ended = await transact(tx, async (trx, emit) => {
        const t = await endTurn(trx, emit, sessionMessages, turnId, outcome, rec.snapshot, options.unlessWaiting);
        if (!t) return undefined;
        for (const hook of endHooks) cancel.push(...((await hook(trx, emit, t))?.cancel ?? []));
        return t;
      });
      this.recording.delete(turnId);
      if (!ended) return; // another process ended it
      for (const other of cancel) void this.deps.stop(other).catch((err) => this.deps.logger.warn({ err, turn: other.id }, "could not cancel a turn"));
      if (outcome.status === "failed") await this.append(rec, { type: "error", error: storableError(outcome.error) }, true);
      await this.append(rec, { type: "done" }, true);
      const session = await sessions.find(tx.db, ended.workspace_id, ended.session_id);
      if (session) publishTurn(tx, ended, session, "turn.ended");
      await this.deps.log.expire(turnId, KEEP_LOG_MS);
    } catch (err) {
      rec.ended = false; // tried again by the next event, a cancel, or the lease sweep
      this.deps.logger.error({ err, turn: turnId }, "could not end a turn");
    }
  }

  /**
   * Logs and publishes one event; false when the log was closed (the turn ended on another
   * process, e.g. cancelled there): the event is dropped and this process stops recording it.
   */
  private async append(rec: Recording, event: AgentEvent | { type: "error"; error: string } | { type: "done" }, final = false): Promise<boolean> {
    const seq = await this.deps.log.append(rec.turn.id, event, final);
    if (seq === 0) {
      rec.ended = true;
      this.recording.delete(rec.turn.id);
      return false;
    }
    reduce(rec.snapshot, event as AgentEvent);
    const t = rec.turn;
    this.deps.tx.bus.publish({ type: "turn.event", workspaceId: t.workspace_id, agentId: t.agent_id, sessionId: t.session_id, turnId: t.id, seq, event, audience: rec.audience });
    return true;
  }

  private async trackTurn(turn: Turn): Promise<Recording> {
    const existing = this.recording.get(turn.id);
    if (existing) return existing;
    const session = await sessions.find(this.deps.tx.db, turn.workspace_id, turn.session_id);
    const { seq, snapshot } = await this.deps.feed.snapshot(turn.id);
    const audience = session ? sessionAudience(session.readers) : { agentId: null, ownerUserId: null, groupIds: [] };
    const rec: Recording = { turn, cancelling: this.deps.wasCancelled(turn.id), audience, snapshot, events: seq, bytes: 0, approvals: 0, ended: false };
    this.recording.set(turn.id, rec);
    return rec;
  }

  private async trackById(turnId: string): Promise<Recording | undefined> {
    const turn = await turns.byId(this.deps.tx.db, turnId);
    if (!turn || !isActive(turn.status)) return undefined;
    return this.trackTurn(turn);
  }
}

/** Announces a turn's start or end to the session's watchers. */
export function publishTurn(tx: TxDeps, turn: Turn, session: Session, type: "turn.started" | "turn.ended"): void {
  tx.bus.publish({ type, workspaceId: turn.workspace_id, agentId: turn.agent_id, sessionId: turn.session_id, turn: presentTurn(turn), audience: sessionAudience(session.readers) });
}
