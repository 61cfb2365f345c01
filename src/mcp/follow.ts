/**
 * Follows one turn for an MCP tool call: its events in seq order, each once (what this process
 * receives live, and the turn log for what came before or was missed: any node's turn), the
 * answer's text as it streams, until the turn ends. The caller turns the text into progress
 * notifications and the end into the tool's result.
 */
import type { Turns } from "../domain/turns/service.js";

/** Every event a turn can have and its end (as the SSE writer reads the log). */
const LOG_READ_LIMIT = 100_000;

export interface FollowedTurn {
  /** The answer's text, whole. */
  answer: string;
  /** The `error` event's reason, when the turn failed. */
  error: string | undefined;
  /** The finish reason of `message_end` (`stop`, `cancelled`, `error`, …), when it came. */
  finishReason: string | undefined;
}

type TurnEvent = { type?: unknown; delta?: unknown; error?: unknown; finishReason?: unknown };

/**
 * Resolves when the turn's `done` event (or its end) has been read. `onText` receives the text
 * since the previous call, once per `content_delta`, with the event's seq (increasing).
 * `signal` stops following (the turn itself runs on).
 */
export function followTurn(
  turns: Pick<Turns, "listen" | "eventsAfter">,
  turnId: string,
  onText: (text: string, seq: number) => void,
  signal?: AbortSignal,
): Promise<FollowedTurn> {
  return new Promise((resolve, reject) => {
    const result: FollowedTurn = { answer: "", error: undefined, finishReason: undefined };
    let last = 0;
    let ended = false;
    let finished = false;
    /** Log reads run one after another: each reads after the last seq taken. */
    let reading: Promise<void> = Promise.resolve();

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      stopListening();
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(result);
    };
    const take = (seq: number, event: TurnEvent) => {
      if (seq !== last + 1) return;
      last = seq;
      if (event.type === "content_delta" && typeof event.delta === "string" && event.delta) {
        result.answer += event.delta;
        onText(event.delta, seq);
      } else if (event.type === "error") {
        result.error = typeof event.error === "string" ? event.error : JSON.stringify(event.error);
      } else if (event.type === "message_end" && typeof event.finishReason === "string") {
        result.finishReason = event.finishReason;
      } else if (event.type === "done") {
        ended = true;
      }
    };
    const catchUp = () => {
      reading = reading.then(async () => {
        if (finished) return;
        for (const entry of await turns.eventsAfter(turnId, last, LOG_READ_LIMIT)) take(entry.seq, entry.event as TurnEvent);
        if (ended) finish();
      });
      reading.catch(finish);
    };
    const stopListening = turns.listen(turnId, (item) => {
      if (finished) return;
      if (item.kind === "event") {
        // In order: taken at once; ahead of a gap (or while the log is read): the log fills it.
        if (item.seq === last + 1) {
          take(item.seq, item.event as TurnEvent);
          if (ended) finish();
        } else if (item.seq > last) catchUp();
      } else {
        ended = true;
        catchUp();
      }
    });
    const onAbort = () => finish(signal?.reason ?? new Error("aborted"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    catchUp();
  });
}
