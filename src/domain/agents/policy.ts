/**
 * Who may do what with an agent. The one place these rules live: REST routes, socket handlers
 * and other services (sessions, groups, channels) all ask here.
 *
 * - master key / `admin` role: everything in the workspace (treated as editor)
 * - agent key: its own agent only, as a user of it (viewer), never to change it or make agents
 * - user: the access level of their team membership; no membership means the agent is
 *   invisible to them (404)
 */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal, type UserPrincipal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { agents, teams, type AccessLevel, type Agent } from "./repository.js";

export type { AccessLevel };
export const ACCESS_LEVELS = ["viewer", "editor"] as const satisfies readonly AccessLevel[];

/**
 * The rule, given the user's team level when the caller is a user (looked up only then):
 * admins edit everything, a key uses its own agent, a user has their team level.
 */
function levelOf(actor: Principal, agentId: string, teamLevel: AccessLevel | null): AccessLevel | null {
  if (isWorkspaceAdmin(actor)) return "editor";
  if (actor.kind === "agent") return actor.agentId === agentId ? "viewer" : null;
  return actor.kind === "user" ? teamLevel : null;
}

/** Users who are not admins: the only callers whose access needs their team membership. */
const teamMember = (actor: Principal) => (actor.kind === "user" && !isWorkspaceAdmin(actor) ? actor : undefined);

/** The caller's access to an agent they already know exists in their workspace. */
export async function accessLevel(db: Knex, actor: Principal, agentId: string): Promise<AccessLevel | null> {
  const user = teamMember(actor);
  const team = user ? await teams.level(db, user.workspaceId, agentId, user.userId) : null;
  return levelOf(actor, agentId, team);
}

/** The caller's access to each of these agents, by the same rule, in one query. */
export async function accessLevels(db: Knex, actor: Principal, agentIds: string[]): Promise<Map<string, AccessLevel | null>> {
  const user = teamMember(actor);
  const team = user ? await teams.levels(db, user.workspaceId, user.userId) : new Map<string, AccessLevel>();
  return new Map(agentIds.map((id) => [id, levelOf(actor, id, team.get(id) ?? null)]));
}

/** Ids of the agents the caller may use, or "all" for workspace admins. */
export async function accessibleAgentIds(db: Knex, actor: Principal): Promise<string[] | "all"> {
  if (isWorkspaceAdmin(actor)) return "all";
  if (actor.kind === "agent") return [actor.agentId];
  if (actor.kind !== "user") return [];
  return [...(await teams.levels(db, actor.workspaceId, actor.userId)).keys()];
}

/** Loads an agent the caller may use; unknown or inaccessible agents answer 404 alike. */
export async function loadAgentFor(db: Knex, actor: Principal, agentId: string): Promise<Agent & { access: AccessLevel }> {
  const agent = await agents.find(db, actor.workspaceId, agentId);
  const access = agent ? await accessLevel(db, actor, agentId) : null;
  if (!agent || !access) throw new NotFound("Agent");
  return { ...agent, access };
}

/** Loads an agent the caller may change (editor); a viewer gets 403. */
export async function loadAgentForEdit(db: Knex, actor: Principal, agentId: string): Promise<Agent> {
  const agent = await loadAgentFor(db, actor, agentId);
  if (agent.access !== "editor" || actor.kind === "agent") {
    throw new Forbidden("Only the agent's editors may change it, its team or its keys");
  }
  return agent;
}

export function assertCanCreateAgent(actor: Principal): void {
  if (actor.kind === "agent") throw new Forbidden("Agent keys may not create agents");
}

/** The embedded hub's built-in demo agent (the web app's "Try the demo agent"). */
export const DEMO_AGENT_ID = "demo-agent";

/**
 * Any signed-in user of the workspace may try the built-in demo agent, joining its team as an
 * editor if they are not on it; keys may not (the demo serves a person at the web app).
 */
export function assertCanJoinDemoAgent(actor: Principal): asserts actor is UserPrincipal {
  if (actor.kind !== "user") throw new Forbidden("Sign in as a user to try the demo agent");
}
