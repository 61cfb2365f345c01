/**
 * How a turn reaches its agent: the agent's HTTP server when it has a `server_url` (a Sharely
 * Server SDK agent), otherwise a socket serving it on any node. The HTTP call runs in this
 * process: its events are recorded as they come, a cancel aborts it, and its failures end the
 * turn with the reason (what arrived is kept).
 */
import type { Logger } from "pino";
import { mintUserToken } from "../auth/jwt.js";
import type { TurnContext, TurnEndpoint, Turns } from "../domain/turns/service.js";
import { AgentCallError, isAbortError, streamHttpAgent, type HttpAgentOptions } from "../endpoints/http-agent.js";

/** The token an HTTP agent gets for the asking user lives this long. */
const USER_TOKEN_TTL_S = 300;

export interface EndpointDeps {
  turns: Pick<Turns, "begin" | "record" | "finish" | "whenCancelled">;
  /** Hands the turn to a serving socket; false when none serves the agent. */
  dispatchToSocket(context: TurnContext): Promise<boolean>;
  http: HttpAgentOptions;
  /** The asking user's claims and the secret to sign a short-lived token with (none: no token). */
  userToken(context: TurnContext): Promise<{ secret: string; claims: { workspace: string; sub: string; email: string; name: string } } | undefined>;
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
  if (!(await deps.turns.begin(turn.id))) return;
  const abort = new AbortController();
  const stopListening = deps.turns.whenCancelled(turn.id, () => abort.abort());
  try {
    const user = await deps.userToken(context);
    const token = user ? await mintUserToken({ ...user.claims, secret: user.secret, ttlSeconds: USER_TOKEN_TTL_S }) : "";
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
