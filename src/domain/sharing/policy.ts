/**
 * Share links, who may do what:
 * - make and revoke a session's links: whoever may `share` the session (sessions/policy.ts:
 *   its owner, keys of its agent with `sessions:read`, admins; not group members).
 * - view: anyone holding a live token; the token is the credential.
 * - clone: a user of the session's workspace who may use its agent (403 otherwise, keys too);
 *   a dead token, or one of another workspace, answers 404 whoever asks.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { loadAgentFor } from "../agents/policy.js";

/** A link lives at most this long (and this long by default). */
export const SHARE_MAX_HOURS = 168;

export async function assertCanClone(db: Knex, actor: Principal, agentId: string): Promise<number> {
  if (actor.kind !== "user") throw new Forbidden("Only users may clone a shared session");
  await loadAgentFor(db, actor, agentId).catch((err: unknown) => {
    throw err instanceof NotFound ? new Forbidden("You need access to the session's agent to clone it") : err;
  });
  return actor.userId;
}
