/**
 * Workspaces are the tenant boundary: another workspace's id answers 404. Its people may be
 * listed by users and master keys (to choose whom to add to a team), not by agent keys.
 */
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";

export function assertCanListPeople(actor: Principal, workspaceId: string): void {
  if (actor.workspaceId !== workspaceId) throw new NotFound("Workspace");
  if (actor.kind === "agent") throw new Forbidden("Agent keys may not list the workspace's people");
}
