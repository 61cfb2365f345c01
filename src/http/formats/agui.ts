/**
 * A turn as an AG-UI event stream (`@ag-ui/core` events, written by `@ag-ui/encoder`), as
 * `@ag-ui/client`'s HttpAgent reads a run: RUN_STARTED (threadId = the session, runId = the
 * turn), then
 * - `content_delta`/`content_end`: TEXT_MESSAGE_START/_CONTENT/_END (messageId = the turn's
 *   answer message id; a second text after a `content_end` gets `<id>-2`, …);
 * - `thinking_*`: REASONING_START, REASONING_MESSAGE_START/_CONTENT/_END, REASONING_END;
 * - `tool_call_start`: TOOL_CALL_START, TOOL_CALL_ARGS (the input as JSON), TOOL_CALL_END;
 *   `tool_call_end`: TOOL_CALL_RESULT (the output as JSON text, or the error);
 * - `sources` and `metadata_update`: CUSTOM `agenthub.sources` / `agenthub.metadata`;
 * - `done`: whatever is still open is closed, then RUN_FINISHED (`outcome` `cancelled` for a
 *   cancelled turn) or, for a failed one, RUN_ERROR with the reason.
 */
import { EventType, type BaseEvent } from "@ag-ui/core";
import { EventEncoder } from "@ag-ui/encoder";
import type { TurnView } from "../../domain/turns/repository.js";
import type { StreamFormat, TurnEvent, TurnFormat } from "../turn-stream.js";

const encoder = new EventEncoder();

export const aguiFormat: StreamFormat = {
  name: "agui",
  headers: {},
  create: (turn) => new AguiTurn(turn),
};

class AguiTurn implements TurnFormat {
  private text: string | undefined;
  private texts = 0;
  private readonly reasoning = new Set<string>();
  private error: string | undefined;

  constructor(private readonly turn: TurnView) {}

  open(): string[] {
    return encode([{ type: EventType.RUN_STARTED, threadId: this.turn.session_id, runId: this.turn.id } as BaseEvent]);
  }

  event(e: TurnEvent, ended?: TurnView): string[] {
    return encode(this.events(e, ended));
  }

  private events(e: TurnEvent, ended?: TurnView): BaseEvent[] {
    const out: Array<Record<string, unknown> & { type: EventType }> = [];
    switch (e.type) {
      case "content_delta": {
        const delta = String(e.delta ?? "");
        if (!delta) break;
        if (!this.text) {
          this.texts++;
          this.text = this.texts === 1 ? this.turn.message_id : `${this.turn.message_id}-${this.texts}`;
          out.push({ type: EventType.TEXT_MESSAGE_START, messageId: this.text, role: "assistant" });
        }
        out.push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: this.text, delta });
        break;
      }
      case "content_end":
        this.closeText(out);
        break;
      case "thinking_start": {
        const id = this.reasoningId(e.thinkingId);
        if (this.reasoning.has(id)) break;
        this.reasoning.add(id);
        out.push({ type: EventType.REASONING_START, messageId: id }, { type: EventType.REASONING_MESSAGE_START, messageId: id, role: "reasoning" });
        break;
      }
      case "thinking_delta": {
        const id = this.reasoningId(e.thinkingId);
        if (this.reasoning.has(id) && e.delta) out.push({ type: EventType.REASONING_MESSAGE_CONTENT, messageId: id, delta: String(e.delta) });
        break;
      }
      case "thinking_end":
        this.closeReasoning(this.reasoningId(e.thinkingId), out);
        break;
      case "tool_call_start": {
        const toolCallId = String(e.toolCallId);
        out.push(
          { type: EventType.TOOL_CALL_START, toolCallId, toolCallName: String(e.name), parentMessageId: this.turn.message_id },
          { type: EventType.TOOL_CALL_ARGS, toolCallId, delta: JSON.stringify(e.input ?? {}) },
          { type: EventType.TOOL_CALL_END, toolCallId },
        );
        break;
      }
      case "tool_call_end": {
        const content = e.error !== undefined ? `Error: ${String(e.error)}` : e.output === undefined ? "" : typeof e.output === "string" ? e.output : JSON.stringify(e.output);
        out.push({ type: EventType.TOOL_CALL_RESULT, messageId: `${String(e.toolCallId)}-result`, toolCallId: String(e.toolCallId), content, role: "tool" });
        break;
      }
      case "sources":
        out.push({ type: EventType.CUSTOM, name: "agenthub.sources", value: e.sources });
        break;
      case "metadata_update":
        out.push({ type: EventType.CUSTOM, name: "agenthub.metadata", value: e.metadata });
        break;
      case "error":
        this.error = String(e.error);
        break;
      case "done":
        this.closeText(out);
        for (const id of [...this.reasoning]) this.closeReasoning(id, out);
        out.push(this.finish(ended ?? this.turn));
        break;
    }
    return out as BaseEvent[];
  }

  private finish(ended: TurnView): Record<string, unknown> & { type: EventType } {
    const error = this.error ?? (ended.status === "failed" ? (ended.error ?? "The turn failed") : undefined);
    if (error !== undefined) return { type: EventType.RUN_ERROR, message: error };
    const run = { type: EventType.RUN_FINISHED, threadId: this.turn.session_id, runId: this.turn.id };
    return ended.status === "cancelled" ? { ...run, outcome: { type: "cancelled" } } : run;
  }

  private reasoningId(thinkingId: unknown): string {
    return `${this.turn.id}-reasoning-${String(thinkingId)}`;
  }

  private closeText(out: Array<Record<string, unknown>>): void {
    if (!this.text) return;
    out.push({ type: EventType.TEXT_MESSAGE_END, messageId: this.text });
    this.text = undefined;
  }

  private closeReasoning(id: string, out: Array<Record<string, unknown>>): void {
    if (!this.reasoning.delete(id)) return;
    out.push({ type: EventType.REASONING_MESSAGE_END, messageId: id }, { type: EventType.REASONING_END, messageId: id });
  }
}

const encode = (events: BaseEvent[]) => events.map((e) => encoder.encodeSSE(e));
