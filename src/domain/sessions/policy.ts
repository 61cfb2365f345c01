/**
 * Who may do what with a session. The one place these rules live: REST routes, the realtime
 * hub and the sharing and groups services all ask here.
 *
 * - master key / `admin` role: every session of the workspace.
 * - agent key: every session of its own agent; `sessions:read` to read (and share),
 *   `sessions:write` to write; without the scope 403. Another agent's sessions: 404.
 * - user: their own sessions, while they may use the agent (viewer or editor); and, to read
 *   only, sessions shared with a group they belong to (see domain/groups/policy.ts).
 * - anyone else: 404, as if the session did not exist.
 */
import type { Knex } from "knex";
import { hasScope, isWorkspaceAdmin, type Principal, type Scope } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { accessLevel, loadAgentFor, type AgentRow, type AccessLevel } from "../agents/policy.js";
import type { SessionAudience } from "../events.js";
import { isSessionSharedWithMember } from "../groups/policy.js";

/** read: see it and its messages. write: append, rename, archive, delete. share: make or revoke links. */
export type SessionAction = "read" | "write" | "share";

export interface SessionRow {
  id: string;
  workspace_id: string;
  agent_id: string;
  owner_id: number | null;
  title: string;
  archived: boolean;
  message_count: number;
  created_at: Date;
  updated_at: Date;
  last_message_at: Date | null;
  activity_at: Date;
}

const SCOPE_FOR: Record<SessionAction, Scope> = {
  read: "sessions:read",
  share: "sessions:read",
  write: "sessions:write",
};

function requireScope(actor: Principal, action: SessionAction): void {
  const scope = SCOPE_FOR[action];
  if (!hasScope(actor, scope)) throw new Forbidden(`This key lacks the ${scope} scope`);
}

/**
 * The agent behind a session collection (create, list, delete archived): the caller must be
 * able to use the agent (404 otherwise) and, for keys, hold the scope (403 otherwise).
 */
export async function loadAgentForSessions(
  db: Knex,
  actor: Principal,
  agentId: string,
  action: SessionAction,
): Promise<AgentRow & { access: AccessLevel }> {
  const agent = await loadAgentFor(db, actor, agentId);
  requireScope(actor, action);
  return agent;
}

/**
 * The decision: may `actor` do `action` to `session`? Throws NotFound when the caller may not
 * know the session exists, Forbidden when they may see it but not do this.
 */
export async function assertCanSession(db: Knex, actor: Principal, session: SessionRow, action: SessionAction): Promise<void> {
  if (session.workspace_id !== actor.workspaceId) throw new NotFound("Session");
  if (isWorkspaceAdmin(actor)) return;
  if (actor.kind === "agent") {
    if (actor.agentId !== session.agent_id) throw new NotFound("Session");
    requireScope(actor, action);
    return;
  }
  if (actor.kind !== "user") throw new NotFound("Session");
  if (session.owner_id === actor.userId && (await accessLevel(db, actor, session.agent_id))) return;
  // Group members read the sessions shared with their groups, even without the agent.
  if (await isSessionSharedWithMember(db, actor, session.id)) {
    if (action === "read") return;
    throw new Forbidden("Group members may read this session, not change or share it");
  }
  throw new NotFound("Session");
}

/** Loads a session of `agentId` that the caller may `action`; see assertCanSession. */
export async function loadSessionFor(
  db: Knex,
  actor: Principal,
  agentId: string,
  sessionId: string,
  action: SessionAction,
): Promise<SessionRow> {
  const session: SessionRow | undefined = await db("sessions")
    .where({ workspace_id: actor.workspaceId, agent_id: agentId, id: sessionId })
    .first();
  if (!session) throw new NotFound("Session");
  await assertCanSession(db, actor, session, action);
  return normaliseSession(session);
}

/**
 * For the realtime hub: the session the caller may read, by id alone. NotFound when they may
 * not know it; Forbidden for a key of the session's agent without `sessions:read`.
 */
export async function loadReadableSession(
  db: Knex,
  actor: Principal,
  sessionId: string,
): Promise<{ id: string; workspace_id: string; agent_id: string; owner_id: number | null; message_count: number }> {
  const s = await loadSessionById(db, actor, sessionId, "read");
  return { id: s.id, workspace_id: s.workspace_id, agent_id: s.agent_id, owner_id: s.owner_id, message_count: s.message_count };
}

/** Loads a session of any agent by id alone, that the caller may `action`; see assertCanSession. */
export async function loadSessionById(db: Knex, actor: Principal, sessionId: string, action: SessionAction): Promise<SessionRow> {
  const session: SessionRow | undefined = await db("sessions").where({ workspace_id: actor.workspaceId, id: sessionId }).first();
  if (!session) throw new NotFound("Session");
  await assertCanSession(db, actor, session, action);
  return normaliseSession(session);
}

/**
 * Who may read the session right now, for routing its events: the owner while they may still
 * use the agent, and the groups sharing it. Call inside the mutating transaction.
 */
export async function sessionAudience(db: Knex, session: SessionRow): Promise<SessionAudience> {
  return (await sessionAudiences(db, [session]))[0]!;
}

/** sessionAudience for many sessions in two queries, in the order given. */
export async function sessionAudiences(db: Knex, sessions: SessionRow[]): Promise<SessionAudience[]> {
  if (sessions.length === 0) return [];
  const owners = sessions.filter((s) => s.owner_id !== null);
  const members = owners.length
    ? await db("agent_members")
        .whereIn(["workspace_id", "agent_id", "user_id"], owners.map((s) => [s.workspace_id, s.agent_id, s.owner_id!]))
        .select("workspace_id", "agent_id", "user_id")
    : [];
  const onTeam = new Set(members.map((m) => `${m.workspace_id}/${m.agent_id}/${Number(m.user_id)}`));
  const shares: { session_id: string; group_id: string }[] = await db("group_sessions")
    .whereIn("session_id", sessions.map((s) => s.id))
    .orderBy("group_id")
    .select("session_id", "group_id");
  return sessions.map((s) => ({
    ownerUserId: s.owner_id !== null && onTeam.has(`${s.workspace_id}/${s.agent_id}/${Number(s.owner_id)}`) ? Number(s.owner_id) : null,
    groupIds: shares.filter((g) => g.session_id === s.id).map((g) => g.group_id),
  }));
}

export function normaliseSession(row: SessionRow): SessionRow {
  return {
    ...row,
    owner_id: row.owner_id === null || row.owner_id === undefined ? null : Number(row.owner_id),
    message_count: Number(row.message_count),
  };
}
