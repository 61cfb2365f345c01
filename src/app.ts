/** Builds the Koa app from its dependencies. No listen() here: server.ts owns the socket. */
import { bodyParser } from "@koa/bodyparser";
import { Router } from "@koa/router";
import Koa from "koa";
import type { Logger } from "pino";
import type { Authenticator } from "./auth/authenticate.js";
import type { Config } from "./config.js";
import type { HubState } from "./http/context.js";
import { authenticate, requestContext } from "./http/middleware.js";
import { rateLimit, type RateLimiter } from "./http/rate-limit.js";
import { agentRoutes } from "./http/routes/agents.js";
import { channelRoutes } from "./http/routes/channels.js";
import { meRoutes } from "./http/routes/me.js";
import { sessionRoutes } from "./http/routes/sessions.js";
import { groupRoutes } from "./http/routes/groups.js";
import { shareRoutes, sharedViewRoutes } from "./http/routes/shares.js";
import type { Services } from "./services.js";

/** A readiness probe answers within this, ready or not: probes have their own short timeouts. */
const READY_TIMEOUT_MS = 2000;

export interface AppDeps {
  config: Config;
  log: Logger;
  services: Services;
  auth: Authenticator;
  /** Readiness probe: resolves when the database (and Redis, when used) answer. */
  ready: () => Promise<void>;
  /** Per-credential request limit (429); undefined turns it off. */
  rateLimiter?: RateLimiter | undefined;
  /** Routers mounted after body parsing, before the authenticated API (embedded local control). */
  extraRouters?: Router<HubState>[];
}

export function createApp(deps: AppDeps): Koa<HubState> {
  const app = new Koa<HubState>({ proxy: true });
  app.silent = true; // errors are logged by requestContext, once, with the request id

  app.use(requestContext(deps.log, deps.config.bodyLimit));
  // A share token is a credential in the URL: whatever the answer (view, clone, 401, 404),
  // it must not be cached, indexed or leaked through Referer.
  app.use(async (ctx, next) => {
    if (/^\/(api\/)?shared\//.test(ctx.path)) {
      ctx.set({ "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex" });
    }
    await next();
  });

  const open = new Router<HubState>();
  open.get("/healthz", (ctx) => {
    ctx.body = { status: "ok" };
  });
  open.get("/readyz", async (ctx) => {
    try {
      await withTimeout(deps.ready(), READY_TIMEOUT_MS);
      ctx.body = { status: "ready" };
    } catch (err) {
      ctx.state.log.warn({ err }, "not ready");
      ctx.status = 503;
      ctx.type = "application/problem+json";
      ctx.body = { type: "urn:agenthub:problem:not-ready", title: "Service Unavailable", status: 503, detail: "A dependency is not reachable" };
    }
  });
  sharedViewRoutes(open, deps.services);
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

  for (const router of deps.extraRouters ?? []) app.use(router.routes());

  const api = new Router<HubState>();
  api.use(authenticate(deps.auth));
  api.use(rateLimit(deps.rateLimiter));
  meRoutes(api);
  agentRoutes(api, deps.services);
  channelRoutes(api, deps.services, deps.config.messageMaxBytes);
  sessionRoutes(api, deps.services);
  shareRoutes(api, deps.services);
  groupRoutes(api, deps.services);
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
