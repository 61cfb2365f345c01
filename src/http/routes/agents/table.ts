/**
 * Routes of the agents family ("Agents and their teams" in the contract): agents, their teams and
 * keys, the workspace's master keys and people, and `GET /api/me`. Who may do what is decided
 * in the policies named on each entry; the handlers call one service each.
 */
import { parseIntId, PageQuery } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { presentPrincipal } from "../../../auth/principal.js";
import { T, ex } from "../../examples.js";
import { ANY_CREDENTIAL as ANY, route, type Route } from "../../table.js";
import * as S from "./schema.js";

const ADMIN = ["masterKey", "userToken"] as const;
const masterKeyExample = { id: "key_1a2b3c", name: "deploy", prefix: "g_master_Ab12", created_at: T, created_by: null };

export function agentsTable(s: Services): Route[] {
  return [
    route({
      method: "get", path: "/api/me", operationId: "me", tag: "Me", summary: "Who the credential is",
      security: ANY, policy: "none: the caller's own principal",
      answer: { status: 200, description: "The caller: a user (`user_id` assigned on first sight), a master key, or an agent key with its scopes", schema: S.Me },
      handle: ({ principal }) => presentPrincipal(principal),
    }),
    route({
      method: "post", path: "/api/agents", operationId: "createAgent", tag: "Agents", summary: "Create an agent (the creator becomes its editor)",
      security: ANY, policy: "agents/policy.ts assertCanCreateAgent", errors: [409],
      body: S.CreateAgent, bodyExample: { id: "logs-agent", name: "Logs agent", description: "Reads the logs" },
      answer: { status: 201, description: "The agent; with `endpoint_secret` (shown once) when `server_url` was set", schema: S.AgentWithSecret, example: ex.agent },
      handle: ({ principal, body }) => s.agents.create(principal, body),
    }),
    route({
      method: "get", path: "/api/agents", operationId: "listAgents", tag: "Agents", summary: "Agents the caller can access",
      security: ANY, policy: "agents/policy.ts: the caller's team access (reads scoped)",
      query: PageQuery,
      answer: { status: 200, description: "`{agents, next_cursor}`", schema: S.AgentPage, example: { agents: [ex.agent], next_cursor: null } },
      handle: ({ principal, query }) => s.agents.list(principal, query),
    }),
    route({
      method: "get", path: "/api/agents/{agentId}", operationId: "getAgent", tag: "Agents", summary: "Get an agent",
      security: ANY, policy: "agents/policy.ts: team access (none: 404)",
      answer: { status: 200, description: "The agent", schema: S.Agent, example: ex.agent },
      handle: ({ principal, params }) => s.agents.get(principal, params.agentId!),
    }),
    route({
      method: "patch", path: "/api/agents/{agentId}", operationId: "updateAgent", tag: "Agents", summary: "Change an agent (editors)",
      security: ANY, policy: "agents/policy.ts: editors",
      body: S.UpdateAgent, bodyExample: { description: "Reads and summarises the logs" },
      answer: { status: 200, description: "The agent", schema: S.AgentWithSecret, example: ex.agent },
      handle: ({ principal, params, body }) => s.agents.update(principal, params.agentId!, body),
    }),
    route({
      method: "delete", path: "/api/agents/{agentId}", operationId: "deleteAgent", tag: "Agents", summary: "Delete an agent (editors)",
      security: ANY, policy: "agents/policy.ts: editors",
      answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.agents.remove(principal, params.agentId!),
    }),
    route({
      method: "post", path: "/api/agents/{agentId}/endpoint-secret", operationId: "rotateEndpointSecret", tag: "Agents", summary: "A new endpoint secret for the agent's server (shown once)",
      security: ANY, policy: "agents/policy.ts: editors",
      answer: { status: 201, description: "`{endpoint_secret}` (Standard Webhooks, `whsec_…`)", schema: S.EndpointSecret, example: { endpoint_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } },
      handle: ({ principal, params }) => s.agents.rotateEndpointSecret(principal, params.agentId!),
    }),
    route({
      method: "post", path: "/api/agents/{agentId}/endpoint/test", operationId: "testAgentEndpoint", tag: "Agents", summary: "Test connection: try the agent's endpoint without running a turn (agent card, model list, ADK apps, reachability)",
      security: ANY, policy: "agents/policy.ts: editors",
      answer: {
        status: 200, description: "`{ok, protocol, detail, agent_card?, models?}`: `detail` says in words what was found or what is wrong", schema: S.EndpointCheck,
        example: { ok: true, protocol: "a2a", detail: 'Found the agent card of "Logs agent" (1 skill; streams its answers).', agent_card: { name: "Logs agent", description: "Reads the logs", skills: ["Search logs"], streaming: true } },
      },
      handle: ({ principal, params }) => s.endpointChecks.test(principal, params.agentId!),
    }),
    route({
      method: "get", path: "/api/agents/{agentId}/team", operationId: "getTeam", tag: "Teams", summary: "The agent's team",
      security: ANY, policy: "agents/policy.ts: team access",
      answer: { status: 200, description: "`{members}`", schema: S.Members, example: { members: [ex.member] } },
      handle: async ({ principal, params }) => ({ members: await s.agents.team(principal, params.agentId!) }),
    }),
    route({
      method: "post", path: "/api/agents/{agentId}/team", operationId: "addTeamMember", tag: "Teams", summary: "Add a user to the agent's team (editors)",
      security: ANY, policy: "agents/policy.ts: editors",
      body: S.AddMember, bodyExample: { user_id: 2, access_level: "viewer" },
      answer: { status: 201, description: "`{members}`", schema: S.Members, example: { members: [ex.member] } },
      handle: async ({ principal, params, body }) => ({ members: await s.agents.addMember(principal, params.agentId!, body) }),
    }),
    route({
      method: "delete", path: "/api/agents/{agentId}/team/{userId}", operationId: "removeTeamMember", tag: "Teams", summary: "Remove a user from the team (access ends at once, sockets included)",
      security: ANY, policy: "agents/policy.ts: editors",
      answer: { status: 200, description: "`{members}`", schema: S.Members, example: { members: [] } },
      // A pending member (user_id null) is named by the email they were added with.
      handle: async ({ principal, params }) =>
        ({ members: await s.agents.removeMember(principal, params.agentId!, params.userId!.includes("@") ? { email: params.userId! } : parseIntId(params.userId, "user_id")) }),
    }),
    route({
      method: "get", path: "/api/workspaces/{workspaceId}/team", operationId: "workspaceTeam", tag: "Teams", summary: "The workspace's people",
      security: ANY, policy: "workspaces/policy.ts assertCanListPeople",
      query: PageQuery,
      answer: { status: 200, description: "`{members: [{user_id, name, email, avatar}], next_cursor}`", schema: S.WorkspaceTeam, example: { members: [{ user_id: 2, name: "Bob", email: "bob@example.com", avatar: null }], next_cursor: null } },
      handle: ({ principal, params, query }) => s.workspaces.team(principal, params.workspaceId!, query),
    }),
    route({
      method: "post", path: "/api/agents/{agentId}/keys", operationId: "createAgentKey", tag: "Keys",
      summary: "Create an agent key (the key is shown once); it never carries more than its creator: `knowledge:write` and naming a `role` other than one's own are for the master key and admins",
      security: ANY, policy: "keys/policy.ts: editors; no more than the creator",
      body: S.CreateKey, bodyExample: { name: "prod", scopes: ["sessions:read", "sessions:write", "channels:read", "channels:publish"] },
      answer: { status: 201, description: "`{id, key, prefix, scopes, …}`: `key` (`g_agent_…`) is shown only here", schema: S.CreatedAgentKey, example: { ...ex.key, key: "g_agent_Xy12…" } },
      handle: ({ principal, params, body }) => s.agentKeys.create(principal, params.agentId!, body),
    }),
    route({
      method: "get", path: "/api/agents/{agentId}/keys", operationId: "listAgentKeys", tag: "Keys", summary: "The agent's keys, without secrets",
      security: ANY, policy: "keys/policy.ts: editors",
      // An agent has a handful of keys: one page, always.
      answer: { status: 200, description: "`{keys, next_cursor: null}`", schema: S.AgentKeyList, example: { keys: [ex.key], next_cursor: null } },
      handle: async ({ principal, params }) => ({ keys: await s.agentKeys.list(principal, params.agentId!), next_cursor: null }),
    }),
    route({
      method: "delete", path: "/api/agents/{agentId}/keys/{keyId}", operationId: "revokeAgentKey", tag: "Keys", summary: "Revoke an agent key (it stops working at once, on every node)",
      security: ANY, policy: "keys/policy.ts: editors",
      answer: { status: 204, description: "Revoked" },
      handle: ({ principal, params }) => s.agentKeys.revoke(principal, params.agentId!, params.keyId!),
    }),
    route({
      method: "post", path: "/api/workspace/master-keys", operationId: "createMasterKey", tag: "Keys", summary: "Create a master key (master key or admin; shown once)",
      security: [...ADMIN], policy: "keys/policy.ts: master key or admin",
      body: S.CreateMasterKey, bodyExample: { name: "deploy" },
      answer: { status: 201, description: "`{id, key, prefix, name, created_at, created_by}`", schema: S.CreatedMasterKey, example: { ...masterKeyExample, key: "g_master_…" } },
      handle: ({ principal, body }) => s.masterKeys.create(principal, body),
    }),
    route({
      method: "get", path: "/api/workspace/master-keys", operationId: "listMasterKeys", tag: "Keys", summary: "Live master keys, without secrets",
      security: [...ADMIN], policy: "keys/policy.ts: master key or admin",
      // A workspace has a handful of master keys: one page, always (like an agent's keys).
      answer: { status: 200, description: "`{keys, next_cursor: null}`", schema: S.MasterKeyList, example: { keys: [masterKeyExample], next_cursor: null } },
      handle: async ({ principal }) => ({ keys: await s.masterKeys.list(principal), next_cursor: null }),
    }),
    route({
      method: "delete", path: "/api/workspace/master-keys/{keyId}", operationId: "revokeMasterKey", tag: "Keys", summary: "Revoke a master key (not the last live one: 409)",
      security: [...ADMIN], policy: "keys/policy.ts: master key or admin", errors: [409],
      answer: { status: 204, description: "Revoked" },
      handle: ({ principal, params }) => s.masterKeys.revoke(principal, params.keyId!),
    }),
  ];
}
