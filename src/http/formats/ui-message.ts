/**
 * A turn as the AI SDK's UI message stream (the `ai` package v6's `UIMessageChunk`s, as
 * `useChat`'s DefaultChatTransport reads them; header `x-vercel-ai-ui-message-stream: v1`):
 * `start` {messageId: the turn's answer message, messageMetadata: {sessionId, turnId}} and
 * `start-step`, then
 * - `content_delta`/`content_end`: `text-start`/`text-delta`/`text-end`;
 * - `thinking_*`: `reasoning-start`/`-delta`/`-end`;
 * - `tool_call_start`: `tool-input-start` and `tool-input-available`; `tool_call_end`:
 *   `tool-output-available` or `tool-output-error` (dynamic tools the agent ran itself:
 *   `providerExecuted`, so the client runs nothing);
 * - `sources`: `source-url` (or `source-document` without a URL); `metadata_update`:
 *   `message-metadata`; `error`: `error`;
 * - `done`: open parts closed, `finish-step`, then `finish` {finishReason} (or `abort` for a
 *   cancelled turn), then `data: [DONE]`.
 */
import type { UIMessageChunk } from "ai";
import type { TurnView } from "../../domain/turns/repository.js";
import type { StreamFormat, TurnEvent, TurnFormat } from "../turn-stream.js";

type FinishReason = "stop" | "length" | "content-filter" | "tool-calls" | "error" | "other";

export const uiMessageFormat: StreamFormat = {
  name: "ui-message",
  headers: { "x-vercel-ai-ui-message-stream": "v1" },
  create: (turn) => new UiMessageTurn(turn),
};

class UiMessageTurn implements TurnFormat {
  private text: string | undefined;
  private texts = 0;
  private readonly reasoning = new Set<string>();
  private readonly tools = new Map<string, string>();
  private finishReason: string | undefined;
  private failed = false;

  constructor(private readonly turn: TurnView) {}

  open(): string[] {
    return frames([
      { type: "start", messageId: this.turn.message_id, messageMetadata: { sessionId: this.turn.session_id, turnId: this.turn.id } },
      { type: "start-step" },
    ]);
  }

  event(e: TurnEvent, ended?: TurnView): string[] {
    const out = this.chunks(e, ended);
    return e.type === "done" ? [...frames(out), "data: [DONE]\n\n"] : frames(out);
  }

  private chunks(e: TurnEvent, ended?: TurnView): UIMessageChunk[] {
    const out: UIMessageChunk[] = [];
    switch (e.type) {
      case "content_delta": {
        const delta = String(e.delta ?? "");
        if (!delta) break;
        if (!this.text) {
          this.text = `${this.turn.message_id}-text-${++this.texts}`;
          out.push({ type: "text-start", id: this.text });
        }
        out.push({ type: "text-delta", id: this.text, delta });
        break;
      }
      case "content_end":
        this.closeText(out);
        break;
      case "thinking_start": {
        const id = String(e.thinkingId);
        if (this.reasoning.has(id)) break;
        this.reasoning.add(id);
        out.push({ type: "reasoning-start", id });
        break;
      }
      case "thinking_delta":
        if (this.reasoning.has(String(e.thinkingId)) && e.delta) out.push({ type: "reasoning-delta", id: String(e.thinkingId), delta: String(e.delta) });
        break;
      case "thinking_end":
        if (this.reasoning.delete(String(e.thinkingId))) out.push({ type: "reasoning-end", id: String(e.thinkingId) });
        break;
      case "tool_call_start": {
        const call = { toolCallId: String(e.toolCallId), toolName: String(e.name), dynamic: true, providerExecuted: true };
        this.tools.set(call.toolCallId, call.toolName);
        out.push({ type: "tool-input-start", ...call }, { type: "tool-input-available", ...call, input: e.input ?? {} });
        break;
      }
      case "tool_call_end": {
        const toolCallId = String(e.toolCallId);
        if (!this.tools.has(toolCallId)) break; // a result without its call: the client could not place it
        out.push(
          e.error !== undefined
            ? { type: "tool-output-error", toolCallId, errorText: String(e.error), dynamic: true, providerExecuted: true }
            : { type: "tool-output-available", toolCallId, output: e.output ?? null, dynamic: true, providerExecuted: true },
        );
        break;
      }
      case "sources":
        for (const s of (e.sources as Array<{ id: string; title: string; url?: string }>) ?? []) {
          out.push(s.url ? { type: "source-url", sourceId: s.id, url: s.url, title: s.title } : { type: "source-document", sourceId: s.id, mediaType: "text/plain", title: s.title });
        }
        break;
      case "metadata_update":
        out.push({ type: "message-metadata", messageMetadata: e.metadata });
        break;
      case "message_end":
        this.finishReason = String(e.finishReason);
        break;
      case "error":
        this.failed = true;
        out.push({ type: "error", errorText: String(e.error) });
        break;
      case "done":
        this.close(out, ended ?? this.turn);
        break;
    }
    return out;
  }

  private close(out: UIMessageChunk[], ended: TurnView): void {
    this.closeText(out);
    for (const id of this.reasoning) out.push({ type: "reasoning-end", id });
    this.reasoning.clear();
    out.push({ type: "finish-step" });
    if (ended.status === "cancelled") {
      out.push({ type: "abort", reason: "The turn was cancelled" });
      return;
    }
    if (ended.status === "failed" && !this.failed) out.push({ type: "error", errorText: ended.error ?? "The turn failed" });
    out.push({ type: "finish", finishReason: ended.status === "failed" || this.failed ? "error" : finishReason(this.finishReason) });
  }

  private closeText(out: UIMessageChunk[]): void {
    if (!this.text) return;
    out.push({ type: "text-end", id: this.text });
    this.text = undefined;
  }
}

/** An agent's finish reason in the AI SDK's words. */
function finishReason(reason: string | undefined): FinishReason {
  if (reason === undefined || reason === "stop" || reason === "end_turn" || reason === "completed") return "stop";
  if (reason === "length" || reason === "max_tokens") return "length";
  if (reason === "tool_calls" || reason === "tool-calls" || reason === "tool_use") return "tool-calls";
  if (reason === "content_filter" || reason === "content-filter") return "content-filter";
  if (reason === "error") return "error";
  return "other";
}

const frames = (chunks: UIMessageChunk[]) => chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`);
