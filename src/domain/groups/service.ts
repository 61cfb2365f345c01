/** Multi-agent groups: two or more agents, the people they are shared with, and shared sessions. */
import type { Knex } from "knex";
import { userIdOf, type Principal, type UserPrincipal } from "../../auth/principal.js";
import { Conflict, Forbidden, Invalid, NotFound, isUniqueViolation } from "../../errors.js";
import { newId } from "../../ids.js";
import { accessibleAgentIds } from "../agents/policy.js";
import { agents } from "../agents/repository.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { loadSessionFor, pushedRole } from "../sessions/policy.js";
import { sessions } from "../sessions/repository.js";
import { roleScope } from "../rbac/policy.js";
import { pageSessions, type PageInput, type SessionPage } from "../sessions/service.js";
import { decodeActivityCursor, encodeActivityCursor, takePage } from "../pagination.js";
import type { Clock } from "../time.js";
import { toIso } from "../time.js";
import { assertCanUnshare, assertGroupActor, groupsAdmittingAny, loadGroupFor, memberGroupIds, visibleGroups } from "./policy.js";
import { groupSessions, groups, type Group, type GroupFields, type GroupRules, type GroupSessionView } from "./repository.js";
import type { z } from "zod";
import type { GroupBody } from "../../http/routes/groups/schema.js";

/** A group's body as its schema parses it: `agentIds` distinct, at least two (checked at the edge). */
export type GroupInput = z.output<typeof GroupBody>;

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

const unique = (values: string[]) => [...new Set(values)];

