/** GET /api/me: who the credential is, so clients (and people) can find their own user_id. */
import type { Router } from "@koa/router";
import type { HubState } from "../context.js";

export function meRoutes(router: Router<HubState>): void {
  router.get("/api/me", (ctx) => {
    const p = ctx.state.principal;
    switch (p.kind) {
      case "user":
        ctx.body = {
          kind: "user",
          workspace_id: p.workspaceId,
          user_id: p.userId,
          sub: p.sub,
          email: p.email,
          name: p.name,
          groups: p.groups,
          role: p.role ?? null,
          expires_at: p.expiresAt.toISOString(),
        };
        break;
      case "master":
        ctx.body = { kind: "master", workspace_id: p.workspaceId, key_id: p.keyId };
        break;
      case "agent":
        ctx.body = { kind: "agent", workspace_id: p.workspaceId, agent_id: p.agentId, key_id: p.keyId, scopes: p.scopes };
        break;
    }
  });
}
