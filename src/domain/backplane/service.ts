/**
 * The Agent Backplane (/v1, the Sharely Agent API) mapped onto the hub's own families, so the
 * Sharely SDKs work against agenthub and everything they do is visible on /api and live:
 * threads are sessions, thread messages session messages, chat a turn, agent servers agents,
 * and the RBAC switch the workspace's. Access is decided by those families' policies; the few
 * rules of its own are in policy.ts.
 */
import { randomBytes } from "node:crypto";
import { agentIdOf, type Principal } from "../../auth/principal.js";
import { Conflict, Invalid, Unauthorized } from "../../errors.js";
import type { Agents, AgentWithSecret } from "../agents/service.js";
import { teams } from "../agents/repository.js";
import { transact, type TxDeps } from "../events.js";
import { assertCanSwitchRbac, roleScope } from "../rbac/policy.js";
import { rbac } from "../rbac/repository.js";
import type { SessionMessages } from "../sessions/messages.js";
import { canReadSession, listedOwner, loadAgentForSessions, loadSessionFor } from "../sessions/policy.js";
import { messages, sessions } from "../sessions/repository.js";
import type { Sessions } from "../sessions/service.js";
import type { Turns } from "../turns/service.js";
import { turns } from "../turns/repository.js";
import type { TurnView } from "../turns/repository.js";
import type { TurnTokenClaims } from "../../auth/turn-token.js";
import {
  DEFAULT_AGENT_ID,
  DEFAULT_AGENT_NAME,
  assertBackplaneCaller,
  joinsDefaultAgent,
  threadAgentOf,
  threadUserIdOf,
  turnTokenOwner,
  userTokenOwner,
  type TokenOwner,
} from "./policy.js";
import {
  isDraft,
  presentServer,
  presentThread,
  presentThreadMessage,
  toMessageInput,
  type ServerView,
  type ThreadMessageInput,
  type ThreadMessageView,
  type ThreadView,
} from "./present.js";
import { agentServers, threadMessages } from "./repository.js";
import type { z } from "zod";
import type { CreateServer, CreateThread, ThreadListQuery, UpdateServer } from "../../http/routes/backplane/schema.js";

/** `GET /threads/{id}` carries the thread's latest messages, at most this many (oldest first). */
export const THREAD_MESSAGES = 500;
/** Agents listed per query while answering `GET /servers` (the list itself is whole). */
const SERVERS_PER_QUERY = 200;

/** /v1 inputs as their schemas parse them (routes/backplane/schema.ts). */
export type CreateThreadInput = z.output<typeof CreateThread>;
export type ThreadListInput = z.output<typeof ThreadListQuery>;

export type CreateServerInput = z.output<typeof CreateServer>;
export type ServerInput = z.output<typeof UpdateServer>;

export interface BackplaneDeps {
  sessions: Sessions;
  sessionMessages: SessionMessages;
  agents: Agents;
  turns: Turns;
}

export class Backplane {
  constructor(
    private readonly deps: TxDeps,
    private readonly use: BackplaneDeps,
  ) {}

  /** Every /v1 request first: the path's workspace is the caller's, and RBAC's role rule holds. */
  async enter(actor: Principal, workspaceId: string): Promise<void> {
    assertBackplaneCaller(actor, workspaceId, await roleScope(this.deps.db, actor));
  }

  // ---- threads ------------------------------------------------------------------------------

  async createThread(actor: Principal, input: CreateThreadInput): Promise<ThreadView> {
    const { agentId, isDefault } = threadAgentOf(actor, input.agentServerId);
    const userId = threadUserIdOf(actor, input.userId);
    if (isDefault) await this.defaultAgent(actor);
    const session = await this.use.sessions.createSession(actor, agentId, {
      title: input.title ?? undefined,
      space_id: input.spaceId ?? null,
      temporal_user_id: input.temporalUserId ?? null,
      external_user_id: userId,
    });
    return presentThread(session);
  }

  /**
   * The threads the caller sees, newest activity first: an agent key's of its agent, a user's
   * own, every thread of the workspace for the master key and admins; RBAC's role filter in the
   * query. A page may hold fewer than `limit` (threads its owner may no longer read are left out).
   */
  async listThreads(actor: Principal, input: ThreadListInput): Promise<{ items: ThreadView[]; nextCursor: string | null; hasMore: boolean }> {
    const { db } = this.deps;
    // A key lists its own agent's threads (and must be allowed to read them).
    const ownAgent = agentIdOf(actor);
    if (ownAgent) await loadAgentForSessions(db, actor, ownAgent, "read");
    const page = await sessions.page(
      db,
      {
        workspaceId: actor.workspaceId,
        agentId: ownAgent,
        agentSessionsOnly: true,
        ownerId: listedOwner(actor),
        roleScope: await roleScope(db, actor),
        spaceId: input.spaceId,
        externalUserId: input.userId,
      },
      input,
    );
    const items = page.items.filter((s) => canReadSession(actor, s.readers) && (input.temporalUserId === undefined || s.temporal_user_id === input.temporalUserId));
    return { items: items.map(presentThread), nextCursor: page.next, hasMore: page.next !== null };
  }

