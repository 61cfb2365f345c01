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
 *   a dead token, or one of another workspace, answers 404 whoever asks.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { loadAgentFor } from "../agents/policy.js";
import { assertCanSession } from "../sessions/policy.js";
import type { Session } from "../sessions/repository.js";

/** A link lives at most this long (and this long by default). */
export const SHARE_MAX_HOURS = 168;

export async function assertCanClone(db: Knex, actor: Principal, agentId: string): Promise<number> {
  if (actor.kind !== "user") throw new Forbidden("Only users may clone a shared session");
  await loadAgentFor(db, actor, agentId).catch((err: unknown) => {
    throw err instanceof NotFound ? new Forbidden("You need access to the session's agent to clone it") : err;
  });
  return actor.userId;
}

/** May `actor` revoke the session's links? Its owner always; otherwise who may share it. */
export function assertCanRevokeLinks(actor: Principal, session: Session): void {
  if (actor.workspaceId === session.workspace_id && actor.kind === "user" && session.owner_id === actor.userId) return;
  assertCanSession(actor, session.readers, "share");
}
