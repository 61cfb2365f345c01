/** Agents and their teams: CRUD, who is on an agent's team and at what access level. */
import { userIdOf, type Principal } from "../../auth/principal.js";
import { Conflict, Invalid, NotFound, isUniqueViolation } from "../../errors.js";
import { transact, type TxDeps } from "../events.js";
import { apiKeys } from "../keys/repository.js";
import { noCache, type Revocations } from "../keys/service.js";
import { decodeIdCursor, encodeIdCursor, takePage } from "../pagination.js";
import { sessions } from "../sessions/repository.js";
import { deleteSessions } from "../sessions/service.js";
import { toIso } from "../time.js";
import { users } from "../users/repository.js";
import { DEMO_AGENT_ID, accessLevel, accessLevels, accessibleAgentIds, assertCanCreateAgent, assertCanJoinDemoAgent, loadAgentFor, loadAgentForEdit, type AccessLevel } from "./policy.js";
import { endpointColumns, endpointUrl, endpointView, type EndpointColumns, type EndpointInput, type EndpointView } from "./endpoint.js";
import { agents, teams, type Agent, type AgentFields, type TeamMember } from "./repository.js";
import type { Knex } from "knex";
import type { z } from "zod";
import type { CreateAgent, UpdateAgent } from "../../http/routes/agents/schema.js";

export type { TeamMember };

export interface AgentView {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  server_url: string | null;
  /** How the hub reaches the agent, without secrets (endpoint.ts). */
  endpoint: EndpointView;
  created_by: number | null;
  created_at: string;
  updated_at: string;
  /** The caller's access: viewer or editor. */
  access_level: AccessLevel;
}

/** An agent as its creator or editor sees it right after setting `server_url`: with the endpoint secret, once. */
export type AgentWithSecret = AgentView & { endpoint_secret?: string };

/** What POST /api/agents takes, as its schema parses it (the schema is beside the route). */
export type CreateAgentInput = z.output<typeof CreateAgent>;
export type UpdateAgentInput = z.output<typeof UpdateAgent>;

function present(a: Agent, access: AccessLevel): AgentView {
  return {
    id: a.id,
    workspace_id: a.workspace_id,
    name: a.name,
    description: a.description,
    server_url: a.server_url,
    endpoint: endpointView(a),
    created_by: a.created_by,
    created_at: toIso(a.created_at),
    updated_at: toIso(a.updated_at),
    access_level: access,
  };
}

export interface AgentServerRules {
  /** Why an agent server URL is refused (SSRF guard), or undefined. */
  refusal(url: string): string | undefined;
  /** A new endpoint secret. */
  newSecret(): string;
  /** Seals a write-only secret for storage (auth/secrets.ts). */
  seal(plain: string): string;
}

export class Agents {
  constructor(
    private readonly deps: TxDeps,
    private readonly servers: AgentServerRules,
    /** The key cache: a deleted agent's keys stop working on every node before the answer. */
    private readonly keyCache: Revocations = noCache,
  ) {}

