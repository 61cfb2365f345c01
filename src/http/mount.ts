/**
 * Mounts a route table on a Koa router: the path in Koa form, the middleware the table needs
 * (`before`), then the query and body parsed by the entry's schemas through `parse()` (so a 422 names each bad field, as everywhere), then the
 * handler; its result is the body, with the entry's status (or a Reply's).
 */
import type { Router } from "@koa/router";
import type { Middleware } from "koa";
import { parse } from "../schemas.js";
import type { HubState } from "./context.js";
import { ANSWERED, Reply, type Route } from "./table.js";

/** `/api/agents/{agentId}` -> `/api/agents/:agentId`. */
export const koaPath = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");

/** `before` runs ahead of each entry's parsing (authentication, limits, a workspace's gate). */
export function mount(router: Router<HubState>, table: readonly Route[], ...before: Middleware<HubState>[]): void {
  for (const entry of table) {
    router[entry.method](koaPath(entry.path), ...before, async (ctx) => {
      const query = entry.query ? parse(entry.query, ctx.query, "query") : undefined;
      const body = entry.body ? parse(entry.body, ctx.request.body) : undefined;
      const result = await entry.handle({ principal: ctx.state.principal, params: ctx.params as Record<string, string>, query, body, ctx });
      if (result === ANSWERED) return;
      const reply = result instanceof Reply ? result : new Reply(entry.answer.status, result);
      ctx.status = reply.status;
      if (reply.status !== 204) ctx.body = reply.body;
    });
  }
}
