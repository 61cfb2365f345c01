/**
 * Knowledge rules, in one place for /api/knowledge, RAG and the tools:
 * - read (list, get, RAG): users, the master key, admins; agent keys with `knowledge:read`
 * - write (create, delete): the master key, admins, agent keys with `knowledge:write`
 * - execute tools: users, the master key, admins; agent keys with `tools:execute`
 * - what is seen (rbac/policy.ts): while the workspace's RBAC is on, a caller with a role sees
 *   the items assigned to that role (a key's role: keys/policy.ts); admins, the master key and
 *   keys made and exchanged without a role see everything; a caller without a role (a key bound
 *   to none included) sees nothing (so an item assigned to no role is seen only by those who see
 *   everything). While it is off, every reader sees everything. The
 *   switch itself is read by the query that filters (repository.ts), never before it.
 * - a tool call's `context.roleId` narrows a caller who sees everything to that role (an agent
 *   acting for one of its users); it never widens what a role-bound caller sees.
 */
import { hasScope, isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Forbidden } from "../../errors.js";
import { roleScopeWhen } from "../rbac/policy.js";
import type { KnowledgeScope } from "./repository.js";

export function assertCanReadKnowledge(actor: Principal): void {
  if (!hasScope(actor, "knowledge:read")) throw new Forbidden("This key lacks the knowledge:read scope");
}

export function assertCanWriteKnowledge(actor: Principal): void {
  if (isWorkspaceAdmin(actor)) return;
  if (actor.kind === "agent") {
    if (hasScope(actor, "knowledge:write")) return;
    throw new Forbidden("This key lacks the knowledge:write scope");
  }
  throw new Forbidden("Only the master key, an admin or a key with knowledge:write may change knowledge");
}

export function assertCanExecuteTools(actor: Principal): void {
  if (!hasScope(actor, "tools:execute")) throw new Forbidden("This key lacks the tools:execute scope");
}

/** What the caller sees while RBAC is on (the query applies it only then); `asRole` from a tool call's context. */
export function knowledgeScope(actor: Principal, asRole?: string | null): KnowledgeScope {
  const scope = roleScopeWhen(true, actor);
  if (scope.all && asRole) return { all: false, role: asRole };
  return scope;
}
