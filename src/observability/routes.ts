/**
 * `GET /readyz` (per-dependency readiness) and `GET /metrics` (Prometheus text, behind
 * METRICS_TOKEN). Without METRICS_TOKEN, /metrics is open only on the embedded default (one
 * machine, its own people); a hub on Postgres answers 403 naming the setting, since its metrics
 * (routes, rates, error counts, pool sizes) are a map of the hub for whoever can reach it.
 */
import type { Router } from "@koa/router";
import { Forbidden, Unauthorized } from "../errors.js";
import type { Readiness } from "./health.js";
import { metricsTokenMatches, type HubMetrics } from "./metrics.js";

export interface ObservabilityDeps {
  readiness: () => Promise<Readiness>;
  metrics: HubMetrics;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** Without a token, whether /metrics is open (the embedded default) or off. */
  openWithoutToken: boolean;
}

/** Generic over the router's state: these routes read none of it (no credential, no principal). */
export function observabilityRoutes<State>(router: Router<State>, deps: ObservabilityDeps): void {
  router.get("/readyz", async (ctx) => {
    const { status, checks } = await deps.readiness();
    if (status === "ready") {
      ctx.body = { status, checks };
      return;
    }
    ctx.status = 503;
    ctx.type = "application/problem+json";
    const detail = status === "draining" ? "The hub is shutting down" : "A dependency is not reachable";
    ctx.body = { type: "urn:agenthub:problem:not-ready", title: "Service Unavailable", status: 503, detail, readiness: status, checks };
  });

  router.get("/metrics", async (ctx) => {
    if (!deps.metricsToken && !deps.openWithoutToken) {
      throw new Forbidden("GET /metrics is off on this hub: set METRICS_TOKEN and scrape with Authorization: Bearer <token>");
    }
    if (deps.metricsToken && !metricsTokenMatches(ctx.get("authorization"), deps.metricsToken)) {
      ctx.set("WWW-Authenticate", 'Bearer realm="metrics"');
      throw new Unauthorized("GET /metrics requires the metrics token (METRICS_TOKEN) as a bearer token");
    }
    ctx.set("Cache-Control", "no-store");
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
}
