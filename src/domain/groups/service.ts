/** Multi-agent groups: two or more agents, the people they are shared with, and shared sessions. */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Conflict, Forbidden, Invalid, NotFound, isUniqueViolation } from "../../errors.js";
import { newId } from "../../ids.js";
import { accessibleAgentIds } from "../agents/policy.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { loadSessionById } from "../sessions/policy.js";
import { pageSessions, type PageInput, type SessionPage } from "../sessions/service.js";
import { toIso, type Clock } from "../time.js";
import { assertGroupActor, groupIdsForUser, loadGroupFor, normaliseGroup, type GroupRow } from "./policy.js";

export interface GroupInput {
  name: string;
  /** Distinct, at least two (checked at the edge). */
  agentIds: string[];
  allowed_users?: string[] | undefined;
  allowed_groups?: string[] | undefined;
}

/** The body's `agentIds` is echoed in camelCase, as the contract's request spells it. */
export interface GroupView {
  id: string;
  workspace_id: string;
  name: string;
  agentIds: string[];
  allowed_users: string[];
  allowed_groups: string[];
  created_by: number | null;
  created_at: string;
  updated_at: string;
}

export interface GroupSessionView {
  group_id: string;
  session_id: string;
  added_by: number | null;
  added_at: string;
}

const unique = (values: string[]) => [...new Set(values)];

