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
 */
import { MessageSchema } from "@ag-ui/core/schemas";
import type { Message as AguiMessage, RunAgentInput } from "@ag-ui/core";
import { z } from "zod";
import { MAX_TURN_BYTES } from "../domain/turns/events.js";
import type { MessageView } from "../domain/sessions/messages.js";
import { AgentAnswerError, readJson, sseJson } from "../endpoints/event-stream.js";
import { signWebhook } from "../endpoints/signature.js";
import { AguiTranslator } from "./agui-events.js";
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
    const token = await deps.callerToken({ ...context, turn: running });
    const input = runInput(context, running.id);
    const body = JSON.stringify(input);
    const res = await deps.fetch(endpointUrl(context), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        "user-agent": "agenthub",
        authorization: `Bearer ${token}`,
        ...signWebhook(await deps.endpointSecret(context), running.id, Math.floor(Date.now() / 1000), body),
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
    const translator = new AguiTranslator();
    for await (const raw of events) {
      const step = translator.step(raw);
      if ("error" in step) return void (await turn.finish({ status: "failed", error: step.error }));
      for (const event of step.events.flatMap(splitDelta)) if (!(await turn.record(event))) return;
      if ("end" in step) return void (await turn.record({ type: "done" }));
    }
    await turn.finish({ status: "failed", error: "the agent's answer ended before RUN_FINISHED" });
  });
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
