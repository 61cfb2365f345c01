/**
 * Routes: agent turns ("Agent turns" in the contract). Starting one answers 202, or, when the
 * client accepts `text/event-stream`, 200 with the turn's events as SSE until `done`.
 */
import type { Router } from "@koa/router";
import { StartTurn, parse } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";
import { streamTurn } from "../sse.js";

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
    await streamTurn(ctx, s.turns, started.turn);
  });

  router.get(`${base}/:turnId`, async (ctx) => {
    ctx.body = await s.turns.get(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, ctx.params.turnId!);
  });

  router.post(`${base}/:turnId/cancel`, async (ctx) => {
    ctx.body = await s.turns.cancel(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, ctx.params.turnId!);
    ctx.status = 202;
  });
}
