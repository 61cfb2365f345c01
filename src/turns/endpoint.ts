/**
 * How a turn reaches its agent: one `AgentEndpoint` per agent protocol, each in its own file,
 * registered in the list the runtime is built with (server.ts). The endpoint of the agent's
 * protocol runs its turns. An endpoint reports through the `RunningTurn` it is
 * handed: `begin` once it works on the turn, `record` per agent event, `finish` for an end the
 * agent did not report (a failure, an abort). Adding a protocol is one file implementing this
 * interface, plus its line in the list.
 */
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";
import type { SecretBox } from "../auth/secrets.js";
import type { Fetch } from "../endpoints/guarded-fetch.js";
import type { Agent } from "../domain/agents/repository.js";
import type { Protocol } from "../domain/agents/endpoint.js";
import type { TurnOutcome } from "../domain/turns/runner.js";
import type { MessageView } from "../domain/sessions/messages.js";
import type { Session } from "../domain/sessions/repository.js";
import type { Turn } from "../domain/turns/repository.js";
import type { ApprovalRequest } from "../domain/turns/events.js";
import type { ApprovalView } from "../domain/approvals/repository.js";

export interface TurnContext {
  turn: Turn;
  agent: Agent;
  session: Session;
  trigger: MessageView;
  /** The messages before the trigger, oldest first. */
  history: MessageView[];
  /** Who asked, for the short-lived token an agent gets to act for them. */
  asker: Principal;
}

/** One turn, as the endpoint running it reports on it. */
export interface RunningTurn {
  readonly id: string;
  /** This process works on the turn from now (records its events, renews its lease); undefined when it is over. */
  begin(): Promise<Turn | undefined>;
  /** One event from the agent; false once the turn is over (stop sending). */
  record(raw: unknown): Promise<boolean>;
  /** Ends the turn (once, whichever process asks first). */
  finish(outcome: TurnOutcome): Promise<void>;
  /** Runs `handler` when a cancel of the turn reaches this process; answers how to stop. */
  whenCancelled(handler: () => void): () => void;
  /** Whether any event of the turn was logged yet, by any process (or it waits for people). */
  hasEvents(): Promise<boolean>;
  /**
   * Asks people before the agent acts (CONTRACT.md, "People in the loop"): the turn waits until
   * the approval is settled, whoever decides on whichever process, and answers it settled. A
   * cancel of the turn (`signal`) ends the wait with the signal's reason.
   */
  askPeople(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalView>;
}

export interface AgentEndpoint {
  /** The protocol whose agents this endpoint runs (`protocolOf(agent)`, domain/agents/endpoint.ts). */
  readonly protocol: Protocol;
  /** Runs the turn to its end; a throw fails the turn. */
  run(context: TurnContext, turn: RunningTurn): Promise<void>;
}

/** What every endpoint that calls out is given (server.ts builds it once). */
export interface OutboundDeps {
  /** The guarded fetch (endpoints/guarded-fetch.ts): SSRF guard, timeouts, byte bound. Give it to every protocol library. */
  fetch: Fetch;
  /** The turn token for the running turn (auth/turn-token.ts): the only credential an agent gets. */
  callerToken(context: TurnContext & { turn: Turn }): Promise<string>;
  /** The agent's endpoint secret, for signing requests (endpoints/signature.ts); made when it has none yet. */
  endpointSecret(context: TurnContext): Promise<string>;
  /** Opens write-only secrets (a model's API key, an MCP server's headers). */
  secrets: SecretBox;
  /** The longest a whole turn may take (AGENT_TURN_TIMEOUT_MS). */
  turnTimeoutMs: number;
  log: Logger;
}
