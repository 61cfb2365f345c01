/** Small factories for test data, built through the public surface where it exists. */
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { mintUserToken } from "../../src/auth/jwt.js";
import { createWorkspace } from "../../src/domain/workspaces/service.js";
import type { Api } from "./api.js";
import { JWT_SECRET } from "./env.js";

export const uniq = (prefix = "x") => `${prefix}-${randomBytes(4).toString("hex")}`;

export interface TestWorkspace {
  id: string;
  masterKey: string;
  /** Mints a user token in this workspace. */
  token(sub: string, extra?: { email?: string; name?: string; groups?: string[]; role?: string; ttlSeconds?: number; picture?: string }): Promise<string>;
}

export async function makeWorkspace(db: Knex, name = uniq("ws")): Promise<TestWorkspace> {
  const { workspace, masterKey } = await createWorkspace(db, name);
  return {
    id: workspace.id,
    masterKey,
    token: (sub, extra = {}) =>
      mintUserToken({
        secret: JWT_SECRET,
        workspace: workspace.id,
        sub,
        email: extra.email ?? `${sub}@example.com`,
        name: extra.name ?? sub,
        groups: extra.groups,
        role: extra.role,
        picture: extra.picture,
        ttlSeconds: extra.ttlSeconds ?? 3600,
      }),
  };
}

/** The user's int64 id, as the hub provisions it on first sight. */
export async function userId(client: Api): Promise<number> {
  const res = await client.get("/api/me");
  if (res.status !== 200) throw new Error(`GET /api/me answered ${res.status}`);
  return res.body.user_id;
}

export async function makeAgent(client: Api, id = uniq("agent"), name = "Test agent"): Promise<string> {
  const res = await client.post("/api/agents", { id, name });
  if (res.status !== 201) throw new Error(`create agent answered ${res.status}: ${res.text}`);
  return id;
}

export async function makeKey(client: Api, agentId: string, scopes: string[]): Promise<string> {
  const res = await client.post(`/api/agents/${agentId}/keys`, { scopes });
  if (res.status !== 201) throw new Error(`create key answered ${res.status}: ${res.text}`);
  return res.body.key;
}

export async function makeSession(client: Api, agentId: string, body: Record<string, unknown> = {}): Promise<any> {
  const res = await client.post(`/api/agents/${agentId}/sessions`, body);
  if (res.status !== 201) throw new Error(`create session answered ${res.status}: ${res.text}`);
  return res.body;
}

export async function appendMessage(client: Api, agentId: string, sessionId: string, body: Record<string, unknown> = {}): Promise<any> {
  const res = await client.post(`/api/agents/${agentId}/sessions/${sessionId}/messages`, { role: "user", content: "hello", ...body });
  if (res.status !== 201) throw new Error(`append message answered ${res.status}: ${res.text}`);
  return res.body;
}

/** Adds a user to an agent's team; `member` is their client (so they are provisioned first). */
export async function addToTeam(editor: Api, agentId: string, member: Api, accessLevel: "viewer" | "editor" = "viewer"): Promise<number> {
  const id = await userId(member);
  const res = await editor.post(`/api/agents/${agentId}/team`, { user_id: id, access_level: accessLevel });
  if (res.status !== 201) throw new Error(`add member answered ${res.status}: ${res.text}`);
  return id;
}
