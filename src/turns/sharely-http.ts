/**
 * The Sharely HTTP endpoint: an agent with a `server_url` (a Sharely Server SDK agent) is called
 * over HTTP from this process (src/endpoints/http-agent.ts). Its events are recorded as they
 * come, a cancel aborts the call, and a failed call ends the turn with the reason (what arrived
 * is kept).
 */
import { AgentCallError, isAbortError, streamHttpAgent, type HttpAgentOptions } from "../endpoints/http-agent.js";
import type { AgentEndpoint, OutboundDeps, RunningTurn, TurnContext } from "./endpoint.js";

/** Why a Sharely HTTP agent's `approval_request` ends its turn (README, "People in the loop"). */
export const APPROVAL_REFUSED =
  "this agent asked for an approval, but a Sharely HTTP agent's answer cannot be paused and resumed mid-stream: serve the agent over a socket (agent:serve) or A2A to ask people before it acts";

export interface SharelyHttpDeps extends Pick<OutboundDeps, "callerToken" | "endpointSecret" | "log"> {
  http: HttpAgentOptions;
}

export function sharelyHttpEndpoint(deps: SharelyHttpDeps): AgentEndpoint {
  return {
    protocol: "sharely",
    run: (context, turn) => runHttp(deps, context, turn),
  };
}

async function runHttp(deps: SharelyHttpDeps, context: TurnContext, turn: RunningTurn): Promise<void> {
  const { agent, trigger } = context;
  const running = await turn.begin();
  if (!running) return;
  const abort = new AbortController();
  const stopListening = turn.whenCancelled(() => abort.abort());
  try {
    // The running turn: its start is where the token's lifetime is counted from.
    const token = await deps.callerToken({ ...context, turn: running });
    const events = streamHttpAgent(
      {
        url: agent.server_url!,
        sessionId: running.session_id,
        messageId: running.message_id,
        message: typeof trigger.content === "string" ? trigger.content : JSON.stringify(trigger.content),
        token,
        secret: await deps.endpointSecret(context),
        signal: abort.signal,
      },
      deps.http,
    );
    for await (const raw of events) {
      const { threadId: _thread, messageId: _message, ...event } = raw;
      if (event.type === "approval_request") {
        abort.abort();
        return void (await turn.finish({ status: "failed", error: APPROVAL_REFUSED }));
      }
      if (!(await turn.record(event))) return;
    }
    await turn.finish({ status: "failed", error: "the agent server's stream ended without done" });
  } catch (err) {
    if (isAbortError(err)) return void (await turn.finish({ status: "cancelled" }));
    const reason = err instanceof AgentCallError ? err.reason : "the agent server could not be reached";
    if (!(err instanceof AgentCallError)) deps.log.warn({ err, turn: turn.id }, "agent server call failed");
    await turn.finish({ status: "failed", error: reason });
  } finally {
    stopListening();
  }
}
