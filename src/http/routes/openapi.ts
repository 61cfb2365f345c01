/** GET /openapi.json: the OpenAPI 3.1 document of every REST route (built from the route tables once); no credential. */
import type { Router } from "@koa/router";
import type { HubState } from "../context.js";

export function openApiRoutes(router: Router<HubState>, document: () => string): void {
  let json: string | undefined;
  router.get("/openapi.json", (ctx) => {
    ctx.type = "application/json";
    ctx.body = json ??= document();
  });
}
