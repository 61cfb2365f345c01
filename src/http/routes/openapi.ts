/** GET /openapi.json: the OpenAPI 3.1 document of every REST route (src/http/openapi.ts); no credential. */
import type { Router } from "@koa/router";
import { openApiJson } from "../openapi.js";
import type { HubState } from "../context.js";

export function openApiRoutes(router: Router<HubState>): void {
  router.get("/openapi.json", (ctx) => {
    ctx.type = "application/json";
    ctx.body = openApiJson();
  });
}
