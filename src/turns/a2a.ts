/**
 * The A2A endpoint: an agent whose endpoint is `{protocol: "a2a", url}` is an Agent2Agent agent,
 * called from this process with the official `@a2a-js/sdk` client (endpoints/a2a-client.ts). Its
 * card is read (and kept a minute), the turn goes out as one A2A message whose `contextId` is the
 * session (the agent keeps its context across turns) and whose `messageId` is the turn, streamed
 * when the card says the agent streams and sent once otherwise; what comes back is recorded as
 * turn events (endpoints/a2a-answer.ts). A cancel aborts the call and asks the agent to cancel
 * its task (bounded, best effort); a failed call ends the turn with the reason, keeping what
 * arrived. Nothing outlives the turn: every request is bound to the turn's abort signal and to
 * the turn's time limit.
 *
 * A task that goes `input-required` with an approval request (endpoints/a2a-answer.ts,
 * `approvalIn`) asks people (`RunningTurn.askPeople`); the time limit pauses while they decide.
 * Once the approval is settled (approved, rejected, expired), its outcome goes to the agent as the
 * message that continues the same task (`continuation`), and what the task answers then is
 * recorded in the same turn, until it ends. A cancel while people decide ends the turn cancelled
 * and asks the agent to cancel its task.
 */
import { randomUUID } from "node:crypto";
import { Role, type Message, type SendMessageRequest, type StreamResponse } from "@a2a-js/sdk";
import type { Client } from "@a2a-js/sdk/client";
import { A2aAnswer, type TurnEvent } from "../endpoints/a2a-answer.js";
import { A2aError, AgentCardCache, a2aClient, describe, isAbort, turnFetch } from "../endpoints/a2a-client.js";
import type { ApprovalView } from "../domain/approvals/repository.js";
import type { Turn } from "../domain/turns/repository.js";
import { outcomeForAgent, outcomeInWords } from "./approvals.js";
import type { AgentEndpoint, OutboundDeps, RunningTurn, TurnContext } from "./endpoint.js";

export interface A2aDeps extends Pick<OutboundDeps, "fetch" | "callerToken" | "endpointSecret" | "turnTimeoutMs" | "log"> {
  /** The card cache (one per process; tests may give their own). */
  cards?: AgentCardCache;
  /** How long the agent has to take a cancel (default 5 s). */
  cancelTimeoutMs?: number;
}

const DEFAULT_CANCEL_MS = 5_000;
/** At most this many stream responses per turn (the recorder bounds events and bytes too). */
const MAX_RESPONSES = 20_000;
/** At most this many times one turn's task asks people (the recorder bounds a turn's approvals too). */
const MAX_ASKS = 20;

export function a2aEndpoint(deps: A2aDeps): AgentEndpoint {
  const cards = deps.cards ?? new AgentCardCache();
  return {
    protocol: "a2a",
    run: (context, turn) => runA2a(deps, cards, context, turn),
  };
}

async function runA2a(deps: A2aDeps, cards: AgentCardCache, context: TurnContext, turn: RunningTurn): Promise<void> {
  const url = context.agent.endpoint?.protocol === "a2a" ? context.agent.endpoint.url : undefined;
  const running = await turn.begin();
  if (!running) return;
  if (!url) return void (await turn.finish({ status: "failed", error: "the agent has no A2A URL" }));
  const abort = new AbortController();
  let cancelled = false;
  const stopListening = turn.whenCancelled(() => {
    cancelled = true;
    abort.abort();
  });
  // The runtime fails a turn past its time limit; this stops the call that was still running it.
  // It counts the agent's time, not the time people take to decide (paused while they do).
  let limit: NodeJS.Timeout | undefined;
  const arm = () => {
    limit = setTimeout(() => abort.abort(), deps.turnTimeoutMs);
    limit.unref();
  };
  arm();
  const answer = new A2aAnswer();
  let client: Client | undefined;
  // The agent's task while it may still run: asked to cancel when the turn ends before it does.
  const stopTask = () => (client && answer.taskId && !answer.ending ? cancelTask(deps, turn.id, client, answer.taskId) : Promise.resolve());
  try {
    const token = await deps.callerToken({ ...context, turn: running });
    const secret = await deps.endpointSecret(context);
    const fetch = turnFetch(deps.fetch, token, secret, abort.signal);
    const card = await cards.get(url, fetch);
    client = await a2aClient(card, url, fetch);
    let request = sendRequest(context, running.id);
    if (!(await recordAll(turn, [{ type: "message_start", role: "assistant", model: (card.name ?? "").slice(0, 200) }]))) return;
    const streams = card.capabilities?.streaming === true;
    let count = 0;
    for (let asked = 0; ; asked++) {
      const responses = streams ? client.sendMessageStream(request, { signal: abort.signal }) : once(client, request, abort.signal);
      for await (const response of responses) {
        if (++count > MAX_RESPONSES) throw new A2aError(`the A2A agent sent more than ${MAX_RESPONSES} stream responses`);
        const events = answer.take(response);
        // The turn is over already (cancelled on another node, failed for a bad event, past its time).
        if (!(await recordAll(turn, events))) return void (answer.ending ? undefined : await stopAfter(abort, stopTask));
        if (answer.ending || answer.asking) break; // a final or interrupted state: the stream is closed, whatever the agent sends after
      }
      const asking = answer.asking;
      if (!asking || cancelled) break;
      if (asked >= MAX_ASKS) throw new A2aError(`the A2A agent asked for more than ${MAX_ASKS} approvals in one turn`);
      clearTimeout(limit);
      let approval: ApprovalView;
      try {
        approval = await turn.askPeople(asking, abort.signal);
      } catch (err) {
        if (cancelled || isAbort(err)) throw err;
        throw new A2aError(`the agent's approval request could not be asked: ${describe(err)}`);
      } finally {
        arm();
      }
      // Cancelled: the turn is being cancelled (the approval ends with it), maybe before this process heard.
      if (approval.status === "cancelled") return void (await cancelTurn(turn, stopTask));
      answer.resumed();
      request = continuation(context, answer.taskId ?? "", approval);
      // A fresh turn token: the one the call began with may have expired while people decided.
      client = await a2aClient(card, url, turnFetch(deps.fetch, await deps.callerToken({ ...context, turn: runsOn(running) }), secret, abort.signal));
    }
    if (cancelled) return void (await cancelTurn(turn, stopTask));
    const ending = answer.ending;
    if (!ending) throw new A2aError(streams ? "the A2A agent's stream ended before its task reached a final state" : "the A2A agent answered with a task that is not finished");
    if (ending.status === "completed") await recordAll(turn, [{ type: "done" }]);
    else await turn.finish(ending);
  } catch (err) {
    if (cancelled) return void (await cancelTurn(turn, stopTask));
    if (abort.signal.aborted && isAbort(err)) {
      await turn.finish({ status: "failed", error: `the turn took longer than ${deps.turnTimeoutMs / 1000} s` });
      return void (await stopTask());
    }
    if (!(err instanceof A2aError)) deps.log.warn({ err, turn: turn.id }, "A2A agent call failed");
    cards.forget(url); // the card may be what is wrong: the next turn reads it again
    await turn.finish({ status: "failed", error: err instanceof A2aError ? err.reason : `the A2A agent at ${new URL(url).host} could not be used: ${describe(err)}` });
  } finally {
    clearTimeout(limit);
    abort.abort(); // whatever is still open (a stream past its final state)
    stopListening();
  }
}

