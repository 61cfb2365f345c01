/** SQL for agents and their teams (`agents`, `agent_members`); rows leave normalised. */
import type { Knex } from "knex";
import { int, intOrNull, json } from "../rows.js";
import { toIso } from "../time.js";
import type { EndpointColumns, StoredEndpoint } from "./endpoint.js";

export type AccessLevel = "viewer" | "editor";

export interface Agent extends EndpointColumns {
  workspace_id: string;
  id: string;
  name: string;
  description: string | null;
  server_url: string | null;
  /** Signs the requests the hub sends to its endpoint's URL; never presented after it was shown once. */
  endpoint_secret: string | null;
  created_by: number | null;
  created_at: Date;
  updated_at: Date;
}

export interface TeamMember {
  /** Null for a pending member: added by email, not signed in yet. */
  user_id: number | null;
  /** Null for a pending member. */
  name: string | null;
  email: string;
  avatar: string | null;
  access_level: AccessLevel;
  assigned_at: string;
  /** Added by email before they signed in: the access is theirs on first sign-in. */
  pending?: true;
}

export type AgentFields = Pick<Agent, "name" | "description" | "server_url"> & Partial<Pick<Agent, "endpoint" | "endpoint_api_key">> & { endpoint_secret?: string };

/** `endpoint` is jsonb: written as JSON text (knex would send an object's fields as a record). */
const toRow = (f: Partial<AgentFields>) => (f.endpoint === undefined ? f : { ...f, endpoint: f.endpoint === null ? null : JSON.stringify(f.endpoint) });

