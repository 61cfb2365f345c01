/** Routes: multi-agent groups and the sessions shared in them ("Groups" in the contract). */
import type { Router } from "@koa/router";
import { GroupBody, PageQuery, parse } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

export function groupRoutes(router: Router<HubState>, s: Services): void {
  router.get("/api/groups", async (ctx) => {
    ctx.body = await s.groups.list(ctx.state.principal, parse(PageQuery, ctx.query));
  });
  router.post("/api/groups", async (ctx) => {
    ctx.body = await s.groups.create(ctx.state.principal, parse(GroupBody, ctx.request.body));
    ctx.status = 201;
  });
  router.get("/api/groups/:groupId", async (ctx) => {
    ctx.body = await s.groups.get(ctx.state.principal, ctx.params.groupId!);
  });
  router.put("/api/groups/:groupId", async (ctx) => {
    ctx.body = await s.groups.replace(ctx.state.principal, ctx.params.groupId!, parse(GroupBody, ctx.request.body));
  });
  router.delete("/api/groups/:groupId", async (ctx) => {
    await s.groups.remove(ctx.state.principal, ctx.params.groupId!);
    ctx.status = 204;
  });

  router.get("/api/groups/:groupId/sessions", async (ctx) => {
    ctx.body = await s.groups.sessions(ctx.state.principal, ctx.params.groupId!, parse(PageQuery, ctx.query));
  });
  router.post("/api/groups/:groupId/sessions/:sessionId", async (ctx) => {
    ctx.body = await s.groups.addSession(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!);
    ctx.status = 201;
  });
  router.delete("/api/groups/:groupId/sessions/:sessionId", async (ctx) => {
    await s.groups.removeSession(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
}
