/**
 * Group conversations: sessions of a group (no agent), where any member asks the group's agents.
 * An ask stores the question (idempotent by id), routes it (routing.ts), and starts one turn per
 * chosen agent at once, all in one transaction; the turns then run as any turn does
 * (turns/service.ts), each answer stored with its `agentId` as it finishes. Every turn's end
 * records the ask's progress in the same transaction (`turnEnded`): the ask completes with its
 * last turn, and under `first` the first completed answer cancels the others.
 */
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import { authorOf, userIdOf, type Principal } from "../../auth/principal.js";
import { Conflict, NotFound, isUniqueViolation } from "../../errors.js";
import { newId } from "../../ids.js";
import { agents } from "../agents/repository.js";
import { agentServers } from "../backplane/repository.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { loadGroupFor } from "../groups/policy.js";
import { groups } from "../groups/repository.js";
import { rankDocuments } from "../knowledge/search.js";
import { roleForNewSession, roleScope } from "../rbac/policy.js";
import type { MessagePageInput, MessageView, SessionMessages } from "../sessions/messages.js";
import { sessionAudience } from "../sessions/policy.js";
import { sessions, type Session } from "../sessions/repository.js";
import { pageSessions, presentSession, type LoadSession, type PageInput, type SessionPage, type SessionView, type Sessions } from "../sessions/service.js";
import type { ShareLinkView, ShareLinks } from "../sharing/service.js";
import type { Clock } from "../time.js";
import { ONE_ACTIVE_PER_SESSION, isActive, turns, type Turn } from "../turns/repository.js";
import type { TurnDetail, Turns } from "../turns/service.js";
import { loadConversationFor } from "./policy.js";
import { ONE_RUNNING_PER_CONVERSATION, asks, presentAsk, type Ask, type AskView } from "./repository.js";
import { routeAsk, type AgentCard } from "./routing.js";
import type { z } from "zod";
import type { AskBody } from "../../http/routes/groups/schema.js";

export const DEFAULT_CONVERSATION_TITLE = "New conversation";

