/**
 * Who may manage API keys:
 * - an agent's keys: its editors (agents/policy.ts `loadAgentForEdit`); never agent keys.
 * - the workspace's master keys (create, list, revoke): the master key and users with the
 *   `admin` role; anyone else 403. A key id of another workspace answers 404.
 * - a workspace always keeps one live master key: revoking the last one is 409.
 */
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Conflict, Forbidden, NotFound } from "../../errors.js";

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
