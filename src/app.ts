/** Builds the Koa app from its dependencies. No listen() here: server.ts owns the socket. */
import { bodyParser } from "@koa/bodyparser";
import { Router } from "@koa/router";
import Koa from "koa";
import type { Logger } from "pino";
import type { Authenticator } from "./auth/authenticate.js";
import type { Config } from "./config.js";
import { isEmbedded } from "./db.js";
import type { HubState } from "./http/context.js";
import { requestContext, sanePaths, securityHeaders } from "./http/middleware.js";
import { defaultWebDir, webApp } from "./http/web.js";
import { authenticate } from "./http/authenticate.js";
import { addressRateLimit, rateLimit } from "./http/rate-limit.js";
import type { LocalRateLimiter, RateLimiter } from "./rate-limit.js";
import { backplaneRoutes } from "./http/routes/backplane.js";
import { openApiRoutes } from "./http/routes/openapi.js";
import { openApiJson, routeTables } from "./http/routes/index.js";
import { mount } from "./http/mount.js";
import type { McpEndpoint } from "./mcp/http.js";
import type { Services } from "./services.js";
import type { Readiness } from "./observability/health.js";
import type { HubMetrics } from "./observability/metrics.js";
import { observabilityRoutes } from "./observability/routes.js";

export interface AppDeps {
  config: Config;
  log: Logger;
  services: Services;
  auth: Authenticator;
  /** Readiness probe: each dependency's status, and whether the hub is draining. */
  readiness: () => Promise<Readiness>;
  metrics: HubMetrics;
  limits: {
    /** Per-credential API request limit (429); undefined turns it off. */
    perCredential: RateLimiter | undefined;
    /** Per-address limit on routes that need no credential; undefined turns it off. */
    perAddress: RateLimiter | undefined;
    /** Refused credentials per address (shared with the socket handshake). */
    failedAuth: LocalRateLimiter;
  };
  /** The hub as an MCP server at /mcp (mcp/http.ts), mounted after body parsing; absent: no /mcp. */
  mcp?: McpEndpoint | undefined;
  /** Routers mounted after body parsing, before the authenticated API (embedded local control). */
  extraRouters?: Router<HubState>[];
}

export function createApp(deps: AppDeps): Koa<HubState> {
  // maxIpsCount keeps ctx.ip on the entry the trusted proxies wrote (auth/client-address.ts).
  const app = new Koa<HubState>({ proxy: deps.config.trustProxy, maxIpsCount: deps.config.trustedProxyHops });
  app.silent = true; // errors are logged by requestContext, once, with the request id

  app.use(requestContext(deps.log, deps.config.bodyLimit, deps.metrics));
  app.use(securityHeaders(deps.config.publicUrl));
  app.use(sanePaths());
  app.use(webApp(defaultWebDir(), deps.config.publicUrl));

  const tables = routeTables(deps.services, deps.auth, {
    messageMaxBytes: deps.config.messageMaxBytes,
    streams: { maxBufferedBytes: deps.config.socket.maxBuffered, metrics: deps.metrics },
    a2a: { publicUrl: deps.config.publicUrl, maxBufferedBytes: deps.config.socket.maxBuffered, hooks: deps.metrics.protocolStreams("a2a") },
  });
  const open = new Router<HubState>();
  open.get("/healthz", (ctx) => {
    ctx.body = { status: "ok" };
  });
  observabilityRoutes(open, {
    readiness: deps.readiness,
    metrics: deps.metrics,
    metricsToken: deps.config.metricsToken,
    openWithoutToken: isEmbedded(deps.config),
  });
  open.use(["/api/shared/:token", "/shared/:token"], addressRateLimit(deps.limits.perAddress));
  mount(open, tables.open);
  openApiRoutes(open, () => openApiJson(tables));
  app.use(open.routes());

  app.use(
    bodyParser({
      enableTypes: ["json"],
      jsonLimit: deps.config.bodyLimit,
      encoding: "utf-8",
      onError: (err) => {
        throw err;
      },
    }),
  );

  if (deps.mcp) app.use(deps.mcp.middleware());
  for (const router of deps.extraRouters ?? []) app.use(router.routes());
  app.use(backplaneRoutes(deps, tables));

  const api = new Router<HubState>();
  api.use(authenticate(deps.auth, deps.limits.failedAuth));
  api.use(rateLimit(deps.limits.perCredential));
  mount(api, tables.api);
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
