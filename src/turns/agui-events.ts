/**
 * AG-UI events, as an agent answers a `RunAgentInput`, translated into the hub's turn events
 * (domain/turns/events.ts). Each event is checked with `@ag-ui/core`'s own schemas first; a
 * known event of the wrong shape fails the turn, an event type this version does not know is
 * skipped (AG-UI grows new events; old clients are expected to pass over them).
 *
 * - TEXT_MESSAGE_START/CONTENT/END and _CHUNK: the answer's text (`content_delta`, `content_end`
 *   per message; a second message is separated from the first by a blank line);
 * - TOOL_CALL_START/ARGS/END and _CHUNK: one `tool_call_start` once the arguments are complete
 *   (its `input` is the parsed arguments); TOOL_CALL_RESULT: `tool_call_end` with the result;
 * - REASONING_MESSAGE_* (and the older THINKING_TEXT_MESSAGE_*): `thinking_*`;
 * - RUN_FINISHED: `message_end` (usage summed) and the end; RUN_ERROR: the turn fails with its
 *   message;
 * - RUN_FINISHED with `outcome: {type: "interrupt", interrupts}` where every interrupt is an
 *   approval request (`approvalsIn`): the run pauses, not the turn. The step answers the
 *   requests (`end: "interrupt"`) and no `message_end`; the endpoint (agui.ts) asks people and
 *   feeds the resumed run's events to the same translator, so the turn's answer stays one. An
 *   interrupt of any other kind ends the turn as a run that finished (`finishReason: "interrupt"`);
 * - STATE_SNAPSHOT: `metadata_update {aguiState}` when it fits in 16 KiB; STATE_DELTA,
 *   MESSAGES_SNAPSHOT, ACTIVITY_*, STEP_*, CUSTOM, RAW, SUBAGENT_*, REASONING_START/END and
 *   REASONING_ENCRYPTED_VALUE carry nothing the stored answer keeps, and are skipped.
 */
import { EventSchema, EventTypeSchema } from "@ag-ui/core/schemas";
import type { Event as AguiEvent } from "@ag-ui/core";
import { z } from "zod";
import { ApprovalRequest, MAX_APPROVAL_WAIT_SEC, MAX_EVENT_BYTES } from "../domain/turns/events.js";
import { AgentAnswerError } from "../endpoints/event-stream.js";

type TurnEvent = { type: string } & Record<string, unknown>;

/** What one AG-UI event means for the turn. */
export type Step =
  | { events: TurnEvent[] }
  | { end: "finished"; events: TurnEvent[] }
  | { end: "interrupt"; approvals: InterruptApproval[]; events: TurnEvent[] }
  | { end: "error"; error: string };

/** An interrupt that asks people: the interrupt's id and the approval request it stands for. */
export interface InterruptApproval {
  interruptId: string;
  request: ApprovalRequest;
  /** The tool call the interrupt concerns, if it names one. */
  toolCallId?: string;
}

/** Tool calls whose arguments may be open at once, and the arguments' bytes per call. */
const MAX_OPEN_CALLS = 64;
const MAX_ARGS_BYTES = MAX_EVENT_BYTES / 2;
const MAX_STATE_BYTES = 16 * 1024;

/** The THINKING_* events AG-UI had before it named them REASONING_* (not in its schemas any more). */
const LegacyThinking = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("THINKING_START"), title: z.string().optional() }),
  z.looseObject({ type: z.literal("THINKING_END") }),
  z.looseObject({ type: z.literal("THINKING_TEXT_MESSAGE_START") }),
  z.looseObject({ type: z.literal("THINKING_TEXT_MESSAGE_CONTENT"), delta: z.string() }),
  z.looseObject({ type: z.literal("THINKING_TEXT_MESSAGE_END") }),
]);

interface OpenCall {
  name: string;
  args: string;
  startedAt: number;
}

