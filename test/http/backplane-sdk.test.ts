/**
 * The Backplane driven exactly as the Sharely Server SDK drives it (sharelyai/sharely-server-sdk:
 * `packages/api/src/client.ts` + `transport.ts` for `createSharelyAPIClient`, and
 * `packages/server/src/createServer.ts` + `pipeline.ts` for `createSharelyServer`). The SDK is
 * not published on npm, so its requests are reproduced here (paths, methods, headers, bodies,
 * what it reads from answers), not vendored: a client, and an agent server that serves a turn
 * the hub hands it, validating the user's token and storing both messages through /v1. As of
 * the SDK's commit 353bb6c (createServer.ts), the server exchanges its key once per role
 * (`{roleId}`, else `{customerRoleId}`), caches each token until 60 s before the `exp` it
 * decodes from it, and on a 401/403 from the Backplane re-exchanges once and retries (that
 * retry is not reproduced here: nothing in these tests is refused).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { makeKey, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";

const f = useHub({ env: { AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

// ---- the SDK's client (client.ts / transport.ts), request for request --------------------------

class SharelyAPIError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly data: unknown,
  ) {
    super(message);
  }
}

type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

/** defaultTransport: Accept JSON, Content-Type only with a body, the caller's headers last; non-2xx throws. */
function transport(baseUrl: string) {
  const root = baseUrl.replace(/\/$/, "");
  return async <T>(req: { method: Method; url: string; body?: unknown; headers?: Record<string, string> }): Promise<{ data: T; status: number }> => {
    const res = await fetch(`${root}${req.url}`, {
      method: req.method,
      headers: { Accept: "application/json", ...(req.body !== undefined && { "Content-Type": "application/json" }), ...req.headers },
      body: req.body !== undefined ? (typeof req.body === "string" ? req.body : JSON.stringify(req.body)) : undefined,
    });
    const ct = res.headers.get("content-type") ?? "";
    const data = (ct.includes("application/json") ? await res.json() : await res.text()) as T;
    if (!res.ok) throw new SharelyAPIError(res.statusText, res.status, data);
    return { data, status: res.status };
  };
}

const qs = (params: Record<string, unknown>): string => {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null) sp.append(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : "";
};

/** createSharelyAPIClient({baseUrl, workspaceId, authorization}). */
function createSharelyAPIClient(cfg: { baseUrl: string; workspaceId: string; authorization: string }) {
  const t = transport(cfg.baseUrl);
  const headers = { authorization: cfg.authorization };
  const ws = encodeURIComponent(cfg.workspaceId);
  const threadsBase = `/v1/workspaces/${ws}/agent/threads`;
  return {
    threads: {
      create: async (input: Record<string, unknown>) => (await t<any>({ method: "POST", url: threadsBase, body: input, headers })).data,
      list: async (input: Record<string, unknown> = {}) => (await t<any>({ method: "GET", url: `${threadsBase}${qs({ ...input })}`, headers })).data,
      get: async (threadId: string) => (await t<any>({ method: "GET", url: `${threadsBase}/${encodeURIComponent(threadId)}`, headers })).data,
      messages: {
        create: async (threadId: string, message: Record<string, unknown>) =>
          (await t<any>({ method: "POST", url: `${threadsBase}/${encodeURIComponent(threadId)}/messages`, body: message, headers })).data,
      },
    },
    tokens: {
      validate: async (token: string) => (await t<any>({ method: "POST", url: `/v1/workspaces/${ws}/api-authenticated`, body: { token }, headers })).data,
    },
    executeTool: async (name: string, body: Record<string, unknown>) =>
      (await t<any>({ method: "POST", url: `/v1/workspaces/${ws}/agent/tools/${encodeURIComponent(name)}/execute`, body, headers })).data,
    /** The Agent API's RAG query (docs: "threads.* and rag() map one-to-one"), through the same transport. */
    rag: async (body: Record<string, unknown>) => (await t<any>({ method: "POST", url: `/v1/workspaces/${ws}/agent/rag`, body, headers })).data,
  };
}

