/**
 * Who may manage API keys, and what a key may carry:
 * - an agent's keys: its editors (agents/policy.ts `loadAgentForEdit`); never agent keys.
 * - the workspace's master keys (create, list, revoke): the master key and users with the
 *   `admin` role; anyone else 403. A key id of another workspace answers 404.
 * - a workspace always keeps one live master key: revoking the last one is 409.
 * - no key carries more than whoever made it (CONTRACT.md, Credentials):
 *   - `knowledge:write` is granted only by the master key or an admin; anyone else asking for
 *     it gets 403 naming the scope (422 stays for scope names that do not exist);
 *   - a new agent key carries its creator's role, recorded whether RBAC is on or not, so
 *     switching RBAC on applies it: a user's key is bound to that user's role (none: it sees
 *     what a caller without a role sees), and naming another role (or none, having one) is 403.
 *     The master key and admins may name any role, or none: a key that sees everything;
 *   - exchanging a key (generate-access-key-token) never widens it: a role-bound key is
 *     exchanged only for its own role (another: 403); a key that sees everything may be
 *     narrowed to any role.
 */
import { isWorkspaceAdmin, type KeyRoleBinding, type Principal, type Scope } from "../../auth/principal.js";
import { Conflict, Forbidden, NotFound } from "../../errors.js";
import { roleScopeWhen } from "../rbac/policy.js";

export function assertCanManageMasterKeys(actor: Principal): void {
  if (!isWorkspaceAdmin(actor)) throw new Forbidden("Only the master key and admins may manage master keys");
}

/**
 * May `keyId` be revoked, given the workspace's live master keys (read under the workspace's
 * master-key lock, so two revocations can never both pass with two keys left)?
 */
export function assertCanRevokeMasterKey(live: ReadonlyArray<{ id: string }>, keyId: string): void {
  if (!live.some((k) => k.id === keyId)) throw new NotFound("Master key");
  if (live.length <= 1) throw new Conflict("This is the workspace's last live master key; create another one before revoking it");
}

/** Scopes only the master key and admins may grant. */
const ADMIN_SCOPES: ReadonlySet<Scope> = new Set(["knowledge:write"]);

/** May the actor give a new agent key these scopes? 403 naming the first it may not grant. */
export function assertCanGrantScopes(actor: Principal, scopes: readonly Scope[]): void {
  if (isWorkspaceAdmin(actor)) return;
  const denied = scopes.find((s) => ADMIN_SCOPES.has(s));
  if (denied) throw new Forbidden(`Only the master key or an admin may grant the scope ${denied}`);
}

/**
 * The role a new agent key carries: `named` is the body's `role` (null: none; undefined: not
 * given). What the creator sees while RBAC is on (rbac/policy.ts) is the most it may hand on.
 */
export function roleForNewKey(actor: Principal, named: string | null | undefined): KeyRoleBinding {
  const own = roleScopeWhen(true, actor);
  if (isWorkspaceAdmin(actor) || own.all) {
    if (named) return { bound: true, role: named };
    return own.all ? { bound: false } : { bound: true, role: own.role };
  }
  if (named !== undefined && named !== own.role) {
    throw new Forbidden(`A key carries its creator's role: you may not name ${named === null ? "no role" : `the role ${named}`}`);
  }
  return { bound: true, role: own.role };
}

/**
 * The role a token exchanged for `key` (a principal of the raw key) acts with, given the role
 * asked for: a key that sees everything takes any role asked (or none); a role-bound key only
 * its own (asking another is 403).
 */
export function keyTokenRole(key: Principal, requested: string | undefined): string | undefined {
  const own = roleScopeWhen(true, key);
  if (own.all) return requested;
  if (requested !== undefined && requested !== own.role) {
    throw new Forbidden(`This key is bound to ${own.role === null ? "no role" : `the role ${own.role}`}; it cannot be exchanged for the role ${requested}`);
  }
  return own.role ?? undefined;
}
