/**
 * Turns, the use cases: the hub runs an agent on a session. Starting one stores the user's
 * message and a turn row in one transaction (one active turn per session), then hands it to the
 * turn runner (`TurnRunner`, runner.ts: src/turns/runtime.ts, given at construction), which takes
 * it to the agent, records its events and ends it. Reading and cancelling one are checked here.
 */
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import { userIdOf, type Principal } from "../../auth/principal.js";
import { Conflict, NotFound, isUniqueViolation } from "../../errors.js";
import { newId } from "../../ids.js";
import { approvals, presentApproval, type ApprovalView } from "../approvals/repository.js";
import { agentServers } from "../backplane/repository.js";
import { transact, type TxDeps } from "../events.js";
import type { MessageView, SessionMessages } from "../sessions/messages.js";
import { loadSessionFor } from "../sessions/policy.js";
import type { Session } from "../sessions/repository.js";
import type { TurnSnapshot } from "./events.js";
import { assertTakesTurns } from "./policy.js";
import { ONE_ACTIVE_PER_SESSION, presentTurn, turns, type Turn, type TurnView } from "./repository.js";
import type { TurnEndHook, TurnFeedItem, TurnRunner } from "./runner.js";

/** A turn as GET …/turns/{turnId} answers it: with the answer so far, the seq it is at, and its approvals. */
export type TurnDetail = TurnView & { seq: number; snapshot: TurnSnapshot; approvals: ApprovalView[] };

export type { TurnEndHook, TurnFeedItem, TurnOutcome } from "./runner.js";

export class Turns {
  constructor(
    private readonly deps: TxDeps,
    private readonly sessionMessages: SessionMessages,
    private readonly runner: TurnRunner,
    private readonly limits: {
      /** A new turn's lease: until a process takes it up, after which that process renews it. */
      leaseMs: number;
    },
  ) {}

  /** Runs `hook` in every turn's ending transaction (asks.ts); hooks added earlier run first. */
  onEnd(hook: TurnEndHook): void {
    this.runner.onEnd(hook);
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

  /** After their transaction committed: announces the turns and hands each to its agent, at once. */
  launch(started: Turn[], session: Session, trigger: MessageView, asker: Principal): void {
    this.runner.launch(started, session, trigger, asker);
  }

  /** A turn of the session, with the answer so far; `agentId` undefined: the session by id alone (/v1 reads threads so; the session policy decides). */
  async get(actor: Principal, agentId: string | undefined, sessionId: string, turnId: string): Promise<TurnDetail> {
    return this.turnOf(await loadSessionFor(this.deps.db, actor, sessionId, "read", agentId), turnId);
  }

  /**
   * A turn by its id alone, for protocols whose task id is the turn id (A2A): the turn must be
   * of the caller's workspace and of a session of `agentId` the caller may read; otherwise 404.
   */
  async getById(actor: Principal, agentId: string, turnId: string): Promise<TurnDetail> {
    const turn = await turns.find(this.deps.db, actor.workspaceId, turnId);
    if (!turn || turn.agent_id !== agentId) throw new NotFound("Turn");
    return this.get(actor, agentId, turn.session_id, turnId);
  }

  /** Cancels a turn by its id alone (as getById; the caller must be able to append to its session). */
  async cancelById(actor: Principal, agentId: string, turnId: string): Promise<TurnView> {
    const turn = await turns.find(this.deps.db, actor.workspaceId, turnId);
    if (!turn || turn.agent_id !== agentId) throw new NotFound("Turn");
    return this.cancel(actor, agentId, turn.session_id, turnId);
  }

  /** A turn of a session the caller already loaded with the right to read it, with its `seq` and snapshot. */
  async turnOf(session: Session, turnId: string): Promise<TurnDetail> {
    const turn = await turns.find(this.deps.db, session.workspace_id, turnId);
    if (!turn || turn.session_id !== session.id) throw new NotFound("Turn");
    return { ...presentTurn(turn), ...(await this.runner.snapshot(turn.id)), approvals: await this.approvalsOf(turn.id) };
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

  /** Ends an active turn as cancelled, here and now (the runner's `stop`: asks cancel theirs so). */
  stop(turn: Turn): Promise<void> {
    return this.runner.stop(turn);
  }

  // ---- for watchers (SSE answers, socket delivery): the caller checked access ----------------

  /** The session's queued or running turns. */
  async active(sessionId: string): Promise<TurnView[]> {
    return (await turns.active(this.deps.db, sessionId)).map(presentTurn);
  }

  /** What the turn asked people, oldest first (domain/approvals). */
  async approvalsOf(turnId: string): Promise<ApprovalView[]> {
    return (await approvals.ofTurn(this.deps.db, turnId)).map(presentApproval);
  }

  /** A turn's answer so far, and the seq it is at. */
  snapshot(turnId: string): Promise<{ seq: number; snapshot: TurnSnapshot }> {
    return this.runner.snapshot(turnId);
  }

  /** A turn's events after `afterSeq`, as watchers receive them (for gap repair). */
  eventsAfter(turnId: string, afterSeq: number, limit: number): Promise<Array<{ seq: number; event: unknown }>> {
    return this.runner.eventsAfter(turnId, afterSeq, limit);
  }

  /** Listens to a turn's events as this process receives them; answers how to stop listening. */
  listen(turnId: string, listener: (e: TurnFeedItem) => void): () => void {
    return this.runner.listen(turnId, listener);
  }
}
