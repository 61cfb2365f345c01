/**
 * Who may decide an approval (CONTRACT.md, "People in the loop"): people only (a key is not a
 * person), among those who may read the session; its assignees when it names any (by email, or
 * by a `groups` claim: the grant rule of groups, groups/policy.ts isAllowedBy), else whoever may
 * append to the session (in a group's conversation, any member). REST, the pending list and the
 * web app all decide through this one rule.
 */
import type { Principal, UserPrincipal } from "../../auth/principal.js";
import { Forbidden } from "../../errors.js";
import { isAllowedBy } from "../groups/policy.js";
import { assertCanSession, canReadSession } from "../sessions/policy.js";
import type { SessionReaders } from "../sessions/repository.js";
import type { Approval } from "./repository.js";

/** Throws NotFound when the caller may not read the session, Forbidden when they may read but not decide. */
export function assertMayDecide(actor: Principal, approval: Pick<Approval, "assignees">, readers: SessionReaders): asserts actor is UserPrincipal {
  assertCanSession(actor, readers, "read");
  if (actor.kind !== "user") throw new Forbidden("Only people decide approvals: use a user's token, not a key");
  const a = approval.assignees;
  if (a) {
    if (!isAllowedBy({ allowed_users: a.users, allowed_groups: a.groups }, actor)) throw new Forbidden("Only the approval's assignees may decide it");
    return;
  }
  try {
    assertCanSession(actor, readers, "append");
  } catch {
    throw new Forbidden("Only those who may write to this conversation may decide its approvals");
  }
}

/** The same rule as a yes or no (the pending list). */
export function mayDecide(actor: Principal, approval: Pick<Approval, "assignees">, readers: SessionReaders): boolean {
  if (!canReadSession(actor, readers)) return false;
  try {
    assertMayDecide(actor, approval, readers);
    return true;
  } catch {
    return false;
  }
}
