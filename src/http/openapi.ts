/**
 * The OpenAPI 3.1 document of every REST route (`GET /openapi.json`), generated from the same zod
 * schemas that validate requests (src/schemas.ts, through zod's own `z.toJSONSchema`: OpenAPI 3.1
 * speaks JSON Schema 2020-12), so a schema change changes the spec. Adding a route is adding one
 * entry to OPERATIONS; test/http/openapi.test.ts fails while a registered route has no entry (or
 * an entry has no route).
 *
 * Request bodies and queries come from src/schemas.ts only. Responses carry a description, an
 * example and, for the main resources, a small schema; every error is `application/problem+json`
 * (RFC 9457) with the shared `Problem` schema.
 */
import { z } from "zod";
import { HISTORY_MAX } from "../domain/channels/service.js";
import * as S from "../schemas.js";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** The credentials an operation takes (all as `Authorization: Bearer`, except `apiKeyHeader`). */
export type Credential = "userToken" | "masterKey" | "agentKey" | "keyToken" | "apiKeyHeader";

/** Error statuses an operation may answer (each a problem+json response component). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 501 | 503;

export interface Operation {
  method: HttpMethod;
  /** OpenAPI form: `/api/agents/{agentId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Who may call it; [] for routes that need no credential. */
  security: Credential[];
  /** The JSON body, validated by this schema (src/schemas.ts). */
  body?: z.ZodType;
  bodyExample?: unknown;
  /** The query string, validated by this object schema (src/schemas.ts). */
  query?: z.ZodType;
  success: {
    status: number;
    description: string;
    /** A component schema name under #/components/schemas. */
    schema?: string;
    example?: unknown;
    /** `text/event-stream` answers (a turn's events as SSE). */
    stream?: boolean;
    contentType?: string;
  };
  /** Extra error statuses beyond those implied (401/403/429/503 with a credential, 404 with path params, 422/413 with input). */
  errors?: ErrorStatus[];
}

// ---- schemas: request (from src/schemas.ts) and response (the main resources) -----------------

/** JSON Schema (2020-12) of a zod schema as a request takes it: its input side, `$schema` left out. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

/** Request schemas not exported by src/schemas.ts under a name (made by functions there). */
const Publish = S.publishSchema(256 * 1024);
const ChannelHistory = S.channelHistoryQuery(HISTORY_MAX);

/** The component name of every request schema: its export name in src/schemas.ts. */
const schemaNames = new Map<z.ZodType, string>([
  [Publish, "PublishChannelMessage"],
  [ChannelHistory, "ChannelHistoryQuery"],
]);
for (const [name, value] of Object.entries(S)) {
  if (value instanceof z.ZodType && !schemaNames.has(value)) schemaNames.set(value, name);
}

export function schemaName(schema: z.ZodType): string {
  const name = schemaNames.get(schema);
  if (!name) throw new Error("openapi: a request schema that src/schemas.ts does not export (name it in schemaNames)");
  return name;
}

const iso = { type: "string", format: "date-time" } as const;
const nullable = (s: object) => ({ anyOf: [s, { type: "null" }] });
const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const obj = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({ type: "object", properties, required });

/** Response schemas of the main resources (what the hub answers; requests are the zod schemas). */
const RESPONSE_SCHEMAS: Record<string, object> = {
  Problem: {
    type: "object",
    description: "An RFC 9457 problem: every error answer, and the `error` of a refused socket ack.",
    properties: {
      type: { type: "string", description: "A URN naming the kind of problem", examples: ["urn:agenthub:problem:validation"] },
      title: str,
      status: int,
      detail: str,
      errors: {
        type: "array",
        description: "422 only: each bad field",
        items: obj({ field: str, message: str }),
      },
    },
    required: ["type", "title", "status", "detail"],
  },
  Agent: obj({
    id: str,
    workspace_id: str,
    name: str,
    description: nullable(str),
    server_url: nullable(str),
    created_by: nullable(int),
    created_at: iso,
    updated_at: iso,
    access_level: { enum: ["viewer", "editor"] },
  }),
  TeamMember: obj({ user_id: int, name: nullable(str), email: nullable(str), avatar: nullable(str), access_level: { enum: ["viewer", "editor"] }, assigned_at: iso }),
  Members: obj({ members: { type: "array", items: { $ref: "#/components/schemas/TeamMember" } } }),
  Session: obj({
    id: str,
    agent_id: nullable(str),
    owner_id: nullable(int),
    title: str,
    archived: { type: "boolean" },
    created_at: iso,
    updated_at: iso,
    last_message_at: nullable(iso),
    message_count: int,
  }),
  SessionPage: obj({ sessions: { type: "array", items: { $ref: "#/components/schemas/Session" } }, next_cursor: nullable(str) }),
  Message: {
    type: "object",
    description: "A whole turn: content and, for an agent's answer, its thinking, tool calls, sources, model and usage.",
    properties: {
      id: { type: "string", format: "uuid" },
      role: { enum: ["user", "assistant", "system", "tool"] },
      content: { anyOf: [str, { type: "array", items: { type: "object", properties: { type: str }, required: ["type"] } }] },
      thinking: {},
      toolCalls: { type: "array", items: { type: "object" } },
      sources: { type: "array", items: { type: "object", properties: { id: str, type: str, title: str, snippet: str }, required: ["id", "type"] } },
      model: str,
      finishReason: str,
      tokenUsage: obj({ inputTokens: int, outputTokens: int, totalTokens: int }),
      metadata: { type: "object" },
      seq: { type: "integer", description: "From 1, one more per message of the session" },
      createdAt: iso,
    },
    required: ["id", "role", "content", "seq", "createdAt"],
  },
  MessagePage: obj({ messages: { type: "array", items: { $ref: "#/components/schemas/Message" } }, next_cursor: nullable(str) }),
  Turn: {
    type: "object",
    properties: {
      id: str,
      session_id: str,
      agent_id: str,
      status: { enum: ["queued", "running", "completed", "failed", "cancelled"] },
      trigger_message_id: str,
      message_id: str,
      error: str,
      created_at: iso,
      started_at: nullable(iso),
      ended_at: nullable(iso),
    },
    required: ["id", "session_id", "agent_id", "status", "trigger_message_id", "message_id", "created_at", "started_at", "ended_at"],
  },
  Channel: obj({ id: str, workspaceId: str, name: str, description: nullable(str), subscribers: { type: "array", items: str }, messageCount: int, createdAt: iso }),
  ChannelMessage: obj({ id: str, channelId: str, agentId: str, message: str, metadata: nullable({ type: "object" }), seq: int, createdAt: iso }),
  Group: obj({
    id: str,
    workspace_id: str,
    name: str,
    agentIds: { type: "array", items: str },
    allowed_users: { type: "array", items: str },
    allowed_groups: { type: "array", items: str },
    created_by: nullable(int),
    created_at: iso,
    updated_at: iso,
  }),
  ShareLink: obj({ token: str, url: str, expires_at: iso }),
  AgentKey: obj({ id: str, name: nullable(str), prefix: str, scopes: { type: "array", items: str }, agent_id: str, role: nullable(str), role_bound: { type: "boolean" }, created_at: iso, expires_at: nullable(iso), revoked_at: nullable(iso) }),
};

