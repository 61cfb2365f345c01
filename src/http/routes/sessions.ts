/** Routes: sessions and their messages ("Sessions" in the contract). */
import type { Router } from "@koa/router";
import { AppendMessage, CreateSession, RenameSession, SessionListQuery, parse, parseMessagePage } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

export function sessionRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/agents/:agentId/sessions";

  router.post(base, async (ctx) => {
    ctx.body = await s.sessions.create(ctx.state.principal, ctx.params.agentId!, parse(CreateSession, ctx.request.body));
    ctx.status = 201;
  });
  router.get(base, async (ctx) => {
    ctx.body = await s.sessions.list(ctx.state.principal, ctx.params.agentId!, false, parse(SessionListQuery, ctx.query));
  });
  router.get(`${base}/archived`, async (ctx) => {
    ctx.body = await s.sessions.list(ctx.state.principal, ctx.params.agentId!, true, parse(SessionListQuery, ctx.query));
  });
  router.delete(`${base}/archived`, async (ctx) => {
    await s.sessions.removeArchived(ctx.state.principal, ctx.params.agentId!);
    ctx.status = 204;
  });

  router.get(`${base}/:sessionId`, async (ctx) => {
    ctx.body = await s.sessions.get(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
  });
  router.patch(`${base}/:sessionId`, async (ctx) => {
    const { title } = parse(RenameSession, ctx.request.body);
    await s.sessions.rename(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, title);
    ctx.status = 204;
  });
  router.delete(`${base}/:sessionId`, async (ctx) => {
    await s.sessions.remove(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
  router.post(`${base}/:sessionId/archive`, async (ctx) => {
    await s.sessions.archive(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
  router.post(`${base}/:sessionId/restore`, async (ctx) => {
    await s.sessions.restore(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });

  router.get(`${base}/:sessionId/messages`, async (ctx) => {
    ctx.body = await s.sessionMessages.list(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, parseMessagePage(ctx.query));
  });
  router.post(`${base}/:sessionId/messages`, async (ctx) => {
    const input = parse(AppendMessage, ctx.request.body);
    const { message, created } = await s.sessionMessages.append(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, input);
    ctx.body = message;
    ctx.status = created ? 201 : 200;
  });
}