/** The role a token is exchanged with: the SDK sends `roleId` when it has one, else `customerRoleId`. */
type RoleClaim = { roleId?: string; customerRoleId?: string };

/** createSharelyServer's exchangePlatformAuth: the raw key (and role) for an access JWT, as `Bearer <token>`. */
async function exchangeKey(apiUrl: string, workspaceId: string, workspaceApiKey: string, role?: RoleClaim): Promise<string> {
  const rawKey = workspaceApiKey.replace(/^Bearer\s+/i, "").trim();
  const body: RoleClaim = {};
  if (role?.roleId) body.roleId = role.roleId;
  else if (role?.customerRoleId) body.customerRoleId = role.customerRoleId;
  const res = await fetch(`${apiUrl.replace(/\/$/, "")}/workspaces/${encodeURIComponent(workspaceId)}/generate-access-key-token`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": rawKey },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`generate-access-key-token failed: ${res.status} ${res.statusText} ${await res.text()}`);
  const data = (await res.json()) as { token?: string };
  if (!data?.token) throw new Error("generate-access-key-token returned no token");
  return `Bearer ${data.token}`;
}

/** createServer.ts's decodeExpMs: the token's `exp` in ms, or 5 minutes from now when it has none. */
function decodeExpMs(jwt: string, now: number): number {
  try {
    const exp = (JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : now + 5 * 60_000;
  } catch {
    return now + 5 * 60_000;
  }
}

// ---- the SDK's agent server (createServer.ts / pipeline.ts) ------------------------------------

interface SdkServer {
  url: string;
  /** What each chat saw: the validated user, the history it loaded, what storing answered. */
  chats: Array<{ threadId: string; userId?: string; roleId?: string; history: Array<{ role: string; content: string | null }>; storedUser: any; storedAssistant: any; tool: any }>;
  exchanges: number;
  /** The role each exchange asked for (`__norole__` for none), in order. */
  exchangedFor: string[];
  /** Moves the SDK server's clock (its `Date.now()`) ahead, as if it had run that long. */
  advance(ms: number): void;
}

/** The SDK's AgentEvent stream a handler yields for one message. */
function handlerEvents(message: string, tool: unknown) {
  return [
    { type: "message_start", role: "assistant", model: "sdk-model" },
    { type: "thinking_start", thinkingId: "th1", title: "Reading the question" },
    { type: "thinking_delta", thinkingId: "th1", delta: `They ask: ${message}` },
    { type: "thinking_end", thinkingId: "th1", status: "completed", durationMs: 3 },
    { type: "tool_call_start", toolCallId: "tc1", name: "semantic_search", input: { text: message } },
    { type: "tool_call_end", toolCallId: "tc1", output: tool, durationMs: 4 },
    { type: "sources", sources: [{ id: "k1", type: "semantic", title: "Refund Policy" }] },
    { type: "content_delta", delta: "Refunds take " },
    { type: "content_delta", delta: "five days." },
    { type: "content_end" },
    { type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 12, outputTokens: 4, totalTokens: 16 } },
  ] as Array<{ type: string } & Record<string, any>>;
}

/** pipeline.ts's reduce + assistant(): the stored answer (no id: the SDK sends none). */
function assistantOf(events: Array<{ type: string } & Record<string, any>>) {
  const a = { content: "", thinking: new Map<string, any>(), toolCalls: new Map<string, any>(), sources: [] as unknown[], tokenUsage: undefined as unknown, model: undefined as string | undefined, finishReason: "stop" };
  for (const e of events) {
    if (e.type === "message_start") a.model = e.model;
    else if (e.type === "content_delta") a.content += e.delta;
    else if (e.type === "thinking_start") a.thinking.set(e.thinkingId, { id: e.thinkingId, title: e.title, content: "", status: "in_progress" });
    else if (e.type === "thinking_delta") a.thinking.get(e.thinkingId).content += e.delta;
    else if (e.type === "thinking_end") Object.assign(a.thinking.get(e.thinkingId), { status: e.status, durationMs: e.durationMs });
    else if (e.type === "tool_call_start") a.toolCalls.set(e.toolCallId, { id: e.toolCallId, name: e.name, input: e.input, status: "in_progress" });
    else if (e.type === "tool_call_end") Object.assign(a.toolCalls.get(e.toolCallId), { output: e.output, error: e.error, status: e.error ? "error" : "completed", durationMs: e.durationMs });
    else if (e.type === "sources") a.sources = e.sources;
    else if (e.type === "message_end") Object.assign(a, { finishReason: e.finishReason, tokenUsage: e.tokenUsage });
  }
  return {
    role: "assistant",
    content: a.content || null,
    thinkingSteps: [...a.thinking.values()],
    toolCalls: [...a.toolCalls.values()],
    sources: a.sources,
    ...(a.tokenUsage ? { tokenUsage: a.tokenUsage } : {}),
    ...(a.model ? { model: a.model } : {}),
    finishReason: a.finishReason,
  };
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
}

function fail(res: ServerResponse, status: number, error: string, message: string) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error, message, status, timestamp: new Date().toISOString() }));
}