/**
 * The turn as it runs on after people decided: its time limit starts afresh then (turns/runtime.ts),
 * so a turn token made for it lasts from now, not from when the turn began.
 */
export function runsOn(turn: Turn): Turn {
  return { ...turn, started_at: new Date() };
}

/** The one answer of a non-streaming agent (`SendMessage`, blocking), as a stream of one. */
async function* once(client: Client, request: SendMessageRequest, signal: AbortSignal): AsyncGenerator<StreamResponse> {
  const result = await client.sendMessage(request, { signal });
  yield "messageId" in result ? { payload: { $case: "message", value: result } } : { payload: { $case: "task", value: result } };
}

/** The turn ends cancelled at once; the agent is asked to cancel its task meanwhile, and the run waits for that. */
async function cancelTurn(turn: RunningTurn, stopTask: () => Promise<void>): Promise<void> {
  const remote = stopTask(); // sent first, while the turn token is still good
  await turn.finish({ status: "cancelled" });
  await remote;
}

async function stopAfter(abort: AbortController, stopTask: () => Promise<void>): Promise<void> {
  abort.abort();
  await stopTask();
}

/** `CancelTask` for the agent's task: best effort, bounded, never thrown. */
function cancelTask(deps: A2aDeps, turnId: string, client: Client, taskId: string): Promise<void> {
  const signal = AbortSignal.timeout(deps.cancelTimeoutMs ?? DEFAULT_CANCEL_MS);
  return client.cancelTask({ tenant: "", id: taskId, metadata: undefined }, { signal }).then(
    () => undefined,
    (err) => deps.log.info({ err: describe(err), turn: turnId, taskId }, "the A2A agent did not take the cancel"),
  );
}

async function recordAll(turn: RunningTurn, events: TurnEvent[]): Promise<boolean> {
  for (const event of events) if (!(await turn.record(event))) return false;
  return true;
}

/**
 * The turn as an A2A message: `contextId` the session, `messageId` the turn, the trigger's text.
 * When this agent's last answer in the session asked a question (`input-required`), the message
 * continues that task.
 */
function sendRequest(context: TurnContext, turnId: string): SendMessageRequest {
  const { trigger, session } = context;
  const text = typeof trigger.content === "string" ? trigger.content : JSON.stringify(trigger.content);
  const message: Message = {
    messageId: turnId,
    contextId: session.id,
    taskId: pendingTask(context) ?? "",
    role: Role.ROLE_USER,
    parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
  return { tenant: "", message, configuration: undefined, metadata: undefined };
}

/**
 * The outcome of the approval the agent's task waits for, as the message that continues the task
 * (same task, same context): a data part `{type: "approval_outcome", approvalId, status,
 * decisions: [{decision, name, comment, at}]}` (who decided by the name they signed in with,
 * never an email) and the outcome in words as a text part.
 */
export function continuation(context: TurnContext, taskId: string, approval: ApprovalView): SendMessageRequest {
  const outcome = { type: "approval_outcome", ...outcomeForAgent(approval) };
  const message: Message = {
    messageId: randomUUID(),
    contextId: context.session.id,
    taskId,
    role: Role.ROLE_USER,
    parts: [
      { content: { $case: "data", value: outcome }, metadata: undefined, filename: "", mediaType: "application/json" },
      { content: { $case: "text", value: `The approval "${approval.title}" was ${outcomeInWords(approval)}.` }, metadata: undefined, filename: "", mediaType: "text/plain" },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
  return { tenant: "", message, configuration: undefined, metadata: undefined };
}

/** The task this agent's last answer in the session left waiting for input, if it did. */
function pendingTask(context: TurnContext): string | undefined {
  const { history, agent } = context;
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    if (m.role !== "assistant" || (m.agentId !== undefined && m.agentId !== agent.id)) continue;
    const a2a = m.metadata?.a2a as { state?: unknown; taskId?: unknown } | undefined;
    return a2a?.state === "input-required" && typeof a2a.taskId === "string" ? a2a.taskId.slice(0, 200) : undefined;
  }
  return undefined;
}
