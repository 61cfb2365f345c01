/** Routes: share links ("Share links" in the contract). The view needs no credential. */
import type { Router } from "@koa/router";
import { CreateShare, PageQuery, parse } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

/** Authenticated: create and revoke links, clone a shared session. */
export function shareRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/agents/:agentId/sessions/:sessionId/share";
  router.post(base, async (ctx) => {
    const { expires_in_hours } = parse(CreateShare, ctx.request.body);
    ctx.body = await s.shareLinks.create(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, expires_in_hours);
    ctx.status = 201;
  });
  router.delete(base, async (ctx) => {
    await s.shareLinks.revoke(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
  router.post("/api/shared/:token/clone", async (ctx) => {
    ctx.body = await s.shareLinks.clone(ctx.state.principal, ctx.params.token!);
    ctx.status = 201;
  });
}

/**
 * Public: the read-only view, at /api/shared/{token} and at /shared/{token} (the path of the
 * link's url, so the link works against the hub itself).
 */
export function sharedViewRoutes(router: Router<HubState>, s: Services): void {
  for (const path of ["/api/shared/:token", "/shared/:token"]) {
    router.get(path, async (ctx) => {
      ctx.body = await s.shareLinks.view(ctx.params.token!, parse(PageQuery, ctx.query));
    });
  }
}
