/**
 * ADK events, as a Google ADK API server streams them from `/run_sse` (each SSE `data:` one ADK
 * Event as JSON, camelCase, as both the JS and the Python server write it), translated into the
 * hub's turn events (domain/turns/events.ts):
 *
 * - a text part: `content_delta`. With `streaming: true` the model's text arrives as `partial`
 *   events (deltas) and then once more, whole, in one non-partial event: that repeat is not
 *   recorded again. A non-partial event's text is recorded only when no partial text preceded it
 *   (a run without streaming, or an agent that does not stream). Text after a tool call is set
 *   apart from the text before it by a blank line.
 * - a `thought` part: `thinking_start` / `_delta` / `_end` (the same rule for the repeat);
 * - a `functionCall` part (of a non-partial event, the one ADK runs): `tool_call_start`;
 *   a `functionResponse` part: `tool_call_end` with the response as `output`;
 * - `errorCode` / `errorMessage` (or the server's own `{error}` after the stream began): the turn
 *   fails with the message;
 * - `usageMetadata` of non-partial events: summed into the `tokenUsage` of `message_end`.
 * The rest of an event (actions, state deltas, grounding, transcriptions) is not kept.
 */
import { z } from "zod";
import { MAX_EVENT_BYTES } from "../domain/turns/events.js";
import { AgentAnswerError } from "../endpoints/event-stream.js";

type TurnEvent = { type: string } & Record<string, unknown>;

/** What one ADK event means for the turn. */
export type AdkStep = { events: TurnEvent[] } | { error: string };

/** Tool calls without a response yet, at once. */
const MAX_OPEN_CALLS = 64;
/** A tool call's arguments or response, as recorded, in bytes (a larger one is summarised). */
const MAX_TOOL_JSON_BYTES = MAX_EVENT_BYTES / 2;

const Count = z.number().int().nonnegative().optional();
const Part = z.looseObject({
  text: z.string().nullish(),
  thought: z.boolean().nullish(),
  functionCall: z.looseObject({ id: z.string().max(200).nullish(), name: z.string().max(200), args: z.record(z.string(), z.unknown()).nullish() }).nullish(),
  functionResponse: z.looseObject({ id: z.string().max(200).nullish(), name: z.string().max(200).nullish(), response: z.unknown() }).nullish(),
});
const AdkEvent = z.looseObject({
  author: z.string().nullish(),
  content: z.looseObject({ role: z.string().nullish(), parts: z.array(Part).max(1000).nullish() }).nullish(),
  partial: z.boolean().nullish(),
  usageMetadata: z.looseObject({ promptTokenCount: Count, candidatesTokenCount: Count, thoughtsTokenCount: Count, totalTokenCount: Count }).nullish(),
  finishReason: z.string().nullish(),
  errorCode: z.union([z.string(), z.number()]).nullish(),
  errorMessage: z.string().nullish(),
  error: z.unknown().optional(),
});
type AdkEvent = z.output<typeof AdkEvent>;

/** One run's translation: feed it each event in order, then `finish` at the end of the stream. */
export class AdkTranslator {
  private started = false;
  private streamedText = false; // partial text since the last non-partial event
  private streamedThought = false;
  private wroteText = false;
  private textClosed = false; // a tool call came after the last text: the next text is set apart
  private thinking?: { id: string; at: number };
  private thoughts = 0;
  private calls = 0;
  private readonly open = new Map<string, { name: string; at: number }>();
  private usage?: { inputTokens: number; outputTokens: number; totalTokens: number };
  private finishReason = "stop";

