/**
 * Routes: the Agent Backplane ("Agent Backplane" in the contract), the Sharely Agent API under
 * /v1/workspaces/{workspaceId}, so the Sharely client and server SDKs work against agenthub
 * unchanged; and the key exchange they start with, `POST /workspaces/{workspaceId}/generate-
 * access-key-token` (header `x-api-key`). Every /v1 route takes a Bearer credential (user token,
 * exchanged key token, or an API key), answers 404 for another workspace's path, and applies
 * RBAC's role rule first (Backplane.enter). Errors are problem+json, as everywhere.
 */
import { Router } from "@koa/router";
import compose from "koa-compose";
import type { Middleware } from "koa";
import type { AppDeps } from "../../app.js";
import { keyKindOf } from "../../auth/principal.js";
import { NotFound, Unauthorized } from "../../errors.js";
import {
  CreateServer,
  CreateThread,
  KeyExchange,
  RagQuery,
  RbacSwitch,
  StoreThreadMessage,
  ThreadChat,
  ThreadListQuery,
  TokenToValidate,
  ToolExecute,
  UpdateServer,
  parse,
} from "../../schemas.js";
import type { HubState } from "../context.js";
import { authenticate } from "../authenticate.js";
import { rateLimit } from "../rate-limit.js";
import { streamTurn } from "../sse.js";

type Deps = Pick<AppDeps, "auth" | "services" | "limits">;

export function backplaneRoutes(deps: Deps): Middleware<HubState> {
  const keys = keyExchangeRoutes(deps);
  const v1 = new Router<HubState>({ prefix: "/v1/workspaces/:workspaceId" });
  v1.use(authenticate(deps.auth, deps.limits.failedAuth));
  v1.use(rateLimit(deps.limits.perCredential));
  v1.use(async (ctx, next) => {
    await deps.services.backplane.enter(ctx.state.principal, ctx.params.workspaceId!);
    await next();
  });
  threadRoutes(v1, deps);
  workspaceRoutes(v1, deps);
  return compose([keys.routes(), keys.allowedMethods(), v1.routes(), v1.allowedMethods()]) as Middleware<HubState>;
}

function threadRoutes(v1: Router<HubState>, { services: s }: Deps): void {
  const threads = "/agent/threads";

  v1.post(threads, async (ctx) => {
    ctx.body = await s.backplane.createThread(ctx.state.principal, parse(CreateThread, ctx.request.body));
    ctx.status = 201;
  });

  v1.get(threads, async (ctx) => {
    ctx.body = await s.backplane.listThreads(ctx.state.principal, parse(ThreadListQuery, ctx.query, "query"));
  });

  v1.get(`${threads}/:threadId`, async (ctx) => {
    ctx.body = await s.backplane.getThread(ctx.state.principal, ctx.params.threadId!);
  });

  v1.post(`${threads}/:threadId/messages`, async (ctx) => {
    const { message, created } = await s.backplane.storeMessage(ctx.state.principal, ctx.params.threadId!, parse(StoreThreadMessage, ctx.request.body));
    ctx.body = message;
    ctx.status = created ? 201 : 200;
  });

  v1.post(`${threads}/:threadId/chat`, async (ctx) => {
    const { message } = parse(ThreadChat, ctx.request.body);
    await streamTurn(ctx, s.turns, await s.backplane.chat(ctx.state.principal, ctx.params.threadId!, message));
  });

  v1.post("/agent/rag", async (ctx) => {
    ctx.body = await s.knowledge.search(ctx.state.principal, parse(RagQuery, ctx.request.body));
  });

  v1.get("/agent/tools", (ctx) => {
    ctx.body = s.tools.list();
  });

  v1.post("/agent/tools/:name/execute", async (ctx) => {
    const { input, context } = parse(ToolExecute, ctx.request.body);
    ctx.body = await s.tools.execute(ctx.state.principal, ctx.params.name!, input, context);
  });

  const servers = "/agent/servers";

  v1.post(servers, async (ctx) => {
    ctx.body = await s.backplane.createServer(ctx.state.principal, parse(CreateServer, ctx.request.body));
    ctx.status = 201;
  });

  v1.get(servers, async (ctx) => {
    ctx.body = await s.backplane.listServers(ctx.state.principal);
  });

  v1.get(`${servers}/:serverId`, async (ctx) => {
    ctx.body = await s.backplane.getServer(ctx.state.principal, ctx.params.serverId!);
  });

  v1.patch(`${servers}/:serverId`, async (ctx) => {
    ctx.body = await s.backplane.updateServer(ctx.state.principal, ctx.params.serverId!, parse(UpdateServer, ctx.request.body));
  });

  v1.delete(`${servers}/:serverId`, async (ctx) => {
    await s.backplane.removeServer(ctx.state.principal, ctx.params.serverId!);
    ctx.status = 204;
  });
}

function workspaceRoutes(v1: Router<HubState>, { services: s, auth }: Deps): void {
  /** Validates someone else's token: the turn token an SDK server got with a chat, or a user token. */
  v1.post("/api-authenticated", async (ctx) => {
    const { token } = parse(TokenToValidate, ctx.request.body);
    const subject = await auth.subjectToValidate(token).catch((err: unknown) => {
      throw err instanceof Unauthorized ? new Unauthorized("The token is not a valid user or turn token of this workspace") : err;
    });
    ctx.body = await s.backplane.tokenOwner(subject, ctx.params.workspaceId!);
  });

  v1.get("/rbac-status", async (ctx) => {
    ctx.body = await s.backplane.rbacStatus(ctx.state.principal);
  });

  v1.put("/rbac-status", async (ctx) => {
    const { rbacEnabled } = parse(RbacSwitch, ctx.request.body);
    ctx.body = await s.backplane.switchRbac(ctx.state.principal, rbacEnabled);
  });
}

/**
 * `POST /workspaces/{workspaceId}/generate-access-key-token`: an API key (master or agent, in
 * `x-api-key`) for a short-lived token acting as it (key-token.ts), through the same
 * authentication middleware as every route: refused keys count against the address.
 */
function keyExchangeRoutes({ auth, limits }: Deps): Router<HubState> {
  const router = new Router<HubState>();
  const apiKey = (ctx: { get(header: string): string }) => {
    const key = ctx.get("x-api-key").trim();
    if (!keyKindOf(key)) throw new Unauthorized("Send an API key (g_master_… or g_agent_…) in the x-api-key header");
    return key;
  };
  router.post(
    "/workspaces/:workspaceId/generate-access-key-token",
    authenticate(auth, limits.failedAuth, apiKey),
    rateLimit(limits.perCredential),
    async (ctx) => {
      if (ctx.state.principal.workspaceId !== ctx.params.workspaceId) throw new NotFound("Workspace");
      const { roleId } = parse(KeyExchange, ctx.request.body ?? {});
      ctx.body = { token: await auth.issueKeyToken(ctx.state.principal, roleId) };
      ctx.status = 201;
    },
  );
  return router;
}
