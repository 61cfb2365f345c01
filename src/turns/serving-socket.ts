/**
 * The socket endpoint: an agent whose endpoint is `socket` (or that has none) answers its turns over a socket that
 * serves it (`agent:serve`), on any node. Handing the turn to one is Socket.IO's work
 * (realtime/serving.ts), given here as a function; the socket's events reach the runtime on the
 * node it is connected to (runtime.record, by turn id).
 */
import type { AgentEndpoint, RunningTurn, TurnContext } from "./endpoint.js";

/** Hands the turn to a socket serving its agent; false when none serves it. */
export type SocketDispatch = (context: TurnContext, turn: RunningTurn) => Promise<boolean>;

export function servingSocketEndpoint(dispatch: SocketDispatch): AgentEndpoint {
  return {
    protocol: "socket",
    async run(context, turn) {
      if (await dispatch(context, turn)) return;
      await turn.finish({ status: "failed", error: "the agent has no server_url and no socket serving it (agent:serve)" });
    },
  };
}
