/**
 * Embedded default only: the web app's "Try the demo agent". The agents service makes the
 * workspace's `demo-agent` (or puts the caller on its team as an editor), and this hub serves it
 * with the demo agent's handler (agent-client/demo.ts) over a socket to the hub itself, exactly
 * as `npx agenthub agent demo` would from another terminal. For a browser on this machine
 * (guards.ts) with a user's credential, taken by the one authentication middleware.
 */
import { Router } from "@koa/router";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import { serveTurns, type ServedAgent } from "../../../agent-client/index.js";
import { demoHandler } from "../../../agent-client/demo.js";
import { DEMO_AGENT_ID } from "../../../domain/agents/policy.js";
import type { Services } from "../../../services.js";
import type { HubState } from "../../context.js";
import { browserOnThisMachine } from "./guards.js";

/** How long the route waits for the demo to serve before answering regardless. */
const SERVING_WAIT_MS = 5000;

export function localDemoRoutes(deps: { authenticate: Middleware<HubState>; services: Services; hubUrl: () => string; log: Logger }): { router: Router<HubState>; close(): Promise<void> } {
  const served = new Map<string, ServedAgent>();
  /** Each workspace's demo start, made once: two tabs asking at once share it (one key, one socket). */
  const starting = new Map<string, Promise<void>>();
  const router = new Router<HubState>();
  const { agents, agentKeys } = deps.services;

  async function start(actor: HubState["principal"]): Promise<void> {
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
    await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, SERVING_WAIT_MS).unref())]);
    deps.log.info({ workspace: actor.workspaceId }, "serving the built-in demo agent");
  }

  router.post("/api/local/demo-agent", browserOnThisMachine("The built-in demo agent is only for browsers on this machine"), deps.authenticate, async (ctx) => {
    const actor = ctx.state.principal;
    await agents.joinDemoAgent(actor);
    // Looked up and set with no await between: the first request starts it, the others wait for it.
    let started = starting.get(actor.workspaceId);
    if (!started) {
      started = start(actor);
      starting.set(actor.workspaceId, started);
      // A start that failed (the key could not be made) is tried again by the next request.
      started.catch(() => starting.get(actor.workspaceId) === started && starting.delete(actor.workspaceId));
    }
    await started;
    ctx.status = 201;
    ctx.body = { agent_id: DEMO_AGENT_ID };
  });
  return {
    router,
    close: async () => {
      await Promise.all([...served.values()].map((a) => a.close()));
      served.clear();
      starting.clear();
    },
  };
}
