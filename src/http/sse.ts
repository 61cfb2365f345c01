/**
 * A turn's events as server-sent events in the Sharely framing (formats/sharely.ts), until
 * `done`: the answer of `POST …/turns` with `Accept: text/event-stream` and of /v1 chat. The
 * stream itself (log then live, ids, resumption, bounds, metrics) is turn-stream.ts.
 */
import type { Context } from "koa";
import type { TurnView } from "../domain/turns/repository.js";
import { sharelyFormat } from "./formats/sharely.js";
import type { TurnStreams } from "./turn-stream.js";

/** Answers the request with the turn's event stream (200, text/event-stream), from its first event; `reload` reads the turn again. */
export function streamTurn(ctx: Context, streams: TurnStreams, turn: TurnView, reload?: () => Promise<TurnView>): Promise<void> {
  return streams.answer(ctx, sharelyFormat, turn, -1, reload);
}