export class Conversations {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
    private readonly use: { turns: Turns; sessionMessages: SessionMessages; sessions: Sessions; shareLinks: ShareLinks },
    private readonly options: { tsConfig: string; maxAgentsPerAsk: number },
  ) {
    use.turns.onEnd((trx, emit, ended) => this.turnEnded(trx, emit, ended));
  }

  async create(actor: Principal, groupId: string, input: { title?: string | undefined }): Promise<SessionView> {
    return transact(this.deps, async (trx) => {
      const group = await loadGroupFor(trx, actor, groupId, "read");
      const session = await sessions.insert(trx, {
        id: newId("ses"),
        workspace_id: group.workspace_id,
        agent_id: null,
        group_id: group.id,
        owner_id: userIdOf(actor),
        title: input.title ?? DEFAULT_CONVERSATION_TITLE,
        title_is_default: input.title === undefined,
        now: this.clock.now(),
        role_id: roleForNewSession(await roleScope(trx, actor)),
      });
      return presentSession(session);
    });
  }

  /** The group's conversations, newest activity first. */
  async list(actor: Principal, groupId: string, page: PageInput): Promise<SessionPage> {
    const { db } = this.deps;
    const group = await loadGroupFor(db, actor, groupId, "read");
    return pageSessions(db, { workspaceId: group.workspace_id, conversationsOf: group.id, roleScope: await roleScope(db, actor) }, page);
  }

  async get(actor: Principal, groupId: string, sessionId: string): Promise<SessionView> {
    return presentSession((await loadConversationFor(this.deps.db, actor, groupId, sessionId, "read")).session);
  }

  async messages(actor: Principal, groupId: string, sessionId: string, page: MessagePageInput): Promise<{ messages: MessageView[]; next_cursor: string | null }> {
    const { session } = await loadConversationFor(this.deps.db, actor, groupId, sessionId, "read");
    return this.use.sessionMessages.pageOf(session, page);
  }

  /**
   * The group's rule, then the session's: the conversation is loaded and checked once per use
   * case (in the transaction that changes it, when one does), and the loaded session is handed
   * to the session, share and turn logic, which do not look it up again.
   */
  private load(actor: Principal, groupId: string, sessionId: string, action: "read" | "write" | "share"): LoadSession {
    return async (db) => (await loadConversationFor(db, actor, groupId, sessionId, action)).session;
  }

  private loaded(actor: Principal, groupId: string, sessionId: string, action: "read" | "share"): Promise<Session> {
    return this.load(actor, groupId, sessionId, action)(this.deps.db);
  }

  async rename(actor: Principal, groupId: string, sessionId: string, title: string): Promise<void> {
    await this.use.sessions.renameLoaded(this.load(actor, groupId, sessionId, "write"), title);
  }

  async remove(actor: Principal, groupId: string, sessionId: string): Promise<void> {
    await this.use.sessions.removeLoaded(this.load(actor, groupId, sessionId, "write"));
  }

  async getTurn(actor: Principal, groupId: string, sessionId: string, turnId: string): Promise<TurnDetail> {
    return this.use.turns.turnOf(await this.loaded(actor, groupId, sessionId, "read"), turnId);
  }

  async share(actor: Principal, groupId: string, sessionId: string, expiresInHours: number): Promise<ShareLinkView> {
    return this.use.shareLinks.createFor(actor, await this.loaded(actor, groupId, sessionId, "share"), expiresInHours);
  }

  async revokeShare(actor: Principal, groupId: string, sessionId: string): Promise<void> {
    await this.use.shareLinks.revokeFor(actor, await this.loaded(actor, groupId, sessionId, "read"));
  }

  /**
   * Stores the question and starts a turn for each agent it is routed to, at once. The same
   * question id again answers the ask it started; another ask while one runs is 409.
   */
  async ask(actor: Principal, groupId: string, sessionId: string, input: z.output<typeof AskBody>): Promise<{ ask: AskView; message: MessageView }> {
    const prepared = this.use.sessionMessages.prepare({ id: input.id ?? randomUUID(), role: "user", content: input.content, ...authorOf(actor) });
    let done: { ask: Ask; turns: Turn[]; message: MessageView; session: Session; created: boolean };
    try {
      done = await transact(this.deps, async (trx, emit) => {
        const { group, session } = await loadConversationFor(trx, actor, groupId, sessionId, "append");
        const { message, created } = await this.use.sessionMessages.appendLocked(trx, emit, session, prepared);
        if (!created) {
          const earlier = await asks.byMessage(trx, session.id, message.id);
          if (earlier) return { ask: earlier, turns: await turns.ofAsk(trx, earlier.id), message, session, created: false };
        }
        const route = await routeAsk(input, {
          group: await this.cards(trx, group.workspace_id, group.id),
          rank: (question, cards) => rankDocuments(trx, this.options.tsConfig, question, cards.map((c) => ({ id: c.id, title: c.name, text: c.description ?? "" }))),
          lastRoundRobin: await asks.lastRoundRobin(trx, session.id),
          max: this.options.maxAgentsPerAsk,
        });
        const ask = await asks.insert(trx, {
          id: newId("ask"),
          workspace_id: group.workspace_id,
          group_id: group.id,
          session_id: session.id,
          message_id: message.id,
          strategy: route.strategy,
          agent_ids: route.agentIds,
          ignored_mentions: route.ignoredMentions,
          created_by: userIdOf(actor),
          created_at: this.clock.now(),
        });
        const started = await this.use.turns.insertTurns(trx, session, route.agentIds, message, actor, ask.id);
        emitAsk(emit, ask, started, session);
        return { ask, turns: started, message, session, created: true };
      });
    } catch (err) {
      if (isUniqueViolation(err, ONE_RUNNING_PER_CONVERSATION) || isUniqueViolation(err, ONE_ACTIVE_PER_SESSION)) {
        throw new Conflict("An ask is already running in this conversation; wait for it to complete or cancel it");
      }
      throw err;
    }
    if (done.created) this.use.turns.launch(done.turns, done.session, done.message, actor);
    return { ask: presentAsk(done.ask, done.turns), message: done.message };
  }

  async getAsk(actor: Principal, groupId: string, sessionId: string, askId: string): Promise<AskView> {
    const { db } = this.deps;
    const { session } = await loadConversationFor(db, actor, groupId, sessionId, "read");
    const ask = await asks.find(db, session.id, askId);
    if (!ask) throw new NotFound("Ask");
    return presentAsk(ask, await turns.ofAsk(db, ask.id));
  }

  /** An ask by its id alone (A2A's task id): as getAsk, in the conversation it belongs to; 404 otherwise. */
  async askById(actor: Principal, groupId: string, askId: string): Promise<AskView> {
    const ask = await asks.inGroup(this.deps.db, groupId, askId);
    if (!ask || ask.workspace_id !== actor.workspaceId) throw new NotFound("Ask");
    return this.getAsk(actor, groupId, ask.session_id, askId);
  }

  /** Cancels an ask by its id alone (as cancelAsk). */
  async cancelAskById(actor: Principal, groupId: string, askId: string): Promise<AskView> {
    const ask = await asks.inGroup(this.deps.db, groupId, askId);
    if (!ask || ask.workspace_id !== actor.workspaceId) throw new NotFound("Ask");
    return this.cancelAsk(actor, groupId, ask.session_id, askId);
  }

  /** Ends every running turn of the ask at once, as cancelled; what they produced is kept. */
  async cancelAsk(actor: Principal, groupId: string, sessionId: string, askId: string): Promise<AskView> {
    const { db } = this.deps;
    const { session } = await loadConversationFor(db, actor, groupId, sessionId, "append");
    const ask = await asks.find(db, session.id, askId);
    if (!ask) throw new NotFound("Ask");
    await Promise.all((await turns.ofAsk(db, ask.id)).map((t) => this.use.turns.stop(t)));
    return presentAsk((await asks.find(db, session.id, askId)) ?? ask, await turns.ofAsk(db, ask.id));
  }

  /** A group dropped agents: their running turns in its conversations are cancelled. */
  async agentsDropped(groupId: string): Promise<void> {
    const kept = (await groups.agents(this.deps.db, [groupId])).get(groupId) ?? [];
    await Promise.all((await turns.activeInGroupOf(this.deps.db, groupId, kept)).map((t) => this.use.turns.stop(t)));
  }

  /** In the transaction that ends one of an ask's turns: completes the ask with its last turn; `first` cancels the rest. */
  private async turnEnded(trx: Knex.Transaction, emit: Emit, ended: Turn): Promise<{ cancel: Turn[] } | void> {
    if (!ended.ask_id) return;
    const ask = await asks.lock(trx, ended.ask_id);
    if (!ask) return;
    const askTurns = await turns.ofAsk(trx, ask.id);
    const active = askTurns.filter((t) => isActive(t.status));
    const current = active.length ? ask : await asks.complete(trx, ask.id);
    const session = await sessions.find(trx, ask.workspace_id, ask.session_id);
    if (session) emitAsk(emit, current, askTurns, session);
    const firstAnswer = ask.strategy === "first" && ended.status === "completed" && askTurns.filter((t) => t.status === "completed").length === 1;
    return { cancel: firstAnswer ? active : [] };
  }

  /** The group's agents as routing sees them, in the group's order. */
  private async cards(db: Knex, workspaceId: string, groupId: string): Promise<AgentCard[]> {
    const ids = (await groups.agents(db, [groupId])).get(groupId) ?? [];
    const found = new Map((await agents.page(db, workspaceId, ids, undefined, ids.length || 1)).map((a) => [a.id, a]));
    const servers = await agentServers.fields(db, workspaceId, ids);
    return ids.flatMap((id) => {
      const a = found.get(id);
      return a ? [{ id, name: a.name, description: a.description, takesTurns: servers.get(id)?.status !== "INACTIVE" }] : [];
    });
  }
}

/** To the conversation's audience (its group's members, role binding applied: sessions/policy.ts) and watchers. */
function emitAsk(emit: Emit, ask: Ask, askTurns: Turn[], session: Session): void {
  emit({ type: "ask.updated", workspaceId: ask.workspace_id, groupId: ask.group_id, sessionId: ask.session_id, ask: presentAsk(ask, askTurns), audience: sessionAudience(session.readers) });
}
