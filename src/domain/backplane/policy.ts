/**
 * The Agent Backplane's own rules (/v1, the Sharely Agent API). Everything else it decides by
 * asking the families it maps onto: sessions/policy.ts for threads (RBAC included), agents/
 * policy.ts for agent servers, rbac/policy.ts for the switch, knowledge/policy.ts for RAG and tools.
 *
 * - The path's workspace must be the caller's: another workspace answers 404, as if it did not
 *   exist (a credential never learns about other workspaces).
 * - While RBAC is ACTIVE a user token without a role is refused (401), admins excepted, and a
 *   key bound to no role 403 (assertBackplaneRole), on every /v1 route.
 * - A new thread belongs to the agent named by `agentServerId`; without it, to the calling agent
 *   key's agent; otherwise to the workspace's default agent (DEFAULT_AGENT_ID), made on first use.
 *   The default agent is the workspace's shared agent: any user who starts a thread on it joins
 *   its team as a viewer (an existing membership is left as it is), so they keep seeing it.
 * - A thread's `userId` is a free label (an external user id) when keys and admins create it;
 *   a user's thread is always their own (`userId` = their user id; naming another: 403).
 * - `api-authenticated` answers who a token names, with the role as both `roleId` and
 *   `customerRoleId` (older and newer Sharely SDKs read one each): a user token of the
 *   workspace names its user (`id` = the user id); a turn token names whoever asked for its
 *   turn (the user id, or `key:<key id>` when a key asked), and only while that turn is queued
 *   or running, in the token's workspace, session and agent, for the same asker; anything
 *   else, an ended turn included, is 401. A turn token's role is already stripped of admin and
 *   master authority when it is signed (turnAskerOf).
 */
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import type { TurnTokenClaims } from "../../auth/turn-token.js";
import { Forbidden, NotFound, Unauthorized } from "../../errors.js";
import { ACTIVE, type Turn } from "../turns/repository.js";
import { assertBackplaneRole, type RoleScope } from "../rbac/policy.js";

/** The workspace's default agent, made on first use by a thread created without an agent. */
export const DEFAULT_AGENT_ID = "default";
export const DEFAULT_AGENT_NAME = "Default agent";

/** Every /v1 request: the path's workspace is the caller's (404 otherwise), and RBAC's role rule. */
export function assertBackplaneCaller(actor: Principal, workspaceId: string, scope: RoleScope): void {
  if (actor.workspaceId !== workspaceId) throw new NotFound("Workspace");
  assertBackplaneRole(scope, actor);
}

/**
 * The agent a new thread belongs to, or "default" when it is the workspace's default agent
 * (which the caller then makes sure exists).
 */
export function threadAgentOf(actor: Principal, agentServerId: string | null | undefined): { agentId: string; isDefault: boolean } {
  if (agentServerId && agentServerId !== DEFAULT_AGENT_ID) return { agentId: agentServerId, isDefault: false };
  if (!agentServerId && actor.kind === "agent") return { agentId: actor.agentId, isDefault: false };
  // An agent key may name the default agent only when it is that agent's key (sessions/policy.ts decides).
  return { agentId: DEFAULT_AGENT_ID, isDefault: actor.kind !== "agent" };
}

/** The `userId` a new thread is stored with (see the header). */
export function threadUserIdOf(actor: Principal, requested: string | null | undefined): string | null {
  if (actor.kind !== "user" || isWorkspaceAdmin(actor)) return requested ?? (actor.kind === "user" ? String(actor.userId) : null);
  const own = String(actor.userId);
  if (requested != null && requested !== own) throw new Forbidden("Only API keys and admins may create a thread for another user");
  return own;
}

/** Users who are not admins join the default agent's team when they use it. */
export function joinsDefaultAgent(actor: Principal): actor is Extract<Principal, { kind: "user" }> {
  return actor.kind === "user" && !isWorkspaceAdmin(actor);
}

/** What `api-authenticated` answers (see the header). */
export interface TokenOwner {
  id: string;
  user_metadata: { roleId?: string; customerRoleId?: string };
}

/** `api-authenticated` for a credential that is not a turn token: only a user token of this workspace names someone. */
export function userTokenOwner(subject: Principal, workspaceId: string): TokenOwner {
  if (subject.kind !== "user" || subject.workspaceId !== workspaceId) throw new Unauthorized("Not a valid user token of this workspace");
  return { id: String(subject.userId), user_metadata: roleMetadata(subject.role) };
}

/** `api-authenticated` for a turn token: its asker, while `turn` (looked up by the token's turn id) still runs as the token says. */
export function turnTokenOwner(claims: TurnTokenClaims, workspaceId: string, turn: Turn | undefined): TokenOwner {
  const { asker } = claims;
  const live =
    turn !== undefined &&
    ACTIVE.includes(turn.status) &&
    claims.workspaceId === workspaceId &&
    turn.workspace_id === workspaceId &&
    turn.session_id === claims.sessionId &&
    turn.agent_id === claims.agentId &&
    turn.created_by === (asker.kind === "user" ? asker.userId : null);
  if (!live) throw new Unauthorized("The turn token's turn has ended, or is not of this workspace");
  return { id: asker.kind === "user" ? String(asker.userId) : `key:${asker.keyId}`, user_metadata: roleMetadata(asker.role) };
}

function roleMetadata(role: string | undefined): TokenOwner["user_metadata"] {
  return role ? { roleId: role, customerRoleId: role } : {};
}
