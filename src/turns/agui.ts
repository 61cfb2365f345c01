/**
 * The AG-UI endpoint (`endpoint: {protocol: "agui", url}`), Agentgram's custom agent contract:
 * the hub sends `POST {url}` with an AG-UI `RunAgentInput` (`threadId` = the session, `runId` =
 * the turn, `messages` = the history and the trigger, no tools, empty state, context and
 * forwarded props), the turn token as bearer, `Accept: text/event-stream` and Standard Webhooks
 * signature headers over the exact body (`webhook-id` = the turn), through the guarded fetch.
 *
 * The answer is either an AG-UI event stream (SSE, each `data:` one event, as `@ag-ui/encoder`
 * writes it) or one JSON body: an array of AG-UI events, or `{messages}` (AG-UI messages; those
 * not sent in the request are the answer). Either must end the run: RUN_FINISHED completes the
 * turn, RUN_ERROR fails it with its message, and an answer that stops before either fails it.
 * The events are translated by agui-events.ts. A cancel aborts the request.
 *
 * Interrupts (AG-UI 1.0's human in the loop): a run that finishes with `outcome: {type:
 * "interrupt", interrupts}` whose interrupts ask for approval (agui-events.ts, `approvalsIn`)
 * pauses the turn: the hub asks people (`RunningTurn.askPeople`), and once they decided starts
 * the next run on the same thread, a new `runId` (`{turn}-resume-{n}`, also the `webhook-id`),
 * the same messages plus what the agent said in the paused run, and `resume: [{interruptId,
 * status: "resolved", payload: {approvalId, status, decisions}}]` (an interrupt left unasked
 * after one that was not approved is answered `status: "cancelled"`). That run's events go on in
 * the same turn, until it ends, with a fresh turn token (`runsOn`: the turn's time limit starts
 * afresh once people decided). This endpoint keeps no timer of its own; the turn's time limit
 * is paused while people decide (turns/runtime.ts).
 */
import { MessageSchema } from "@ag-ui/core/schemas";
import type { Message as AguiMessage, ResumeEntry, RunAgentInput } from "@ag-ui/core";
import { z } from "zod";
import { MAX_TURN_BYTES } from "../domain/turns/events.js";
import type { MessageView } from "../domain/sessions/messages.js";
import { AgentAnswerError, readJson, sseJson } from "../endpoints/event-stream.js";
import { signWebhook } from "../endpoints/signature.js";
import { outcomeForAgent } from "./approvals.js";
import { runsOn } from "./a2a.js";
import { AguiTranslator, type InterruptApproval } from "./agui-events.js";
import { splitDelta, streamedTurn, textOf } from "./streamed-call.js";
import type { AgentEndpoint, OutboundDeps, RunningTurn, TurnContext } from "./endpoint.js";

/** One AG-UI event in the answer, in bytes (a state snapshot may be large; what is recorded is bounded again). */
export const AGUI_MAX_EVENT_BYTES = 256 * 1024;
/** AG-UI events in one answer (many, such as TOOL_CALL_ARGS, record nothing by themselves). */
export const AGUI_MAX_EVENTS = 100_000;

export function aguiEndpoint(deps: OutboundDeps): AgentEndpoint {
  return {
    protocol: "agui",
    run: (context, turn) => runAgui(deps, context, turn),
  };
}

