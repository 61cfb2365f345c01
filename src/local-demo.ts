/**
 * Embedded default only: the web app's "Try the demo agent". Makes the workspace's `demo-agent`
 * (the caller joins its team as an editor) and serves it from inside this hub with the demo
 * agent's handler (src/cli/demo-agent.ts) over a socket to the hub itself, exactly as
 * `npx agenthub agent demo` would from another terminal. Loopback only, for a signed-in user.
 */
import { Router } from "@koa/router";
import type { Knex } from "knex";
import type { Logger } from "pino";
import { serveTurns, type ServedAgent } from "./agent-client/index.js";
import type { Authenticator } from "./auth/authenticate.js";
import { demoHandler } from "./cli/demo-agent.js";
import { teams } from "./domain/agents/repository.js";
import { Forbidden, NotFound } from "./errors.js";
import type { HubState } from "./http/context.js";
import { isForwarded, isLocalRequest } from "./local-control.js";
import type { Services } from "./services.js";

export const DEMO_AGENT_ID = "demo-agent";

export function localDemoRoutes(deps: { db: Knex; auth: Authenticator; services: Services; hubUrl: () => string; log: Logger }): { router: Router<HubState>; close(): Promise<void> } {
  const served = new Map<string, ServedAgent>();
  const router = new Router<HubState>();
  router.post("/api/local/demo-agent", async (ctx) => {
    if (isForwarded(ctx)) throw new NotFound("Resource"); // behind a proxy, as local sign-in (local-control.ts)
    if (!isLocalRequest(ctx)) throw new Forbidden("The built-in demo agent is only for browsers on this machine");
    const actor = await deps.auth.authenticate(/^Bearer (.+)$/i.exec(ctx.get("authorization"))?.[1]);
    if (actor.kind !== "user") throw new Forbidden("Sign in as a user to try the demo agent");
    const { agents, agentKeys } = deps.services;
    try {
      await agents.get(actor, DEMO_AGENT_ID);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      const exists = await deps.db("agents").where({ workspace_id: actor.workspaceId, id: DEMO_AGENT_ID }).first("id");
      if (exists) await teams.upsert(deps.db, actor.workspaceId, DEMO_AGENT_ID, actor.userId, "editor");
      else {
        await agents.create(actor, {
          id: DEMO_AGENT_ID,
          name: "Demo agent",
          description: "Answers every turn with streamed thinking, a semantic_search tool call, sources and an answer; no model needed",
        });
      }
    }
    if (!served.has(actor.workspaceId)) {
      const { key } = await agentKeys.create(actor, DEMO_AGENT_ID, { name: "built-in demo (web app)", scopes: ["turns:serve", "knowledge:read", "tools:execute"] });
      const url = deps.hubUrl();
      let serving!: () => void;
      const ready = new Promise<void>((resolve) => (serving = resolve));
      served.set(
        actor.workspaceId,
        serveTurns({
          url,
          key,
          handler: demoHandler({ url, key, workspaceId: actor.workspaceId }),
          log: (e) => {
            if (e.event === "serving") serving();
            if (e.level === "info") deps.log.debug({ demo: e.event }, e.message);
            else deps.log.warn({ demo: e.event }, e.message);
          },
        }),
      );
      // Answer once it serves, so the first question the page sends finds it (or after 5 s regardless).
      await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      deps.log.info({ workspace: actor.workspaceId }, "serving the built-in demo agent");
    }
    ctx.status = 201;
    ctx.body = { agent_id: DEMO_AGENT_ID };
  });
  return {
    router,
    close: async () => {
      await Promise.all([...served.values()].map((a) => a.close()));
      served.clear();
    },
  };
}
