/** Routes: agents, their teams and their keys ("Agents and their teams" in the contract). */
import type { Router } from "@koa/router";
import { AddMember, CreateAgent, CreateKey, PageQuery, UpdateAgent, parse, parseIntId } from "../../schemas.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";

export function agentRoutes(router: Router<HubState>, s: Services): void {
  router.post("/api/agents", async (ctx) => {
    ctx.body = await s.agents.create(ctx.state.principal, parse(CreateAgent, ctx.request.body));
    ctx.status = 201;
  });
  router.get("/api/agents", async (ctx) => {
    ctx.body = await s.agents.list(ctx.state.principal, parse(PageQuery, ctx.query));
  });
  router.get("/api/agents/:agentId", async (ctx) => {
    ctx.body = await s.agents.get(ctx.state.principal, ctx.params.agentId!);
  });
  router.patch("/api/agents/:agentId", async (ctx) => {
    ctx.body = await s.agents.update(ctx.state.principal, ctx.params.agentId!, parse(UpdateAgent, ctx.request.body));
  });
  router.delete("/api/agents/:agentId", async (ctx) => {
    await s.agents.remove(ctx.state.principal, ctx.params.agentId!);
    ctx.status = 204;
  });

  router.post("/api/agents/:agentId/endpoint-secret", async (ctx) => {
    ctx.body = await s.agents.rotateEndpointSecret(ctx.state.principal, ctx.params.agentId!);
    ctx.status = 201;
  });

  router.get("/api/agents/:agentId/team", async (ctx) => {
    ctx.body = { members: await s.agents.team(ctx.state.principal, ctx.params.agentId!) };
  });
  router.post("/api/agents/:agentId/team", async (ctx) => {
    const input = parse(AddMember, ctx.request.body);
    ctx.body = { members: await s.agents.addMember(ctx.state.principal, ctx.params.agentId!, input) };
    ctx.status = 201;
  });
  router.delete("/api/agents/:agentId/team/:userId", async (ctx) => {
    const userId = parseIntId(ctx.params.userId, "user_id");
    ctx.body = { members: await s.agents.removeMember(ctx.state.principal, ctx.params.agentId!, userId) };
  });

  router.post("/api/agents/:agentId/keys", async (ctx) => {
    ctx.body = await s.agentKeys.create(ctx.state.principal, ctx.params.agentId!, parse(CreateKey, ctx.request.body));
    ctx.status = 201;
  });
  router.get("/api/agents/:agentId/keys", async (ctx) => {
    // An agent has a handful of keys: one page, always.
    ctx.body = { keys: await s.agentKeys.list(ctx.state.principal, ctx.params.agentId!), next_cursor: null };
  });
  router.delete("/api/agents/:agentId/keys/:keyId", async (ctx) => {
    await s.agentKeys.revoke(ctx.state.principal, ctx.params.agentId!, ctx.params.keyId!);
    ctx.status = 204;
  });

  router.get("/api/workspaces/:workspaceId/team", async (ctx) => {
    ctx.body = await s.workspaces.team(ctx.state.principal, ctx.params.workspaceId!, parse(PageQuery, ctx.query));
  });
}