  /** A thread with its latest messages (at most THREAD_MESSAGES), oldest first. */
  async getThread(actor: Principal, threadId: string): Promise<ThreadView & { messages: ThreadMessageView[] }> {
    const { db } = this.deps;
    const session = await loadSessionFor(db, actor, threadId, "read");
    const latest = await messages.after(db, session.id, Math.max(0, session.message_count - THREAD_MESSAGES), THREAD_MESSAGES);
    return { ...presentThread(session), messages: latest.map((m) => presentThreadMessage(session.id, m)) };
  }

  /**
   * Stores a message on a thread, as the SDK does while it serves a turn:
   * - during a turn, a user message with the trigger's content is the trigger (no second copy);
   *   an assistant message without an id takes the turn's message_id (it is the turn's answer,
   *   which the turn's end then keeps), unless that id is taken already;
   * - the same id again: the same body answers the stored message, a stored draft is filled in,
   *   anything else, or an id of another thread, is 409.
   * `created` is false for everything but a new message (the route answers 200 then).
   */
  async storeMessage(actor: Principal, threadId: string, input: ThreadMessageInput): Promise<{ message: ThreadMessageView; created: boolean }> {
    const { message, created } = await transact(this.deps, async (trx, emit) => {
      const session = await loadSessionFor(trx, actor, threadId, "append");
      await sessions.lock(trx, session.id);
      const [turn] = await turns.active(trx, session.id);
      if (turn && input.role === "user" && typeof input.content === "string") {
        const trigger = await messages.find(trx, session.id, turn.trigger_message_id);
        if (typeof trigger?.view.content === "string" && trigger.view.content.trim() === input.content.trim()) return { message: trigger.view, created: false };
      }
      let id = input.id ?? undefined;
      if (!id && turn && input.role === "assistant" && session.group_id !== null) {
        // A group conversation runs several agents' turns at once: which one this answer is cannot
        // be told, so it is not stored; each turn stores its own answer, attributed, when it ends.
        const prepared = this.use.sessionMessages.prepare(toMessageInput(input, undefined));
        return { message: { id: prepared.id, role: prepared.role, ...prepared.turn, seq: 0, createdAt: new Date().toISOString() }, created: false };
      }
      if (!id && turn && input.role === "assistant" && !(await messages.find(trx, session.id, turn.message_id))) id = turn.message_id;
      const prepared = this.use.sessionMessages.prepare(toMessageInput(input, id));
      const stored = await messages.find(trx, session.id, prepared.id);
      if (stored) {
        if (stored.body_hash === prepared.hash) return { message: stored.view, created: false };
        if (isDraft(stored.view) && stored.view.role === prepared.role && prepared.turn.content !== undefined) {
          await threadMessages.fill(trx, session.id, stored.id, prepared.turn, prepared.hash);
          const { id: storedId, seq, createdAt } = stored.view;
          return { message: { id: storedId, role: prepared.role, ...prepared.turn, seq, createdAt }, created: false };
        }
        throw new Conflict(`Message ${stored.id} already exists in this thread with another body`);
      }
      if (await threadMessages.idElsewhere(trx, session.workspace_id, session.id, prepared.id)) throw new Conflict(`Message ${prepared.id} belongs to another thread`);
      return this.use.sessionMessages.appendLocked(trx, emit, session, prepared);
    });
    return { message: presentThreadMessage(threadId, message), created };
  }

  /** Starts a turn on the thread (who may append may chat; an INACTIVE agent server takes none: turns/policy.ts). */
  async chat(actor: Principal, threadId: string, message: string): Promise<TurnView> {
    const session = await loadSessionFor(this.deps.db, actor, threadId, "append");
    if (session.agent_id === null) throw new Conflict("This thread is a group conversation: ask the group (POST /api/groups/{groupId}/conversations/{sessionId}/ask)");
    return (await this.use.turns.start(actor, session.agent_id, session.id, { content: message })).turn;
  }

  // ---- agent servers ------------------------------------------------------------------------

