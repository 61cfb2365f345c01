/**
 * The Agent Backplane (/v1, the Sharely Agent API) on one hub: the key exchange, threads,
 * messages (idempotent, drafts, the SDK's JSON-encoded parts), chat as a turn's SSE stream,
 * agent servers, RBAC and token validation; each with its denials, and threads seen through
 * /api and live on sockets as the sessions they are.
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { JWT_SECRET } from "../support/env.js";
import { addToTeam, makeAgent, makeKey, uniq, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { connect, type Client } from "../support/sockets.js";
import { untilPast } from "../support/waiters.js";

const f = useHub({ env: { AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
const sockets: Client[] = [];
const agents: SocketAgent[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(agents.map((a) => a.close()));
});

const v1 = (ws: string) => `/v1/workspaces/${ws}`;
const threadsOf = (ws: string) => `${v1(ws)}/agent/threads`;

/** POST /workspaces/{ws}/generate-access-key-token with `x-api-key`, as the Sharely Server SDK sends it. */
function exchange(key: string | undefined, ws: string, body: unknown = {}) {
  return f.anon.raw(`/workspaces/${ws}/generate-access-key-token`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { "x-api-key": key }) },
    body: JSON.stringify(body),
  });
}

async function keyToken(key: string, ws = f.ws.id, roleId?: string): Promise<string> {
  const res = await exchange(key, ws, roleId ? { roleId } : {});
  expect(res.status).toBe(201);
  return res.body.token;
}

/** A user client of the file's workspace. */
const user = async (sub: string, extra: { role?: string } = {}) => api(f.url, await f.ws.token(sub, extra));

