/** Routes: team channels, under /team-channels and /api/team-channels (camelCase family). */
import type { Router } from "@koa/router";
import { HISTORY_MAX } from "../../domain/channels/service.js";
import { CreateChannel, PageQuery, Subscription, channelHistoryQuery, parse, publishSchema } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

const History = channelHistoryQuery(HISTORY_MAX);

export function channelRoutes(router: Router<HubState>, s: Services, messageMaxBytes: number): void {
  const Publish = publishSchema(messageMaxBytes);
  for (const base of ["/team-channels", "/api/team-channels"]) {
    router.post(base, async (ctx) => {
      ctx.body = await s.channels.create(ctx.state.principal, parse(CreateChannel, ctx.request.body));
      ctx.status = 201;
    });
    router.get(base, async (ctx) => {
      ctx.body = await s.channels.list(ctx.state.principal, parse(PageQuery, ctx.query));
    });
    router.get(`${base}/:channelId`, async (ctx) => {
      ctx.body = await s.channels.get(ctx.state.principal, ctx.params.channelId!);
    });
    router.delete(`${base}/:channelId`, async (ctx) => {
      await s.channels.remove(ctx.state.principal, ctx.params.channelId!);
      ctx.status = 204;
    });
    router.post(`${base}/:channelId/subscribe`, async (ctx) => {
      const { agentId } = parse(Subscription, ctx.request.body);
      ctx.body = await s.channels.subscribe(ctx.state.principal, ctx.params.channelId!, agentId);
    });
    router.post(`${base}/:channelId/unsubscribe`, async (ctx) => {
      const { agentId } = parse(Subscription, ctx.request.body);
      ctx.body = await s.channels.unsubscribe(ctx.state.principal, ctx.params.channelId!, agentId);
    });
    router.post(`${base}/:channelId/messages`, async (ctx) => {
      const { message, created } = await s.channels.publish(ctx.state.principal, ctx.params.channelId!, parse(Publish, ctx.request.body));
      ctx.body = message;
      ctx.status = created ? 201 : 200;
    });
    router.get(`${base}/:channelId/messages`, async (ctx) => {
      ctx.body = await s.channels.history(ctx.state.principal, ctx.params.channelId!, parse(History, ctx.query));
    });
  }
}
