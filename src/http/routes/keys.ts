/**
 * Routes: the workspace's master keys ("Agents and their teams" in the contract). Agent keys
 * live with their agent (agents.ts). Who may: keys/policy.ts.
 */
import type { Router } from "@koa/router";
import { CreateMasterKey, parse } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

export function masterKeyRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/workspace/master-keys";
  router.post(base, async (ctx) => {
    ctx.body = await s.masterKeys.create(ctx.state.principal, parse(CreateMasterKey, ctx.request.body));
    ctx.status = 201;
  });
  router.get(base, async (ctx) => {
    // A workspace has a handful of master keys: one page, always (like an agent's keys).
    ctx.body = { keys: await s.masterKeys.list(ctx.state.principal), next_cursor: null };
  });
  router.delete(`${base}/:keyId`, async (ctx) => {
    await s.masterKeys.revoke(ctx.state.principal, ctx.params.keyId!);
    ctx.status = 204;
  });
}
