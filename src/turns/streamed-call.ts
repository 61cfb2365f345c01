/**
 * What the endpoints that answer a turn with one streamed HTTP call (agui.ts, adk.ts) share:
 * a message's text as they send it, long text deltas cut to recordable pieces, and a failure
 * said in words for the turn's watchers.
 */
import type { MessageView } from "../domain/sessions/messages.js";
import { AgentAnswerError } from "../endpoints/event-stream.js";
import { OutboundError } from "../endpoints/guarded-fetch.js";
import type { OutboundDeps } from "./endpoint.js";

type TurnEvent = { type: string } & Record<string, unknown>;

/** A turn event's text is recorded in pieces of at most this many characters. */
const MAX_DELTA_CHARS = 16 * 1024;

/** A message's text: its content as it is, or its text blocks joined. */
export function textOf(content: MessageView["content"]): string {
  if (typeof content === "string") return content;
  return content
    .filter((b) => b.type === "text" && typeof b.text === "string")
    .map((b) => b.text as string)
    .join("\n\n");
}

/** A long text delta as several events, so each recorded event stays within its bound. */
export function splitDelta(event: TurnEvent): TurnEvent[] {
  const delta = event.delta;
  if ((event.type !== "content_delta" && event.type !== "thinking_delta") || typeof delta !== "string" || delta.length <= MAX_DELTA_CHARS) return [event];
  const pieces: TurnEvent[] = [];
  for (let i = 0; i < delta.length; ) {
    let end = Math.min(i + MAX_DELTA_CHARS, delta.length);
    if (end < delta.length && /[\uD800-\uDBFF]/.test(delta[end - 1]!)) end--; // never halve a surrogate pair
    pieces.push({ ...event, delta: delta.slice(i, end) });
    i = end;
  }
  return pieces;
}

/** Why a call failed, in words for the turn's watchers (an unexpected failure is logged). */
export function failureReason(err: unknown, deps: Pick<OutboundDeps, "log">, turnId: string): string {
  if (err instanceof AgentAnswerError || err instanceof OutboundError) return err.reason;
  deps.log.warn({ err, turn: turnId }, "an agent call failed");
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return `the agent's answer broke off${typeof cause === "string" ? ` (${cause.slice(0, 50)})` : ""}`;
}