export class Groups {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
  ) {}

  /**
   * The groups the caller belongs to (every group of the workspace for master keys and admins),
   * oldest first, a page at a time. Membership is decided by the policy over the groups that
   * could admit the caller, so the page is cut after that.
   */
  async list(actor: Principal, page: { limit: number; cursor?: string | undefined }): Promise<{ groups: GroupView[]; next_cursor: string | null }> {
    const after = page.cursor === undefined ? undefined : decodeActivityCursor(page.cursor);
    const visible = (await visibleGroups(this.deps.db, actor)).filter(
      (g) => !after || g.created_at.getTime() > after.activityAt.getTime() || (g.created_at.getTime() === after.activityAt.getTime() && g.id > after.id),
    );
    const { items, next } = takePage(visible.slice(0, page.limit + 1), page.limit, (last) => encodeActivityCursor({ activityAt: last.created_at, id: last.id }));
    return { groups: await this.present(this.deps.db, items), next_cursor: next };
  }

  async get(actor: Principal, groupId: string): Promise<GroupView> {
    const group = await loadGroupFor(this.deps.db, actor, groupId, "read");
    return (await this.present(this.deps.db, [group]))[0]!;
  }

  /** For live rooms: the ids of the groups a principal is a member of right now. */
  memberOf(p: Principal): Promise<string[]> {
    return memberGroupIds(this.deps.db, p);
  }

  /**
   * For re-checking live rooms: the groups of a workspace that may count any of these users as
   * members, with their membership rules (a user in none of them belongs to no group).
   */
  rulesFor(workspaceId: string, users: UserPrincipal[]): Promise<GroupRules[]> {
    return groupsAdmittingAny(this.deps.db, workspaceId, users);
  }

  async create(actor: Principal, input: GroupInput): Promise<GroupView> {
    assertGroupActor(actor);
    return transact(this.deps, async (trx, emit) => {
      const agentIds = await this.checkAgents(trx, actor, input.agentIds);
      const group = await groups.insert(trx, {
        id: newId("grp"),
        workspace_id: actor.workspaceId,
        ...fieldsOf(input),
        created_by: userIdOf(actor),
        now: this.clock.now(),
      });
      await groups.setAgents(trx, group, agentIds);
      emitRules(emit, "group.created", group);
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
      const agentIds = await this.checkAgents(trx, actor, input.agentIds);
      const group = await groups.update(trx, current.id, fieldsOf(input), this.clock.now());
      await groups.setAgents(trx, group, agentIds);
      const dropped = await groupSessions.withAgentsOtherThan(trx, group.id, agentIds);
      await groupSessions.delete(trx, group.id, dropped);
      emitRules(emit, "group.updated", group);
      await emitRemoved(trx, emit, group, dropped);
      return (await this.present(trx, [group]))[0]!;
    });
  }

  async remove(actor: Principal, groupId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const group = await loadGroupFor(trx, actor, groupId, "manage");
      const shared = await groupSessions.ids(trx, group.id);
      await groups.delete(trx, group.id);
      // Members hear that each shared session left, before they leave the group's room.
      await emitRemoved(trx, emit, group, shared);
      emit({ type: "group.deleted", workspaceId: group.workspace_id, groupId: group.id, createdBy: null, allowedUsers: [], allowedGroups: [] });
    });
  }

  /** The group's shared sessions, newest activity first, archived ones included. */
  async sessions(actor: Principal, groupId: string, page: PageInput): Promise<SessionPage> {
    const { db } = this.deps;
    const group = await loadGroupFor(db, actor, groupId, "read");
    return pageSessions(db, { workspaceId: group.workspace_id, groupId: group.id, roleScope: await roleScope(db, actor) }, page);
  }

  /**
   * Shares a session with the group. The caller must be a member who may share the session
   * (its owner, or master/admin: sharing widens who reads it), and its agent one of the group's.
   */
  async addSession(actor: Principal, groupId: string, sessionId: string): Promise<GroupSessionView> {
    return transact(this.deps, async (trx, emit) => {
      const group = await loadGroupFor(trx, actor, groupId, "read");
      const session = await loadSessionFor(trx, actor, sessionId, "share");
      const agentIds = (await groups.agents(trx, [group.id])).get(group.id) ?? [];
      if (session.agent_id === null) throw Invalid.field("sessionId", "a group conversation cannot be shared with a group");
      if (!agentIds.includes(session.agent_id)) throw Invalid.field("sessionId", "the session's agent is not one of the group's agents");
      let shared: GroupSessionView;
      try {
        shared = await groupSessions.insert(trx, group.id, session.id, userIdOf(actor), this.clock.now());
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict("The session is already shared with this group");
        throw err;
      }
      emit({ type: "group.session_added", workspaceId: group.workspace_id, groupId: group.id, sessionId: session.id, ...pushedRole(session.readers) });
      return shared;
    });
  }

  /** Unshares a session: allowed to the member who added it, the group's creator, master and admins. */
  async removeSession(actor: Principal, groupId: string, sessionId: string): Promise<void> {
    assertGroupActor(actor);
    await transact(this.deps, async (trx, emit) => {
      const group = await loadGroupFor(trx, actor, groupId, "read");
      const shared = await groupSessions.find(trx, group.id, sessionId);
      if (!shared) throw new NotFound("Session");
      assertCanUnshare(actor, group, shared);
      await groupSessions.delete(trx, group.id, [sessionId]);
      await emitRemoved(trx, emit, group, [sessionId]);
    });
  }

  /** Every agent must exist in the workspace (422) and be one the caller may use (403); returns them deduplicated. */
  private async checkAgents(trx: Knex, actor: Principal, agentIds: string[]): Promise<string[]> {
    const ids = unique(agentIds);
    const existing = await agents.existing(trx, actor.workspaceId, ids);
    const missing = ids.filter((id) => !existing.includes(id));
    if (missing.length) throw Invalid.field("agentIds", `no such agent in this workspace: ${missing.join(", ")}`);
    const accessible = await accessibleAgentIds(trx, actor);
    const denied = accessible === "all" ? [] : ids.filter((id) => !accessible.includes(id));
    if (denied.length) throw new Forbidden(`You cannot access agent ${denied.join(", ")}; a group may only bundle agents you can use`);
    return ids;
  }

  private async present(db: Knex, list: Group[]): Promise<GroupView[]> {
    const agentIds = await groups.agents(db, list.map((g) => g.id));
    return list.map((g) => ({
      id: g.id,
      workspace_id: g.workspace_id,
      name: g.name,
      agentIds: agentIds.get(g.id) ?? [],
      allowed_users: g.allowed_users,
      allowed_groups: g.allowed_groups,
      created_by: g.created_by,
      created_at: toIso(g.created_at),
      updated_at: toIso(g.updated_at),
    }));
  }
}

function fieldsOf(input: GroupInput): GroupFields {
  return {
    name: input.name,
    allowed_users: unique((input.allowed_users ?? []).map((e) => e.trim().toLowerCase())),
    allowed_groups: unique((input.allowed_groups ?? []).map((g) => g.trim())),
  };
}

function emitRules(emit: Emit, type: "group.created" | "group.updated", g: Group): void {
  emit({ type, workspaceId: g.workspace_id, groupId: g.id, createdBy: g.created_by, allowedUsers: g.allowed_users, allowedGroups: g.allowed_groups });
}

/** Tells the group's members that these sessions left it, each with its role binding (one query for them all). */
async function emitRemoved(db: Knex, emit: Emit, group: Group, sessionIds: string[]): Promise<void> {
  if (!sessionIds.length) return;
  const found = new Map((await sessions.findMany(db, group.workspace_id, sessionIds)).map((s) => [s.id, s]));
  for (const sessionId of sessionIds) {
    const s = found.get(sessionId);
    emit({ type: "group.session_removed", workspaceId: group.workspace_id, groupId: group.id, sessionId, ...(s ? pushedRole(s.readers) : {}) });
  }
}