// ---- examples ---------------------------------------------------------------------------------

const T = "2026-11-24T10:00:00.000Z";
const ex = {
  agent: { id: "logs-agent", workspace_id: "ws_8f2k3j", name: "Logs agent", description: "Reads the logs", server_url: null, created_by: 1, created_at: T, updated_at: T, access_level: "editor" },
  session: { id: "ses_4d1b2c", agent_id: "logs-agent", owner_id: 1, title: "First questions", archived: false, created_at: T, updated_at: T, last_message_at: T, message_count: 2 },
  userMessage: { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", role: "user", content: "What can you do?", seq: 1, createdAt: T },
  answer: {
    id: "0b7e4c1d-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
    role: "assistant",
    content: "I read the logs.",
    thinking: [{ id: "think_1", title: "Reading the question", content: "…", status: "completed", durationMs: 410 }],
    toolCalls: [{ id: "call_1", name: "semantic_search", input: { query: "What can you do?" }, status: "completed", durationMs: 120 }],
    sources: [{ id: "kn_1#0", type: "knowledge", title: "Runbook" }],
    model: "agenthub-demo",
    finishReason: "stop",
    tokenUsage: { inputTokens: 4, outputTokens: 4, totalTokens: 8 },
    seq: 2,
    createdAt: T,
  },
  turn: {
    id: "turn_9a8b7c",
    session_id: "ses_4d1b2c",
    agent_id: "logs-agent",
    status: "running",
    trigger_message_id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11",
    message_id: "0b7e4c1d-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
    created_at: T,
    started_at: T,
    ended_at: null,
  },
  channel: { id: "ch_5e6f7a", workspaceId: "ws_8f2k3j", name: "incidents", description: "Where agents post incidents", subscribers: ["logs-agent"], messageCount: 41, createdAt: T },
  channelMessage: { id: "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", channelId: "ch_5e6f7a", agentId: "logs-agent", message: "Disk 91% on db-2", metadata: { host: "db-2" }, seq: 42, createdAt: T },
  group: { id: "grp_1a2b3c", workspace_id: "ws_8f2k3j", name: "On-call", agentIds: ["logs-agent", "metrics-agent"], allowed_users: ["bob@example.com"], allowed_groups: [], created_by: 1, created_at: T, updated_at: T },
  member: { user_id: 2, name: "Bob", email: "bob@example.com", avatar: null, access_level: "viewer", assigned_at: T },
  key: { id: "key_7b8c9d", name: "prod", prefix: "g_agent_Xy12", scopes: ["sessions:read", "channels:read"], agent_id: "logs-agent", role: "support", role_bound: true, created_at: T, expires_at: null, revoked_at: null },
  thread: { id: "ses_4d1b2c", title: "Support conversation", status: "ACTIVE", agentServerId: "logs-agent", userId: "1", roleId: null, spaceId: null, temporalUserId: null, createdAt: T, updatedAt: T, deletedAt: null },
  knowledge: { id: "kn_1", title: "Refund Policy", content: "Refunds are processed within 5 business days.", roles: [], taxonomies: [], language: null, source: null, created_at: T },
};
const SSE_EXAMPLE = [
  "event: message_start",
  'data: {"threadId":"ses_4d1b2c","messageId":"0b7e4c1d-…","role":"assistant","model":"agenthub-demo"}',
  "",
  "event: content_delta",
  'data: {"threadId":"ses_4d1b2c","messageId":"0b7e4c1d-…","delta":"I read "}',
  "",
  "event: done",
  'data: {"threadId":"ses_4d1b2c","messageId":"0b7e4c1d-…"}',
  "",
].join("\n");

// ---- the operations ---------------------------------------------------------------------------

const ANY: Credential[] = ["userToken", "masterKey", "agentKey"];
const V1: Credential[] = ["userToken", "keyToken", "masterKey", "agentKey"];

type Spec = Omit<Operation, "method" | "path" | "operationId" | "summary" | "tags" | "security" | "success"> & {
  security?: Credential[];
  /** Shorthand for success: [status, description, schema?, example?]. */
  ok: [status: number, description: string, schema?: string, example?: unknown] | Operation["success"];
};

function op(method: HttpMethod, path: string, operationId: string, tags: string | string[], summary: string, spec: Spec): Operation {
  const { ok, security, ...rest } = spec;
  const success = Array.isArray(ok)
    ? { status: ok[0], description: ok[1], ...(ok[2] ? { schema: ok[2] } : {}), ...(ok[3] !== undefined ? { example: ok[3] } : {}) }
    : ok;
  return { method, path, operationId, summary, tags: Array.isArray(tags) ? tags : [tags], security: security ?? ANY, success, ...rest };
}

const list = (key: string, schema: string, example: unknown, cursor = "next_cursor") => ({
  type: "object",
  properties: { [key]: { type: "array", items: { $ref: `#/components/schemas/${schema}` } }, [cursor]: nullable(str) },
  required: [key],
  example: { [key]: [example], [cursor]: null },
});

/** Operations on a channel, under both of its bases (`/team-channels` and `/api/team-channels`). */
function channelOperations(base: string, suffix: string): Operation[] {
  const id = (name: string) => `${name}${suffix}`;
  const tag = "Team channels";
  return [
    op("post", base, id("createChannel"), tag, "Create a team channel", { body: S.CreateChannel, bodyExample: { name: "incidents", description: "Where agents post incidents" }, ok: [201, "The channel", "Channel", ex.channel], errors: [409] }),
    op("get", base, id("listChannels"), tag, "List the workspace's channels", { query: S.PageQuery, ok: { status: 200, description: "`{channels, nextCursor}`, by name", example: { channels: [ex.channel], nextCursor: null } } }),
    op("get", `${base}/{channelId}`, id("getChannel"), tag, "Get a channel", { ok: [200, "The channel", "Channel", ex.channel] }),
    op("delete", `${base}/{channelId}`, id("deleteChannel"), tag, "Delete a channel", { ok: [204, "Deleted"] }),
    op("post", `${base}/{channelId}/subscribe`, id("subscribeChannel"), tag, "Subscribe an agent to the channel (idempotent)", { body: S.Subscription, bodyExample: { agentId: "logs-agent" }, ok: [200, "The channel", "Channel", ex.channel] }),
    op("post", `${base}/{channelId}/unsubscribe`, id("unsubscribeChannel"), tag, "Unsubscribe an agent (idempotent)", { body: S.Subscription, bodyExample: { agentId: "logs-agent" }, ok: [200, "The channel", "Channel", ex.channel] }),
    op("post", `${base}/{channelId}/messages`, id("publishChannelMessage"), tag, "Broadcast a message to the channel's subscribers", {
      description: "`message` and `metadata` together are at most MESSAGE_MAX_BYTES. The same `id` again with the same body answers 200 with the stored message; another body, 409.",
      body: Publish,
      bodyExample: { agentId: "logs-agent", message: "Disk 91% on db-2", metadata: { host: "db-2" } },
      ok: [201, "The stored message (200 when the same `id` was sent before with the same body)", "ChannelMessage", ex.channelMessage],
      errors: [409],
    }),
    op("get", `${base}/{channelId}/messages`, id("channelHistory"), tag, "Channel history", {
      description: "Without `since` or `cursor`, the most recent `limit` messages, oldest first; with `since`, messages after that time and a `nextCursor` when more follow.",
      query: ChannelHistory,
      ok: { status: 200, description: "`{messages, nextCursor}`", example: { messages: [ex.channelMessage], nextCursor: null } },
    }),
  ];
}

export const OPERATIONS: Operation[] = [
  // operations
  op("get", "/healthz", "healthz", "Operations", "Liveness: the process is up", { security: [], ok: [200, "`{status: \"ok\"}`", undefined, { status: "ok" }] }),
  op("get", "/readyz", "readyz", "Operations", "Readiness: the database (and Redis) answer", { security: [], ok: [200, "Ready", undefined, { status: "ready" }], errors: [503] }),
  op("get", "/metrics", "metrics", "Operations", "Prometheus metrics", {
    description: "Protected by `METRICS_TOKEN` (as a Bearer token) when it is set.",
    security: [],
    ok: { status: 200, description: "Prometheus text exposition format", contentType: "text/plain", example: "# HELP agenthub_sockets_connected …\n" },
    errors: [401],
  }),
  op("get", "/openapi.json", "openapi", "Operations", "This document", { security: [], ok: [200, "The OpenAPI 3.1 document"] }),

  // who am I
  op("get", "/api/me", "me", "Me", "Who the credential is", {
    ok: [200, "The caller: a user (`user_id` assigned on first sight), a master key, or an agent key with its scopes", undefined, { kind: "user", workspace_id: "ws_8f2k3j", user_id: 1, sub: "alice", email: "alice@example.com", name: "Alice", groups: [], role: null, expires_at: T }],
  }),

  // agents, teams, keys
  op("post", "/api/agents", "createAgent", "Agents", "Create an agent (the creator becomes its editor)", {
    body: S.CreateAgent,
    bodyExample: { id: "logs-agent", name: "Logs agent", description: "Reads the logs" },
    ok: [201, "The agent; with `endpoint_secret` (shown once) when `server_url` was set", "Agent", ex.agent],
    errors: [409],
  }),
  op("get", "/api/agents", "listAgents", "Agents", "Agents the caller can access", { query: S.PageQuery, ok: [200, "`{agents, next_cursor}`", undefined, { agents: [ex.agent], next_cursor: null }] }),
  op("get", "/api/agents/{agentId}", "getAgent", "Agents", "Get an agent", { ok: [200, "The agent", "Agent", ex.agent] }),
  op("patch", "/api/agents/{agentId}", "updateAgent", "Agents", "Change an agent (editors)", { body: S.UpdateAgent, bodyExample: { description: "Reads and summarises the logs" }, ok: [200, "The agent", "Agent", ex.agent] }),
  op("delete", "/api/agents/{agentId}", "deleteAgent", "Agents", "Delete an agent (editors)", { ok: [204, "Deleted"] }),
  op("post", "/api/agents/{agentId}/endpoint-secret", "rotateEndpointSecret", "Agents", "A new endpoint secret for the agent's server (shown once)", {
    ok: [201, "`{endpoint_secret}` (Standard Webhooks, `whsec_…`)", undefined, { endpoint_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }],
  }),
  op("get", "/api/agents/{agentId}/team", "getTeam", "Teams", "The agent's team", { ok: [200, "`{members}`", "Members", { members: [ex.member] }] }),
  op("post", "/api/agents/{agentId}/team", "addTeamMember", "Teams", "Add a user to the agent's team (editors)", { body: S.AddMember, bodyExample: { user_id: 2, access_level: "viewer" }, ok: [201, "`{members}`", "Members", { members: [ex.member] }] }),
  op("delete", "/api/agents/{agentId}/team/{userId}", "removeTeamMember", "Teams", "Remove a user from the team (access ends at once, sockets included)", { ok: [200, "`{members}`", "Members", { members: [] }] }),
  op("get", "/api/workspaces/{workspaceId}/team", "workspaceTeam", "Teams", "The workspace's people", {
    query: S.PageQuery,
    ok: [200, "`{members: [{user_id, name, email, avatar}], next_cursor}`", undefined, { members: [{ user_id: 2, name: "Bob", email: "bob@example.com", avatar: null }], next_cursor: null }],
  }),
  op("post", "/api/agents/{agentId}/keys", "createAgentKey", "Keys", "Create an agent key (the key is shown once); it never carries more than its creator: `knowledge:write` and naming a `role` other than one's own are for the master key and admins (403)", {
    body: S.CreateKey,
    bodyExample: { name: "prod", scopes: ["sessions:read", "sessions:write", "channels:read", "channels:publish"] },
    ok: [201, "`{id, key, prefix, scopes, …}`: `key` (`g_agent_…`) is shown only here", undefined, { ...ex.key, key: "g_agent_Xy12…" }],
  }),
  op("get", "/api/agents/{agentId}/keys", "listAgentKeys", "Keys", "The agent's keys, without secrets", { ok: [200, "`{keys, next_cursor: null}`", undefined, { keys: [ex.key], next_cursor: null }] }),
  op("delete", "/api/agents/{agentId}/keys/{keyId}", "revokeAgentKey", "Keys", "Revoke an agent key (it stops working at once, on every node)", { ok: [204, "Revoked"] }),
  op("post", "/api/workspace/master-keys", "createMasterKey", "Keys", "Create a master key (master key or admin; shown once)", {
    security: ["masterKey", "userToken"],
    body: S.CreateMasterKey,
    bodyExample: { name: "deploy" },
    ok: [201, "`{id, key, prefix, name, created_at, created_by}`", undefined, { id: "key_1a2b3c", key: "g_master_…", prefix: "g_master_Ab12", name: "deploy", created_at: T, created_by: null }],
  }),
  op("get", "/api/workspace/master-keys", "listMasterKeys", "Keys", "Live master keys, without secrets", {
    security: ["masterKey", "userToken"],
    ok: [200, "`{keys, next_cursor: null}`", undefined, { keys: [{ id: "key_1a2b3c", name: "deploy", prefix: "g_master_Ab12", created_at: T, created_by: null }], next_cursor: null }],
  }),
  op("delete", "/api/workspace/master-keys/{keyId}", "revokeMasterKey", "Keys", "Revoke a master key (not the last live one: 409)", { security: ["masterKey", "userToken"], ok: [204, "Revoked"], errors: [409] }),

  // sessions and messages
  op("post", "/api/agents/{agentId}/sessions", "createSession", "Sessions", "Start a session with the agent", { body: S.CreateSession, bodyExample: { title: "First questions" }, ok: [201, "The session", "Session", { ...ex.session, message_count: 0, last_message_at: null }] }),
  op("get", "/api/agents/{agentId}/sessions", "listSessions", "Sessions", "The caller's sessions with the agent (not archived)", { query: S.SessionListQuery, ok: [200, "`{sessions, next_cursor}`", "SessionPage", { sessions: [ex.session], next_cursor: null }] }),
  op("get", "/api/agents/{agentId}/sessions/archived", "listArchivedSessions", "Sessions", "Archived sessions", { query: S.SessionListQuery, ok: [200, "`{sessions, next_cursor}`", "SessionPage", { sessions: [{ ...ex.session, archived: true }], next_cursor: null }] }),
  op("delete", "/api/agents/{agentId}/sessions/archived", "deleteArchivedSessions", "Sessions", "Delete every archived session of the caller with this agent", { ok: [204, "Deleted"] }),
  op("get", "/api/agents/{agentId}/sessions/{sessionId}", "getSession", "Sessions", "Get a session", { ok: [200, "The session", "Session", ex.session] }),
  op("patch", "/api/agents/{agentId}/sessions/{sessionId}", "renameSession", "Sessions", "Rename a session", { body: S.RenameSession, bodyExample: { title: "Disk alerts" }, ok: [204, "Renamed"] }),
  op("delete", "/api/agents/{agentId}/sessions/{sessionId}", "deleteSession", "Sessions", "Delete a session (its share links die)", { ok: [204, "Deleted"] }),
  op("post", "/api/agents/{agentId}/sessions/{sessionId}/archive", "archiveSession", "Sessions", "Archive a session", { ok: [204, "Archived"] }),
  op("post", "/api/agents/{agentId}/sessions/{sessionId}/restore", "restoreSession", "Sessions", "Restore an archived session", { ok: [204, "Restored"] }),
  op("get", "/api/agents/{agentId}/sessions/{sessionId}/messages", "listMessages", "Sessions", "The session's messages, oldest first", {
    description: "`after_seq` resumes after a seq (instead of `cursor`); `since` only messages created after that time.",
    query: S.MessagesQuery,
    ok: [200, "`{messages, next_cursor}`", "MessagePage", { messages: [ex.userMessage, ex.answer], next_cursor: null }],
  }),
  op("post", "/api/agents/{agentId}/sessions/{sessionId}/messages", "appendMessage", "Sessions", "Append a message (idempotent by `id`)", {
    body: S.AppendMessage,
    bodyExample: { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", role: "user", content: "What can you do?" },
    ok: [201, "The stored message (200: the same `id` and body again, no duplicate)", "Message", ex.userMessage],
    errors: [409],
  }),

  // turns
  op("post", "/api/agents/{agentId}/sessions/{sessionId}/turns", "startTurn", "Turns", "Start a turn: store the user's message and run the agent", {
    description:
      "Answers 202 `{turn, message}`. With `Accept: text/event-stream` the answer is 200 and the turn's events as SSE (`event: <type>`, `data: {threadId, messageId, …}`) until `done`. A turn already running on the session: 409.",
    body: S.StartTurn,
    bodyExample: { content: "What can you do?" },
    ok: { status: 202, description: "`{turn, message}` (or, with `Accept: text/event-stream`, 200 and the event stream)", example: { turn: { ...ex.turn, status: "queued", started_at: null }, message: ex.userMessage }, stream: true },
    errors: [409],
  }),
  op("get", "/api/agents/{agentId}/sessions/{sessionId}/turns/{turnId}", "getTurn", "Turns", "A turn, with `seq` and `snapshot` (the answer so far)", {
    ok: [200, "The turn with `seq` and `snapshot`", undefined, { ...ex.turn, seq: 12, snapshot: { content: "I read ", thinking: [], toolCalls: [], sources: [], metadata: {} } }],
  }),
  op("post", "/api/agents/{agentId}/sessions/{sessionId}/turns/{turnId}/cancel", "cancelTurn", "Turns", "Cancel a turn: it ends at once, keeping what arrived before the cancel", { ok: [202, "The turn, already `cancelled` (or as it ended, had it ended first)", "Turn", { ...ex.turn, status: "cancelled", ended_at: T }] }),

  // share links
  op("post", "/api/agents/{agentId}/sessions/{sessionId}/share", "createShareLink", "Sharing", "Create a share link", { body: S.CreateShare, bodyExample: { expires_in_hours: 24 }, ok: [201, "`{token, url, expires_at}`", "ShareLink", { token: "q3…", url: "https://hub.example.com/shared/q3…", expires_at: T }] }),
  op("delete", "/api/agents/{agentId}/sessions/{sessionId}/share", "revokeShareLinks", "Sharing", "Revoke the session's share links (they die at once)", { ok: [204, "Revoked"] }),
  ...["/api/shared/{token}", "/shared/{token}"].map((path, i) =>
    op("get", path, i === 0 ? "sharedView" : "sharedViewAtLink", "Sharing", "The read-only view of a shared session (no credential)", {
      description: "An expired, revoked or unknown token answers 404. Answers with `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `X-Robots-Tag: noindex`.",
      security: [],
      query: S.PageQuery,
      ok: [200, "`{title, session, agent, messages, next_cursor, expires_at}`", undefined, { title: "First questions", session: { id: "ses_4d1b2c", title: "First questions", created_at: T }, agent: { id: "logs-agent", name: "Logs agent" }, messages: [ex.userMessage], next_cursor: null, expires_at: T }],
      errors: [404, 429],
    }),
  ),
  op("post", "/api/shared/{token}/clone", "cloneShared", "Sharing", "Clone a shared session into a new one of the caller (a user)", { security: ["userToken"], ok: [201, "The new session", "Session", ex.session] }),

  // groups
  op("get", "/api/groups", "listGroups", "Groups", "Groups the caller belongs to", { query: S.PageQuery, ok: [200, "`{groups, next_cursor}`", undefined, { groups: [ex.group], next_cursor: null }] }),
  op("post", "/api/groups", "createGroup", "Groups", "Create a group of agents", {
    body: S.GroupBody,
    bodyExample: { name: "On-call", agentIds: ["logs-agent", "metrics-agent"], allowed_users: ["bob@example.com"] },
    ok: [201, "The group", "Group", ex.group],
  }),
  op("get", "/api/groups/{groupId}", "getGroup", "Groups", "Get a group", { ok: [200, "The group", "Group", ex.group] }),
  op("put", "/api/groups/{groupId}", "replaceGroup", "Groups", "Replace a group (creator or master key)", { body: S.GroupBody, bodyExample: { name: "On-call", agentIds: ["logs-agent", "metrics-agent"] }, ok: [200, "The group", "Group", ex.group] }),
  op("delete", "/api/groups/{groupId}", "deleteGroup", "Groups", "Delete a group (creator or master key)", { ok: [204, "Deleted"] }),
  op("get", "/api/groups/{groupId}/sessions", "listGroupSessions", "Groups", "Sessions shared in the group", { query: S.PageQuery, ok: [200, "`{sessions, next_cursor}`", undefined, { sessions: [{ group_id: "grp_1a2b3c", session_id: "ses_4d1b2c", added_by: 1, added_at: T }], next_cursor: null }] }),
  op("post", "/api/groups/{groupId}/sessions/{sessionId}", "shareSessionInGroup", "Groups", "Share a session in the group", { ok: [201, "The group session", undefined, { group_id: "grp_1a2b3c", session_id: "ses_4d1b2c", added_by: 1, added_at: T }] }),
  op("delete", "/api/groups/{groupId}/sessions/{sessionId}", "unshareSessionInGroup", "Groups", "Stop sharing a session in the group", { ok: [204, "Removed"] }),

  // group conversations: ask the group
  op("post", "/api/groups/{groupId}/conversations", "createConversation", "Group conversations", "Start a conversation of the group (any member)", {
    body: S.CreateConversation,
    bodyExample: { title: "Why is db-2 slow?" },
    ok: [201, "The conversation: a session with `agent_id: null` and `group_id`", "Session", { ...ex.session, agent_id: null, group_id: "grp_1a2b3c", message_count: 0, last_message_at: null }],
  }),
  op("get", "/api/groups/{groupId}/conversations", "listConversations", "Group conversations", "The group's conversations", { query: S.PageQuery, ok: [200, "`{sessions, next_cursor}`", "SessionPage", { sessions: [{ ...ex.session, agent_id: null, group_id: "grp_1a2b3c" }], next_cursor: null }] }),
  op("get", "/api/groups/{groupId}/conversations/{sessionId}", "getConversation", "Group conversations", "Get a conversation", { ok: [200, "The conversation", "Session", { ...ex.session, agent_id: null, group_id: "grp_1a2b3c" }] }),
  op("patch", "/api/groups/{groupId}/conversations/{sessionId}", "renameConversation", "Group conversations", "Rename a conversation", { body: S.RenameSession, bodyExample: { title: "db-2 latency" }, ok: [204, "Renamed"] }),
  op("delete", "/api/groups/{groupId}/conversations/{sessionId}", "deleteConversation", "Group conversations", "Delete a conversation", { ok: [204, "Deleted"] }),
  op("get", "/api/groups/{groupId}/conversations/{sessionId}/messages", "listConversationMessages", "Group conversations", "The conversation's messages, oldest first (answers carry `agentId`)", {
    query: S.MessagesQuery,
    ok: [200, "`{messages, next_cursor}`", "MessagePage", { messages: [ex.userMessage, { ...ex.answer, agentId: "logs-agent" }], next_cursor: null }],
  }),
  op("post", "/api/groups/{groupId}/conversations/{sessionId}/ask", "ask", "Group conversations", "Ask the group: the chosen agents answer, each in a turn", {
    description: "`strategy`: `mentions` (agents named `@agent-id`; the default when any is named), `all` (the default otherwise), `match`, `first`, `round_robin`; `agentIds` narrows the roster. One ask at a time per conversation (409).",
    body: S.AskBody,
    bodyExample: { content: "@logs-agent why is db-2 slow?", strategy: "mentions" },
    ok: [202, "`{ask, message}`", undefined, { ask: { id: "ask_1a2b3c", session_id: "ses_4d1b2c", strategy: "mentions", status: "running", agents: [{ agentId: "logs-agent", turnId: "turn_9a8b7c", status: "queued" }], created_at: T }, message: ex.userMessage }],
    errors: [409],
  }),
  op("get", "/api/groups/{groupId}/conversations/{sessionId}/asks/{askId}", "getAsk", "Group conversations", "Get an ask", { ok: [200, "The ask", undefined, { id: "ask_1a2b3c", session_id: "ses_4d1b2c", strategy: "all", status: "completed", agents: [{ agentId: "logs-agent", turnId: "turn_9a8b7c", status: "completed" }], created_at: T }] }),
  op("post", "/api/groups/{groupId}/conversations/{sessionId}/asks/{askId}/cancel", "cancelAsk", "Group conversations", "Cancel an ask (its running turns)", { ok: [202, "The ask"] }),
  op("get", "/api/groups/{groupId}/conversations/{sessionId}/turns/{turnId}", "getConversationTurn", "Group conversations", "A turn of the conversation, with `seq` and `snapshot`", { ok: [200, "The turn with `seq` and `snapshot`"] }),
  op("post", "/api/groups/{groupId}/conversations/{sessionId}/share", "shareConversation", "Group conversations", "Create a share link for the conversation", { body: S.CreateShare, bodyExample: { expires_in_hours: 24 }, ok: [201, "`{token, url, expires_at}`", "ShareLink"] }),
  op("delete", "/api/groups/{groupId}/conversations/{sessionId}/share", "revokeConversationShare", "Group conversations", "Revoke the conversation's share links", { ok: [204, "Revoked"] }),

  // team channels, and the same under /api
  ...channelOperations("/team-channels", ""),
  ...channelOperations("/api/team-channels", "ViaApi"),

  // knowledge
  op("post", "/api/knowledge", "createKnowledge", "Knowledge", "Add a knowledge item (master key, admins, keys with knowledge:write)", {
    body: S.CreateKnowledge,
    bodyExample: { title: "Refund Policy", content: "Refunds are processed within 5 business days." },
    ok: [201, "The item", undefined, ex.knowledge],
  }),
  op("get", "/api/knowledge", "listKnowledge", "Knowledge", "Knowledge the caller's role may see", { query: S.PageQuery, ok: [200, "`{items, next_cursor}`", undefined, { items: [ex.knowledge], next_cursor: null }] }),
  op("get", "/api/knowledge/{knowledgeId}", "getKnowledge", "Knowledge", "Get a knowledge item", { ok: [200, "The item", undefined, ex.knowledge] }),
  op("delete", "/api/knowledge/{knowledgeId}", "deleteKnowledge", "Knowledge", "Delete a knowledge item", { ok: [204, "Deleted"] }),

  // the Agent Backplane (Sharely-compatible)
  op("post", "/workspaces/{workspaceId}/generate-access-key-token", "generateAccessKeyToken", "Backplane", "Exchange an API key (header `x-api-key`) for a short-lived token acting as it", {
    security: ["apiKeyHeader"],
    body: S.KeyExchange,
    bodyExample: { customerRoleId: "support" },
    ok: [201, "`{token}`: a JWT living 1 hour (less when the key expires sooner), acting with the role asked for (`roleId` or `customerRoleId`); a role-bound key only with its own (another: 403)", undefined, { token: "eyJhbGciOiJIUzI1NiIsInR5cCI6ImFnZW50aHViLWtleStqd3QifQ…" }],
    errors: [401, 403, 404, 422, 429, 501],
  }),
  op("post", "/v1/workspaces/{workspaceId}/agent/threads", "createThread", "Backplane", "Create a thread (a session) on an agent", {
    security: V1,
    body: S.CreateThread,
    bodyExample: { title: "Support conversation", agentServerId: "logs-agent" },
    ok: [201, "The thread", undefined, ex.thread],
  }),
  op("get", "/v1/workspaces/{workspaceId}/agent/threads", "listThreads", "Backplane", "Threads, newest activity first", { security: V1, query: S.ThreadListQuery, ok: [200, "`{items, nextCursor, hasMore}`", undefined, { items: [ex.thread], nextCursor: null, hasMore: false }] }),
  op("get", "/v1/workspaces/{workspaceId}/agent/threads/{threadId}", "getThread", "Backplane", "A thread with its messages (oldest first)", { security: V1, ok: [200, "The thread with `messages`", undefined, { ...ex.thread, messages: [] }] }),
  op("post", "/v1/workspaces/{workspaceId}/agent/threads/{threadId}/messages", "storeThreadMessage", "Backplane", "Store a message in a thread (idempotent by `id`)", {
    security: V1,
    body: S.StoreThreadMessage,
    bodyExample: { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", role: "user", content: "How do refunds work?" },
    ok: [201, "The stored message (200 for the same `id` again, or a draft filled in)", undefined, { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", threadId: "ses_4d1b2c", role: "user", content: "How do refunds work?", createdAt: T }],
    errors: [409],
  }),
  op("post", "/v1/workspaces/{workspaceId}/agent/threads/{threadId}/chat", "chatThread", "Backplane", "Chat: a turn on the thread's agent, streamed as SSE until `done`", {
    security: V1,
    body: S.ThreadChat,
    bodyExample: { message: "What can you do?" },
    ok: { status: 200, description: "The turn's events as SSE", contentType: "text/event-stream", example: SSE_EXAMPLE },
    errors: [409],
  }),
  op("post", "/v1/workspaces/{workspaceId}/agent/rag", "rag", "Backplane", "Role-scoped retrieval over the workspace's knowledge", {
    security: V1,
    body: S.RagQuery,
    bodyExample: { text: "refund policy", topK: 5 },
    ok: [200, "Matches, best first: `[{id, score, metadata, values: []}]`", undefined, [{ id: "kn_1#0", score: 0.6, metadata: { text: "Refunds are processed…", source: null, knowledgeId: "kn_1", title: "Refund Policy", workspaceId: "ws_8f2k3j", language: null }, values: [] }]],
  }),
  op("get", "/v1/workspaces/{workspaceId}/agent/tools", "listTools", "Backplane", "The tools agents may execute", {
    security: V1,
    ok: [200, "`{items: [{name, description, inputSchema}]}`", undefined, { items: [{ name: "semantic_search", description: "Search the workspace's knowledge", inputSchema: { type: "object" } }] }],
  }),
  op("post", "/v1/workspaces/{workspaceId}/agent/tools/{name}/execute", "executeTool", "Backplane", "Execute a tool", {
    security: V1,
    body: S.ToolExecute,
    bodyExample: { input: { query: "refunds", topK: 3 } },
    ok: [200, "`{output, sources?}`; a tool that fails: `{output: null, error}`", undefined, { output: [], sources: [] }],
  }),
  op("post", "/v1/workspaces/{workspaceId}/agent/servers", "createServer", "Backplane", "Register an agent server (makes an agent)", {
    security: V1,
    body: S.CreateServer,
    bodyExample: { name: "Support bot", url: "http://localhost:8080" },
    ok: [201, "The server, with `endpointSecret` once", undefined, { id: "support-bot-1a2b3c", name: "Support bot", url: "http://localhost:8080", status: "ACTIVE", metadata: null, endpointSecret: "whsec_…", createdAt: T, updatedAt: T }],
  }),
  op("get", "/v1/workspaces/{workspaceId}/agent/servers", "listServers", "Backplane", "Agent servers the caller may use", { security: V1, ok: [200, "`{items}`", undefined, { items: [] }] }),
  op("get", "/v1/workspaces/{workspaceId}/agent/servers/{serverId}", "getServer", "Backplane", "Get an agent server", { security: V1, ok: [200, "The server"] }),
  op("patch", "/v1/workspaces/{workspaceId}/agent/servers/{serverId}", "updateServer", "Backplane", "Change an agent server", { security: V1, body: S.UpdateServer, bodyExample: { status: "INACTIVE" }, ok: [200, "The server"] }),
  op("delete", "/v1/workspaces/{workspaceId}/agent/servers/{serverId}", "deleteServer", "Backplane", "Delete an agent server (its agent and threads)", { security: V1, ok: [204, "Deleted"] }),
  op("post", "/v1/workspaces/{workspaceId}/api-authenticated", "apiAuthenticated", "Backplane", "Validate a turn token (while its turn runs) or a user token of this workspace", {
    security: V1,
    body: S.TokenToValidate,
    bodyExample: { token: "eyJhbGciOiJIUzI1NiJ9…" },
    ok: [200, "`{id, user_metadata: {roleId?, customerRoleId?}}`", undefined, { id: "1", user_metadata: { roleId: "support", customerRoleId: "support" } }],
  }),
  op("get", "/v1/workspaces/{workspaceId}/rbac-status", "rbacStatus", "Backplane", "Whether RBAC is on", { security: V1, ok: [200, "`{rbacStatus}`", undefined, { rbacStatus: "INACTIVE" }] }),
  op("put", "/v1/workspaces/{workspaceId}/rbac-status", "switchRbac", "Backplane", "Switch RBAC (master key or admin)", { security: V1, body: S.RbacSwitch, bodyExample: { rbacEnabled: true }, ok: [200, "`{rbacStatus}`", undefined, { rbacStatus: "ACTIVE" }] }),
];

// ---- the document -----------------------------------------------------------------------------

/** Path parameters: their schema (from src/schemas.ts where there is one) and meaning. */
const PATH_PARAMS: Record<string, { schema: object; description: string }> = {
  agentId: { schema: jsonSchemaOf(S.AgentId), description: "The agent's slug id" },
  sessionId: { schema: str, description: "A session id (`ses_…`)" },
  turnId: { schema: str, description: "A turn id" },
  userId: { schema: { type: "integer", minimum: 1 }, description: "A user's int64 id" },
  keyId: { schema: str, description: "A key id" },
  workspaceId: { schema: str, description: "A workspace id (`ws_…`)" },
  channelId: { schema: str, description: "A channel id (`ch_…`)" },
  groupId: { schema: str, description: "A group id (`grp_…`)" },
  askId: { schema: str, description: "An ask id" },
  token: { schema: { type: "string", pattern: "^[A-Za-z0-9_-]{43}$" }, description: "A share token" },
  knowledgeId: { schema: str, description: "A knowledge item id" },
  threadId: { schema: str, description: "A thread id (a session id)" },
  serverId: { schema: str, description: "An agent server id (its agent's id)" },
  name: { schema: str, description: "A tool's name" },
};

const ERRORS: Record<ErrorStatus, { name: string; description: string; example: object; retryAfter?: boolean }> = {
  400: { name: "BadRequest", description: "The request cannot be read (a body that does not decode, a malformed request)", example: { type: "urn:agenthub:problem:http-400", title: "Bad Request", status: 400, detail: "The body does not decode as its Content-Encoding says" } },
  401: { name: "Unauthorized", description: "Missing, malformed, expired or unknown credential", example: { type: "urn:agenthub:problem:unauthorized", title: "Unauthorized", status: 401, detail: "Send a credential: Authorization: Bearer <token or key>" } },
  403: { name: "Forbidden", description: "A valid credential that may not do this (scope, team access level, role)", example: { type: "urn:agenthub:problem:forbidden", title: "Forbidden", status: 403, detail: "Only the agent's editors may change it" } },
  404: { name: "NotFound", description: "Does not exist, or the caller may not know it exists", example: { type: "urn:agenthub:problem:not-found", title: "Not Found", status: 404, detail: "Session not found" } },
  409: { name: "Conflict", description: "Conflicts with the current state (a duplicate, a turn already running, an id reused with another body)", example: { type: "urn:agenthub:problem:conflict", title: "Conflict", status: 409, detail: "A turn is already running on this session" } },
  413: { name: "PayloadTooLarge", description: "The body is larger than BODY_LIMIT", example: { type: "urn:agenthub:problem:payload-too-large", title: "Payload Too Large", status: 413, detail: "The body is larger than 1048576 bytes" } },
  422: {
    name: "ValidationFailed",
    description: "Invalid body or query: `errors` names each bad field",
    example: { type: "urn:agenthub:problem:validation", title: "Unprocessable Content", status: 422, detail: "agentIds: a group needs at least two distinct agents", errors: [{ field: "agentIds", message: "a group needs at least two distinct agents" }] },
  },
  429: { name: "TooManyRequests", description: "Rate limited; retry after `Retry-After` seconds", example: { type: "urn:agenthub:problem:rate-limited", title: "Too Many Requests", status: 429, detail: "Slow down; retry after 3s" }, retryAfter: true },
  501: { name: "NotImplemented", description: "Not available on this hub's configuration", example: { type: "urn:agenthub:problem:not-implemented", title: "Not Implemented", status: 501, detail: "This hub cannot issue tokens" } },
  503: { name: "Unavailable", description: "A dependency (Postgres) is not reachable; retry after `Retry-After` seconds", example: { type: "urn:agenthub:problem:unavailable", title: "Service Unavailable", status: 503, detail: "The database is not reachable; retry shortly" }, retryAfter: true },
};

const SECURITY_SCHEMES = {
  userToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A user's JWT (HS256 with JWT_SECRET, or your identity provider's keys); claims sub, email, name, groups, workspace, role?, exp." },
  masterKey: { type: "http", scheme: "bearer", bearerFormat: "g_master_…", description: "A workspace master key: everything in its workspace." },
  agentKey: { type: "http", scheme: "bearer", bearerFormat: "g_agent_…", description: "An agent key: one agent, only the scopes it was given." },
  keyToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A token from generate-access-key-token, acting as its key (Backplane)." },
  apiKeyHeader: { type: "apiKey", in: "header", name: "x-api-key", description: "A master or agent key, for generate-access-key-token only." },
};

/** The errors an operation answers: what its shape implies, plus its own. */
export function errorStatuses(o: Operation): ErrorStatus[] {
  const set = new Set<ErrorStatus>(o.errors ?? []);
  if (o.security.length) [401, 403, 429, 503].forEach((s) => set.add(s as ErrorStatus));
  if (o.path.includes("{")) set.add(404);
  if (o.body || o.query) set.add(422);
  if (o.body) set.add(413);
  return [...set].sort((a, b) => a - b);
}

function parameters(o: Operation): object[] {
  const out: object[] = [];
  for (const [, name] of o.path.matchAll(/\{(\w+)\}/g)) {
    const p = PATH_PARAMS[name!] ?? { schema: str, description: name! };
    out.push({ name, in: "path", required: true, description: p.description, schema: p.schema });
  }
  if (o.query) {
    const schema = jsonSchemaOf(o.query) as { properties?: Record<string, object>; required?: string[] };
    for (const [name, s] of Object.entries(schema.properties ?? {})) {
      out.push({ name, in: "query", required: schema.required?.includes(name) ?? false, schema: s });
    }
  }
  return out;
}

function operationObject(o: Operation): object {
  const success: Record<string, unknown> = { description: o.success.description };
  if (o.success.status !== 204) {
    const type = o.success.contentType ?? "application/json";
    const media: Record<string, unknown> = {};
    if (o.success.schema) media.schema = { $ref: `#/components/schemas/${o.success.schema}` };
    else if (type === "application/json") media.schema = {};
    else media.schema = { type: "string" };
    if (o.success.example !== undefined) media.example = o.success.example;
    success.content = { [type]: media };
  }
  const responses: Record<string, unknown> = { [String(o.success.status)]: success };
  if (o.success.stream) {
    responses["200"] = { description: "With `Accept: text/event-stream`: the turn's events as SSE until `done`", content: { "text/event-stream": { schema: { type: "string" }, example: SSE_EXAMPLE } } };
  }
  for (const status of errorStatuses(o)) responses[String(status)] = { $ref: `#/components/responses/${ERRORS[status].name}` };

  const requestBody = o.body
    ? {
        required: ((jsonSchemaOf(o.body) as { required?: string[] }).required?.length ?? 0) > 0,
        content: { "application/json": { schema: { $ref: `#/components/schemas/${schemaName(o.body)}` }, ...(o.bodyExample !== undefined ? { example: o.bodyExample } : {}) } },
      }
    : undefined;
  const params = parameters(o);
  return {
    operationId: o.operationId,
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    tags: o.tags,
    security: o.security.map((name) => ({ [name]: [] })),
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document for `operations` (every REST route by default). */
export function buildOpenApi(operations: Operation[] = OPERATIONS): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  const schemas: Record<string, object> = { ...RESPONSE_SCHEMAS };
  for (const o of operations) {
    (paths[o.path] ??= {})[o.method] = operationObject(o);
    if (o.body) schemas[schemaName(o.body)] = jsonSchemaOf(o.body);
  }
  const responses: Record<string, object> = {};
  for (const e of Object.values(ERRORS)) {
    responses[e.name] = {
      description: e.description,
      ...(e.retryAfter ? { headers: { "Retry-After": { description: "Seconds to wait", schema: { type: "integer" } } } } : {}),
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" }, example: e.example } },
    };
  }
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "agenthub",
      version: "0.1.0",
      description:
        "A realtime collaboration hub for AI agents and the people who use them: agents and their teams, sessions (whole agent turns), share links, groups, team channels, agent turns, and the Sharely-compatible Agent Backplane (`/v1`). Live updates go over Socket.IO (see the README); errors are RFC 9457 problem+json.",
    },
    servers: [{ url: "/" }],
    tags: [...new Set(operations.flatMap((o) => o.tags))].map((name) => ({ name })),
    paths,
    components: { schemas, responses, securitySchemes: SECURITY_SCHEMES },
  };
}

let cached: string | undefined;

/** The document as JSON, built once per process. */
export function openApiJson(): string {
  return (cached ??= JSON.stringify(buildOpenApi()));
}
