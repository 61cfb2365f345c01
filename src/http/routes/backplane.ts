/**
 * Mounts the Agent Backplane's tables (backplane/table.ts) with the middleware they share: every
 * /v1 route authenticates (Bearer), is limited per credential, and enters the workspace through
 * RBAC's role rule (Backplane.enter: another workspace's path is 404); the key exchange takes its
 * key from `x-api-key` through the same authentication middleware, so refused keys count against
 * the address like any refused credential, and answers 404 for another workspace's path.
 */
import { Router } from "@koa/router";
import compose from "koa-compose";
import type { Middleware } from "koa";
import type { AppDeps } from "../../app.js";
import { keyKindOf } from "../../auth/principal.js";
import { NotFound, Unauthorized } from "../../errors.js";
import { authenticate } from "../authenticate.js";
import type { HubState } from "../context.js";
import { mount } from "../mount.js";
import { rateLimit } from "../rate-limit.js";
import type { Route } from "../table.js";

type Deps = Pick<AppDeps, "auth" | "services" | "limits">;

/** `x-api-key`: a master or agent key, nothing else. */
const apiKey = (ctx: { get(header: string): string }) => {
  const key = ctx.get("x-api-key").trim();
  if (!keyKindOf(key)) throw new Unauthorized("Send an API key (g_master_… or g_agent_…) in the x-api-key header");
  return key;
};

export function backplaneRoutes(deps: Deps, tables: { keyExchange: Route[]; v1: Route[] }): Middleware<HubState> {
  const { auth, limits, services } = deps;
  const keys = new Router<HubState>();
  mount(keys, tables.keyExchange, authenticate(auth, limits.failedAuth, apiKey), rateLimit(limits.perCredential), async (ctx, next) => {
    if (ctx.state.principal.workspaceId !== ctx.params.workspaceId) throw new NotFound("Workspace");
    await next();
  });
  const v1 = new Router<HubState>();
  mount(v1, tables.v1, authenticate(auth, limits.failedAuth), rateLimit(limits.perCredential), async (ctx, next) => {
    await services.backplane.enter(ctx.state.principal, ctx.params.workspaceId!);
    await next();
  });
  return compose([keys.routes(), keys.allowedMethods(), v1.routes(), v1.allowedMethods()]) as Middleware<HubState>;
}
