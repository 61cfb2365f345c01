/**
 * Share links, who may do what:
 * - make a session's links: whoever may `share` the session (sessions/policy.ts: its owner
 *   while on the agent's team, keys of its agent with `sessions:read`, admins; not group
 *   members).
 * - revoke them: the same, and the session's owner always, even after leaving the agent's
 *   team (they still own the session and what it shows).
 * - a link made with an API key lives only while that key does (repository.ts).
 * - view: anyone holding a live token; the token is the credential.
 * - clone: a user of the session's workspace who may use its agent (403 otherwise, keys too);
 *   a group conversation's clone is a new conversation of that group, for its members only (403).
 *   A dead token, or one of another workspace, answers 404 whoever asks.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { loadAgentFor } from "../agents/policy.js";
import { loadGroupFor } from "../groups/policy.js";
import { assertCanSession } from "../sessions/policy.js";
import type { Session } from "../sessions/repository.js";

/** A link lives at most this long (and this long by default). */
export const SHARE_MAX_HOURS = 168;

export async function assertCanClone(db: Knex, actor: Principal, source: Pick<Session, "agent_id" | "group_id">): Promise<number> {
  if (actor.kind !== "user") throw new Forbidden("Only users may clone a shared session");
  const load = source.agent_id !== null ? loadAgentFor(db, actor, source.agent_id) : loadGroupFor(db, actor, source.group_id ?? "", "read");
  await load.catch((err: unknown) => {
    throw err instanceof NotFound ? new Forbidden(source.agent_id !== null ? "You need access to the session's agent to clone it" : "Only members of the conversation's group may clone it") : err;
  });
  return actor.userId;
}

/** May `actor` revoke the session's links? Its owner always; otherwise who may share it. */
export function assertCanRevokeLinks(actor: Principal, session: Session): void {
  if (actor.workspaceId === session.workspace_id && actor.kind === "user" && session.owner_id === actor.userId) return;
  assertCanSession(actor, session.readers, "share");
}