  /** Registers an agent server: a new agent (the registering user its editor), id made from its name. */
  async createServer(actor: Principal, input: CreateServerInput): Promise<ServerView & { endpointSecret?: string }> {
    const agent = await serverUrlField(() => this.use.agents.create(actor, { id: serverIdFor(input.name), name: input.name, server_url: input.url }));
    const fields = { status: input.status ?? "ACTIVE", metadata: input.metadata ?? null };
    await agentServers.set(this.deps.db, actor.workspaceId, agent.id, fields);
    return withSecret(presentServer(agent, fields), agent);
  }

  /** Every agent the caller may use, as servers, by id. */
  async listServers(actor: Principal): Promise<{ items: ServerView[] }> {
    const items: ServerView[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.use.agents.list(actor, { limit: SERVERS_PER_QUERY, cursor });
      const fields = await agentServers.fields(this.deps.db, actor.workspaceId, page.agents.map((a) => a.id));
      items.push(...page.agents.map((a) => presentServer(a, fields.get(a.id))));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return { items };
  }

  async getServer(actor: Principal, serverId: string): Promise<ServerView> {
    const agent = await this.use.agents.get(actor, serverId);
    return presentServer(agent, (await agentServers.fields(this.deps.db, actor.workspaceId, [agent.id])).get(agent.id));
  }

  /** Changes a server (its agent's editors): name and url on the agent, status and metadata beside it. */
  async updateServer(actor: Principal, serverId: string, input: ServerInput): Promise<ServerView & { endpointSecret?: string }> {
    const agent = await serverUrlField(() =>
      this.use.agents.update(actor, serverId, {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.url !== undefined ? { server_url: input.url } : {}),
      }),
    );
    await agentServers.set(this.deps.db, actor.workspaceId, agent.id, { status: input.status, metadata: input.metadata });
    return withSecret(presentServer(agent, (await agentServers.fields(this.deps.db, actor.workspaceId, [agent.id])).get(agent.id)), agent);
  }

  /** Deletes the agent with its threads, team and keys (as DELETE /api/agents/{id}). */
  removeServer(actor: Principal, serverId: string): Promise<void> {
    return this.use.agents.remove(actor, serverId);
  }

  // ---- RBAC and tokens ------------------------------------------------------------------------

  async rbacStatus(actor: Principal): Promise<{ rbacStatus: "ACTIVE" | "INACTIVE" }> {
    return { rbacStatus: (await rbac.isActive(this.deps.db, actor.workspaceId)) ? "ACTIVE" : "INACTIVE" };
  }

  async switchRbac(actor: Principal, enabled: boolean): Promise<{ rbacStatus: "ACTIVE" | "INACTIVE" }> {
    assertCanSwitchRbac(actor);
    await rbac.set(this.deps.db, actor.workspaceId, enabled);
    return this.rbacStatus(actor);
  }

  /** `api-authenticated`: who a user token, or a turn token of a running turn, of the workspace names (anything else: 401). */
  async tokenOwner(subject: Principal | TurnTokenClaims, workspaceId: string): Promise<TokenOwner> {
    if (subject.kind !== "turn") return userTokenOwner(subject, workspaceId);
    const turn = subject.workspaceId === workspaceId ? await turns.find(this.deps.db, workspaceId, subject.turnId) : undefined;
    return turnTokenOwner(subject, workspaceId, turn);
  }

  /** Makes the default agent on first use; a user who uses it joins its team as a viewer. */
  private async defaultAgent(actor: Principal): Promise<void> {
    await transact(this.deps, async (trx) => {
      await agentServers.ensure(trx, actor.workspaceId, DEFAULT_AGENT_ID, DEFAULT_AGENT_NAME);
      if (joinsDefaultAgent(actor) && !(await teams.level(trx, actor.workspaceId, DEFAULT_AGENT_ID, actor.userId))) {
        await teams.upsert(trx, actor.workspaceId, DEFAULT_AGENT_ID, actor.userId, "viewer");
      }
    });
  }
}

/** A new server's agent id: its name as a slug, and 6 random hex digits so names may repeat. */
function serverIdFor(name: string): string {
  const slug = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50)
    .replace(/-+$/, "");
  return `${slug || "server"}-${randomBytes(3).toString("hex")}`;
}

/** The agents family names the URL `server_url`; /v1 calls it `url`. */
async function serverUrlField<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof Invalid) throw new Invalid(err.errors.map((e) => (e.field === "server_url" ? { ...e, field: "url" } : e)));
    throw err;
  }
}

/** The endpoint secret is shown once, when a URL is first set (as on /api). */
function withSecret(view: ServerView, agent: AgentWithSecret): ServerView & { endpointSecret?: string } {
  return agent.endpoint_secret ? { ...view, endpointSecret: agent.endpoint_secret } : view;
}
