/**
 * Role-based access (RBAC), switched on per workspace by its master key or admins. While it is
 * on (`ACTIVE`):
 * - a caller's role is its user token's `role` claim, or the `roleId` a key was exchanged with
 *   (generate-access-key-token); master keys, admins and keys exchanged without a role have
 *   none and see everything;
 * - on /v1 a user token without a role is refused (401), admins excepted;
 * - a session (a Backplane thread) is bound to the role of the caller that created it; callers
 *   of another role may not know it exists (404, left out of lists), on /v1 and /api alike
 *   (sessions/policy.ts applies this to every session decision);
 * - knowledge (RAG, tools, /api/knowledge) shows a caller only the items assigned to its role.
 * While it is off, roles change nothing.
 */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Forbidden, Unauthorized } from "../../errors.js";
import { rbac } from "./repository.js";

/** What a caller may see: everything, or what belongs to one role. */
export type RoleScope = { all: true } | { all: false; role: string | null };

/** The role a principal carries (user tokens and exchanged key tokens), if any. */
export function roleOf(p: Principal): string | null {
  return p.role ?? null;
}

/** The scope of what the caller sees under the workspace's RBAC setting. */
export function roleScopeWhen(active: boolean, p: Principal): RoleScope {
  if (!active || isWorkspaceAdmin(p) || (p.kind !== "user" && !p.role)) return { all: true };
  return { all: false, role: roleOf(p) };
}

export async function roleScope(db: Knex, p: Principal): Promise<RoleScope> {
  return roleScopeWhen(await rbac.isActive(db, p.workspaceId), p);
}

/** Whether a thing bound to `boundRole` (null: to none) is visible in the scope. */
export function inScope(scope: RoleScope, boundRole: string | null): boolean {
  return scope.all || boundRole === null || boundRole === scope.role;
}

/** The role a session created now is bound to: the creator's, while RBAC is on. */
export function roleForNewSession(scope: RoleScope): string | null {
  return scope.all ? null : scope.role;
}

/** /v1 refuses a user token without a role while RBAC is on (admins excepted). */
export function assertBackplaneRole(scope: RoleScope): void {
  if (!scope.all && scope.role === null) throw new Unauthorized("RBAC is active: the token must carry a role");
}

/** Switching RBAC is for the master key and admins. */
export function assertCanSwitchRbac(p: Principal): void {
  if (!isWorkspaceAdmin(p)) throw new Forbidden("Only the master key or an admin may switch RBAC");
}
