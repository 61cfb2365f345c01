/**
 * Reduces a turn's events into the answer so far: what watchers render mid-turn and what is
 * stored when the turn ends. Free of runtime dependencies (the event schemas are in events.ts),
 * so the typed client bundles it for browsers.
 */
import type { z } from "zod";
import type { Source } from "../sessions/source.js";
import type { AgentEvent, TokenUsage } from "./events.js";

export interface ThinkingStep {
  id: string;
  title: string;
  content: string;
  status: "in_progress" | "completed" | "error";
  durationMs?: number;
}

/** A tool call as the turn recorded it; a type, not an interface, so it is a Record<string, unknown> as a stored message's toolCalls are. */
export type ToolCallRecord = {
  id: string;
  name: string;
  input: Record<string, unknown>;
  output?: unknown;
  error?: string;
  status: "in_progress" | "completed" | "error";
  durationMs?: number;
};

/** The answer so far: what watchers render mid-turn, and what is stored when the turn ends. */
export interface TurnSnapshot {
  content: string;
  thinking: ThinkingStep[];
  toolCalls: ToolCallRecord[];
  sources: Source[];
  metadata: Record<string, unknown>;
  model?: string;
  finishReason?: string;
  tokenUsage?: z.output<typeof TokenUsage>;
  error?: string;
}

export const emptySnapshot = (): TurnSnapshot => ({ content: "", thinking: [], toolCalls: [], sources: [], metadata: {} });

/** Applies one event to the answer so far (in place, and returned). */
export function reduce(s: TurnSnapshot, e: AgentEvent): TurnSnapshot {
  switch (e.type) {
    case "message_start":
      if (e.model) s.model = e.model;
      break;
    case "thinking_start":
      s.thinking.push({ id: e.thinkingId, title: e.title, content: "", status: "in_progress" });
      break;
    case "thinking_delta": {
      const step = s.thinking.find((t) => t.id === e.thinkingId);
      if (step) step.content += e.delta;
      else s.thinking.push({ id: e.thinkingId, title: "", content: e.delta, status: "in_progress" });
      break;
    }
    case "thinking_end": {
      const step = s.thinking.find((t) => t.id === e.thinkingId);
      if (step) Object.assign(step, { status: e.status, durationMs: e.durationMs });
      break;
    }
    case "tool_call_start":
      s.toolCalls.push({ id: e.toolCallId, name: e.name, input: e.input, status: "in_progress" });
      break;
    case "tool_call_end": {
      const call = s.toolCalls.find((t) => t.id === e.toolCallId);
      if (call) {
        Object.assign(call, { status: e.error ? "error" : "completed", durationMs: e.durationMs });
        if (e.output !== undefined) call.output = e.output;
        if (e.error !== undefined) call.error = e.error;
      }
      break;
    }
    case "content_delta":
      s.content += e.delta;
      break;
    case "sources":
      s.sources.push(...e.sources);
      break;
    case "metadata_update":
      Object.assign(s.metadata, e.metadata);
      break;
    case "message_end":
      s.finishReason = e.finishReason;
      if (e.tokenUsage) s.tokenUsage = e.tokenUsage;
      break;
    case "error":
      s.error = e.error;
      break;
    case "content_end":
    case "approval_request": // kept as the turn's approvals (domain/approvals), not in its log
    case "done":
      break;
  }
  return s;
}
