/**
 * Cross-cutting HTTP middleware: request ids and logs, problem+json errors, security headers,
 * path sanity.
 */
import { randomUUID } from "node:crypto";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import { describePrincipal } from "../auth/principal.js";
import { NotFound } from "../errors.js";
import type { HubMetrics } from "../observability/metrics.js";
import { toProblem } from "../problem.js";
import type { HubState } from "./context.js";

const REQUEST_ID = /^[\w.:-]{1,100}$/;
/** Share tokens are credentials in the URL: never written to logs. */
const SHARE_PATH = /^(\/(?:api\/)?shared\/)[^/]+/;
/** No id or token of ours is longer than this; a longer path segment names nothing. */
const MAX_SEGMENT = 256;

/** The path as logs may show it. */
const loggedPath = (path: string) => path.replace(SHARE_PATH, "$1[redacted]");

/**
 * The route pattern a request matched (`/api/agents/:agentId`), for metrics: never the raw path,
 * whose ids would make a series per resource. `unmatched` when no route took the method and path.
 */
export function matchedRoute(ctx: { method: string; matched?: Array<{ path: unknown; methods: string[] }> }): string {
  const route = ctx.matched?.findLast((layer) => layer.methods.includes(ctx.method))?.path;
  return typeof route === "string" ? route : "unmatched";
}

export function requestContext(log: Logger, bodyLimit: number, metrics?: HubMetrics): Middleware<HubState> {
  return async (ctx, next) => {
    const incoming = ctx.get("x-request-id");
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = log.child({ reqId: requestId });
    ctx.set("X-Request-Id", requestId);
    const started = performance.now();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { type: "urn:agenthub:problem:not-found", title: "Not Found", status: 404, detail: `No route for ${ctx.method} ${loggedPath(ctx.path)}` };
        ctx.type = "application/problem+json";
      } else if ((ctx.status === 405 || ctx.status === 501) && !ctx.body) {
        // The router answered with an Allow header only (405), or nothing for a method it does
        // not know at all (501): both are a method this path does not take.
        ctx.body = {
          type: "urn:agenthub:problem:method-not-allowed",
          title: "Method Not Allowed",
          status: 405,
          detail: `${ctx.method} is not supported on ${loggedPath(ctx.path)}${ctx.response.get("Allow") ? `; allowed: ${ctx.response.get("Allow")}` : ""}`,
        };
        ctx.status = 405;
        ctx.type = "application/problem+json";
      }
    } catch (err) {
      const { problem, headers } = toProblem(err, bodyLimit);
      if (problem.status === 503) ctx.state.log.warn({ err: { message: (err as Error)?.message } }, "dependency unavailable");
      else if (problem.status >= 500) ctx.state.log.error({ err }, "request failed");
      ctx.status = problem.status;
      ctx.set(headers);
      ctx.body = problem;
      ctx.type = "application/problem+json";
    } finally {
      if (metrics) {
        metrics.httpRequest(ctx.method, matchedRoute(ctx), ctx.status, (performance.now() - started) / 1000);
        if (ctx.status === 429) metrics.rateLimit("http");
      }
      const p = ctx.state.principal;
      // An outage (503) is the operator's to see once in the dependency's own logs, not as an error per request.
      ctx.state.log[ctx.status >= 500 && ctx.status !== 503 ? "error" : "info"](
        {
          method: ctx.method,
          path: loggedPath(ctx.path),
          status: ctx.status,
          ms: Math.round(performance.now() - started),
          ...(p ? { principal: describePrincipal(p) } : {}),
        },
        "request",
      );
    }
  };
}

/**
 * Headers every answer carries: no MIME sniffing; authenticated answers and share views are
 * never cached; HSTS when the hub is served over https. A share token is a credential in the
 * URL: whatever the answer, it must not be cached, indexed or leaked through Referer.
 */
export function securityHeaders(publicUrl: string | undefined): Middleware<HubState> {
  const hsts = publicUrl?.startsWith("https:");
  return async (ctx, next) => {
    ctx.set("X-Content-Type-Options", "nosniff");
    if (hsts) ctx.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (SHARE_PATH.test(ctx.path)) ctx.set({ "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex" });
    await next();
    if (ctx.get("authorization")) ctx.set("Cache-Control", "no-store");
  };
}

/** Paths that can name nothing of ours (NUL or control characters, undecodable, overlong segments) answer 404 before any lookup. */
export function sanePaths(): Middleware<HubState> {
  return async (ctx, next) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(ctx.path);
    } catch {
      throw new NotFound("Resource");
    }
    if (/[\u0000-\u001f\u007f]/.test(decoded) || decoded.split("/").some((s) => s.length > MAX_SEGMENT)) throw new NotFound("Resource");
    await next();
  };
}

/**
 * Requests Node's HTTP parser refuses before Koa sees them (a malformed request line, headers
 * over the size limit) still get a problem+json answer, then the connection is closed.
 */
export function answerUnparsable(err: NodeJS.ErrnoException, socket: { writable: boolean; end(data: string): void; destroy(): void }): void {
  if (!socket.writable) return socket.destroy();
  const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  const title = status === 431 ? "Request Header Fields Too Large" : "Bad Request";
  const body = JSON.stringify({ type: `urn:agenthub:problem:http-${status}`, title, status, detail: "The request could not be parsed as HTTP" });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
