/**
 * Embedded mode only: the routes the `agenthub` CLI calls on a running embedded hub (/_local),
 * guarded by the hub file's secret (guards.ts, hub-file.ts); the work is the LocalHub service's.
 */
import { Router } from "@koa/router";
import type { LocalHub } from "../../../domain/local/service.js";
import { parse } from "../../../schemas.js";
import type { HubState } from "../../context.js";
import { LocalRotateKey, LocalToken, LocalWorkspace } from "./schema.js";
import { cliOnThisMachine } from "./guards.js";
import type { LocalHubFile } from "./hub-file.js";

export function localControlRoutes(getInfo: () => LocalHubFile | undefined, local: LocalHub): Router<HubState> {
  const router = new Router<HubState>({ prefix: "/_local" });
  router.use(cliOnThisMachine(getInfo));
  router.post("/workspaces", async (ctx) => {
    const body = await local.createWorkspace(parse(LocalWorkspace, ctx.request.body).name);
    ctx.status = 201;
    ctx.body = body;
  });
  router.post("/rotate-key", async (ctx) => {
    const body = await local.rotateKey(parse(LocalRotateKey, ctx.request.body).workspace_id);
    ctx.status = 201;
    ctx.body = body;
  });
  router.post("/token", async (ctx) => {
    local.assertMintsTokens();
    const body = await local.mintToken(parse(LocalToken, ctx.request.body));
    ctx.status = 201;
    ctx.body = body;
  });
  return router;
}
