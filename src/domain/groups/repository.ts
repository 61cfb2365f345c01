/** SQL for multi-agent groups (`groups`, `group_agents`, `group_sessions`); rows leave normalised. */
import type { Knex } from "knex";
import { intOrNull, json } from "../rows.js";
import { toIso } from "../time.js";

/** Who belongs to a group (policy.ts decides membership from these). */
export interface GroupRules {
  id: string;
  created_by: number | null;
  allowed_users: string[];
  allowed_groups: string[];
}

export interface Group extends GroupRules {
  workspace_id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

export interface GroupSessionView {
  group_id: string;
  session_id: string;
  added_by: number | null;
  added_at: string;
}

const toGroup = (row: Record<string, any>): Group => ({
  id: row.id,
  workspace_id: row.workspace_id,
  name: row.name,
  allowed_users: json<string[]>(row.allowed_users, []),
  allowed_groups: json<string[]>(row.allowed_groups, []),
  created_by: intOrNull(row.created_by),
  created_at: row.created_at,
  updated_at: row.updated_at,
});

const toGroupSession = (row: Record<string, any>): GroupSessionView => ({
  group_id: row.group_id,
  session_id: row.session_id,
  added_by: intOrNull(row.added_by),
  added_at: toIso(row.added_at),
});

export type GroupFields = Pick<Group, "name" | "allowed_users" | "allowed_groups">;

const columns = (f: GroupFields) => ({
  name: f.name,
  allowed_users: JSON.stringify(f.allowed_users),
  allowed_groups: JSON.stringify(f.allowed_groups),
});

/**
 * What can make users members of a group (policy.ts's memberFacts decides which of a token's
 * claims count): their ids as creators, their emails, their IdP group names.
 */
export interface MemberFacts {
  userIds: number[];
  /** Lower case. */
  emails: string[];
  groupNames: string[];
}

export const groups = {
  async find(db: Knex, workspaceId: string, id: string): Promise<Group | undefined> {
    const row = await db("groups").where({ workspace_id: workspaceId, id }).first();
    return row ? toGroup(row) : undefined;
  },

  /** Every group of the workspace, oldest first (membership is decided in policy.ts). */
  async all(db: Knex, workspaceId: string): Promise<Group[]> {
    return (await db("groups").where({ workspace_id: workspaceId }).orderBy("created_at").orderBy("id")).map(toGroup);
  },

  /**
   * The groups of the workspace that any of these facts could admit, oldest first: created by
   * one of the users, naming one of the emails (in any case) or one of the group names. Only
   * what the callers may belong to is read, however many groups the workspace has; policy.ts's
   * isGroupMember still decides each one (this may only narrow, never admit).
   */
  async admittingAny(db: Knex, workspaceId: string, facts: MemberFacts): Promise<Group[]> {
    if (!facts.userIds.length && !facts.emails.length && !facts.groupNames.length) return [];
    const rows = await db("groups as g")
      .where("g.workspace_id", workspaceId)
      .andWhere((w) => {
        if (facts.userIds.length) w.orWhereIn("g.created_by", facts.userIds);
        if (facts.emails.length) {
          w.orWhereRaw(
            "exists (select 1 from jsonb_array_elements_text(g.allowed_users) u where lower(u) in (select jsonb_array_elements_text(?::jsonb)))",
            [JSON.stringify(facts.emails)],
          );
        }
        if (facts.groupNames.length) {
          w.orWhereRaw(
            "exists (select 1 from jsonb_array_elements_text(g.allowed_groups) n where n in (select jsonb_array_elements_text(?::jsonb)))",
            [JSON.stringify(facts.groupNames)],
          );
        }
      })
      .orderBy("g.created_at")
      .orderBy("g.id")
      .select("g.*");
    return rows.map(toGroup);
  },

  async insert(db: Knex, g: GroupFields & { id: string; workspace_id: string; created_by: number | null; now: Date }): Promise<Group> {
    const [row] = await db("groups")
      .insert({ id: g.id, workspace_id: g.workspace_id, ...columns(g), created_by: g.created_by, created_at: g.now, updated_at: g.now })
      .returning("*");
    return toGroup(row);
  },

  async update(db: Knex, id: string, fields: GroupFields, now: Date): Promise<Group> {
    const [row] = await db("groups")
      .where({ id })
      .update({ ...columns(fields), updated_at: db.raw("greatest(updated_at, ?::timestamptz)", [now]) })
      .returning("*");
    return toGroup(row);
  },

  async delete(db: Knex, id: string): Promise<void> {
    await db("groups").where({ id }).delete();
  },

  /** Each group's agents, in the order they were given. */
  async agents(db: Knex, groupIds: string[]): Promise<Map<string, string[]>> {
    const byGroup = new Map<string, string[]>(groupIds.map((id) => [id, []]));
    if (!groupIds.length) return byGroup;
    const rows = await db("group_agents").whereIn("group_id", groupIds).orderBy("position").select("group_id", "agent_id");
    for (const r of rows) byGroup.get(r.group_id)?.push(r.agent_id);
    return byGroup;
  },

  async setAgents(db: Knex, group: Group, agentIds: string[]): Promise<void> {
    await db("group_agents").where({ group_id: group.id }).delete();
    await db("group_agents").insert(agentIds.map((agentId, position) => ({ group_id: group.id, workspace_id: group.workspace_id, agent_id: agentId, position })));
  },
};

export const groupSessions = {
  async find(db: Knex, groupId: string, sessionId: string): Promise<GroupSessionView | undefined> {
    const row = await db("group_sessions").where({ group_id: groupId, session_id: sessionId }).first();
    return row ? toGroupSession(row) : undefined;
  },

  async ids(db: Knex, groupId: string): Promise<string[]> {
    return db("group_sessions").where({ group_id: groupId }).pluck("session_id");
  },

  async insert(db: Knex, groupId: string, sessionId: string, addedBy: number | null, at: Date): Promise<GroupSessionView> {
    const [row] = await db("group_sessions").insert({ group_id: groupId, session_id: sessionId, added_by: addedBy, added_at: at }).returning("*");
    return toGroupSession(row);
  },

  async delete(db: Knex, groupId: string, sessionIds: string[]): Promise<void> {
    if (sessionIds.length) await db("group_sessions").where({ group_id: groupId }).whereIn("session_id", sessionIds).delete();
  },

  /** Shared sessions whose agent is not among `agentIds` (they leave when the group drops the agent). */
  async withAgentsOtherThan(db: Knex, groupId: string, agentIds: string[]): Promise<string[]> {
    return db("group_sessions as gs")
      .join("sessions as s", "s.id", "gs.session_id")
      .where("gs.group_id", groupId)
      .whereNotIn("s.agent_id", agentIds)
      .pluck("gs.session_id");
  },
};
