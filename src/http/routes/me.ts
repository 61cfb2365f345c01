/** GET /api/me: who the credential is, so clients (and people) can find their own user_id. */
import type { Router } from "@koa/router";
import { presentPrincipal } from "../../auth/principal.js";
import type { HubState } from "../context.js";

export function meRoutes(router: Router<HubState>): void {
  router.get("/api/me", (ctx) => {
    ctx.body = presentPrincipal(ctx.state.principal);
  });
}
