/** Agents and their teams: CRUD, who is on an agent's team and at what access level. */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Conflict, Forbidden, Invalid, NotFound, isUniqueViolation } from "../../errors.js";
import { decodeIdCursor, encodeIdCursor } from "../cursors.js";
import { transact, type TxDeps } from "../events.js";
import { toIso } from "../time.js";
import { normaliseSession, type SessionRow } from "../sessions/policy.js";
import { deleteSessions } from "../sessions/service.js";
import { findUser } from "../users/repository.js";
import {
  accessibleAgentIds,
  loadAgentFor,
  loadAgentForEdit,
  type AccessLevel,
  type AgentRow,
} from "./policy.js";

export interface AgentView {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  server_url: string | null;
  created_by: number | null;
  created_at: string;
  updated_at: string;
  /** The caller's access: viewer or editor. */
  access_level: AccessLevel;
}

export interface TeamMember {
  user_id: number;
  name: string;
  email: string;
  avatar: string | null;
  access_level: AccessLevel;
  assigned_at: string;
}

export interface CreateAgentInput {
  id: string;
  name: string;
  description?: string | null | undefined;
  server_url?: string | null | undefined;
}

export type UpdateAgentInput = Partial<Omit<CreateAgentInput, "id">>;

function present(row: AgentRow, access: AccessLevel): AgentView {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    name: row.name,
    description: row.description ?? null,
    server_url: row.server_url ?? null,
    created_by: row.created_by === null || row.created_by === undefined ? null : Number(row.created_by),
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
    access_level: access,
  };
}

export class Agents {
  constructor(private readonly deps: TxDeps) {}

