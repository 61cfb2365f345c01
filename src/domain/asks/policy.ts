/**
 * Who may do what with a group's conversations ("ask the group"):
 * - create and list them, read one, watch it, ask in it, cancel its asks: members of the group
 *   (groups/policy.ts; users whose membership is evaluated from their current token) and
 *   admins. Membership is all it takes to use the group's agents inside the group: no team
 *   access to each agent is needed.
 * - rename, archive, delete, share: the conversation's creator while a member, and admins.
 * - agent keys: 403 on every route, like every group route; non-members: 404.
 * The conversation's readers are stated once in sessions/policy.ts (rule 5); this adds only that
 * the conversation is looked up under its own group.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { loadGroupFor } from "../groups/policy.js";
import type { Group } from "../groups/repository.js";
import { assertCanSession, type SessionAction } from "../sessions/policy.js";
import { sessions, type Session } from "../sessions/repository.js";

export async function loadConversationFor(db: Knex, actor: Principal, groupId: string, sessionId: string, action: SessionAction): Promise<{ group: Group; session: Session }> {
  const group = await loadGroupFor(db, actor, groupId, "read");
  const session = await sessions.find(db, actor.workspaceId, sessionId);
  if (!session || session.group_id !== group.id) throw new NotFound("Conversation");
  assertCanSession(actor, session.readers, action);
  return { group, session };
}
