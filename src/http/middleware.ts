/** Cross-cutting HTTP middleware: request ids and logs, problem+json errors, authentication. */
import { randomUUID } from "node:crypto";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import { Authenticator } from "../auth/authenticate.js";
import { describePrincipal } from "../auth/principal.js";
import { toProblem } from "../problem.js";
import type { HubState } from "./context.js";

const REQUEST_ID = /^[\w.:-]{1,100}$/;

export function requestContext(log: Logger, bodyLimit: number): Middleware<HubState> {
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
        ctx.body = { type: "urn:agenthub:problem:not-found", title: "Not Found", status: 404, detail: `No route for ${ctx.method} ${ctx.path}` };
        ctx.type = "application/problem+json";
      } else if ((ctx.status === 405 || ctx.status === 501) && !ctx.body) {
        // The router answered with an Allow header only.
        const status = ctx.status;
        ctx.body = {
          type: "urn:agenthub:problem:method-not-allowed",
          title: status === 405 ? "Method Not Allowed" : "Not Implemented",
          status,
          detail: `${ctx.method} is not supported on ${ctx.path}${ctx.response.get("Allow") ? `; allowed: ${ctx.response.get("Allow")}` : ""}`,
        };
        ctx.status = status;
        ctx.type = "application/problem+json";
      }
    } catch (err) {
      const { problem, headers } = toProblem(err, bodyLimit);
      if (problem.status >= 500) ctx.state.log.error({ err }, "request failed");
      ctx.status = problem.status;
      ctx.set(headers);
      ctx.body = problem;
      ctx.type = "application/problem+json";
    } finally {
      const p = ctx.state.principal;
      ctx.state.log[ctx.status >= 500 ? "error" : "info"](
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
          ...(p ? { principal: describePrincipal(p) } : {}),
        },
        "request",
      );
    }
  };
}

export function authenticate(auth: Authenticator): Middleware<HubState> {
  return async (ctx, next) => {
    ctx.state.principal = await auth.authenticate(Authenticator.bearer(ctx.get("authorization")));
    await next();
  };
}
