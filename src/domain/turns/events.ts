/**
 * The agent event vocabulary of a turn (the Sharely agent protocol's): what an agent sends,
 * validated at the edge whatever the transport (HTTP agent server or socket), and reduced into
 * the answer stored as the session's assistant message. A malformed or oversized event ends the
 * turn with an error; it never reaches watchers unvalidated.
 */
import { z } from "zod";
import { Source } from "../sessions/source.js";

/** One event's JSON at most; the whole turn's events at most MAX_TURN_BYTES. */
export const MAX_EVENT_BYTES = 64 * 1024;
export const MAX_TURN_BYTES = 4 * 1024 * 1024;
export const MAX_TURN_EVENTS = 20_000;

const Id = z.string().min(1).max(200);
const Text = z.string().max(MAX_EVENT_BYTES);
const Count = z.number().int().nonnegative();

export const TokenUsage = z.object({ inputTokens: Count, outputTokens: Count, totalTokens: Count });
/** The one Source (sessions/source.ts), as an agent must send it: bounded, with a title, and the fields agents add. */
const EventSource = Source.extend({
  id: Id,
  type: z.string().min(1).max(50),
  title: z.string().max(1000),
  url: z.string().max(4000).optional(),
  snippet: z.string().max(MAX_EVENT_BYTES).optional(),
  cited: z.boolean().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** The longest an approval may wait for people, and how long one waits when the agent names no time. */
export const MAX_APPROVAL_WAIT_SEC = 7 * 24 * 3600;
export const DEFAULT_APPROVAL_WAIT_SEC = 24 * 3600;

/**
 * An agent asks people before it acts (CONTRACT.md, "People in the loop"): the turn waits until
 * they decide. `approvalId` is the agent's own, unique within the turn.
 */
export const ApprovalRequest = z.object({
  type: z.literal("approval_request"),
  approvalId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/, "must be 1 to 200 letters, digits or _ . : -"),
  title: z.string().trim().min(1).max(500),
  detail: z.string().max(16_000).optional(),
  input: z.unknown().optional(),
  assignees: z
    .object({
      users: z.array(z.string().trim().toLowerCase().email().max(320)).max(100).optional(),
      groups: z.array(z.string().min(1).max(500)).max(100).optional(),
    })
    .optional(),
  quorum: z.number().int().min(1).max(100).default(1),
  expiresInSec: z.number().int().min(1).max(MAX_APPROVAL_WAIT_SEC).optional(),
});
export type ApprovalRequest = z.output<typeof ApprovalRequest>;

/** Every event an agent may send, by `type`. Unknown types and fields of the wrong shape are refused. */
export const AgentEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("message_start"), role: z.literal("assistant").default("assistant"), model: z.string().max(200).default("") }),
  z.object({ type: z.literal("thinking_start"), thinkingId: Id, title: z.string().max(1000).default("") }),
  z.object({ type: z.literal("thinking_delta"), thinkingId: Id, delta: Text }),
  z.object({ type: z.literal("thinking_end"), thinkingId: Id, status: z.enum(["completed", "error"]).default("completed"), durationMs: Count.default(0) }),
  z.object({ type: z.literal("tool_call_start"), toolCallId: Id, name: z.string().min(1).max(200), input: z.record(z.string(), z.unknown()).default({}) }),
  z.object({ type: z.literal("tool_call_end"), toolCallId: Id, output: z.unknown().optional(), error: z.string().max(MAX_EVENT_BYTES).optional(), durationMs: Count.default(0) }),
  z.object({ type: z.literal("content_delta"), delta: Text }),
  z.object({ type: z.literal("content_end") }),
  z.object({ type: z.literal("sources"), sources: z.array(EventSource).max(100) }),
  z.object({ type: z.literal("metadata_update"), metadata: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal("message_end"), finishReason: z.string().min(1).max(100), tokenUsage: TokenUsage.optional() }),
  z.object({ type: z.literal("error"), error: z.string().max(4000) }),
  ApprovalRequest,
  z.object({ type: z.literal("done") }),
]);
export type AgentEvent = z.output<typeof AgentEvent>;
export type AgentEventType = AgentEvent["type"];

/** Checks one event as an agent sent it; the reason, when it is refused. */
export function readAgentEvent(raw: unknown): { event: AgentEvent } | { problem: string } {
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(raw) ?? "");
  } catch {
    return { problem: "an event that is not JSON" };
  }
  if (size > MAX_EVENT_BYTES) return { problem: `an event of ${size} bytes (at most ${MAX_EVENT_BYTES})` };
  // Postgres stores no NUL in text or jsonb: such an event could never be part of a stored answer.
  if (holdsNul(raw)) return { problem: "an event holding a NUL character" };
  const parsed = AgentEvent.safeParse(raw);
  if (parsed.success) return { event: parsed.data };
  const type = (raw as { type?: unknown } | null)?.type;
  const issue = parsed.error.issues[0];
  return {
    problem:
      typeof type === "string" && !AgentEvent.options.some((o) => o.shape.type.value === type)
        ? `an unknown event type '${type.slice(0, 50)}'`
        : `a malformed ${typeof type === "string" ? type.slice(0, 50) : "untyped"} event (${issue?.path.join(".") || "event"}: ${issue?.message})`,
  };
}

/** Whether any string in a JSON value (keys included) holds a NUL; the value was bounded above. */
function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value && typeof value === "object") return Object.entries(value).some(([k, v]) => k.includes("\u0000") || holdsNul(v));
  return false;
}

// The reducer lives apart, without zod, so browsers (agenthub/client) can render turns cheaply.
export { emptySnapshot, reduce, type ThinkingStep, type ToolCallRecord, type TurnSnapshot } from "./reduce.js";