async function createThread(client: Api, body: Record<string, unknown> = {}, ws = f.ws.id) {
  const res = await client.post(threadsOf(ws), { title: "A thread", ...body });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

describe("generate-access-key-token", () => {
  it("exchanges a master or agent key for a short-lived token that acts as that key", async () => {
    const master = await exchange(f.ws.masterKey, f.ws.id);
    expect(master.status).toBe(201);
    expect(Object.keys(master.body)).toEqual(["token"]);
    expect(master.body.token.split(".")).toHaveLength(3);
    expect((await f.anon.as(master.body.token).get(`${v1(f.ws.id)}/rbac-status`)).body).toEqual({ rbacStatus: "INACTIVE" });
    expect((await f.anon.as(master.body.token).get("/api/me")).body).toMatchObject({ kind: "master", workspace_id: f.ws.id });

    const owner = await user("kx-owner");
    const agentId = await makeAgent(owner);
    const agentToken = await keyToken(await makeKey(owner, agentId, ["sessions:read", "sessions:write"]));
    expect((await f.anon.as(agentToken).get("/api/me")).body).toMatchObject({ kind: "agent", agent_id: agentId, scopes: ["sessions:read", "sessions:write"] });
    const thread = await createThread(f.anon.as(agentToken));
    expect(thread.agentServerId).toBe(agentId);
  });

  it("refuses a missing, unknown or non-key credential (401), another workspace's path (404), and a bad roleId (422)", async () => {
    expectProblem(await exchange(undefined, f.ws.id), "unauthorized");
    expectProblem(await exchange("g_master_nope", f.ws.id), "unauthorized");
    expectProblem(await exchange(await f.ws.token("kx-user"), f.ws.id), "unauthorized");
    expectProblem(await exchange(f.ws.masterKey, f.other.id), "not-found");
    expectProblem(await exchange(f.ws.masterKey, f.ws.id, { roleId: 42 }), "validation", { fields: ["roleId"] });
  });

  it("stops working at once when its key is revoked, or expires", async () => {
    const owner = await user("kx-revoker");
    const agentId = await makeAgent(owner);
    const created = await owner.post(`/api/agents/${agentId}/keys`, { scopes: ["sessions:read"] });
    const token = await keyToken(created.body.key);
    expect((await f.anon.as(token).get(threadsOf(f.ws.id))).status).toBe(200);
    expect((await owner.delete(`/api/agents/${agentId}/keys/${created.body.id}`)).status).toBe(204);
    expectProblem(await f.anon.as(token).get(threadsOf(f.ws.id)), "unauthorized");

    // 2 s, not the least (1): the key token's expiry counts whole seconds from the exchange, so a
    // 1 s key could yield a token already lapsing before the first call below.
    const shortLived = await owner.post(`/api/agents/${agentId}/keys`, { scopes: ["sessions:read"], expires_in_seconds: 2 });
    const short = await keyToken(shortLived.body.key);
    expect((await f.anon.as(short).get(threadsOf(f.ws.id))).status).toBe(200);
    // Expiry itself is under test: wait out the key's own expires_at, no longer.
    await untilPast(shortLived.body.expires_at, 100);
    expectProblem(await f.anon.as(short).get(threadsOf(f.ws.id)), "unauthorized");
  });

  it("is never taken for a user token, nor a user token for it", async () => {
    const secret = new TextEncoder().encode(JWT_SECRET);
    const exp = Math.floor(Date.now() / 1000) + 600;
    // A user token wearing the key token's type: no key audience, refused.
    const disguised = await new SignJWT({ workspace: f.ws.id, email: "x@example.com" }).setProtectedHeader({ alg: "HS256", typ: "agenthub-key+jwt" }).setSubject("x").setExpirationTime(exp).sign(secret);
    expectProblem(await f.anon.as(disguised).get("/api/me"), "unauthorized");
    // A key token presented as a user token (type header dropped): it has no email, refused.
    const token = await keyToken(f.ws.masterKey);
    const [, payload, signature] = token.split(".");
    const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
    expectProblem(await f.anon.as(`${header}.${payload}.${signature}`).get("/api/me"), "unauthorized");
  });
});

describe("threads", () => {
  it("creates a thread on the default agent, seen through /api as the caller's session", async () => {
    const alice = await user("th-alice");
    const aliceId = await userId(alice);
    const thread = await createThread(alice, { title: "Refunds", spaceId: "space-1", temporalUserId: "tmp-1" });
    expect(thread).toEqual({
      id: expect.stringMatching(/^ses_/),
      title: "Refunds",
      status: "ACTIVE",
      agentServerId: "default",
      userId: String(aliceId),
      roleId: null,
      spaceId: "space-1",
      temporalUserId: "tmp-1",
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      deletedAt: null,
    });
    const session = await alice.get(`/api/agents/default/sessions/${thread.id}`);
    expect(session.body).toMatchObject({ id: thread.id, agent_id: "default", owner_id: aliceId, title: "Refunds" });
    // Using the default agent put alice on its team as a viewer; bob joins the same way.
    expect((await alice.get("/api/agents/default")).body).toMatchObject({ id: "default", name: "Default agent", access_level: "viewer" });
    const bob = await user("th-bob");
    await createThread(bob);
    expectProblem(await bob.get(`${threadsOf(f.ws.id)}/${thread.id}`), "not-found");
  });

  it("belongs to agentServerId, else to the calling agent key's agent; a user may not name another user", async () => {
    const owner = await user("th-owner");
    const ownerId = await userId(owner);
    const agentId = await makeAgent(owner);
    expect((await createThread(owner, { agentServerId: agentId })).agentServerId).toBe(agentId);
    const master = f.anon.as(await keyToken(f.ws.masterKey));
    const forSomeone = await createThread(master, { agentServerId: agentId, userId: "external-7" });
    expect(forSomeone).toMatchObject({ agentServerId: agentId, userId: "external-7" });
    expect((await createThread(owner, { agentServerId: agentId, userId: String(ownerId) })).userId).toBe(String(ownerId));
    expectProblem(await owner.post(threadsOf(f.ws.id), { title: "x", userId: "someone-else" }), "forbidden");

    const stranger = await user("th-stranger");
    expectProblem(await stranger.post(threadsOf(f.ws.id), { title: "x", agentServerId: agentId }), "not-found");
    const readOnly = f.anon.as(await keyToken(await makeKey(owner, agentId, ["sessions:read"])));
    expectProblem(await readOnly.post(threadsOf(f.ws.id), { title: "x" }), "forbidden");
    expectProblem(await owner.post(threadsOf(f.ws.id), { title: "" }), "validation", { fields: ["title"] });
    expectProblem(await owner.post(threadsOf(f.other.id), { title: "x" }), "not-found");
  });

  it("lists newest activity first, pages with limit and cursor, filters by userId and spaceId", async () => {
    const owner = await user("ls-owner");
    const agentId = await makeAgent(owner);
    const token = await keyToken(await makeKey(owner, agentId, ["sessions:read", "sessions:write"]));
    const key = f.anon.as(token);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await createThread(key, { title: `t${i}`, userId: i % 2 ? "odd" : "even", spaceId: i < 2 ? "s-a" : "s-b" }));
    // Activity moves the first thread to the top.
    expect((await key.post(`${threadsOf(f.ws.id)}/${made[0].id}/messages`, { role: "user", content: "bump" })).status).toBe(201);

    const first = await key.get(`${threadsOf(f.ws.id)}?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ items: [expect.objectContaining({ id: made[0].id }), expect.objectContaining({ id: made[4].id })], nextCursor: expect.any(String), hasMore: true });
    const rest = await key.get(`${threadsOf(f.ws.id)}?limit=50&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(rest.body.items.map((t: { id: string }) => t.id)).toEqual([made[3].id, made[2].id, made[1].id]);
    expect(rest.body).toMatchObject({ nextCursor: null, hasMore: false });

    const odd = await key.get(`${threadsOf(f.ws.id)}?userId=odd`);
    expect(odd.body.items.map((t: { id: string }) => t.id)).toEqual([made[3].id, made[1].id]);
    const spaceA = await key.get(`${threadsOf(f.ws.id)}?spaceId=s-a&userId=even`);
    expect(spaceA.body.items.map((t: { id: string }) => t.id)).toEqual([made[0].id]);
    expect((await key.get(`${threadsOf(f.ws.id)}?limit=500`)).status).toBe(200);
    expectProblem(await key.get(`${threadsOf(f.ws.id)}?limit=0`), "validation", { fields: ["limit"] });
    expectProblem(await key.get(`${threadsOf(f.ws.id)}?cursor=nope`), "validation", { fields: ["cursor"] });

    // A user lists their own threads only; another agent's key none of these.
    const mine = await createThread(owner, { agentServerId: agentId });
    expect((await owner.get(threadsOf(f.ws.id))).body.items.map((t: { id: string }) => t.id)).toEqual([mine.id]);
    const otherAgent = await makeAgent(owner);
    const otherKey = f.anon.as(await keyToken(await makeKey(owner, otherAgent, ["sessions:read"])));
    expect((await otherKey.get(threadsOf(f.ws.id))).body.items).toEqual([]);
    expectProblem(await otherKey.get(`${threadsOf(f.ws.id)}/${made[0].id}`), "not-found");
    const noRead = f.anon.as(await keyToken(await makeKey(owner, agentId, [])));
    expectProblem(await noRead.get(threadsOf(f.ws.id)), "forbidden");
    expectProblem(await key.get(threadsOf(f.other.id)), "not-found");
  });
});

describe("messages", () => {
  async function setup() {
    const owner = await user(uniq("msg"));
    const agentId = await makeAgent(owner);
    const thread = await createThread(owner, { agentServerId: agentId });
    return { owner, agentId, thread, path: `${threadsOf(f.ws.id)}/${thread.id}/messages` };
  }

  it("stores a whole turn, the SDK's JSON-encoded parts included, the same on /v1 and /api", async () => {
    const { owner, agentId, thread, path } = await setup();
    const steps = [{ id: "t1", title: "Plan", content: "look it up", status: "completed", durationMs: 5 }];
    const calls = [{ id: "c1", name: "semantic_search", input: { query: "refunds" }, output: { hits: 1 }, status: "completed", durationMs: 9 }];
    const sources = [{ id: "k1", type: "semantic", title: "Refund Policy", snippet: "5 days" }];
    const usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 };
    const id = randomUUID();
    const stored = await owner.post(path, {
      id,
      role: "assistant",
      content: "Refunds take 5 days.",
      thinkingSteps: JSON.stringify(steps),
      toolCalls: calls,
      sources: JSON.stringify(sources),
      tokenUsage: JSON.stringify(usage),
      model: "claude-sonnet-4-5",
      finishReason: "stop",
      metadata: JSON.stringify({ lang: "en" }),
    });
    expect(stored.status).toBe(201);
    expect(stored.body).toEqual({
      id,
      threadId: thread.id,
      role: "assistant",
      content: "Refunds take 5 days.",
      thinkingSteps: steps,
      toolCalls: calls,
      sources,
      tokenUsage: usage,
      model: "claude-sonnet-4-5",
      finishReason: "stop",
      metadata: { lang: "en" },
      createdAt: expect.any(String),
    });
    const viaApi = (await owner.get(`/api/agents/${agentId}/sessions/${thread.id}/messages`)).body.messages;
    expect(viaApi).toEqual([
      { id, role: "assistant", content: "Refunds take 5 days.", thinking: steps, toolCalls: calls, sources, tokenUsage: usage, model: "claude-sonnet-4-5", finishReason: "stop", metadata: { lang: "en" }, seq: 1, createdAt: stored.body.createdAt },
    ]);
    const got = await owner.get(`${threadsOf(f.ws.id)}/${thread.id}`);
    expect(got.body).toMatchObject({ id: thread.id, title: "A thread", agentServerId: agentId });
    expect(got.body.messages).toEqual([stored.body]);
    // A message /api stored with string thinking reads back as one step.
    await owner.post(`/api/agents/${agentId}/sessions/${thread.id}/messages`, { role: "assistant", content: "ok", thinking: "hmm" });
    expect((await owner.get(`${threadsOf(f.ws.id)}/${thread.id}`)).body.messages[1]).toMatchObject({ content: "ok", thinkingSteps: [{ content: "hmm" }] });
  });

  it("is idempotent by id: the same body 200, another 409; an id of another thread 409; no id: a new one", async () => {
    const { owner, path, agentId } = await setup();
    const id = randomUUID().toUpperCase();
    const first = await owner.post(path, { id, role: "user", content: "How do refunds work?" });
    expect(first.status).toBe(201);
    expect(first.body.id).toBe(id.toLowerCase());
    const again = await owner.post(path, { id, role: "user", content: "How do refunds work?", toolCalls: [], sources: null });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expectProblem(await owner.post(path, { id, role: "user", content: "Something else" }), "conflict");

    const elsewhere = await createThread(owner, { agentServerId: agentId });
    expectProblem(await owner.post(`${threadsOf(f.ws.id)}/${elsewhere.id}/messages`, { id, role: "user", content: "How do refunds work?" }), "conflict");

    const fresh = await owner.post(path, { role: "user", content: "no id" });
    expect(fresh.status).toBe(201);
    expect(fresh.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expectProblem(await owner.post(path, { role: "tool", content: "x" }), "validation", { fields: ["role"] });
    expectProblem(await owner.post(path, { role: "user" }), "validation", { fields: ["content"] });
    expectProblem(await owner.post(path, { role: "user", content: "x", sources: "not json" }), "validation", { fields: ["sources"] });
  });

  it("fills in a stored draft (content null) once; anything else is 409", async () => {
    const { owner, agentId, thread, path } = await setup();
    const id = randomUUID();
    const draft = await owner.post(path, { id, role: "assistant", content: null });
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ id, role: "assistant", content: null });
    expect((await owner.post(path, { id, role: "assistant", content: null })).status).toBe(200);
    const filled = await owner.post(path, { id, role: "assistant", content: "The answer.", model: "m1", finishReason: "stop" });
    expect(filled.status).toBe(200);
    expect(filled.body).toMatchObject({ id, content: "The answer.", model: "m1", createdAt: draft.body.createdAt });
    expect((await owner.post(path, { id, role: "assistant", content: "The answer.", model: "m1", finishReason: "stop" })).status).toBe(200);
    expectProblem(await owner.post(path, { id, role: "assistant", content: "Another answer." }), "conflict");
    const viaApi = (await owner.get(`/api/agents/${agentId}/sessions/${thread.id}/messages`)).body.messages;
    expect(viaApi).toEqual([{ id, role: "assistant", content: "The answer.", model: "m1", finishReason: "stop", seq: 1, createdAt: draft.body.createdAt }]);
  });

  it("refuses those who may not write the thread", async () => {
    const { owner, agentId, path, thread } = await setup();
    const readOnly = f.anon.as(await keyToken(await makeKey(owner, agentId, ["sessions:read"])));
    expectProblem(await readOnly.post(path, { role: "user", content: "x" }), "forbidden");
    expect((await readOnly.get(`${threadsOf(f.ws.id)}/${thread.id}`)).status).toBe(200);
    expectProblem(await (await user("msg-stranger")).post(path, { role: "user", content: "x" }), "not-found");
    expectProblem(await owner.post(`${threadsOf(f.ws.id)}/ses_nope/messages`, { role: "user", content: "x" }), "not-found");
  });

  it("reaches sockets live: the owner's, and those of the agent's keys (an exchanged token too)", async () => {
    const owner = await user("live-owner");
    const agentId = await makeAgent(owner);
    const keyTok = await keyToken(await makeKey(owner, agentId, ["sessions:read"]));
    const ownerSocket = await connect(f.url, await f.ws.token("live-owner"));
    const keySocket = await connect(f.url, keyTok);
    sockets.push(ownerSocket, keySocket);
    const thread = await createThread(owner, { agentServerId: agentId });
    const stored = (await owner.post(`${threadsOf(f.ws.id)}/${thread.id}/messages`, { role: "user", content: "live?" })).body;
    for (const s of [ownerSocket, keySocket]) {
      await s.until(() => s.of("session:message").some((m) => m.sessionId === thread.id), "session:message");
      expect(s.of("session:message").find((m) => m.sessionId === thread.id).message).toMatchObject({ id: stored.id, role: "user", content: "live?", seq: 1 });
    }
  });
});