  /** The turn events for one raw ADK event (validated here); throws AgentAnswerError for a malformed one. */
  step(raw: unknown): AdkStep {
    const parsed = AdkEvent.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AgentAnswerError(`the agent sent a malformed ADK event (${issue?.path.join(".") || "event"}: ${issue?.message})`);
    }
    const e = parsed.data;
    const failure = errorOf(e);
    if (failure) return { error: failure };
    const out: TurnEvent[] = this.startOnce();
    const partial = e.partial === true;
    for (const part of e.content?.parts ?? []) {
      if (typeof part.text === "string" && part.text !== "") {
        if (part.thought) this.thought(part.text, partial, out);
        else this.text(part.text, partial, out);
      }
      if (part.functionCall && !partial) this.call(part.functionCall, out);
      if (part.functionResponse) this.response(part.functionResponse, out);
    }
    if (!partial) {
      this.streamedText = false;
      this.streamedThought = false;
      this.addUsage(e.usageMetadata);
      if (e.finishReason) this.finishReason = reasonOf(e.finishReason);
    }
    return { events: out };
  }

  /** The end of the stream: what is open is closed, and the answer ends. */
  finish(): TurnEvent[] {
    const out = this.startOnce();
    this.closeThinking(out);
    if (this.wroteText) out.push({ type: "content_end" });
    for (const [id, call] of this.open) out.push({ type: "tool_call_end", toolCallId: id, durationMs: Date.now() - call.at });
    this.open.clear();
    out.push({ type: "message_end", finishReason: this.finishReason, ...(this.usage && { tokenUsage: this.usage }) });
    return out;
  }

  private startOnce(): TurnEvent[] {
    if (this.started) return [];
    this.started = true;
    return [{ type: "message_start", role: "assistant", model: "" }];
  }

  private text(text: string, partial: boolean, out: TurnEvent[]): void {
    if (partial) this.streamedText = true;
    else if (this.streamedText) return; // the whole of what was just streamed
    this.closeThinking(out);
    if (this.textClosed && this.wroteText) out.push({ type: "content_delta", delta: "\n\n" });
    this.textClosed = false;
    this.wroteText = true;
    out.push({ type: "content_delta", delta: text });
  }

  private thought(text: string, partial: boolean, out: TurnEvent[]): void {
    if (partial) this.streamedThought = true;
    else if (this.streamedThought) return;
    if (!this.thinking) {
      this.thinking = { id: `thought-${++this.thoughts}`, at: Date.now() };
      out.push({ type: "thinking_start", thinkingId: this.thinking.id, title: "" });
    }
    out.push({ type: "thinking_delta", thinkingId: this.thinking.id, delta: text });
  }

  private closeThinking(out: TurnEvent[]): void {
    if (!this.thinking) return;
    out.push({ type: "thinking_end", thinkingId: this.thinking.id, status: "completed", durationMs: Date.now() - this.thinking.at });
    this.thinking = undefined;
  }

  private call(call: { id?: string | null; name: string; args?: Record<string, unknown> | null }, out: TurnEvent[]): void {
    this.closeThinking(out);
    const id = call.id || `call-${this.calls + 1}`;
    if (this.open.has(id)) return; // the same call again
    if (this.open.size >= MAX_OPEN_CALLS) throw new AgentAnswerError(`the agent left more than ${MAX_OPEN_CALLS} tool calls without a response`);
    this.calls++;
    this.open.set(id, { name: call.name, at: Date.now() });
    this.textClosed = true;
    out.push({ type: "tool_call_start", toolCallId: id, name: call.name || "tool", input: bounded(call.args ?? {}) as Record<string, unknown> });
  }

  private response(response: { id?: string | null; name?: string | null; response?: unknown }, out: TurnEvent[]): void {
    const id = response.id && this.open.has(response.id) ? response.id : [...this.open].find(([, c]) => c.name === response.name)?.[0];
    if (id === undefined) return; // a response to a call this run did not show
    const call = this.open.get(id)!;
    this.open.delete(id);
    out.push({ type: "tool_call_end", toolCallId: id, output: bounded(response.response ?? null), durationMs: Date.now() - call.at });
  }

  private addUsage(u: AdkEvent["usageMetadata"]): void {
    if (!u) return;
    const input = u.promptTokenCount ?? 0;
    const output = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
    const total = u.totalTokenCount ?? input + output;
    const sum = this.usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
    this.usage = { inputTokens: sum.inputTokens + input, outputTokens: sum.outputTokens + output, totalTokens: sum.totalTokens + total };
  }
}

/** The failure an event reports, if any: ADK's `errorCode`/`errorMessage`, or the server's `{error}`. */
function errorOf(e: AdkEvent): string | undefined {
  if (e.errorCode == null && e.errorMessage == null && e.error === undefined) return undefined;
  const message = (e.errorMessage ?? (typeof e.error === "string" ? e.error : e.error === undefined ? "" : JSON.stringify(e.error) ?? "")).slice(0, 1000);
  const code = e.errorCode == null ? "" : String(e.errorCode).slice(0, 100);
  if (message && code) return `the agent reported an error: ${message} (${code})`;
  return `the agent reported an error: ${message || code}`;
}

const REASONS: Record<string, string> = { STOP: "stop", MAX_TOKENS: "length", SAFETY: "content_filter" };
const reasonOf = (r: string) => REASONS[r] ?? r.toLowerCase().slice(0, 100);

/** A tool's arguments or response as recorded: as it is when it fits, else a note of its size. */
function bounded(value: unknown): unknown {
  const size = Buffer.byteLength(JSON.stringify(value) ?? "");
  return size <= MAX_TOOL_JSON_BYTES ? value : { truncated: true, bytes: size };
}