/** One run's translation: feed it each event in order. */
export class AguiTranslator {
  private started = false;
  private text?: string; // the open text message
  private wroteText = false;
  private readonly calls = new Map<string, OpenCall>(); // arguments still arriving
  private chunkCall?: string; // the tool call TOOL_CALL_CHUNKs continue
  private readonly called = new Map<string, number>(); // started, no result yet: when
  private thinking?: { id: string; at: number };
  private thinkingTitle = "";
  private legacyThinking = 0;

  /** The turn events for one raw AG-UI event (validated here); throws AgentAnswerError for a malformed one. */
  step(raw: unknown): Step {
    const type = (raw as { type?: unknown } | null)?.type;
    if (typeof type !== "string") throw new AgentAnswerError("the agent sent an AG-UI event without a type");
    if (type.startsWith("THINKING_")) return this.legacy(raw);
    if (!EventTypeSchema.safeParse(type).success) return { events: [] };
    const parsed = EventSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AgentAnswerError(`the agent sent a malformed ${type.slice(0, 50)} event (${issue?.path.join(".") || "event"}: ${issue?.message})`);
    }
    const out: TurnEvent[] = this.started ? [] : [{ type: "message_start", role: "assistant", model: "" }];
    this.started = true;
    const e = parsed.data as AguiEvent;
    this.closeChunkCall(e.type, out);
    switch (e.type) {
      case "TEXT_MESSAGE_START":
        this.openText(e.messageId, out);
        break;
      case "TEXT_MESSAGE_CONTENT":
        if (this.text !== e.messageId) this.openText(e.messageId, out);
        if (e.delta) out.push({ type: "content_delta", delta: e.delta });
        break;
      case "TEXT_MESSAGE_END":
        this.closeText(out);
        break;
      case "TEXT_MESSAGE_CHUNK":
        if (e.messageId !== undefined && e.messageId !== this.text) this.openText(e.messageId, out);
        else if (this.text === undefined) this.openText("", out);
        if (e.delta) out.push({ type: "content_delta", delta: e.delta });
        break;
      case "TOOL_CALL_START":
        this.openCall(e.toolCallId, e.toolCallName);
        break;
      case "TOOL_CALL_ARGS":
        this.appendArgs(e.toolCallId, e.delta);
        break;
      case "TOOL_CALL_END":
        this.endCall(e.toolCallId, out);
        break;
      case "TOOL_CALL_CHUNK": {
        const id = e.toolCallId ?? this.chunkCall;
        if (id === undefined) throw new AgentAnswerError("the agent sent a TOOL_CALL_CHUNK event that names no tool call");
        if (id !== this.chunkCall) {
          if (this.chunkCall !== undefined) this.endCall(this.chunkCall, out);
          this.openCall(id, e.toolCallName ?? "tool");
          this.chunkCall = id;
        }
        if (e.delta) this.appendArgs(id, e.delta);
        break;
      }
      case "TOOL_CALL_RESULT": {
        const at = this.called.get(e.toolCallId);
        if (at === undefined) break; // a result for a call this run did not make
        this.called.delete(e.toolCallId);
        out.push({ type: "tool_call_end", toolCallId: e.toolCallId, output: e.content, durationMs: Date.now() - at });
        break;
      }
      case "REASONING_MESSAGE_START":
        this.openThinking(e.messageId, out);
        break;
      case "REASONING_MESSAGE_CONTENT":
      case "REASONING_MESSAGE_CHUNK":
        if (e.messageId !== undefined && e.messageId !== this.thinking?.id) this.openThinking(e.messageId, out);
        else if (!this.thinking) this.openThinking(`reasoning-${++this.legacyThinking}`, out);
        if (e.delta) out.push({ type: "thinking_delta", thinkingId: this.thinking!.id, delta: e.delta });
        break;
      case "REASONING_MESSAGE_END":
      case "REASONING_END":
        this.closeThinking(out);
        break;
      case "STATE_SNAPSHOT": {
        const size = Buffer.byteLength(JSON.stringify(e.snapshot ?? null));
        if (size <= MAX_STATE_BYTES) out.push({ type: "metadata_update", metadata: { aguiState: e.snapshot ?? null } });
        break;
      }
      case "RUN_ERROR":
        return { end: "error", error: `the agent reported an error: ${e.message.slice(0, 1000)}${e.code ? ` (${e.code.slice(0, 100)})` : ""}` };
      case "RUN_FINISHED": {
        this.finishAll(out);
        if (e.outcome?.type === "interrupt") {
          const approvals = approvalsIn(e.outcome.interrupts);
          if ("problem" in approvals) return { end: "error", error: `the agent asked for an approval the hub cannot take: ${approvals.problem}` };
          if (approvals.length) return { end: "interrupt", approvals, events: out };
        }
        const outcome = e.outcome?.type;
        const finishReason = outcome === "interrupt" ? "interrupt" : outcome === "cancelled" ? "cancelled" : "stop";
        const tokenUsage = sumUsage(e.usage);
        out.push({ type: "message_end", finishReason, ...(tokenUsage && { tokenUsage }) });
        return { end: "finished", events: out };
      }
      default:
        break;
    }
    return { events: out };
  }

  private legacy(raw: unknown): Step {
    const parsed = LegacyThinking.safeParse(raw);
    if (!parsed.success) return { events: [] }; // unknown: skipped as any unknown type
    const out: TurnEvent[] = this.started ? [] : [{ type: "message_start", role: "assistant", model: "" }];
    this.started = true;
    const e = parsed.data;
    if (e.type === "THINKING_START") this.thinkingTitle = (e.title ?? "").slice(0, 1000);
    else if (e.type === "THINKING_TEXT_MESSAGE_START") this.openThinking(`thinking-${++this.legacyThinking}`, out);
    else if (e.type === "THINKING_TEXT_MESSAGE_CONTENT") {
      if (!this.thinking) this.openThinking(`thinking-${++this.legacyThinking}`, out);
      if (e.delta) out.push({ type: "thinking_delta", thinkingId: this.thinking!.id, delta: e.delta });
    } else this.closeThinking(out);
    return { events: out };
  }

  private openText(id: string, out: TurnEvent[]): void {
    if (this.text !== undefined) out.push({ type: "content_end" });
    this.text = id;
    if (this.wroteText) out.push({ type: "content_delta", delta: "\n\n" });
    this.wroteText = true;
  }

  private closeText(out: TurnEvent[]): void {
    if (this.text === undefined) return;
    this.text = undefined;
    out.push({ type: "content_end" });
  }

  private openCall(id: string, name: string): void {
    if (this.calls.has(id) || this.called.has(id)) throw new AgentAnswerError(`the agent sent a second TOOL_CALL_START for tool call ${id.slice(0, 100)}`);
    if (this.calls.size + this.called.size >= MAX_OPEN_CALLS) throw new AgentAnswerError(`the agent opened more than ${MAX_OPEN_CALLS} tool calls open at once`);
    this.calls.set(id, { name: name.slice(0, 200) || "tool", args: "", startedAt: Date.now() });
  }

  private appendArgs(id: string, delta: string): void {
    const call = this.calls.get(id);
    if (!call) throw new AgentAnswerError(`the agent sent TOOL_CALL_ARGS for tool call ${id.slice(0, 100)}, which is not open`);
    call.args += delta;
    if (Buffer.byteLength(call.args) > MAX_ARGS_BYTES) throw new AgentAnswerError(`the agent sent a tool call's arguments longer than ${MAX_ARGS_BYTES} bytes`);
  }

  /** The arguments are complete: the call starts, as the hub records it. */
  private endCall(id: string, out: TurnEvent[]): void {
    const call = this.calls.get(id);
    if (!call) throw new AgentAnswerError(`the agent sent TOOL_CALL_END for tool call ${id.slice(0, 100)}, which is not open`);
    this.calls.delete(id);
    this.called.set(id, call.startedAt);
    out.push({ type: "tool_call_start", toolCallId: id, name: call.name, input: parseArgs(call.args) });
  }

  /** TOOL_CALL_CHUNKs of one call end at the first event that is not one of them. */
  private closeChunkCall(type: string, out: TurnEvent[]): void {
    if (this.chunkCall === undefined || type === "TOOL_CALL_CHUNK") return;
    const id = this.chunkCall;
    this.chunkCall = undefined;
    if (this.calls.has(id)) this.endCall(id, out);
  }

  private openThinking(id: string, out: TurnEvent[]): void {
    this.closeThinking(out);
    this.thinking = { id: id.slice(0, 200) || "reasoning", at: Date.now() };
    out.push({ type: "thinking_start", thinkingId: this.thinking.id, title: this.thinkingTitle });
  }

  private closeThinking(out: TurnEvent[]): void {
    if (!this.thinking) return;
    out.push({ type: "thinking_end", thinkingId: this.thinking.id, status: "completed", durationMs: Date.now() - this.thinking.at });
    this.thinking = undefined;
  }

  /** At the run's end: what is still open is closed (a call without a result ends without output). */
  private finishAll(out: TurnEvent[]): void {
    this.closeText(out);
    this.closeThinking(out);
    for (const id of [...this.calls.keys()]) this.endCall(id, out);
    for (const [id, at] of this.called) out.push({ type: "tool_call_end", toolCallId: id, durationMs: Date.now() - at });
    this.called.clear();
  }
}

