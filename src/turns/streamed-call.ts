/**
 * What the endpoints that answer a turn with one streamed HTTP call (agui.ts, adk.ts) share:
 * the turn's frame (begin, abort on cancel, the end said in words), a message's text as they
 * send it, long text deltas cut to recordable pieces.
 */
import type { MessageView } from "../domain/sessions/messages.js";
import { AgentAnswerError } from "../endpoints/event-stream.js";
import { OutboundError } from "../endpoints/guarded-fetch.js";
import type { Turn } from "../domain/turns/repository.js";
import type { OutboundDeps, RunningTurn } from "./endpoint.js";

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

/**
 * Runs one streamed call for a turn: begins it, aborts the call when a cancel reaches this
 * process (the turn ends cancelled), ends it failed with the reason in words when `call` throws,
 * and closes whatever is still open of the call at the end. `call` records the turn's events and
 * its end (`done`, or `finish` with a failure it recognised).
 */
export async function streamedTurn(
  deps: Pick<OutboundDeps, "log">,
  turn: RunningTurn,
  call: (running: Turn, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const running = await turn.begin();
  if (!running) return;
  const abort = new AbortController();
  let cancelled = false;
  const stopListening = turn.whenCancelled(() => {
    cancelled = true;
    abort.abort();
  });
  try {
    await call(running, abort.signal);
  } catch (err) {
    if (cancelled) return void (await turn.finish({ status: "cancelled" }));
    await turn.finish({ status: "failed", error: failureReason(err, deps, turn.id) });
  } finally {
    stopListening();
    abort.abort(); // whatever is still open of the call closes (a no-op once the answer was read)
  }
}
