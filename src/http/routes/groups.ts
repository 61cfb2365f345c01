/** Routes: multi-agent groups and the sessions shared in them ("Groups" in the contract). */
import type { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";
import { parse } from "../validate.js";
import { PageQuery } from "./sessions.js";

const GroupBody = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(200),
  agentIds: z
    .array(z.string().min(1).max(64))
    .max(100)
    .refine((ids) => new Set(ids).size >= 2, "a group needs at least two distinct agents"),
  // Any address an IdP may issue (user@localhost included): something@something, no spaces.
  allowed_users: z
    .array(z.string().trim().max(320).regex(/^[^\s@]+@[^\s@]+$/, "must be an email address"))
    .max(1000)
    .optional(),
  allowed_groups: z.array(z.string().trim().min(1).max(500)).max(1000).optional(),
});

export function groupRoutes(router: Router<HubState>, s: Services): void {
  router.get("/api/groups", async (ctx) => {
    ctx.body = { groups: await s.groups.list(ctx.state.principal), next_cursor: null };
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
