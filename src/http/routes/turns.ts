/**
 * Routes: agent turns ("Agent turns" in the contract). Starting one answers 202, or, when the
 * client accepts `text/event-stream`, 200 with the turn's events as SSE until `done`.
 */
import { PassThrough } from "node:stream";
import type { Router } from "@koa/router";
import type { TurnFeedItem } from "../../domain/turns/service.js";
import { StartTurn, parse } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

/** Comment lines keep proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

export function turnRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/agents/:agentId/sessions/:sessionId/turns";

  router.post(base, async (ctx) => {
    const input = parse(StartTurn, ctx.request.body);
    const wantsStream = ctx.accepts("application/json", "text/event-stream") === "text/event-stream";
    const started = await s.turns.start(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, input);
    if (!wantsStream) {
      ctx.status = 202;
      ctx.body = started;
      return;
    }
    const { turn } = started;
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
    const stopListening = s.turns.listen(turn.id, (item: TurnFeedItem) => {
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
    // What the turn produced before the listener was on: from its log (seqs dedupe the overlap).
    for (const entry of await s.turns.eventsAfter(turn.id, 0, 100_000)) deliver(entry.seq, entry.event as { type: string });
    if (turn.status !== "queued" && turn.status !== "running" && last === 0) stop();
  });

  router.get(`${base}/:turnId`, async (ctx) => {
    ctx.body = await s.turns.get(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, ctx.params.turnId!);
  });

  router.post(`${base}/:turnId/cancel`, async (ctx) => {
    await s.turns.cancel(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, ctx.params.turnId!);
    ctx.status = 202;
    ctx.body = { ok: true };
  });
}
