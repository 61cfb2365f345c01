/**
 * Share links, who may do what:
 * - make a session's links: whoever may `share` the session (sessions/policy.ts: its owner
 *   while on the agent's team, keys of its agent with `sessions:read`, admins; not group
 *   members).
 * - revoke them: the same, and the session's owner always, even after leaving the agent's
 *   team (they still own the session and what it shows).
 * - a link made with an API key lives only while that key does (repository.ts).
 * - view: anyone holding a live token; the token is the credential.
 * - clone: a user of the session's workspace who may use its agent (403 otherwise, keys too;
 *   the 403 names the agent's editors, who may give access, so the person knows whom to ask);
 *   a group conversation's clone is a new conversation of that group, for its members only (403).
 *   A dead token, or one of another workspace, answers 404 whoever asks.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { loadAgentFor } from "../agents/policy.js";
import { teams } from "../agents/repository.js";
import { loadGroupFor } from "../groups/policy.js";
import { assertCanSession } from "../sessions/policy.js";
import type { Session } from "../sessions/repository.js";

/** A link lives at most this long (and this long by default). */
export const SHARE_MAX_HOURS = 168;

export async function assertCanClone(db: Knex, actor: Principal, source: Pick<Session, "agent_id" | "group_id">): Promise<number> {
  if (actor.kind !== "user") throw new Forbidden("Only users may clone a shared session");
  const load = source.agent_id !== null ? loadAgentFor(db, actor, source.agent_id) : loadGroupFor(db, actor, source.group_id ?? "", "read");
  const refused = await load.then(
    () => undefined,
    (err: unknown) => {
      if (!(err instanceof NotFound)) throw err;
      return err;
    },
  );
  if (!refused) return actor.userId;
  if (source.agent_id === null) throw new Forbidden("Only members of the conversation's group may clone it");
  throw new Forbidden(`You need access to the session's agent to clone it: ${await whomToAsk(db, actor.workspaceId, source.agent_id)}`);
}

/** Who can give access to an agent, in words: its editors (up to three, by name), or the workspace's admins. */
async function whomToAsk(db: Knex, workspaceId: string, agentId: string): Promise<string> {
  const editors = (await teams.members(db, workspaceId, agentId)).filter((m) => m.access_level === "editor" && m.user_id !== null);
  if (!editors.length) return "ask a workspace admin to add you to its team";
  const names = editors.slice(0, 3).map((m) => m.name || m.email);
  const more = editors.length > 3 ? ` or one of ${editors.length - 3} more editors` : "";
  return `ask ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`}${more} (its editors) to add you to its team`;
}

/** May `actor` revoke the session's links? Its owner always; otherwise who may share it. */
export function assertCanRevokeLinks(actor: Principal, session: Session): void {
  if (actor.workspaceId === session.workspace_id && actor.kind === "user" && session.owner_id === actor.userId) return;
  assertCanSession(actor, session.readers, "share");
}
