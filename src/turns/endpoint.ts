/**
 * How a turn reaches its agent: the agent's HTTP server when it has a `server_url` (a Sharely
 * Server SDK agent), otherwise a socket serving it on any node. The HTTP call runs in this
 * process: its events are recorded as they come, a cancel aborts it, and its failures end the
 * turn with the reason (what arrived is kept).
 */
import type { Logger } from "pino";
import type { TurnContext, TurnEndpoint, Turns } from "../domain/turns/service.js";
import { AgentCallError, isAbortError, streamHttpAgent, type HttpAgentOptions } from "../endpoints/http-agent.js";

export interface EndpointDeps {
  turns: Pick<Turns, "begin" | "record" | "finish" | "whenCancelled">;
  /** Hands the turn to a serving socket; false when none serves the agent. */
  dispatchToSocket(context: TurnContext): Promise<boolean>;
  http: HttpAgentOptions;
  /** The turn token (auth/turn-token.ts) for the running turn: bound to it, acting for whoever asked no further than the turn needs. */
  callerToken(context: TurnContext): Promise<string>;
  /** The agent's endpoint secret (made and stored when it has none yet). */
  endpointSecret(context: TurnContext): Promise<string>;
  log: Logger;
}

export function turnEndpoint(deps: EndpointDeps): TurnEndpoint {
  return {
    run(context) {
      void (context.agent.server_url ? runHttp(deps, context) : runOnSocket(deps, context)).catch((err) => {
        deps.log.error({ err, turn: context.turn.id }, "a turn's endpoint failed");
        void deps.turns.finish(context.turn.id, { status: "failed", error: "the hub could not run the turn" });
      });
    },
  };
}

async function runOnSocket(deps: EndpointDeps, context: TurnContext): Promise<void> {
  if (await deps.dispatchToSocket(context)) return;
  await deps.turns.finish(context.turn.id, { status: "failed", error: "the agent has no server_url and no socket serving it (agent:serve)" });
}

async function runHttp(deps: EndpointDeps, context: TurnContext): Promise<void> {
  const { turn, agent, trigger } = context;
  const running = await deps.turns.begin(turn.id);
  if (!running) return;
  const abort = new AbortController();
  const stopListening = deps.turns.whenCancelled(turn.id, () => abort.abort());
  try {
    // The running turn: its start is where the token's lifetime is counted from.
    const token = await deps.callerToken({ ...context, turn: running });
    const events = streamHttpAgent(
      {
        url: agent.server_url!,
        sessionId: turn.session_id,
        messageId: turn.message_id,
        message: typeof trigger.content === "string" ? trigger.content : JSON.stringify(trigger.content),
        token,
        secret: await deps.endpointSecret(context),
        signal: abort.signal,
      },
      deps.http,
    );
    for await (const raw of events) {
      const { threadId: _thread, messageId: _message, ...event } = raw;
      if (!(await deps.turns.record(turn.id, event))) return;
    }
    await deps.turns.finish(turn.id, { status: "failed", error: "the agent server's stream ended without done" });
  } catch (err) {
    if (isAbortError(err)) return void (await deps.turns.finish(turn.id, { status: "cancelled" }));
    const reason = err instanceof AgentCallError ? err.reason : "the agent server could not be reached";
    if (!(err instanceof AgentCallError)) deps.log.warn({ err, turn: turn.id }, "agent server call failed");
    await deps.turns.finish(turn.id, { status: "failed", error: reason });
  } finally {
    stopListening();
  }
}
