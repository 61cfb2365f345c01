/**
 * Who may do what with an agent. The one place these rules live: REST routes, socket handlers
 * and other services (sessions, groups, channels) all ask here.
 *
 * - master key / `admin` role: everything in the workspace (treated as editor)
 * - agent key: its own agent only, as a user of it (viewer), never to change it
 * - user: the access level of their team membership; no membership means the agent is
 *   invisible to them (404)
 */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";

export type AccessLevel = "viewer" | "editor";
export const ACCESS_LEVELS: readonly AccessLevel[] = ["viewer", "editor"];

export interface AgentRow {
  workspace_id: string;
  id: string;
  name: string;
  description: string | null;
  server_url: string | null;
  created_by: number | null;
  created_at: Date;
  updated_at: Date;
}

/** The caller's access to an agent they already know exists in their workspace. */
export async function accessLevel(db: Knex, actor: Principal, agentId: string): Promise<AccessLevel | null> {
  if (isWorkspaceAdmin(actor)) return "editor";
  if (actor.kind === "agent") return actor.agentId === agentId ? "viewer" : null;
  if (actor.kind !== "user") return null;
  const row = await db("agent_members")
    .where({ workspace_id: actor.workspaceId, agent_id: agentId, user_id: actor.userId })
    .first("access_level");
  return (row?.access_level as AccessLevel | undefined) ?? null;
}

/** Loads an agent the caller may use; unknown or inaccessible agents answer 404 alike. */
export async function loadAgentFor(db: Knex, actor: Principal, agentId: string): Promise<AgentRow & { access: AccessLevel }> {
  const agent: AgentRow | undefined = await db("agents").where({ workspace_id: actor.workspaceId, id: agentId }).first();
  const access = agent ? await accessLevel(db, actor, agentId) : null;
  if (!agent || !access) throw new NotFound("Agent");
  return { ...agent, access };
}

/** Loads an agent the caller may change (editor); a viewer gets 403. */
export async function loadAgentForEdit(db: Knex, actor: Principal, agentId: string): Promise<AgentRow> {
  const agent = await loadAgentFor(db, actor, agentId);
  if (agent.access !== "editor" || actor.kind === "agent") {
    throw new Forbidden("Only the agent's editors may change it, its team or its keys");
  }
  return agent;
}

/** Ids of the agents the caller may use, or "all" for workspace admins. */
export async function accessibleAgentIds(db: Knex, actor: Principal): Promise<string[] | "all"> {
  if (isWorkspaceAdmin(actor)) return "all";
  if (actor.kind === "agent") return [actor.agentId];
  if (actor.kind !== "user") return [];
  return db("agent_members").where({ workspace_id: actor.workspaceId, user_id: actor.userId }).pluck("agent_id");
}