  async create(actor: Principal, input: CreateAgentInput): Promise<AgentWithSecret> {
    assertCanCreateAgent(actor);
    const columns = this.endpointOf(input, undefined) ?? { server_url: null, endpoint: null, endpoint_api_key: null };
    const secret = endpointUrl(columns) ? this.servers.newSecret() : undefined;
    return transact(this.deps, async (trx) => {
      const creator = userIdOf(actor);
      let agent: Agent;
      try {
        agent = await agents.insert(
          trx,
          actor.workspaceId,
          input.id,
          { name: input.name, description: input.description ?? null, ...columns, ...(secret ? { endpoint_secret: secret } : {}) },
          creator,
        );
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`An agent with id '${input.id}' already exists in this workspace`);
        throw err;
      }
      // The creating user becomes the agent's editor.
      if (creator !== null) await teams.upsert(trx, actor.workspaceId, input.id, creator, "editor");
      return { ...present(agent, "editor"), ...(secret ? { endpoint_secret: secret } : {}) };
    });
  }

  /** The agents the caller can access, by id, a page at a time (the cursor is the last id). */
  async list(actor: Principal, page: { limit: number; cursor?: string | undefined }): Promise<{ agents: AgentView[]; next_cursor: string | null }> {
    const { db } = this.deps;
    const ids = await accessibleAgentIds(db, actor);
    const afterId = page.cursor === undefined ? undefined : decodeIdCursor(page.cursor);
    const rows = await agents.page(db, actor.workspaceId, ids, afterId, page.limit + 1);
    const { items, next } = takePage(rows, page.limit, (last) => encodeIdCursor(last.id));
    const levels = await accessLevels(db, actor, items.map((a) => a.id));
    return { agents: items.map((a) => present(a, levels.get(a.id) ?? "viewer")), next_cursor: next };
  }

  async get(actor: Principal, agentId: string): Promise<AgentView> {
    const agent = await loadAgentFor(this.deps.db, actor, agentId);
    return present(agent, agent.access);
  }

  /**
   * Changes an agent. Setting a `server_url` on an agent without an endpoint secret makes one,
   * shown in this answer only (POST …/endpoint-secret makes a new one).
   */
  async update(actor: Principal, agentId: string, input: UpdateAgentInput): Promise<AgentWithSecret> {
    return transact(this.deps, async (trx, emit) => {
      const current = await loadAgentForEdit(trx, actor, agentId);
      const columns = this.endpointOf(input, current);
      const patch: Partial<AgentFields> = { ...columns };
      const secret = columns && endpointUrl(columns) && !current.endpoint_secret ? this.servers.newSecret() : undefined;
      if (secret) patch.endpoint_secret = secret;
      if (input.name !== undefined) patch.name = input.name;
      if (input.description !== undefined) patch.description = input.description;
      const agent = await agents.update(trx, actor.workspaceId, agentId, patch);
      emit({ type: "agent.updated", workspaceId: actor.workspaceId, agentId });
      return { ...present(agent, "editor"), ...(secret ? { endpoint_secret: secret } : {}) };
    });
  }

  /** A new endpoint secret for the agent's server (the old one stops signing at once); shown once. */
  async rotateEndpointSecret(actor: Principal, agentId: string): Promise<{ endpoint_secret: string }> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    const secret = this.servers.newSecret();
    await agents.update(this.deps.db, actor.workspaceId, agentId, { endpoint_secret: secret });
    return { endpoint_secret: secret };
  }

  /** For signing a turn's request: the agent's endpoint secret, made now if it has none. */
  async endpointSecret(workspaceId: string, agentId: string): Promise<string> {
    const agent = await agents.find(this.deps.db, workspaceId, agentId);
    if (agent?.endpoint_secret) return agent.endpoint_secret;
    const secret = this.servers.newSecret();
    return agents.setSecretIfNone(this.deps.db, workspaceId, agentId, secret);
  }

  /**
   * The endpoint columns an input sets (`endpoint`, or its `server_url` shorthand), checked by the
   * SSRF guard; undefined when it sets neither.
   */
  private endpointOf(input: { server_url?: string | null | undefined; endpoint?: EndpointInput | null | undefined }, current: EndpointColumns | undefined): EndpointColumns | undefined {
    if (input.endpoint !== undefined && input.server_url !== undefined) throw Invalid.field("endpoint", "send endpoint or server_url, not both");
    const endpoint: EndpointInput | undefined =
      input.endpoint !== undefined ? (input.endpoint ?? { protocol: "socket" }) : input.server_url !== undefined ? (input.server_url ? { protocol: "sharely", url: input.server_url } : { protocol: "socket" }) : undefined;
    if (!endpoint) return undefined;
    const url = "url" in endpoint ? endpoint.url : undefined;
    const refusal = url ? this.servers.refusal(url) : undefined;
    if (refusal) throw Invalid.field(input.endpoint !== undefined ? "endpoint.url" : "server_url", refusal);
    return endpointColumns(endpoint, current, this.servers.seal);
  }

  /**
   * Deletes the agent with its team, keys, sessions and subscriptions (cascade), and tells
   * everyone who could read one of its sessions that it is gone.
   */
  async remove(actor: Principal, agentId: string): Promise<void> {
    const keys = await transact(this.deps, async (trx, emit) => {
      await loadAgentForEdit(trx, actor, agentId);
      const keys = await apiKeys.liveOfAgent(trx, actor.workspaceId, agentId);
      // Sessions first, while the team still says who owned what.
      await deleteSessions(trx, emit, await sessions.all(trx, { workspaceId: actor.workspaceId, agentId }));
      await agents.delete(trx, actor.workspaceId, agentId);
      for (const key of keys) emit({ type: "key.revoked", workspaceId: actor.workspaceId, keyId: key.id });
      emit({ type: "agent.deleted", workspaceId: actor.workspaceId, agentId });
      return keys;
    });
    await this.keyCache.revoked(keys.map((k) => k.id));
  }

  async team(actor: Principal, agentId: string): Promise<TeamMember[]> {
    await loadAgentFor(this.deps.db, actor, agentId);
    return teams.members(this.deps.db, actor.workspaceId, agentId);
  }

  /**
   * Adds a user to the team, or changes their access level if they are on it already. By email,
   * someone who has not signed in yet becomes a pending member, who gets the access on first sign-in.
   */
  async addMember(actor: Principal, agentId: string, input: { user_id?: number | undefined; email?: string | undefined; access_level: AccessLevel }): Promise<TeamMember[]> {
    return transact(this.deps, async (trx) => {
      await loadAgentForEdit(trx, actor, agentId);
      const userId = input.email !== undefined ? await this.userByEmail(trx, actor.workspaceId, input.email) : input.user_id!;
      if (userId === undefined) await teams.invite(trx, actor.workspaceId, agentId, input.email!, input.access_level);
      else if (!(await users.find(trx, actor.workspaceId, userId))) throw Invalid.field("user_id", "no such user in this workspace");
      else await teams.upsert(trx, actor.workspaceId, agentId, userId, input.access_level);
      return teams.members(trx, actor.workspaceId, agentId);
    });
  }

  /** The one user of the workspace who signed in with this email, verified; undefined when no one has yet (users/repository.ts byEmail). */
  private async userByEmail(db: Knex, workspaceId: string, email: string): Promise<number | undefined> {
    const found = await users.byEmail(db, workspaceId, email);
    if (found.length > 1) throw Invalid.field("email", "several people of this workspace use this email: add them by user_id");
    return found[0]?.id;
  }

  /** Removes a member (by user id), or a pending member (by the email they were added with). */
  async removeMember(actor: Principal, agentId: string, member: number | { email: string }): Promise<TeamMember[]> {
    return transact(this.deps, async (trx, emit) => {
      await loadAgentForEdit(trx, actor, agentId);
      if (typeof member !== "number") {
        if (!(await teams.uninvite(trx, actor.workspaceId, agentId, member.email))) throw new NotFound("Team member");
        return teams.members(trx, actor.workspaceId, agentId);
      }
      const userId = member;
      if (!(await teams.remove(trx, actor.workspaceId, agentId, userId))) throw new NotFound("Team member");
      emit({ type: "agent.member_removed", workspaceId: actor.workspaceId, agentId, userId });
      return teams.members(trx, actor.workspaceId, agentId);
    });
  }

  /**
   * The built-in demo agent for a signed-in user (embedded hub): made the first time (its
   * creator is on its team as an editor), and a user not on its team yet joins it as an editor.
   */
  async joinDemoAgent(actor: Principal): Promise<void> {
    assertCanJoinDemoAgent(actor);
    if (await agents.find(this.deps.db, actor.workspaceId, DEMO_AGENT_ID)) {
      // Whoever may use it already (on its team, or an admin) keeps the access they have.
      if (!(await accessLevel(this.deps.db, actor, DEMO_AGENT_ID))) await teams.upsert(this.deps.db, actor.workspaceId, DEMO_AGENT_ID, actor.userId, "editor");
      return;
    }
    await this.create(actor, {
      id: DEMO_AGENT_ID,
      name: "Demo agent",
      description: "Answers every turn with streamed thinking, a semantic_search tool call, sources and an answer; no model needed",
    });
  }
}