export class Groups {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
  ) {}

  /** The groups the caller belongs to; every group of the workspace for master keys and admins. */
  async list(actor: Principal): Promise<GroupView[]> {
    assertGroupActor(actor);
    const { db } = this.deps;
    const q = db("groups").where({ workspace_id: actor.workspaceId }).orderBy("created_at").orderBy("id");
    if (!isWorkspaceAdmin(actor) && actor.kind === "user") q.whereIn("id", await groupIdsForUser(db, actor));
    const rows: GroupRow[] = await q;
    return this.present(db, rows.map(normaliseGroup));
  }

  async get(actor: Principal, groupId: string): Promise<GroupView> {
    const group = await loadGroupFor(this.deps.db, actor, groupId, "read");
    return (await this.present(this.deps.db, [group]))[0]!;
  }

  async create(actor: Principal, input: GroupInput): Promise<GroupView> {
    assertGroupActor(actor);
    return transact(this.deps, async (trx, emit) => {
      await this.checkAgents(trx, actor, input.agentIds);
      const now = this.clock.now();
      const [row] = await trx("groups")
        .insert({
          id: newId("grp"),
          workspace_id: actor.workspaceId,
          name: input.name,
          ...this.rules(input),
          created_by: actor.kind === "user" ? actor.userId : null,
          created_at: now,
          updated_at: now,
        })
        .returning("*");
      const group = normaliseGroup(row);
      await this.setAgents(trx, group, input.agentIds);
      this.emitRules(emit, "group.created", group);
      return (await this.present(trx, [group]))[0]!;
    });
  }

  /**
   * Replaces name, agents and members (same rules as create). Sessions whose agent is no longer
   * in the group leave it.
   */
  async replace(actor: Principal, groupId: string, input: GroupInput): Promise<GroupView> {
    return transact(this.deps, async (trx, emit) => {
      const current = await loadGroupFor(trx, actor, groupId, "manage");
      await this.checkAgents(trx, actor, input.agentIds);
      const [row] = await trx("groups")
        .where({ id: current.id })
        .update({ name: input.name, ...this.rules(input), updated_at: trx.raw("greatest(updated_at, ?::timestamptz)", [this.clock.now()]) })
        .returning("*");
      const group = normaliseGroup(row);
      await trx("group_agents").where({ group_id: group.id }).delete();
      await this.setAgents(trx, group, input.agentIds);
      const dropped: string[] = await trx("group_sessions as gs")
        .join("sessions as s", "s.id", "gs.session_id")
        .where("gs.group_id", group.id)
        .whereNotIn("s.agent_id", unique(input.agentIds))
        .pluck("gs.session_id");
      if (dropped.length) await trx("group_sessions").where({ group_id: group.id }).whereIn("session_id", dropped).delete();
      this.emitRules(emit, "group.updated", group);
      for (const sessionId of dropped) emit({ type: "group.session_removed", workspaceId: group.workspace_id, groupId: group.id, sessionId });
      return (await this.present(trx, [group]))[0]!;
    });
  }

  async remove(actor: Principal, groupId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const group = await loadGroupFor(trx, actor, groupId, "manage");
      const shared: string[] = await trx("group_sessions").where({ group_id: group.id }).pluck("session_id");
      await trx("groups").where({ id: group.id }).delete();
      // Members hear that each shared session left, before they leave the group's room.
      for (const sessionId of shared) emit({ type: "group.session_removed", workspaceId: group.workspace_id, groupId: group.id, sessionId });
      emit({ type: "group.deleted", workspaceId: group.workspace_id, groupId: group.id, createdBy: null, allowedUsers: [], allowedGroups: [] });
    });
  }

  /** The group's shared sessions, newest activity first, archived ones included. */
  async sessions(actor: Principal, groupId: string, page: PageInput): Promise<SessionPage> {
    const { db } = this.deps;
    const group = await loadGroupFor(db, actor, groupId, "read");
    const query = db("sessions as s").join("group_sessions as gs", "gs.session_id", "s.id").where("gs.group_id", group.id).select("s.*");
    return pageSessions(query, page, (c) => `s.${c}`);
  }

  /**
   * Shares a session with the group. The caller must be a member who may share the session
   * (its owner, or master/admin: sharing widens who reads it), and its agent one of the group's.
   */
  async addSession(actor: Principal, groupId: string, sessionId: string): Promise<GroupSessionView> {
    return transact(this.deps, async (trx, emit) => {
      const group = await loadGroupFor(trx, actor, groupId, "read");
      const session = await loadSessionById(trx, actor, sessionId, "share");
      const agents: string[] = await trx("group_agents").where({ group_id: group.id }).pluck("agent_id");
      if (!agents.includes(session.agent_id)) throw Invalid.field("sessionId", "the session's agent is not one of the group's agents");
      let row;
      try {
        [row] = await trx("group_sessions")
          .insert({ group_id: group.id, session_id: session.id, added_by: actor.kind === "user" ? actor.userId : null, added_at: this.clock.now() })
          .returning("*");
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict("The session is already shared with this group");
        throw err;
      }
      emit({ type: "group.session_added", workspaceId: group.workspace_id, groupId: group.id, sessionId: session.id });
      return presentGroupSession(row);
    });
  }

  /** Unshares a session: allowed to the member who added it, the group's creator, master and admins. */
  async removeSession(actor: Principal, groupId: string, sessionId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const group = await loadGroupFor(trx, actor, groupId, "read");
      const row = await trx("group_sessions").where({ group_id: group.id, session_id: sessionId }).first();
      if (!row) throw new NotFound("Session");
      const mayRemove =
        isWorkspaceAdmin(actor) ||
        (actor.kind === "user" && (group.created_by === actor.userId || Number(row.added_by) === actor.userId));
      if (!mayRemove) throw new Forbidden("Only who added the session, or the group's creator, may remove it");
      await trx("group_sessions").where({ group_id: group.id, session_id: sessionId }).delete();
      emit({ type: "group.session_removed", workspaceId: group.workspace_id, groupId: group.id, sessionId });
    });
  }

  /** Every agent must exist in the workspace (422) and be one the caller may use (403). */
  private async checkAgents(trx: Knex, actor: Principal, agentIds: string[]): Promise<void> {
    const ids = unique(agentIds);
    const existing: string[] = await trx("agents").where({ workspace_id: actor.workspaceId }).whereIn("id", ids).pluck("id");
    const missing = ids.filter((id) => !existing.includes(id));
    if (missing.length) throw Invalid.field("agentIds", `no such agent in this workspace: ${missing.join(", ")}`);
    const accessible = await accessibleAgentIds(trx, actor);
    if (accessible === "all") return;
    const denied = ids.filter((id) => !accessible.includes(id));
    if (denied.length) throw new Forbidden(`You cannot access agent ${denied.join(", ")}; a group may only bundle agents you can use`);
  }

  private rules(input: GroupInput) {
    return {
      allowed_users: JSON.stringify(unique((input.allowed_users ?? []).map((e) => e.trim().toLowerCase()))),
      allowed_groups: JSON.stringify(unique((input.allowed_groups ?? []).map((g) => g.trim()))),
    };
  }

  private async setAgents(trx: Knex, group: GroupRow, agentIds: string[]): Promise<void> {
    await trx("group_agents").insert(
      unique(agentIds).map((agentId, position) => ({ group_id: group.id, workspace_id: group.workspace_id, agent_id: agentId, position })),
    );
  }

  private emitRules(emit: Emit, type: "group.created" | "group.updated", g: GroupRow): void {
    emit({ type, workspaceId: g.workspace_id, groupId: g.id, createdBy: g.created_by, allowedUsers: g.allowed_users, allowedGroups: g.allowed_groups });
  }

  private async present(db: Knex, groups: GroupRow[]): Promise<GroupView[]> {
    if (groups.length === 0) return [];
    const agentRows: { group_id: string; agent_id: string }[] = await db("group_agents")
      .whereIn("group_id", groups.map((g) => g.id))
      .orderBy("position")
      .select("group_id", "agent_id");
    return groups.map((g) => ({
      id: g.id,
      workspace_id: g.workspace_id,
      name: g.name,
      agentIds: agentRows.filter((r) => r.group_id === g.id).map((r) => r.agent_id),
      allowed_users: g.allowed_users,
      allowed_groups: g.allowed_groups,
      created_by: g.created_by,
      created_at: toIso(g.created_at),
      updated_at: toIso(g.updated_at),
    }));
  }
}

function presentGroupSession(row: { group_id: string; session_id: string; added_by: number | null; added_at: Date }): GroupSessionView {
  return {
    group_id: row.group_id,
    session_id: row.session_id,
    added_by: row.added_by === null ? null : Number(row.added_by),
    added_at: toIso(row.added_at),
  };
}
