/**
 * Routes of the Agent Backplane ("Agent Backplane" in the contract): the Sharely Agent API under
 * /v1/workspaces/{workspaceId}, so the Sharely client and server SDKs work against agenthub
 * unchanged, and the key exchange they start with. Every /v1 route takes a Bearer credential,
 * answers 404 for another workspace's path, and applies RBAC's role rule first
 * (backplane/policy.ts, through Backplane.enter, mounted before them in backplane.ts).
 */
import type { Authenticator } from "../../../auth/authenticate.js";
import { Unauthorized } from "../../../errors.js";
import type { Services } from "../../../services.js";
import { T, ex } from "../../examples.js";
import { streamTurn } from "../../sse.js";
import type { TurnStreams } from "../../turn-stream.js";
import { ANSWERED, Reply, route, type Credential, type Route } from "../../table.js";
import * as S from "./schema.js";

const V1: Credential[] = ["userToken", "keyToken", "masterKey", "agentKey"];
const tag = "Backplane";
const v1 = "/v1/workspaces/{workspaceId}";
const server = { id: "support-bot-1a2b3c", name: "Support bot", url: "http://localhost:8080", status: "ACTIVE", metadata: null, createdAt: T, updatedAt: T };

/** `POST /workspaces/{workspaceId}/generate-access-key-token`, behind the `x-api-key` credential and its workspace check (backplane.ts). */
export function keyExchangeTable(auth: Authenticator): Route[] {
  return [
    route({
      method: "post", path: "/workspaces/{workspaceId}/generate-access-key-token", operationId: "generateAccessKeyToken", tag,
      summary: "Exchange an API key (header `x-api-key`) for a short-lived token acting as it",
      security: ["apiKeyHeader"], policy: "auth/key-token.ts: the key's own workspace; a role-bound key only with its own role", errors: [401, 403, 404, 422, 429, 501],
      body: S.KeyExchange, bodyExample: { customerRoleId: "support" },
      answer: {
        status: 201, schema: S.KeyToken, example: { token: "eyJhbGciOiJIUzI1NiIsInR5cCI6ImFnZW50aHViLWtleStqd3QifQ…" },
        description: "`{token}`: a JWT living 1 hour (less when the key expires sooner), acting with the role asked for (`roleId` or `customerRoleId`); a role-bound key only with its own (another: 403)",
      },
      handle: async ({ principal, body }) => ({ token: await auth.issueKeyToken(principal, body.roleId) }),
    }),
  ];
}

