/**
 * The web app's sign-in on the embedded default: pick a user of a local workspace (or create
 * one; the first sign-in creates the workspace "local"), answered with a user token. Only for a
 * browser on this machine (guards.ts), and only on the embedded hub, which runs on one machine
 * for the people at it; a hub on Postgres takes pasted tokens instead.
 */
import { Router } from "@koa/router";
import type { LocalHub } from "../../../domain/local/service.js";
import { parse } from "../../../schemas.js";
import type { HubState } from "../../context.js";
import { LocalSignIn } from "./schema.js";
import { browserOnThisMachine } from "./guards.js";

export function localSignInRoutes(local: LocalHub): Router<HubState> {
  const router = new Router<HubState>({ prefix: "/api/local/sign-in" });
  router.use(browserOnThisMachine("Local sign-in is only for browsers on this machine"), async (_ctx, next) => {
    local.assertSignsIn();
    await next();
  });
  router.get("/", async (ctx) => {
    ctx.body = await local.signInChoices();
  });
  router.post("/", async (ctx) => {
    const body = await local.signIn(parse(LocalSignIn, ctx.request.body));
    ctx.status = 201;
    ctx.body = body;
  });
  return router;
}