async function runAgui(deps: OutboundDeps, context: TurnContext, turn: RunningTurn): Promise<void> {
  await streamedTurn(deps, turn, async (running, signal) => {
    let token = await deps.callerToken({ ...context, turn: running });
    const secret = await deps.endpointSecret(context);
    const translator = new AguiTranslator();
    let input = runInput(context, running.id);
    for (let resumed = 0; ; resumed++) {
      const said = new RunSaid();
      const step = await oneRun(deps, context, turn, input, token, secret, translator, said, signal);
      if (step === undefined) return;
      // The run paused for people: ask them (in order; the first outcome that is not an approval
      // ends the asking, the rest are answered cancelled), then resume the same thread.
      if (resumed >= MAX_RESUMES) return void (await turn.finish({ status: "failed", error: `the agent interrupted its run for approval more than ${MAX_RESUMES} times in one turn` }));
      const resume: ResumeEntry[] = [];
      for (const asked of step.approvals) {
        if (resume.some((r) => r.status === "cancelled" || (r.payload as { status?: string } | undefined)?.status !== "approved")) {
          resume.push({ interruptId: asked.interruptId, status: "cancelled" });
          continue;
        }
        const request = asked.request.input === undefined && asked.toolCallId ? { ...asked.request, input: said.inputOf(asked.toolCallId) } : asked.request;
        const approval = await turn.askPeople(request, signal);
        // Cancelled: the turn is being cancelled (the approval ends with it), maybe before this process heard.
        if (approval.status === "cancelled") return void (await turn.finish({ status: "cancelled" }));
        resume.push({ interruptId: asked.interruptId, status: "resolved", payload: outcomeForAgent(approval) });
      }
      // A fresh turn token: the first may have expired while people decided.
      token = await deps.callerToken({ ...context, turn: runsOn(running) });
      input = { ...input, runId: `${running.id}-resume-${resumed + 1}`, messages: [...input.messages, ...said.messages(input.runId)], resume };
    }
  });
}

/** The most runs one turn resumes (the recorder bounds a turn's approvals too). */
const MAX_RESUMES = 20;

/**
 * One run: the request, and its answer recorded in the turn. Answers the approvals asked for
 * when the run ended on an interrupt that asks people; undefined once the turn is over.
 */
async function oneRun(
  deps: OutboundDeps,
  context: TurnContext,
  turn: RunningTurn,
  input: RunAgentInput,
  token: string,
  secret: string,
  translator: AguiTranslator,
  said: RunSaid,
  signal: AbortSignal,
): Promise<{ approvals: InterruptApproval[] } | undefined> {
  const body = JSON.stringify(input);
  const res = await deps.fetch(endpointUrl(context), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      "user-agent": "agenthub",
      authorization: `Bearer ${token}`,
      ...signWebhook(secret, input.runId, Math.floor(Date.now() / 1000), body),
    },
    body,
    signal,
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new AgentAnswerError(`the agent answered ${res.status}`);
  }
  const type = (res.headers.get("content-type") ?? "").toLowerCase();
  const events = type.startsWith("text/event-stream")
    ? sseJson(res.body ?? emptyBody(), { maxEventBytes: AGUI_MAX_EVENT_BYTES, maxEvents: AGUI_MAX_EVENTS })
    : /^application\/([\w.+-]*\+)?json\b/.test(type)
      ? jsonAnswer(await readJson(res.body, MAX_TURN_BYTES), input.messages)
      : undefined;
  if (!events) {
    await res.body?.cancel().catch(() => {});
    throw new AgentAnswerError(`the agent answered content-type ${type.slice(0, 100) || "(none)"}, neither an event stream nor JSON`);
  }
  for await (const raw of events) {
    const step = translator.step(raw);
    if ("error" in step) return void (await turn.finish({ status: "failed", error: step.error }));
    for (const event of step.events.flatMap(splitDelta)) {
      said.add(event);
      if (!(await turn.record(event))) return;
    }
    if ("approvals" in step) return { approvals: step.approvals };
    if ("end" in step) return void (await turn.record({ type: "done" }));
  }
  await turn.finish({ status: "failed", error: "the agent's answer ended before RUN_FINISHED" });
}

/** The most characters of one run's text, and tool calls, that go back to the agent in the resumed run's history. */
const MAX_SAID_CHARS = 64 * 1024;
const MAX_SAID_CALLS = 64;

/** What the agent said in a run that paused: it goes back to the agent in the resumed run's history. */
class RunSaid {
  private text = "";
  private readonly calls = new Map<string, { name: string; input: Record<string, unknown>; output?: unknown }>();

  add(event: { type: string } & Record<string, unknown>): void {
    if (event.type === "content_delta" && typeof event.delta === "string") this.text = (this.text + event.delta).slice(0, MAX_SAID_CHARS);
    else if (event.type === "tool_call_start" && this.calls.size < MAX_SAID_CALLS) this.calls.set(String(event.toolCallId), { name: String(event.name), input: (event.input ?? {}) as Record<string, unknown> });
    else if (event.type === "tool_call_end" && "output" in event) {
      const call = this.calls.get(String(event.toolCallId));
      if (call) call.output = event.output;
    }
  }

