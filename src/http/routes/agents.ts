/** Routes: agents, their teams and their keys ("Agents and their teams" in the contract). */
import type { Router } from "@koa/router";
import { z } from "zod";
import { AGENT_KEY_SCOPES } from "../../auth/principal.js";
import { ACCESS_LEVELS } from "../../domain/agents/policy.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";
import { CursorQuery, limitQuery, parse, parseIntId } from "../validate.js";

const AgentPage = z.object({ limit: limitQuery(50, 200), cursor: CursorQuery });

const AgentId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit");
const Name = z.string().trim().min(1, "must not be empty").max(200);
const Description = z.string().max(2000).nullable();
const ServerUrl = z
  .string()
  .max(2000)
  .refine((v) => /^https?:\/\//i.test(v) && URL.canParse(v), "must be an http(s) URL")
  .nullable();

const CreateAgent = z.strictObject({
  id: AgentId,
  name: Name,
  description: Description.optional(),
  server_url: ServerUrl.optional(),
});
const UpdateAgent = z
  .strictObject({ name: Name.optional(), description: Description.optional(), server_url: ServerUrl.optional() })
  .refine((v) => Object.keys(v).length > 0, "send at least one of name, description, server_url");
const AddMember = z.object({
  user_id: z.number().int().positive(),
  access_level: z.enum(ACCESS_LEVELS as ["viewer", "editor"], { message: "must be viewer or editor" }),
});
const CreateKey = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  scopes: z.array(z.enum(AGENT_KEY_SCOPES)),
});

export function agentRoutes(router: Router<HubState>, s: Services): void {
  router.post("/api/agents", async (ctx) => {
    ctx.body = await s.agents.create(ctx.state.principal, parse(CreateAgent, ctx.request.body));
    ctx.status = 201;
  });
  router.get("/api/agents", async (ctx) => {
    ctx.body = await s.agents.list(ctx.state.principal, parse(AgentPage, ctx.query));
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
    ctx.body = { members: await s.workspaces.team(ctx.state.principal, ctx.params.workspaceId!) };
  });
}
