/**
 * Routes: a group's conversations and asks ("Group conversations: ask the group" in the
 * contract). Thin: the group and membership checks live in domain/asks.
 */
import type { Router } from "@koa/router";
import { AskBody, CreateConversation, CreateShare, PageQuery, RenameSession, parse, parseMessagePage } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

export function conversationRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/groups/:groupId/conversations";
  const one = `${base}/:sessionId`;

  router.post(base, async (ctx) => {
    ctx.body = await s.conversations.create(ctx.state.principal, ctx.params.groupId!, parse(CreateConversation, ctx.request.body));
    ctx.status = 201;
  });
  router.get(base, async (ctx) => {
    ctx.body = await s.conversations.list(ctx.state.principal, ctx.params.groupId!, parse(PageQuery, ctx.query));
  });
  router.get(one, async (ctx) => {
    ctx.body = await s.conversations.get(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!);
  });
  router.patch(one, async (ctx) => {
    const { title } = parse(RenameSession, ctx.request.body);
    await s.conversations.rename(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, title);
    ctx.status = 204;
  });
  router.delete(one, async (ctx) => {
    await s.conversations.remove(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
  router.get(`${one}/messages`, async (ctx) => {
    ctx.body = await s.conversations.messages(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, parseMessagePage(ctx.query));
  });

  router.post(`${one}/ask`, async (ctx) => {
    const input = parse(AskBody, ctx.request.body);
    ctx.body = await s.conversations.ask(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, input);
    ctx.status = 202;
  });
  router.get(`${one}/asks/:askId`, async (ctx) => {
    ctx.body = await s.conversations.getAsk(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, ctx.params.askId!);
  });
  router.post(`${one}/asks/:askId/cancel`, async (ctx) => {
    ctx.body = await s.conversations.cancelAsk(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, ctx.params.askId!);
    ctx.status = 202;
  });
  router.get(`${one}/turns/:turnId`, async (ctx) => {
    ctx.body = await s.conversations.getTurn(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, ctx.params.turnId!);
  });

  router.post(`${one}/share`, async (ctx) => {
    const { expires_in_hours } = parse(CreateShare, ctx.request.body);
    ctx.body = await s.conversations.share(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!, expires_in_hours);
    ctx.status = 201;
  });
  router.delete(`${one}/share`, async (ctx) => {
    await s.conversations.revokeShare(ctx.state.principal, ctx.params.groupId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
}