  /** The arguments of a tool call of the run (what an interrupt about that call asks people to approve). */
  inputOf(toolCallId: string): unknown {
    return this.calls.get(toolCallId)?.input;
  }

  /** The run's answer as AG-UI messages: the assistant's text and tool calls, and the results the run gave. */
  messages(runId: string): AguiMessage[] {
    if (!this.text && !this.calls.size) return [];
    const toolCalls = [...this.calls].map(([id, c]) => ({ id, type: "function" as const, function: { name: c.name, arguments: JSON.stringify(c.input) } }));
    const results = [...this.calls].flatMap(([id, c]) =>
      c.output === undefined ? [] : [{ id: `${runId}-result-${id}`, role: "tool" as const, toolCallId: id, content: typeof c.output === "string" ? c.output : JSON.stringify(c.output) }],
    );
    return [{ id: `${runId}-answer`, role: "assistant", content: this.text, ...(toolCalls.length && { toolCalls }) }, ...results];
  }
}

function endpointUrl(context: TurnContext): string {
  const endpoint = context.agent.endpoint;
  if (endpoint?.protocol !== "agui") throw new AgentAnswerError("the agent has no AG-UI endpoint");
  return endpoint.url;
}

const emptyBody = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/** The request: the session's history and the trigger as AG-UI messages. */
export function runInput(context: TurnContext, runId: string): RunAgentInput {
  const messages = [...context.history, context.trigger].flatMap(toAguiMessage);
  return { threadId: context.session.id, runId, messages, tools: [], state: {}, context: [], forwardedProps: {} };
}

function toAguiMessage(m: MessageView): AguiMessage[] {
  const content = textOf(m.content);
  switch (m.role) {
    case "user":
      return [{ id: m.id, role: "user", content }];
    case "assistant":
      return [{ id: m.id, role: "assistant", content }];
    case "system":
      return [{ id: m.id, role: "system", content }];
    default:
      return []; // a tool message names no call AG-UI could pair it with
  }
}

const MessagesAnswer = z.object({ messages: z.array(MessageSchema).max(10_000) });

/** A JSON answer as the events it stands for: an array of events as it is; `{messages}` as the new messages' events and RUN_FINISHED. */
function* jsonAnswer(body: unknown, sent: AguiMessage[]): Generator<unknown, void, undefined> {
  if (Array.isArray(body)) return yield* body.slice(0, AGUI_MAX_EVENTS);
  const parsed = MessagesAnswer.safeParse(body);
  if (!parsed.success) throw new AgentAnswerError("the agent answered JSON that is neither an array of AG-UI events nor {messages}");
  const known = new Set(sent.map((m) => m.id));
  for (const m of parsed.data.messages as AguiMessage[]) {
    if (known.has(m.id)) continue;
    if (m.role === "assistant") {
      if (m.content) {
        yield { type: "TEXT_MESSAGE_START", messageId: m.id, role: "assistant" };
        yield { type: "TEXT_MESSAGE_CONTENT", messageId: m.id, delta: m.content };
        yield { type: "TEXT_MESSAGE_END", messageId: m.id };
      }
      for (const call of m.toolCalls ?? []) {
        yield { type: "TOOL_CALL_START", toolCallId: call.id, toolCallName: call.function.name, parentMessageId: m.id };
        yield { type: "TOOL_CALL_ARGS", toolCallId: call.id, delta: call.function.arguments };
        yield { type: "TOOL_CALL_END", toolCallId: call.id };
      }
    } else if (m.role === "tool") {
      yield { type: "TOOL_CALL_RESULT", messageId: m.id, toolCallId: m.toolCallId, content: m.content, role: "tool" };
    } else if (m.role === "reasoning") {
      yield { type: "REASONING_MESSAGE_START", messageId: m.id, role: "reasoning" };
      yield { type: "REASONING_MESSAGE_CONTENT", messageId: m.id, delta: m.content };
      yield { type: "REASONING_MESSAGE_END", messageId: m.id };
    }
  }
  yield { type: "RUN_FINISHED", threadId: "", runId: "" };
}