/** The reason of an interrupt that asks people (the convention is agenthub's; AG-UI leaves `reason` open). */
export const APPROVAL_REASON = "approval_request";

type Interrupt = { id: string; reason: string; message?: string | undefined; toolCallId?: string | undefined; expiresAt?: string | undefined; metadata?: Record<string, unknown> | undefined };

/**
 * The approval requests of an interrupt outcome: `{id, reason: "approval_request", message,
 * toolCallId?, expiresAt?, metadata?: {approval?: {detail?, input?, assignees?, quorum?,
 * expiresInSec?}}}` stands for `approval_request {approvalId: id, title: message, …}`
 * (`expiresAt`, ISO 8601, counts when `expiresInSec` is not given). Empty when any interrupt is
 * of another kind (the turn ends as it did before); the reason when one is malformed.
 */
export function approvalsIn(interrupts: Interrupt[]): InterruptApproval[] | { problem: string } {
  if (!interrupts.length || interrupts.some((i) => i.reason !== APPROVAL_REASON)) return [];
  const out: InterruptApproval[] = [];
  for (const i of interrupts) {
    const extra = i.metadata?.approval;
    const more = extra && typeof extra === "object" && !Array.isArray(extra) ? (extra as Record<string, unknown>) : {};
    const untilMs = i.expiresAt !== undefined ? Date.parse(i.expiresAt) : NaN;
    const expiresInSec = more.expiresInSec ?? (Number.isFinite(untilMs) ? Math.min(MAX_APPROVAL_WAIT_SEC, Math.max(1, Math.ceil((untilMs - Date.now()) / 1000))) : undefined);
    const parsed = ApprovalRequest.safeParse({ ...more, type: "approval_request", approvalId: i.id, title: i.message ?? "", ...(expiresInSec !== undefined && { expiresInSec }) });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { problem: `interrupt ${i.id.slice(0, 100)}: ${issue?.path.join(".") || "interrupt"}: ${issue?.message.slice(0, 300)}` };
    }
    out.push({ interruptId: i.id, request: parsed.data, ...(i.toolCallId && { toolCallId: i.toolCallId }) });
  }
  return out;
}

/** A call's arguments: a JSON object as it is, any other JSON as `{value}`, text that is not JSON as `{text}`. */
function parseArgs(args: string): Record<string, unknown> {
  if (args.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(args);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { text: args };
  }
}

function sumUsage(usage: Array<{ inputTokens?: number | undefined; outputTokens?: number | undefined; totalTokens?: number | undefined }> | undefined) {
  if (!usage?.length) return undefined;
  const input = usage.reduce((n, u) => n + (u.inputTokens ?? 0), 0);
  const output = usage.reduce((n, u) => n + (u.outputTokens ?? 0), 0);
  const total = usage.reduce((n, u) => n + (u.totalTokens ?? (u.inputTokens ?? 0) + (u.outputTokens ?? 0)), 0);
  return { inputTokens: input, outputTokens: output, totalTokens: total };
}