const toAgent = (row: Record<string, any>): Agent => ({
  workspace_id: row.workspace_id,
  id: row.id,
  name: row.name,
  description: row.description ?? null,
  server_url: row.server_url ?? null,
  endpoint: json<StoredEndpoint | null>(row.endpoint, null),
  endpoint_api_key: row.endpoint_api_key ?? null,
  endpoint_secret: row.endpoint_secret ?? null,
  created_by: intOrNull(row.created_by),
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const agents = {
  async find(db: Knex, workspaceId: string, id: string): Promise<Agent | undefined> {
    const row = await db("agents").where({ workspace_id: workspaceId, id }).first();
    return row ? toAgent(row) : undefined;
  },

  /** Up to `limit` agents by id after `afterId`, narrowed to `ids` unless "all". */
  async page(db: Knex, workspaceId: string, ids: string[] | "all", afterId: string | undefined, limit: number): Promise<Agent[]> {
    const q = db("agents").where({ workspace_id: workspaceId }).orderBy("id").limit(limit);
    if (ids !== "all") q.whereIn("id", ids);
    if (afterId !== undefined) q.andWhere("id", ">", afterId);
    return (await q).map(toAgent);
  },

  /** Which of `ids` exist in the workspace. */
  existing(db: Knex, workspaceId: string, ids: string[]): Promise<string[]> {
    return db("agents").where({ workspace_id: workspaceId }).whereIn("id", ids).pluck("id");
  },

  async insert(db: Knex, workspaceId: string, id: string, fields: AgentFields, createdBy: number | null): Promise<Agent> {
    const [row] = await db("agents")
      .insert({ workspace_id: workspaceId, id, ...toRow(fields), created_by: createdBy })
      .returning("*");
    return toAgent(row);
  },

  async update(db: Knex, workspaceId: string, id: string, patch: Partial<AgentFields>): Promise<Agent> {
    const [row] = await db("agents")
      .where({ workspace_id: workspaceId, id })
      .update({ ...toRow(patch), updated_at: db.fn.now() })
      .returning("*");
    return toAgent(row);
  },

  /** Stores an endpoint secret unless the agent has one already; answers the one it has now. */
  async setSecretIfNone(db: Knex, workspaceId: string, id: string, secret: string): Promise<string> {
    await db("agents").where({ workspace_id: workspaceId, id }).whereNull("endpoint_secret").update({ endpoint_secret: secret });
    const row = await db("agents").where({ workspace_id: workspaceId, id }).first("endpoint_secret");
    return row?.endpoint_secret ?? secret;
  },

  async delete(db: Knex, workspaceId: string, id: string): Promise<void> {
    await db("agents").where({ workspace_id: workspaceId, id }).delete();
  },
};

export const teams = {
  async level(db: Knex, workspaceId: string, agentId: string, userId: number): Promise<AccessLevel | null> {
    const row = await db("agent_members").where({ workspace_id: workspaceId, agent_id: agentId, user_id: userId }).first("access_level");
    return (row?.access_level as AccessLevel | undefined) ?? null;
  },

  /** The user's level on every agent whose team they are on. */
  async levels(db: Knex, workspaceId: string, userId: number): Promise<Map<string, AccessLevel>> {
    const rows = await db("agent_members").where({ workspace_id: workspaceId, user_id: userId }).select("agent_id", "access_level");
    return new Map(rows.map((r) => [r.agent_id as string, r.access_level as AccessLevel]));
  },

  /** Of these (workspace, agent, user) triples, the ones where the user is on the agent's team, as `ws/agent/user`. */
  async onTeam(db: Knex, triples: Array<[string, string, number]>): Promise<Set<string>> {
    if (!triples.length) return new Set();
    const rows = await db("agent_members").whereIn(["workspace_id", "agent_id", "user_id"], triples).select("workspace_id", "agent_id", "user_id");
    return new Set(rows.map((m) => teamKey(m.workspace_id, m.agent_id, int(m.user_id))));
  },

  async upsert(db: Knex, workspaceId: string, agentId: string, userId: number, level: AccessLevel): Promise<void> {
    await db("agent_members")
      .insert({ workspace_id: workspaceId, agent_id: agentId, user_id: userId, access_level: level })
      .onConflict(["workspace_id", "agent_id", "user_id"])
      .merge(["access_level"]);
  },

  /** Removes a member; false when they were not on the team. */
  async remove(db: Knex, workspaceId: string, agentId: string, userId: number): Promise<boolean> {
    return (await db("agent_members").where({ workspace_id: workspaceId, agent_id: agentId, user_id: userId }).delete()) > 0;
  },

  async members(db: Knex, workspaceId: string, agentId: string): Promise<TeamMember[]> {
    const rows = await db("agent_members as m")
      .join("users as u", "u.id", "m.user_id")
      .where({ "m.workspace_id": workspaceId, "m.agent_id": agentId })
      .orderBy("m.assigned_at")
      .orderBy("u.id")
      .select("u.id", "u.name", "u.email", "u.avatar", "m.access_level", "m.assigned_at");
    const invites = await db("agent_member_invites").where({ workspace_id: workspaceId, agent_id: agentId }).orderBy("assigned_at").orderBy("email");
    return [
      ...rows.map((r) => ({
        user_id: int(r.id),
        name: r.name,
        email: r.email,
        avatar: r.avatar ?? null,
        access_level: r.access_level,
        assigned_at: toIso(r.assigned_at),
      })),
      ...invites.map((i) => ({ user_id: null, name: null, email: i.email, avatar: null, access_level: i.access_level, assigned_at: toIso(i.assigned_at), pending: true as const })),
    ];
  },

  /** Adds (or changes the level of) a pending member: `email` lower-cased. */
  async invite(db: Knex, workspaceId: string, agentId: string, email: string, level: AccessLevel): Promise<void> {
    await db("agent_member_invites")
      .insert({ workspace_id: workspaceId, agent_id: agentId, email: email.toLowerCase(), access_level: level })
      .onConflict(["workspace_id", "agent_id", "email"])
      .merge(["access_level"]);
  },

  /** Removes a pending member; whether there was one. */
  async uninvite(db: Knex, workspaceId: string, agentId: string, email: string): Promise<boolean> {
    return (await db("agent_member_invites").where({ workspace_id: workspaceId, agent_id: agentId, email: email.toLowerCase() }).delete()) > 0;
  },

  /** A user who signed in takes the access they were invited to by email (the invites are used up). */
  async claimInvites(db: Knex, workspaceId: string, userId: number, email: string): Promise<void> {
    const invites = await db("agent_member_invites").where({ workspace_id: workspaceId, email: email.toLowerCase() }).delete().returning(["agent_id", "access_level", "assigned_at"]);
    for (const i of invites) {
      await db("agent_members")
        .insert({ workspace_id: workspaceId, agent_id: i.agent_id, user_id: userId, access_level: i.access_level, assigned_at: i.assigned_at })
        .onConflict(["workspace_id", "agent_id", "user_id"])
        .ignore();
    }
  },
};

export const teamKey = (workspaceId: string, agentId: string, userId: number) => `${workspaceId}/${agentId}/${userId}`;