  async create(actor: Principal, input: CreateAgentInput): Promise<AgentView> {
    if (actor.kind === "agent") throw new Forbidden("Agent keys may not create agents");
    return transact(this.deps, async (trx) => {
      let row: AgentRow;
      try {
        [row] = await trx("agents")
          .insert({
            workspace_id: actor.workspaceId,
            id: input.id,
            name: input.name,
            description: input.description ?? null,
            server_url: input.server_url ?? null,
            created_by: actor.kind === "user" ? actor.userId : null,
          })
          .returning("*");
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`An agent with id '${input.id}' already exists in this workspace`);
        throw err;
      }
      if (actor.kind === "user") {
        await trx("agent_members").insert({
          workspace_id: actor.workspaceId,
          agent_id: input.id,
          user_id: actor.userId,
          access_level: "editor",
        });
      }
      return present(row!, "editor");
    });
  }

  /** The agents the caller can access, by id, a page at a time (the cursor is the last id). */
  async list(actor: Principal, page: { limit: number; cursor?: string | undefined }): Promise<{ agents: AgentView[]; next_cursor: string | null }> {
    const { db } = this.deps;
    const ids = await accessibleAgentIds(db, actor);
    const q = db("agents").where({ workspace_id: actor.workspaceId }).orderBy("id").limit(page.limit + 1);
    if (ids !== "all") q.whereIn("id", ids);
    if (page.cursor) q.andWhere("id", ">", decodeIdCursor(page.cursor));
    const rows: AgentRow[] = await q;
    const served = rows.slice(0, page.limit);
    const levels = await this.levels(actor, served.map((r) => r.id));
    return {
      agents: served.map((r) => present(r, levels.get(r.id) ?? "viewer")),
      next_cursor: rows.length > page.limit ? encodeIdCursor(served[served.length - 1]!.id) : null,
    };
  }

  async get(actor: Principal, agentId: string): Promise<AgentView> {
    const agent = await loadAgentFor(this.deps.db, actor, agentId);
    return present(agent, agent.access);
  }

  async update(actor: Principal, agentId: string, input: UpdateAgentInput): Promise<AgentView> {
    return transact(this.deps, async (trx, emit) => {
      await loadAgentForEdit(trx, actor, agentId);
      const patch: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (input.name !== undefined) patch.name = input.name;
      if (input.description !== undefined) patch.description = input.description;
      if (input.server_url !== undefined) patch.server_url = input.server_url;
      const [row] = await trx("agents").where({ workspace_id: actor.workspaceId, id: agentId }).update(patch).returning("*");
      emit({ type: "agent.updated", workspaceId: actor.workspaceId, agentId });
      return present(row, "editor");
    });
  }

  /**
   * Deletes the agent with its team, keys, sessions and subscriptions (cascade), and tells
   * everyone who could read one of its sessions that it is gone.
   */
  async remove(actor: Principal, agentId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      await loadAgentForEdit(trx, actor, agentId);
      const where = { workspace_id: actor.workspaceId, agent_id: agentId };
      const keyIds: string[] = await trx("api_keys").where(where).whereNull("revoked_at").pluck("id");
      // Sessions first, while the team still says who owned what.
      const sessions: SessionRow[] = await trx("sessions").where(where);
      await deleteSessions(trx, emit, sessions.map(normaliseSession));
      await trx("agents").where({ workspace_id: actor.workspaceId, id: agentId }).delete();
      for (const keyId of keyIds) emit({ type: "key.revoked", workspaceId: actor.workspaceId, keyId });
      emit({ type: "agent.deleted", workspaceId: actor.workspaceId, agentId });
    });
  }

  async team(actor: Principal, agentId: string): Promise<TeamMember[]> {
    await loadAgentFor(this.deps.db, actor, agentId);
    return this.members(this.deps.db, actor.workspaceId, agentId);
  }

  /** Adds a user to the team, or changes their access level if they are on it already. */
  async addMember(
    actor: Principal,
    agentId: string,
    input: { user_id: number; access_level: AccessLevel },
  ): Promise<TeamMember[]> {
    return transact(this.deps, async (trx) => {
      await loadAgentForEdit(trx, actor, agentId);
      const user = await findUser(trx, actor.workspaceId, input.user_id);
      if (!user) throw Invalid.field("user_id", "no such user in this workspace");
      await trx("agent_members")
        .insert({
          workspace_id: actor.workspaceId,
          agent_id: agentId,
          user_id: input.user_id,
          access_level: input.access_level,
        })
        .onConflict(["workspace_id", "agent_id", "user_id"])
        .merge(["access_level"]);
      return this.members(trx, actor.workspaceId, agentId);
    });
  }

  async removeMember(actor: Principal, agentId: string, userId: number): Promise<TeamMember[]> {
    return transact(this.deps, async (trx, emit) => {
      await loadAgentForEdit(trx, actor, agentId);
      const n = await trx("agent_members")
        .where({ workspace_id: actor.workspaceId, agent_id: agentId, user_id: userId })
        .delete();
      if (n === 0) throw new NotFound("Team member");
      emit({ type: "agent.member_removed", workspaceId: actor.workspaceId, agentId, userId });
      return this.members(trx, actor.workspaceId, agentId);
    });
  }

  private async members(db: Knex, workspaceId: string, agentId: string): Promise<TeamMember[]> {
    const rows = await db("agent_members as m")
      .join("users as u", "u.id", "m.user_id")
      .where({ "m.workspace_id": workspaceId, "m.agent_id": agentId })
      .orderBy("m.assigned_at")
      .orderBy("u.id")
      .select("u.id", "u.name", "u.email", "u.avatar", "m.access_level", "m.assigned_at");
    return rows.map((r) => ({
      user_id: Number(r.id),
      name: r.name,
      email: r.email,
      avatar: r.avatar ?? null,
      access_level: r.access_level,
      assigned_at: toIso(r.assigned_at),
    }));
  }

  private async levels(actor: Principal, agentIds: string[]): Promise<Map<string, AccessLevel>> {
    if (actor.kind !== "user" || actor.role === "admin") {
      const level: AccessLevel = actor.kind === "agent" ? "viewer" : "editor";
      return new Map(agentIds.map((id) => [id, level]));
    }
    const rows = await this.deps.db("agent_members")
      .where({ workspace_id: actor.workspaceId, user_id: actor.userId })
      .select("agent_id", "access_level");
    return new Map(rows.map((r) => [r.agent_id, r.access_level]));
  }
}
