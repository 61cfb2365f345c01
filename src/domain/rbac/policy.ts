/**
 * Role-based access (RBAC), switched on per workspace by its master key or admins. While it is
 * on (`ACTIVE`):
 * - a caller's role is its user token's `role` claim; an agent key's is the role it was made
 *   with (keys/policy.ts: its creator's), or, for a key that sees everything, the role it was
 *   exchanged with (generate-access-key-token). Admins, master keys and keys made or exchanged
 *   without a role see everything; a master key exchanged with a role is narrowed to it;
 * - on /v1 a user token without a role is refused (401), admins excepted; a key bound to no
 *   role (a key made by a user without one) is refused 403: it is valid, its role is not;
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

/** The role a principal carries (user tokens, role-bound keys and exchanged key tokens), if any. */
export function roleOf(p: Principal): string | null {
  return p.role ?? null;
}

/** The scope of what the caller sees under the workspace's RBAC setting. */
export function roleScopeWhen(active: boolean, p: Principal): RoleScope {
  if (!active) return { all: true };
  if (p.kind === "master" || p.kind === "agent") {
    // A role-bound agent key is filtered even without a role; any key with a role is.
    const filtered = !!p.role || (p.kind === "agent" && !!p.roleBound);
    return filtered ? { all: false, role: roleOf(p) } : { all: true };
  }
  // Users, and any other kind of credential (failing closed): only admins see everything.
  return p.kind === "user" && p.admin ? { all: true } : { all: false, role: roleOf(p) };
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

/** /v1 refuses a caller without a role while RBAC is on (admins excepted): a user token 401, a key bound to no role 403. */
export function assertBackplaneRole(scope: RoleScope, p: Principal): void {
  if (scope.all || scope.role !== null) return;
  if (p.kind === "user") throw new Unauthorized("RBAC is active: the token must carry a role");
  throw new Forbidden("RBAC is active and this key is bound to no role (its creator had none); a key made by an admin or the master key may carry one");
}

/** Switching RBAC is for the master key and admins. */
export function assertCanSwitchRbac(p: Principal): void {
  if (!isWorkspaceAdmin(p)) throw new Forbidden("Only the master key or an admin may switch RBAC");
}