describe("chat", () => {
  it("runs a turn on the thread's agent and answers its SSE stream; the answer is the thread's next message", async () => {
    const owner = await user("chat-owner");
    const agentId = await makeAgent(owner);
    const agent = startSocketAgent(f.url, await makeKey(owner, agentId, ["turns:serve"]), { kind: "events", events: scriptedAnswer("Refunds take five days.") });
    agents.push(agent);
    await agent.served;
    const thread = await createThread(owner, { agentServerId: agentId });
    const res = await owner.raw(`${threadsOf(f.ws.id)}/${thread.id}/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "How long do refunds take?" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const frames = res.text.trim().split("\n\n").map((f) => ({ event: /^event: (.+)$/m.exec(f)![1], data: JSON.parse(/^data: (.+)$/m.exec(f)![1]!) }));
    expect(frames[0]).toEqual({ event: "message_start", data: { threadId: thread.id, messageId: expect.any(String), role: "assistant", model: "test-agent" } });
    expect(frames.at(-1)).toEqual({ event: "done", data: { threadId: thread.id, messageId: frames[0]!.data.messageId } });
    expect(frames.filter((x) => x.event === "content_delta").map((x) => x.data.delta).join("")).toBe("Refunds take five days.");
    const got = (await owner.get(`${threadsOf(f.ws.id)}/${thread.id}`)).body.messages;
    expect(got).toMatchObject([
      { role: "user", content: "How long do refunds take?" },
      { id: frames[0]!.data.messageId, role: "assistant", content: "Refunds take five days.", finishReason: "stop" },
    ]);
  });

  it("refuses an INACTIVE server's thread (409), readers who may not write (403/404), and an empty message (422)", async () => {
    const owner = await user("chat-denied");
    const server = (await owner.post(`${v1(f.ws.id)}/agent/servers`, { name: "Paused bot", url: "http://127.0.0.1:9/" })).body;
    const thread = await createThread(owner, { agentServerId: server.id });
    const chat = (client: Api, body: unknown = { message: "hi" }) => client.post(`${threadsOf(f.ws.id)}/${thread.id}/chat`, body);
    expect((await owner.patch(`${v1(f.ws.id)}/agent/servers/${server.id}`, { status: "INACTIVE" })).body.status).toBe("INACTIVE");
    expectProblem(await chat(owner), "conflict", { detail: /INACTIVE/ });
    expectProblem(await chat(owner, { message: "  " }), "validation", { fields: ["message"] });
    const readOnly = f.anon.as(await keyToken(await makeKey(owner, server.id, ["sessions:read"])));
    expectProblem(await chat(readOnly), "forbidden");
    expectProblem(await chat(await user("chat-stranger")), "not-found");
  });
});

describe("agent servers", () => {
  it("registers an agent (the user its editor), lists, reads, changes and deletes it", async () => {
    const owner = await user("srv-owner");
    const servers = `${v1(f.ws.id)}/agent/servers`;
    const created = await owner.post(servers, { name: "Support Bot!", url: "http://127.0.0.1:9/agent", metadata: { team: "support" } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^support-bot-[0-9a-f]{6}$/),
      name: "Support Bot!",
      url: "http://127.0.0.1:9/agent",
      status: "ACTIVE",
      metadata: { team: "support" },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      endpointSecret: expect.stringMatching(/^whsec_/),
    });
    const id = created.body.id;
    const { endpointSecret: _, ...view } = created.body;
    expect((await owner.get(`/api/agents/${id}`)).body).toMatchObject({ id, server_url: "http://127.0.0.1:9/agent", access_level: "editor" });
    expect((await owner.get(`${servers}/${id}`)).body).toEqual(view);
    expect((await owner.get(servers)).body.items).toContainEqual(view);

    const changed = await owner.patch(`${servers}/${id}`, { name: "Support", status: "INACTIVE", metadata: JSON.stringify({ team: "care" }) });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id, name: "Support", url: "http://127.0.0.1:9/agent", status: "INACTIVE", metadata: { team: "care" } });
    expect(changed.body.endpointSecret).toBeUndefined();

    const viewer = await user("srv-viewer");
    await addToTeam(owner, id, viewer, "viewer");
    expect((await viewer.get(`${servers}/${id}`)).body.status).toBe("INACTIVE");
    expectProblem(await viewer.patch(`${servers}/${id}`, { status: "ACTIVE" }), "forbidden");
    expectProblem(await viewer.delete(`${servers}/${id}`), "forbidden");
    expectProblem(await (await user("srv-stranger")).get(`${servers}/${id}`), "not-found");
    const agentKey = f.anon.as(await keyToken(await makeKey(owner, id, ["sessions:read"])));
    expectProblem(await agentKey.post(servers, { name: "x", url: "http://127.0.0.1:9/" }), "forbidden");
    expect((await agentKey.get(servers)).body.items.map((s: { id: string }) => s.id)).toEqual([id]);

    expect((await owner.delete(`${servers}/${id}`)).status).toBe(204);
    expectProblem(await owner.get(`${servers}/${id}`), "not-found");
    expectProblem(await owner.get(`${v1(f.other.id)}/agent/servers`), "not-found");
  });

  it("checks what it registers: url (422 on url), status and name", async () => {
    const owner = await user("srv-checks");
    const servers = `${v1(f.ws.id)}/agent/servers`;
    expectProblem(await owner.post(servers, { name: "x", url: "ftp://example.com" }), "validation", { fields: ["url"] });
    expectProblem(await owner.post(servers, { name: "x", url: "http://169.254.169.254/" }), "validation", { fields: ["url"] });
    expectProblem(await owner.post(servers, { name: "x", url: "http://127.0.0.1:9/", status: "PAUSED" }), "validation", { fields: ["status"] });
    expectProblem(await owner.post(servers, { url: "http://127.0.0.1:9/" }), "validation", { fields: ["name"] });
  });
});

describe("RBAC and token validation", () => {
  // In the other workspace, so switching RBAC on leaves the tests above alone.
  const ws = () => f.other;

  it("switches RBAC (master key or admin), then binds threads to their creator's role and hides them from other roles", async () => {
    const master = f.anon.as(await keyToken(ws().masterKey, ws().id));
    const status = `${v1(ws().id)}/rbac-status`;
    expect((await master.get(status)).body).toEqual({ rbacStatus: "INACTIVE" });
    const member = api(f.url, await ws().token("rb-member", { role: "sales" }));
    expectProblem(await member.put(status, { rbacEnabled: true }), "forbidden");
    expectProblem(await master.put(status, { rbacEnabled: "yes" }), "validation", { fields: ["rbacEnabled"] });
    expect((await master.put(status, { rbacEnabled: true })).body).toEqual({ rbacStatus: "ACTIVE" });
    const admin = api(f.url, await ws().token("rb-admin", { role: "admin" }));
    expect((await admin.get(status)).body).toEqual({ rbacStatus: "ACTIVE" });

    // No role while ACTIVE: 401 on every /v1 route (admins excepted).
    const roleless = api(f.url, await ws().token("rb-roleless"));
    expectProblem(await roleless.get(threadsOf(ws().id)), "unauthorized", { detail: /role/ });
    expectProblem(await roleless.get(status), "unauthorized");

    const owner = api(f.url, await ws().token("rb-owner", { role: "sales" }));
    const agentId = await makeAgent(admin, uniq("rb-agent"));
    await addToTeam(admin, agentId, owner, "editor");
    const thread = await createThread(owner, { agentServerId: agentId }, ws().id);
    expect(thread.roleId).toBe("sales");

    const key = await makeKey(admin, agentId, ["sessions:read", "sessions:write"]);
    const sales = f.anon.as(await keyToken(key, ws().id, "sales"));
    const support = f.anon.as(await keyToken(key, ws().id, "support"));
    expect((await sales.get(`${threadsOf(ws().id)}/${thread.id}`)).status).toBe(200);
    expect((await sales.get(threadsOf(ws().id))).body.items.map((t: { id: string }) => t.id)).toContain(thread.id);
    expectProblem(await support.get(`${threadsOf(ws().id)}/${thread.id}`), "not-found");
    expect((await support.get(threadsOf(ws().id))).body.items.map((t: { id: string }) => t.id)).not.toContain(thread.id);
    expectProblem(await support.get(`/api/agents/${agentId}/sessions/${thread.id}`), "not-found");
    expectProblem(await support.post(`${threadsOf(ws().id)}/${thread.id}/messages`, { role: "user", content: "x" }), "not-found");
    // A thread the support-role token creates is bound to support.
    expect((await createThread(support, {}, ws().id)).roleId).toBe("support");

    expect((await master.put(status, { rbacEnabled: false })).body).toEqual({ rbacStatus: "INACTIVE" });
    expect((await support.get(`${threadsOf(ws().id)}/${thread.id}`)).status).toBe(200);
  });

  it("api-authenticated: 200 {id, user_metadata: {roleId, customerRoleId}} for a user token of the workspace, 401 for anything else", async () => {
    const validator = f.anon.as(await keyToken(f.ws.masterKey));
    const path = `${v1(f.ws.id)}/api-authenticated`;
    const carol = await f.ws.token("va-carol", { role: "support" });
    const carolId = await userId(api(f.url, carol));
    expect((await validator.post(path, { token: carol })).body).toEqual({ id: String(carolId), user_metadata: { roleId: "support", customerRoleId: "support" } });
    const dave = await f.ws.token("va-dave");
    expect((await validator.post(path, { token: dave })).body).toEqual({ id: String(await userId(api(f.url, dave))), user_metadata: {} });

    expectProblem(await validator.post(path, { token: await f.other.token("va-erin") }), "unauthorized");
    expectProblem(await validator.post(path, { token: "not.a.token" }), "unauthorized");
    expectProblem(await validator.post(path, { token: await keyToken(f.ws.masterKey) }), "unauthorized");
    expectProblem(await validator.post(path, { token: f.ws.masterKey }), "unauthorized");
    expectProblem(await validator.post(path, { token: await f.ws.token("va-old", { ttlSeconds: -10 }) }), "unauthorized");
    expectProblem(await validator.post(path, {}), "validation", { fields: ["token"] });
    expectProblem(await validator.post(`${v1(f.other.id)}/api-authenticated`, { token: carol }), "not-found");
    expectProblem(await f.anon.post(path, { token: carol }), "unauthorized");
  });
});

describe("RAG and tools (delegated to the knowledge services)", () => {
  it("answers RAG matches and runs tools, each checked like the rest of /v1", async () => {
    const master = f.anon.as(f.ws.masterKey);
    const item = await master.post("/api/knowledge", { title: "Refund Policy", content: "Refunds are processed within five business days of the request." });
    expect(item.status, item.text).toBe(201);
    const token = f.anon.as(await keyToken(f.ws.masterKey));
    const rag = await token.post(`${v1(f.ws.id)}/agent/rag`, { text: "refund processed", topK: 3 });
    expect(rag.status, rag.text).toBe(200);
    expect(rag.body[0]).toMatchObject({ id: expect.any(String), score: expect.any(Number), metadata: { knowledgeId: item.body.id, title: "Refund Policy", workspaceId: f.ws.id }, values: [] });
    expectProblem(await token.post(`${v1(f.ws.id)}/agent/rag`, { text: "" }), "validation", { fields: ["text"] });
    expectProblem(await token.post(`${v1(f.other.id)}/agent/rag`, { text: "refund" }), "not-found");

    const tools = await token.get(`${v1(f.ws.id)}/agent/tools`);
    expect(tools.body.items.map((t: { name: string }) => t.name)).toContain("semantic_search");
    const run = await token.post(`${v1(f.ws.id)}/agent/tools/semantic_search/execute`, { input: { text: "refund" } });
    expect(run.status, run.text).toBe(200);
    expect(run.body).toHaveProperty("output");
    expectProblem(await token.post(`${v1(f.ws.id)}/agent/tools/no_such_tool/execute`, { input: {} }), "not-found");
    const owner = await user("rag-owner");
    const noScope = f.anon.as(await keyToken(await makeKey(owner, await makeAgent(owner), ["sessions:read"])));
    expectProblem(await noScope.post(`${v1(f.ws.id)}/agent/rag`, { text: "refund" }), "forbidden");
    expectProblem(await noScope.post(`${v1(f.ws.id)}/agent/tools/semantic_search/execute`, { input: { text: "refund" } }), "forbidden");
  });
});
