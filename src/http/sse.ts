/**
 * A turn's events as server-sent events, framed as the Sharely Server SDK frames them
 * (`event: <type>` + `data: {threadId, messageId, ...fields}`), until `done`. Used by the turn
 * routes of /api and by /v1 chat. Events come from this process's view of the turn (the realtime
 * router feeds it from every process) and, for what happened before the listener was on, from
 * the turn log; seqs drop the overlap, so each event is written once and in order.
 */
import { PassThrough } from "node:stream";
import type { Context } from "koa";
import type { TurnFeedItem, Turns } from "../domain/turns/service.js";
import type { TurnView } from "../domain/turns/repository.js";

/** Comment lines keep proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** Every event a turn can have (MAX_TURN_EVENTS) and its end. */
const LOG_READ_LIMIT = 100_000;

/** Answers the request with the turn's event stream (200, text/event-stream). */
export async function streamTurn(ctx: Context, turns: Pick<Turns, "listen" | "eventsAfter">, turn: TurnView): Promise<void> {
  const stream = new PassThrough();
  const write = (type: string, fields: object) =>
    stream.write(`event: ${type}\ndata: ${JSON.stringify({ threadId: turn.session_id, messageId: turn.message_id, ...fields })}\n\n`);
  let last = 0;
  const deliver = (seq: number, event: { type: string } & Record<string, unknown>) => {
    if (seq <= last) return;
    last = seq;
    const { type, ...fields } = event;
    write(type, fields);
    if (type === "done") stop();
  };
  const keepAlive = setInterval(() => stream.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
  const stopListening = turns.listen(turn.id, (item: TurnFeedItem) => {
    if (item.kind === "event") deliver(item.seq, item.event as { type: string });
    else if (item.kind === "ended") stop();
  });
  function stop() {
    clearInterval(keepAlive);
    stopListening();
    stream.end();
  }
  ctx.req.on("close", stop);
  ctx.status = 200;
  ctx.set({ "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", "X-Accel-Buffering": "no" });
  ctx.body = stream;
  for (const entry of await turns.eventsAfter(turn.id, 0, LOG_READ_LIMIT)) deliver(entry.seq, entry.event as { type: string });
  if (turn.status !== "queued" && turn.status !== "running" && last === 0) stop();
}