export function backplaneTable(s: Services, auth: Authenticator, streams: TurnStreams): Route[] {
  const threads = `${v1}/agent/threads`;
  const servers = `${v1}/agent/servers`;
  const RBAC = "rbac/policy.ts: the caller's role scopes what it reads";
  return [
    route({
      method: "post", path: threads, operationId: "createThread", tag, summary: "Create a thread (a session) on an agent",
      security: V1, policy: "sessions/policy.ts: the agent's users", body: S.CreateThread, bodyExample: { title: "Support conversation", agentServerId: "logs-agent" },
      answer: { status: 201, description: "The thread", schema: S.Thread, example: ex.thread },
      handle: ({ principal, body }) => s.backplane.createThread(principal, body),
    }),
    route({
      method: "get", path: threads, operationId: "listThreads", tag, summary: "Threads, newest activity first",
      security: V1, policy: RBAC, query: S.ThreadListQuery,
      answer: { status: 200, description: "`{items, nextCursor, hasMore}`", schema: S.ThreadPage, example: { items: [ex.thread], nextCursor: null, hasMore: false } },
      handle: ({ principal, query }) => s.backplane.listThreads(principal, query),
    }),
    route({
      method: "get", path: `${threads}/{threadId}`, operationId: "getThread", tag, summary: "A thread with its messages (oldest first)",
      security: V1, policy: RBAC, answer: { status: 200, description: "The thread with `messages`", schema: S.ThreadWithMessages, example: { ...ex.thread, messages: [] } },
      handle: ({ principal, params }) => s.backplane.getThread(principal, params.threadId!),
    }),
    route({
      method: "post", path: `${threads}/{threadId}/messages`, operationId: "storeThreadMessage", tag, summary: "Store a message in a thread (idempotent by `id`)",
      security: V1, policy: "sessions/policy.ts loadSessionFor(append)", errors: [409],
      body: S.StoreThreadMessage, bodyExample: { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", role: "user", content: "How do refunds work?" },
      answer: {
        status: 201, description: "The stored message", schema: S.ThreadMessage,
        example: { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", threadId: "ses_4d1b2c", role: "user", content: "How do refunds work?", createdAt: T },
        also: [{ status: 200, description: "The stored message: the same `id` again, or a draft filled in" }],
      },
      handle: async ({ principal, params, body }) => {
        const { message, created } = await s.backplane.storeMessage(principal, params.threadId!, body);
        return new Reply(created ? 201 : 200, message);
      },
    }),
    route({
      method: "post", path: `${threads}/{threadId}/chat`, operationId: "chatThread", tag, summary: "Chat: a turn on the thread's agent, streamed as SSE until `done`",
      security: V1, policy: "sessions/policy.ts loadSessionFor(append)", errors: [409], body: S.ThreadChat, bodyExample: { message: "What can you do?" },
      answer: { status: 200, description: "The turn's events as SSE", contentType: "text/event-stream" },
      handle: async ({ principal, params, body, ctx }) => {
        const turn = await s.backplane.chat(principal, params.threadId!, body.message);
        await streamTurn(ctx, streams, turn, () => s.turns.get(principal, undefined, turn.session_id, turn.id));
        return ANSWERED;
      },
    }),
    route({
      method: "post", path: `${v1}/agent/rag`, operationId: "rag", tag, summary: "Role-scoped retrieval over the workspace's knowledge",
      security: V1, policy: "knowledge/policy.ts: items the caller's role may see", body: S.RagQuery, bodyExample: { text: "refund policy", topK: 5 },
      answer: { status: 200, description: "Matches, best first: `[{id, score, metadata, values: []}]`", schema: S.RagMatches },
      handle: ({ principal, body }) => s.knowledge.search(principal, body),
    }),
    route({
      method: "get", path: `${v1}/agent/tools`, operationId: "listTools", tag, summary: "The tools agents may execute",
      security: V1, policy: "none: the list is public to the workspace",
      answer: { status: 200, description: "`{items: [{name, description, inputSchema}]}`", schema: S.ToolList },
      handle: () => s.tools.list(),
    }),
    route({
      method: "post", path: `${v1}/agent/tools/{name}/execute`, operationId: "executeTool", tag, summary: "Execute a tool",
      security: V1, policy: "knowledge/policy.ts assertCanExecuteTools", body: S.ToolExecute, bodyExample: { input: { query: "refunds", topK: 3 } },
      answer: { status: 200, description: "`{output, sources?}`; a tool that fails: `{output: null, error}`", schema: S.ToolResult, example: { output: [], sources: [] } },
      handle: ({ principal, params, body }) => s.tools.execute(principal, params.name!, body.input, body.context),
    }),
    route({
      method: "post", path: servers, operationId: "createServer", tag, summary: "Register an agent server (makes an agent)",
      security: V1, policy: "agents/policy.ts assertCanCreateAgent", body: S.CreateServer, bodyExample: { name: "Support bot", url: "http://localhost:8080" },
      answer: { status: 201, description: "The server, with `endpointSecret` once", schema: S.ServerWithSecret, example: { ...server, endpointSecret: "whsec_…" } },
      handle: ({ principal, body }) => s.backplane.createServer(principal, body),
    }),
    route({
      method: "get", path: servers, operationId: "listServers", tag, summary: "Agent servers the caller may use",
      security: V1, policy: "agents/policy.ts: team access", answer: { status: 200, description: "`{items}`", schema: S.ServerList, example: { items: [server] } },
      handle: ({ principal }) => s.backplane.listServers(principal),
    }),
    route({
      method: "get", path: `${servers}/{serverId}`, operationId: "getServer", tag, summary: "Get an agent server",
      security: V1, policy: "agents/policy.ts: team access", answer: { status: 200, description: "The server", schema: S.Server, example: server },
      handle: ({ principal, params }) => s.backplane.getServer(principal, params.serverId!),
    }),
    route({
      method: "patch", path: `${servers}/{serverId}`, operationId: "updateServer", tag, summary: "Change an agent server",
      security: V1, policy: "agents/policy.ts: editors", body: S.UpdateServer, bodyExample: { status: "INACTIVE" },
      answer: { status: 200, description: "The server", schema: S.ServerWithSecret, example: server },
      handle: ({ principal, params, body }) => s.backplane.updateServer(principal, params.serverId!, body),
    }),
    route({
      method: "delete", path: `${servers}/{serverId}`, operationId: "deleteServer", tag, summary: "Delete an agent server (its agent and threads)",
      security: V1, policy: "agents/policy.ts: editors", answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.backplane.removeServer(principal, params.serverId!),
    }),
    route({
      method: "post", path: `${v1}/api-authenticated`, operationId: "apiAuthenticated", tag, summary: "Validate a turn token (while its turn runs) or a user token of this workspace",
      security: V1, policy: "backplane/policy.ts userTokenOwner / turn token claims", body: S.TokenToValidate, bodyExample: { token: "eyJhbGciOiJIUzI1NiJ9…" },
      answer: { status: 200, description: "`{id, user_metadata: {roleId?, customerRoleId?}}`", schema: S.TokenOwner, example: { id: "1", user_metadata: { roleId: "support", customerRoleId: "support" } } },
      handle: async ({ params, body }) => {
        const subject = await auth.subjectToValidate(body.token).catch((err: unknown) => {
          throw err instanceof Unauthorized ? new Unauthorized("The token is not a valid user or turn token of this workspace") : err;
        });
        return s.backplane.tokenOwner(subject, params.workspaceId!);
      },
    }),
    route({
      method: "get", path: `${v1}/rbac-status`, operationId: "rbacStatus", tag, summary: "Whether RBAC is on",
      security: V1, policy: "none beyond the workspace", answer: { status: 200, description: "`{rbacStatus}`", schema: S.RbacStatus, example: { rbacStatus: "INACTIVE" } },
      handle: ({ principal }) => s.backplane.rbacStatus(principal),
    }),
    route({
      method: "put", path: `${v1}/rbac-status`, operationId: "switchRbac", tag, summary: "Switch RBAC (master key or admin)",
      security: V1, policy: "rbac/policy.ts: master key or admin", body: S.RbacSwitch, bodyExample: { rbacEnabled: true },
      answer: { status: 200, description: "`{rbacStatus}`", schema: S.RbacStatus, example: { rbacStatus: "ACTIVE" } },
      handle: ({ principal, body }) => s.backplane.switchRbac(principal, body.rbacEnabled),
    }),
  ];
}
