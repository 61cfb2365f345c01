/**
 * The operations routes as the OpenAPI document shows them: liveness, readiness, metrics and the
 * document itself. They are mounted where their dependencies are (app.ts, observability/routes.ts,
 * routes/openapi.ts), so these entries document them without a handler of their own.
 */
import { z } from "zod";
import type { Documented } from "../table.js";

const tag = "Operations";
const NONE = "none: no credential (metrics: METRICS_TOKEN when set)";

export const Health = z.object({ status: z.literal("ok") });
export const Ready = z.object({ status: z.literal("ready"), checks: z.record(z.string(), z.unknown()) });

export const OPERATIONS_ROUTES: Documented[] = [
  { method: "get", path: "/healthz", operationId: "healthz", tag, summary: "Liveness: the process is up", security: [], policy: NONE, answer: { status: 200, description: '`{status: "ok"}`', schema: Health, example: { status: "ok" } } },
  { method: "get", path: "/readyz", operationId: "readyz", tag, summary: "Readiness: the database (and Redis) answer", security: [], policy: NONE, errors: [503], answer: { status: 200, description: "Ready", schema: Ready } },
  {
    method: "get", path: "/metrics", operationId: "metrics", tag, summary: "Prometheus metrics", description: "Protected by `METRICS_TOKEN` (as a Bearer token) when it is set.",
    security: [], policy: NONE, errors: [401],
    answer: { status: 200, description: "Prometheus text exposition format", contentType: "text/plain", example: "# HELP agenthub_sockets_connected …\n" },
  },
  { method: "get", path: "/openapi.json", operationId: "openapi", tag, summary: "This document", security: [], policy: NONE, answer: { status: 200, description: "The OpenAPI 3.1 document" } },
];