async function startSdkServer(opts: { apiUrl: string; workspaceId: string; workspaceApiKey: () => string }): Promise<SdkServer> {
  let skew = 0;
  const now = () => Date.now() + skew;
  const state: SdkServer = { url: "", chats: [], exchanges: 0, exchangedFor: [], advance: (ms) => void (skew += ms) };

  // resolvePlatformAuth: one cached token per role, re-exchanged 60 s before its `exp`.
  const EXP_SKEW_MS = 60_000;
  const NO_ROLE = "__norole__";
  const cache = new Map<string, Promise<{ auth: string; expMs: number }>>();
  const exchange = (cacheKey: string, role?: RoleClaim) => {
    state.exchanges++;
    state.exchangedFor.push(cacheKey);
    const p = exchangeKey(opts.apiUrl, opts.workspaceId, opts.workspaceApiKey(), role)
      .then((auth) => ({ auth, expMs: decodeExpMs(auth.slice("Bearer ".length), now()) }))
      .catch((err) => {
        if (cache.get(cacheKey) === p) cache.delete(cacheKey);
        throw err;
      });
    cache.set(cacheKey, p);
    return p;
  };
  const resolvePlatformAuth = async (role?: RoleClaim): Promise<string> => {
    const cacheKey = role?.roleId ?? role?.customerRoleId ?? NO_ROLE;
    const cached = cache.get(cacheKey);
    if (cached) {
      try {
        const value = await cached;
        if (now() < value.expMs - EXP_SKEW_MS) return value.auth;
        if (cache.get(cacheKey) === cached) cache.delete(cacheKey);
      } catch {
        // a failed exchange evicted itself
      }
    }
    return (await exchange(cacheKey, role)).auth;
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const m = /^\/agent\/threads\/([^/]+)\/chat$/.exec(req.url ?? "");
      if (req.method !== "POST" || !m) return fail(res, 404, "Not Found", "no route");
      const threadId = decodeURIComponent(m[1]!);
      const { message } = await readJson(req);
      if (typeof message !== "string" || !message.trim()) return fail(res, 400, "Validation Error", "message is required and must be a string");
      const authorization = req.headers.authorization;
      if (!authorization) return fail(res, 401, "Authentication Error", "Authorization header is required");
      if (["null", "undefined", "public", ""].includes(authorization.replace(/^Bearer\s+/i, "").trim())) return fail(res, 401, "Authentication Error", "Invalid bearer token");
      const auth = await resolvePlatformAuth();

      // Validate the incoming user token with the exchanged JWT (api-authenticated).
      const validator = createSharelyAPIClient({ baseUrl: opts.apiUrl, workspaceId: opts.workspaceId, authorization: auth });
      let result: any;
      try {
        result = await validator.tokens.validate(authorization.replace(/^Bearer\s+/i, "").trim());
      } catch (err) {
        const status = err instanceof SharelyAPIError ? err.status : 401;
        return fail(res, status === 401 || status === 403 ? status : 401, "Authentication Error", "Token rejected by platform");
      }
      if (!result || (!result.id && !result.temporalUserId)) return fail(res, 401, "Authentication Error", "Token rejected by platform");
      const roleId = result.user_metadata?.roleId ?? result.user_metadata?.customerRoleId;
      const customerRoleId = result.user_metadata?.customerRoleId;

      // Step 2: exchange again with the user's role, so the Backplane acts as that role.
      const platformAuth = roleId || customerRoleId ? await resolvePlatformAuth({ ...(roleId && { roleId }), ...(customerRoleId && { customerRoleId }) }) : auth;

      // runHandler: SSE headers, store the user message, load history, stream, store the answer, done.
      const bp = createSharelyAPIClient({ baseUrl: opts.apiUrl, workspaceId: opts.workspaceId, authorization: platformAuth });
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
      const storedUser = await bp.threads.messages.create(threadId, { role: "user", content: message.trim() });
      const thread = await bp.threads.get(threadId);
      const history = thread.messages.slice(-50).map((x: any) => ({ role: x.role, content: x.content }));
      const tool = await bp.executeTool("semantic_search", { input: { text: message.trim() }, context: { roleId: roleId ?? null, topK: 5 } });
      const envelope = { threadId, messageId: randomUUID() };
      const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      const events = handlerEvents(message.trim(), tool.output ?? null);
      for (const { type, ...rest } of events) send(type, { ...envelope, ...rest });
      const storedAssistant = await bp.threads.messages.create(threadId, assistantOf(events));
      envelope.messageId = storedAssistant.id;
      state.chats.push({ threadId, userId: result.id, roleId, history, storedUser, storedAssistant, tool });
      send("done", envelope);
      res.end();
    })().catch((err) => {
      if (!res.headersSent) fail(res, 500, "Internal Server Error", String(err));
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return state;
}

function sseFrames(text: string): Array<{ event: string; data: any }> {
  return text
    .split("\n\n")
    .filter((frame) => frame.startsWith("event: "))
    .map((frame) => ({ event: /^event: (.+)$/m.exec(frame)![1]!, data: JSON.parse(/^data: (.+)$/m.exec(frame)![1]!) }));
}

describe("the SDK's client (createSharelyAPIClient) against the hub", () => {
  it("creates, lists and reads threads, stores messages, validates tokens, runs tools and RAG", async () => {
    const authorization = await exchangeKey(f.url, f.ws.id, f.ws.masterKey);
    const client = createSharelyAPIClient({ baseUrl: f.url, workspaceId: f.ws.id, authorization });

    const thread = await client.threads.create({ title: "Support conversation", spaceId: null, userId: "customer-42", temporalUserId: null, agentServerId: null });
    expect(thread).toMatchObject({ id: expect.any(String), title: "Support conversation", status: "ACTIVE", userId: "customer-42", spaceId: null, agentServerId: "default", createdAt: expect.any(String), updatedAt: expect.any(String) });

    const userMessage = await client.threads.messages.create(thread.id, { role: "user", content: "How do refunds work?" });
    expect(userMessage).toMatchObject({ id: expect.any(String), threadId: thread.id, role: "user", content: "How do refunds work?", createdAt: expect.any(String) });
    const answer = await client.threads.messages.create(thread.id, {
      role: "assistant",
      content: "Refunds are processed within 5 business days...",
      thinkingSteps: [],
      toolCalls: [],
      sources: [{ id: "knowledge-uuid", type: "semantic", title: "Refund Policy", snippet: "..." }],
      model: "claude-sonnet-4-5",
      finishReason: "stop",
      tokenUsage: { inputTokens: 1200, outputTokens: 240, totalTokens: 1440 },
    });
    expect(answer).toMatchObject({ role: "assistant", model: "claude-sonnet-4-5", tokenUsage: { totalTokens: 1440 } });

    const listed = await client.threads.list({ userId: "customer-42", spaceId: null, cursor: null, limit: 10 });
    expect(listed).toEqual({ items: [expect.objectContaining({ id: thread.id })], nextCursor: null, hasMore: false });
    const got = await client.threads.get(thread.id);
    expect(got.messages.map((x: any) => [x.id, x.role, x.content])).toEqual([
      [userMessage.id, "user", "How do refunds work?"],
      [answer.id, "assistant", "Refunds are processed within 5 business days..."],
    ]);

    const userToken = await f.ws.token("sdk-client-user", { role: "support" });
    expect(await client.tokens.validate(userToken)).toEqual({ id: String(await userId(api(f.url, userToken))), user_metadata: { roleId: "support", customerRoleId: "support" } });

    const tools = await client.executeTool("get_workspace_stats", { input: {}, context: { roleId: null } });
    expect(tools).toHaveProperty("output");
    expect(Array.isArray(await client.rag({ text: "refund policy", topK: 5 }))).toBe(true);

    // Anything else is a non-2xx, which the SDK throws as SharelyAPIError with the status.
    await expect(client.threads.get("ses_missing")).rejects.toMatchObject({ status: 404 });
    await expect(client.tokens.validate("not-a-token")).rejects.toMatchObject({ status: 401 });
    await expect(createSharelyAPIClient({ baseUrl: f.url, workspaceId: f.other.id, authorization }).threads.list()).rejects.toMatchObject({ status: 404 });
    await expect(createSharelyAPIClient({ baseUrl: f.url, workspaceId: f.ws.id, authorization: "Bearer nope" }).threads.list()).rejects.toMatchObject({ status: 401 });
  });
});

describe("the SDK's agent server (createSharelyServer) serving turns through the hub", () => {
  it("validates the user's token, stores the trigger once and the turn's answer under its message id", async () => {
    const owner = api(f.url, await f.ws.token("sdk-owner"));
    const ownerId = await userId(owner);
    let key = "";
    const sdk = await startSdkServer({ apiUrl: f.url, workspaceId: f.ws.id, workspaceApiKey: () => key });
    const server = await owner.post(`/v1/workspaces/${f.ws.id}/agent/servers`, { name: "SDK agent", url: sdk.url });
    expect(server.status, server.text).toBe(201);
    key = await makeKey(owner, server.body.id, ["sessions:read", "sessions:write", "tools:execute"]);
    const thread = (await owner.post(`/v1/workspaces/${f.ws.id}/agent/threads`, { title: "Refunds", agentServerId: server.body.id })).body;

    const chat = (message: string) =>
      owner.raw(`/v1/workspaces/${f.ws.id}/agent/threads/${thread.id}/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message }) });
    const res = await chat("How long do refunds take?");
    expect(res.status).toBe(200);
    const frames = sseFrames(res.text);
    const messageId = frames[0]!.data.messageId;
    expect(frames.map((x) => x.event)).toEqual([
      "message_start", "thinking_start", "thinking_delta", "thinking_end", "tool_call_start", "tool_call_end", "sources",
      "content_delta", "content_delta", "content_end", "message_end", "done",
    ]);
    expect(frames.every((x) => x.data.threadId === thread.id && x.data.messageId === messageId)).toBe(true);

    const [served] = sdk.chats;
    expect(served).toMatchObject({ threadId: thread.id, userId: String(ownerId), roleId: undefined });
    expect(served!.storedUser).toMatchObject({ role: "user", content: "How long do refunds take?" });
    expect(served!.history).toEqual([{ role: "user", content: "How long do refunds take?" }]);
    expect(served!.storedAssistant).toMatchObject({ id: messageId, role: "assistant", content: "Refunds take five days." });
    expect(served!.tool).toHaveProperty("output");

    // Two messages, no copies: the trigger, and the answer the agent stored under the turn's message id.
    const messages = (await owner.get(`/v1/workspaces/${f.ws.id}/agent/threads/${thread.id}`)).body.messages;
    expect(messages).toEqual([
      expect.objectContaining({ id: served!.storedUser.id, role: "user", content: "How long do refunds take?" }),
      expect.objectContaining({
        id: messageId,
        role: "assistant",
        content: "Refunds take five days.",
        thinkingSteps: [{ id: "th1", title: "Reading the question", content: "They ask: How long do refunds take?", status: "completed", durationMs: 3 }],
        toolCalls: [expect.objectContaining({ id: "tc1", name: "semantic_search", status: "completed" })],
        sources: [{ id: "k1", type: "semantic", title: "Refund Policy" }],
        model: "sdk-model",
        finishReason: "stop",
        tokenUsage: { inputTokens: 12, outputTokens: 4, totalTokens: 16 },
      }),
    ]);
    const viaApi = (await owner.get(`/api/agents/${server.body.id}/sessions/${thread.id}/messages`)).body.messages;
    expect(viaApi.map((x: any) => [x.id, x.role, x.seq])).toEqual([[served!.storedUser.id, "user", 1], [messageId, "assistant", 2]]);
    expect(viaApi[1].thinking).toEqual(messages[1].thinkingSteps);

    // The next turn sees the whole history; the key was exchanged once.
    expect((await chat("And for digital goods?")).status).toBe(200);
    expect(sdk.chats[1]!.history.map((x) => x.content)).toEqual(["How long do refunds take?", "Refunds take five days.", "And for digital goods?"]);
    expect((await owner.get(`/api/agents/${server.body.id}/sessions/${thread.id}`)).body.message_count).toBe(4);
    expect(sdk.exchanges).toBe(1);
  });
});

describe("the SDK's agent server keeps its exchanged tokens fresh", () => {
  it("exchanges once per role, reads the token's exp, and re-exchanges before it expires: no restart needed", async () => {
    const owner = api(f.url, await f.ws.token("sdk-refresh-owner", { role: "support" }));
    let key = "";
    const sdk = await startSdkServer({ apiUrl: f.url, workspaceId: f.ws.id, workspaceApiKey: () => key });
    const server = await owner.post(`/v1/workspaces/${f.ws.id}/agent/servers`, { name: "SDK refresh agent", url: sdk.url });
    expect(server.status, server.text).toBe(201);
    // Made by the master key naming no role, so the server may narrow it to each user's role.
    key = await makeKey(api(f.url, f.ws.masterKey), server.body.id, ["sessions:read", "sessions:write", "tools:execute"]);
    const thread = (await owner.post(`/v1/workspaces/${f.ws.id}/agent/threads`, { title: "Refresh", agentServerId: server.body.id })).body;
    const chat = async (message: string) => {
      const res = await owner.raw(`/v1/workspaces/${f.ws.id}/agent/threads/${thread.id}/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message }) });
      expect(res.status).toBe(200);
      expect(sseFrames(res.text).at(-1)?.event).toBe("done");
    };

    await chat("First question");
    expect(sdk.exchangedFor).toEqual(["__norole__", "support"]);
    expect(sdk.chats[0]).toMatchObject({ roleId: "support" });
    // The hub's token carries an `exp` the SDK can read: an hour.
    const token = await exchangeKey(f.url, f.ws.id, key, { customerRoleId: "support" });
    const ttl = decodeExpMs(token.slice("Bearer ".length), Date.now()) - Date.now();
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);

    await chat("Second question");
    expect(sdk.exchanges).toBe(2); // cached

    sdk.advance(59 * 60_000 + 30_000); // within a minute of exp: both tokens are exchanged again
    await chat("An hour later");
    expect(sdk.exchangedFor).toEqual(["__norole__", "support", "__norole__", "support"]);
    expect(sdk.chats.map((c) => c.storedAssistant.content)).toEqual(["Refunds take five days.", "Refunds take five days.", "Refunds take five days."]);
  });
});
