/**
 * Who may read, change and share a session, and who is pushed its events. One rule, stated
 * once as the session's readers (loaded with the session by repository.ts); REST routes,
 * socket watches and the realtime event router all read it off here.
 *
 * A session's readers:
 *   1. workspace admins (master key, `admin` role): may do everything;
 *   2. keys of the session's agent: `sessions:read` to read and share, `sessions:write` to
 *      write (append, rename, archive, delete); without the scope 403;
 *   3. its owner, while they are on the agent's team: may do everything;
 *   4. members of the groups it is shared with (membership: groups/policy.ts): read only, 403
 *      for anything more.
 * A group's conversation (no agent; `groupId` set) has its own readers:
 *   5. members of its group (groups/policy.ts) read it and append to it (ask the group's agents);
 *      its creator, while a member, may also change and share it; agent keys have no way in.
 * Anyone else gets 404, as if the session did not exist (another workspace, another user's).
 * While the workspace's RBAC is on, a session bound to a role is also invisible (404) to callers
 * of another role, whichever rule would let them in (rbac/policy.ts).
 *
 * Its events (session:message, session:updated) are pushed, on every node, to:
 *   - keys of its agent holding `sessions:read` (rule 2 at the read scope);
 *   - the owner's sockets (rule 3);
 *   - the members of the sharing groups (rule 4);
 *   - sockets that watched it, each allowed by rules 1-4 when it watched and dropped when a
 *     membership or team change ends its access.
 * Admins are not pushed every session of the workspace; they watch the ones they want.
 * Role binding (RBAC) decides pushes as it decides reads (roleAdmits, for every kind of caller):
 * a socket in one of those rooms whose caller may not read the session is not pushed it.
 */
import type { Knex } from "knex";
import { hasScope, isWorkspaceAdmin, type Principal, type Scope } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { loadAgentFor, type AccessLevel } from "../agents/policy.js";
import type { Agent } from "../agents/repository.js";
import type { SessionAudience } from "../events.js";
import { isGroupMember } from "../groups/policy.js";
import { inScope, roleScopeWhen } from "../rbac/policy.js";
import { sessions, type Session, type SessionReaders } from "./repository.js";

/**
 * read: see it and its messages. append: add messages and start or cancel turns (asks). write:
 * rename, archive, delete (and append). share: make or revoke links.
 */
export type SessionAction = "read" | "append" | "write" | "share";

type Grant = "admin" | "agent-key" | "owner" | "group" | "member";

const SCOPE_FOR: Record<SessionAction, Scope> = {
  read: "sessions:read",
  share: "sessions:read",
  append: "sessions:write",
  write: "sessions:write",
};

function requireScope(actor: Principal, action: SessionAction): void {
  const scope = SCOPE_FOR[action];
  if (!hasScope(actor, scope)) throw new Forbidden(`This key lacks the ${scope} scope`);
}

/** The role binding RBAC puts on a session: its role while the workspace's RBAC is on, else none. */
function boundRole(r: Pick<SessionReaders, "rbacActive" | "roleId">): string | null {
  return r.rbacActive ? r.roleId : null;
}

/**
 * Role binding, the one rule REST reads and live pushes share: a session bound to a role is
 * for callers of that role (or of none restricted: admins, callers RBAC leaves unscoped; see
 * rbac/policy.ts), whatever kind of principal they are.
 */
function roleAdmits(actor: Principal, role: string | null): boolean {
  return inScope(roleScopeWhen(role !== null, actor), role);
}

/** Which of rules 1-4 lets the caller at the session, if any. */
function grantOf(actor: Principal, r: SessionReaders): Grant | undefined {
  if (actor.workspaceId !== r.workspaceId) return undefined;
  if (!roleAdmits(actor, boundRole(r))) return undefined;
  if (isWorkspaceAdmin(actor)) return "admin";
  if (actor.kind === "agent") return actor.agentId === r.agentId ? "agent-key" : undefined;
  if (actor.kind !== "user") return undefined;
  if (r.groupId !== null) {
    // A conversation: its group's members, the creator among them (rule 5).
    const group = r.groups.find((g) => g.id === r.groupId);
    if (!group || !isGroupMember(group, actor)) return undefined;
    return r.ownerUserId === actor.userId ? "owner" : "member";
  }
  if (r.ownerUserId === actor.userId) return "owner";
  if (r.groups.some((g) => isGroupMember(g, actor))) return "group";
  return undefined;
}

