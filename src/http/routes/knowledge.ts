/** Routes: knowledge items (what RAG and the tools search), under /api/knowledge. Who may: knowledge/policy.ts. */
import type { Router } from "@koa/router";
import { CreateKnowledge, PageQuery, parse } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

export function knowledgeRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/knowledge";
  router.post(base, async (ctx) => {
    ctx.body = await s.knowledge.create(ctx.state.principal, parse(CreateKnowledge, ctx.request.body));
    ctx.status = 201;
  });
  router.get(base, async (ctx) => {
    ctx.body = await s.knowledge.list(ctx.state.principal, parse(PageQuery, ctx.query));
  });
  router.get(`${base}/:knowledgeId`, async (ctx) => {
    ctx.body = await s.knowledge.get(ctx.state.principal, ctx.params.knowledgeId!);
  });
  router.delete(`${base}/:knowledgeId`, async (ctx) => {
    await s.knowledge.remove(ctx.state.principal, ctx.params.knowledgeId!);
    ctx.status = 204;
  });
}
