/**
 * Who may do what with a turn:
 * - start or cancel one: who may append to the session (sessions/policy.ts, `write`): its owner,
 *   keys of its agent with `sessions:write`, admins. Group members read, never start.
 * - read one (GET, and its events live): who may read the session.
 * - serve the agent's turns over a socket: a key of that agent with `turns:serve`.
 * - an agent whose server is INACTIVE (the Backplane's `servers`) takes no turns: 409, on /api
 *   and /v1 alike.
 */
import { hasScope, type Principal } from "../../auth/principal.js";
import { Conflict, Forbidden } from "../../errors.js";

/** The agent whose turns the principal may answer over a socket. */
export function servedAgent(p: Principal): string {
  if (p.kind !== "agent") throw new Forbidden("Only an agent's key may serve its turns");
  if (!hasScope(p, "turns:serve")) throw new Forbidden("This key lacks the turns:serve scope");
  return p.agentId;
}

/** An INACTIVE agent server takes no turns. */
export function assertTakesTurns(agentId: string, status: string | undefined): void {
  if (status === "INACTIVE") throw new Conflict(`The agent server '${agentId}' is INACTIVE: it takes no turns`);
}