/**
 * The decision: may `actor` do `action` to the session? Throws NotFound when the caller may not
 * know the session exists, Forbidden when they may see it but not do this.
 */
export function assertCanSession(actor: Principal, readers: SessionReaders, action: SessionAction): void {
  const grant = grantOf(actor, readers);
  if (!grant) throw new NotFound("Session");
  if (grant === "agent-key") requireScope(actor, action);
  if (grant === "group" && action !== "read") throw new Forbidden("Group members may read this session, not change or share it");
  if (grant === "member" && action !== "read" && action !== "append") throw new Forbidden("Only the conversation's creator may change or share it; members may read it and ask");
}

/** Whether the caller may read the session (the same rule, as a yes or no). */
export function canReadSession(actor: Principal, readers: SessionReaders): boolean {
  try {
    assertCanSession(actor, readers, "read");
    return true;
  } catch {
    return false;
  }
}

/**
 * Who is pushed the session's events besides its watchers: rules 2-4 (see the header); for a
 * conversation, its group's members (rule 5: the creator hears it as a member, while one).
 */
export function sessionAudience(readers: SessionReaders): SessionAudience {
  const bound = pushedRole(readers);
  if (readers.groupId !== null) return { agentId: null, ownerUserId: null, groupIds: [readers.groupId], ...bound };
  return { agentId: readers.agentId, ownerUserId: readers.ownerUserId, groupIds: readers.groups.map((g) => g.id), ...bound };
}

/**
 * Which sockets of the audience's rooms (and its watchers') are pushed the session's events:
 * those whose caller role binding admits, as for a read. Null when it admits every one (the
 * session is bound to no role), so delivery may broadcast to the rooms as they are.
 */
export function sessionPushedTo(audience: SessionAudience): ((p: Principal) => boolean) | null {
  const role = audience.roleId ?? null;
  return role === null ? null : (p) => roleAdmits(p, role);
}

/** The role binding a session's live events carry (SessionAudience.roleId), when it has one. */
export function pushedRole(readers: SessionReaders): { roleId: string } | Record<string, never> {
  const roleId = boundRole(readers);
  return roleId === null ? {} : { roleId };
}

/**
 * Whether a serving socket's key may be handed a turn of the session (its trigger and history):
 * role binding decides, as for a read, so a key bound to one role never serves another's.
 */
export function mayServeSession(p: Principal, readers: SessionReaders): boolean {
  return roleAdmits(p, boundRole(readers));
}

/** The agent whose every session an agent key is pushed (rule 2 at the read scope), if any. */
export function agentSessionsPushedTo(p: Principal): string | undefined {
  return p.kind === "agent" && hasScope(p, "sessions:read") ? p.agentId : undefined;
}

/** Loads a session (of `agentId` when given) that the caller may `action`; see assertCanSession. */
export async function loadSessionFor(db: Knex, actor: Principal, sessionId: string, action: SessionAction, agentId?: string): Promise<Session> {
  const session = await sessions.find(db, actor.workspaceId, sessionId, agentId);
  if (!session) throw new NotFound("Session");
  assertCanSession(actor, session.readers, action);
  return session;
}

/**
 * The agent behind a session collection (create, list, delete archived): the caller must be
 * able to use the agent (404 otherwise) and, for keys, hold the scope (403 otherwise).
 */
export async function loadAgentForSessions(db: Knex, actor: Principal, agentId: string, action: SessionAction): Promise<Agent & { access: AccessLevel }> {
  const agent = await loadAgentFor(db, actor, agentId);
  requireScope(actor, action);
  return agent;
}

/** Which of an agent's sessions the caller lists: users their own (rule 3), keys and admins all. */
export function listedOwner(actor: Principal): number | undefined {
  return actor.kind === "user" && !isWorkspaceAdmin(actor) ? actor.userId : undefined;
}

/**
 * The owner of a new session: users own what they create; keys and admins may name another
 * owner (who must be able to use the agent, checked by the caller) or none.
 */
export function ownerOfNewSession(actor: Principal, requested: number | null | undefined): number | null {
  const self = actor.kind === "user" ? actor.userId : null;
  if (requested === undefined || requested === self) return self;
  if (actor.kind === "user" && !isWorkspaceAdmin(actor)) {
    throw new Forbidden("Only API keys and admins may create a session for someone else");
  }
  return requested;
}
