/**
 * Agent turns across two hub processes: a socket-mode agent and an HTTP agent server answer,
 * watchers on the other node see every event once and in order, late joiners get a snapshot
 * and the rest, and failures end the turn with a clear error, keeping what arrived.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../src/endpoints/signature.js";
import { api, type Api } from "../support/api.js";
import { answer, startAgentServer, type AgentServer } from "../support/agent-server.js";
import { useCluster } from "../support/cluster.js";
import { addToTeam, makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { ackProblem, expectProblem } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent, type TurnScript } from "../support/socket-agent.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
const agents: SocketAgent[] = [];
const servers: AgentServer[] = [];
afterAll(async () => {
  await Promise.all([...agents.map((a) => a.close()), ...servers.map((s) => s.close())]);
});

/** Alice's agent served over a socket on node A, a session of hers, and her client. */
async function socketServed(script: TurnScript) {
  const alice = api(cluster.a.url, await cluster.ws.token("alice"));
  const agentId = await makeAgent(alice, uniq("agent"));
  const key = await makeKey(alice, agentId, ["turns:serve"]);
  const agent = startSocketAgent(cluster.a.url, key, script);
  agents.push(agent);
  await agent.served;
  const session = await makeSession(alice, agentId);
  return { alice, agentId, agent, sessionId: session.id as string, path: `/api/agents/${agentId}/sessions/${session.id}` };
}

const turnEvents = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId);
const ended = (c: Client, turnId: string) => c.of("turn:ended").some((e) => e.turn.id === turnId);

describe("turns over a serving socket", () => {
  it("runs a turn end to end: watchers on the other node get every event once, in order, and the stored answer", async () => {
    const { alice, agent, sessionId, path } = await socketServed({ kind: "events", events: scriptedAnswer("The logs show a spike at noon.", { delayMs: 5 }) });
    const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    expect((await watcher.emitAck("session:watch", { sessionId })).ok).toBe(true);

    const started = await alice.post(`${path}/turns`, { content: "What happened at noon?" });
    expect(started.status).toBe(202);
    const { turn, message } = started.body;
    expect(turn).toMatchObject({ session_id: sessionId, status: "queued", trigger_message_id: message.id, message_id: expect.any(String) });
    expect(message).toMatchObject({ role: "user", content: "What happened at noon?", seq: 1 });

    await watcher.until(() => ended(watcher, turn.id), "turn:ended");
    expect(agent.requests[0]).toMatchObject({ turnId: turn.id, sessionId, messageId: turn.message_id, message: { id: message.id, content: "What happened at noon?" } });
    const events = turnEvents(watcher, turn.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0].event).toMatchObject({ type: "message_start", model: "test-agent" });
    expect(events.at(-1).event).toEqual({ type: "done" });
    expect(events.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("")).toBe("The logs show a spike at noon.");
    expect(watcher.of("turn:started").map((e) => e.turn.id)).toEqual([turn.id]);
    expect(watcher.of("turn:ended")[0].turn).toMatchObject({ id: turn.id, status: "completed", ended_at: expect.any(String) });

    await watcher.until(() => watcher.of("session:message").some((m) => m.message.id === turn.message_id), "the stored answer");
    const answerMessage = watcher.of("session:message").find((m) => m.message.id === turn.message_id).message;
    expect(answerMessage).toMatchObject({ role: "assistant", content: "The logs show a spike at noon.", model: "test-agent", finishReason: "stop", seq: 2 });
    const got = await alice.get(`${path}/turns/${turn.id}`);
    expect(got.body).toMatchObject({ id: turn.id, status: "completed", seq: events.length, snapshot: { content: "The logs show a spike at noon." } });
  });

  it("keeps a fast answer whole and in order when the agent serves from the other node (and is not held to the request rate)", async () => {
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("fast"));
    const agent = startSocketAgent(cluster.b.url, await makeKey(alice, agentId, ["turns:serve"]), {
      kind: "events",
      events: scriptedAnswer(Array.from({ length: 300 }, (_, i) => `t${i}`).join(" "), { wordsPerChunk: 1 }),
    });
    agents.push(agent);
    await agent.served;
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const watcher = await cluster.open(cluster.a.url, await cluster.ws.token("alice"));
    await watcher.emitAck("session:watch", { sessionId: session.id });
    const { turn } = (await alice.post(`${path}/turns`, { content: "count to 300" })).body; // on A; the agent is on B
    await watcher.until(() => ended(watcher, turn.id), "turn:ended", 20_000);
    const events = turnEvents(watcher, turn.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const expected = Array.from({ length: 300 }, (_, i) => `t${i}`).join(" ");
    expect(events.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("").trim()).toBe(expected);
    expect(watcher.of("turn:ended").find((e) => e.turn.id === turn.id).turn.status).toBe("completed");
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored.content.trim()).toBe(expected);
  });

  it("gives a client that joins mid-turn the snapshot, then exactly the events after it", async () => {
    const text = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const { alice, sessionId, path } = await socketServed({ kind: "events", events: scriptedAnswer(text, { wordsPerChunk: 1, delayMs: 25 }) });
    const { turn } = (await alice.post(`${path}/turns`, { content: "count" })).body;
    // Mid-turn: the hub has recorded a few of its events (and the agent has more to send).
    await pollUntil(() => alice.get(`${path}/turns/${turn.id}`).then((r) => r.body), (t) => (t.snapshot?.content ?? "").trim().split(" ").length >= 3, "a few words recorded");
    const late = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    const ack = await late.emitAck("session:watch", { sessionId });
    expect(ack.turns).toHaveLength(1);
    const [{ seq, snapshot }] = ack.turns;
    expect(seq).toBeGreaterThan(1);
    await late.until(() => ended(late, turn.id), "turn:ended");
    // The socket is Alice's own, so her room may have brought it events before the watch: those
    // are at or below the snapshot's seq. After it: exactly seq + 1 onwards. Nothing twice.
    const all = turnEvents(late, turn.id).map((e) => e.seq);
    expect(new Set(all).size).toBe(all.length);
    const rest = turnEvents(late, turn.id).filter((e) => e.seq > seq);
    expect(rest.map((e) => e.seq)).toEqual(rest.map((_, i) => seq + i + 1));
    expect(all.slice(0, all.length - rest.length).every((s) => s <= seq)).toBe(true);
    const content = snapshot.content + rest.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("");
    expect(content.trim()).toBe(text);
  });

  it("refuses a second turn while one runs (409), and cancels: the agent is told, what arrived is kept", async () => {
    const { alice, agent, path } = await socketServed({ kind: "events", events: scriptedAnswer("one two three four five six seven eight", { wordsPerChunk: 1, delayMs: 150 }) });
    const { turn } = (await alice.post(`${path}/turns`, { content: "go slowly" })).body;
    expectProblem(await alice.post(`${path}/turns`, { content: "again" }), "conflict");
    await agent.until(() => agent.sent.length >= 3, "a few events");
    const cancelled = await alice.post(`${path}/turns/${turn.id}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ id: turn.id, status: "cancelled" });
    await agent.until(() => agent.cancels.length === 1, "turn:cancel");
    expect((await alice.get(`${path}/turns/${turn.id}`)).body.status).toBe("cancelled");
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ role: "assistant", finishReason: "cancelled" });
    expect(stored.content.length).toBeGreaterThan(0);
    // The session takes a new turn afterwards.
    expect((await alice.post(`${path}/turns`, { content: "now something else" })).status).toBe(202);
  });

  it("fails a turn whose agent sends a malformed event, or whose socket leaves mid-turn, with a clear error", async () => {
    const malformed = await socketServed({ kind: "malformed", after: 2, events: scriptedAnswer("partial answer here") });
    const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    await watcher.emitAck("session:watch", { sessionId: malformed.sessionId });
    const t1 = (await malformed.alice.post(`${malformed.path}/turns`, { content: "hi" })).body.turn;
    await watcher.until(() => ended(watcher, t1.id), "turn:ended");
    const events = turnEvents(watcher, t1.id).map((e) => e.event);
    expect(events.at(-2)).toEqual({ type: "error", error: expect.stringMatching(/^the agent sent a malformed content_delta event/) });
    expect(events.at(-1)).toEqual({ type: "done" });
    expect(watcher.of("turn:ended").find((e) => e.turn.id === t1.id).turn).toMatchObject({ status: "failed", error: expect.stringMatching(/malformed/) });

    const leaving = await socketServed({ kind: "disconnect", after: 3, events: scriptedAnswer("never finished because the socket goes away") });
    const t2 = (await leaving.alice.post(`${leaving.path}/turns`, { content: "hi" })).body.turn;
    const status = async () => (await leaving.alice.get(`${leaving.path}/turns/${t2.id}`)).body;
    await pollUntil(status, (t) => t.status === "failed", "the turn to be failed");
    expect(await status()).toMatchObject({ status: "failed", error: "the agent's socket disconnected mid-turn" });
  });

  it("hands a turn to another serving socket when the first leaves before answering", async () => {
    const { alice, agentId, agent: leaving, path } = await socketServed({ kind: "disconnect", after: 0 });
    const { turn } = (await alice.post(`${path}/turns`, { content: "who takes this?" })).body;
    await leaving.until(() => leaving.requests.length === 1, "the first socket's request");
    const key = await makeKey(alice, agentId, ["turns:serve"]);
    const second = startSocketAgent(cluster.b.url, key, { kind: "events", events: scriptedAnswer("Taken over.") });
    agents.push(second);
    await second.served;
    await second.until(() => second.requests.length === 1, "the turn handed over", 10_000);
    expect(second.requests[0]!.turnId).toBe(turn.id);
    const status = async () => (await alice.get(`${path}/turns/${turn.id}`)).body;
    await pollUntil(status, (t) => t.status === "completed", "the turn to be completed");
    expect(await status()).toMatchObject({ status: "completed", snapshot: { content: "Taken over." } });
  });

  it("fails at once when nothing serves the agent and it has no server_url", async () => {
    const alice = api(cluster.b.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("idle"));
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const { turn } = (await alice.post(`${path}/turns`, { content: "anyone?" })).body;
    const status = async () => (await alice.get(`${path}/turns/${turn.id}`)).body;
    await pollUntil(status, (t) => t.status === "failed", "the turn to be failed");
    expect(await status()).toMatchObject({ status: "failed", error: expect.stringMatching(/no server_url and no socket serving it/) });
    // The stored answer keeps why, so a reader after a reload sees the reason too.
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ finishReason: "error", metadata: { error: expect.stringMatching(/no server_url and no socket serving it/) } });
  });
});

describe("who may start, watch and serve", () => {
  it("checks the session's rules: owner and writing keys start; viewers of other people's sessions, other users and reading keys do not", async () => {
    const { alice, agentId, sessionId, path } = await socketServed({ kind: "silent" });
    const bob: Api = api(cluster.a.url, await cluster.ws.token(uniq("bob")));
    await addToTeam(alice, agentId, bob, "viewer");
    expectProblem(await bob.post(`${path}/turns`, { content: "not my session" }), "not-found");
    const reader = api(cluster.a.url, await makeKey(alice, agentId, ["sessions:read"]));
    expectProblem(await reader.post(`${path}/turns`, { content: "read only" }), "forbidden");
    expectProblem(await alice.post(`${path}/turns`, { content: "   " }), "validation", { fields: ["content"] });
    expectProblem(await alice.post(`/api/agents/${agentId}/sessions/ses_nope/turns`, { content: "x" }), "not-found");
    expectProblem(await alice.get(`${path}/turns/trn_nope`), "not-found");
    // Serving needs a key of the agent with turns:serve.
    const noScope = await cluster.open(cluster.a.url, await makeKey(alice, agentId, ["sessions:read"]));
    expect(await noScope.emitAck("agent:serve", {})).toEqual(ackProblem("forbidden", { detail: "This key lacks the turns:serve scope" }));
    const user = await cluster.open(cluster.a.url, await cluster.ws.token("alice"));
    expect(await user.emitAck("agent:serve", {})).toEqual(ackProblem("forbidden"));
    expect(sessionId).toBeTruthy();
  });
});

describe("turns over an HTTP agent server", () => {
  it("calls the agent's server_url the way the Sharely Server SDK expects, signed, and streams the answer as SSE", async () => {
    const server = await startAgentServer(
      answer([{ type: "message_start", role: "assistant", model: "sdk-agent" }, { type: "content_delta", delta: "Hello " }, { type: "content_delta", delta: "from HTTP." }, { type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 1, outputTokens: 3, totalTokens: 4 } }]),
    );
    servers.push(server);
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = uniq("http");
    const created = await alice.post("/api/agents", { id: agentId, name: "HTTP agent", server_url: server.url });
    expect(created.status).toBe(201);
    const secret = created.body.endpoint_secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect((await alice.get(`/api/agents/${agentId}`)).body.endpoint_secret).toBeUndefined();
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;

    const res = await fetch(`${cluster.b.url}${path}/turns`, {
      method: "POST",
      headers: { authorization: `Bearer ${await cluster.ws.token("alice")}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ content: "Say hello", id: randomUUID() }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    const frames = text.split("\n\n").filter((f) => f.startsWith("event:"));
    const types = frames.map((f) => /^event: (\S+)/.exec(f)![1]);
    expect(types).toEqual(["message_start", "content_delta", "content_delta", "message_end", "done"]);
    const data = frames.map((f) => JSON.parse(/\ndata: (.*)/.exec(f)![1]!));
    expect(data[1]).toEqual({ threadId: session.id, messageId: expect.any(String), delta: "Hello " });

    const request = server.requests[0]!;
    expect(request.method).toBe("POST");
    expect(request.url).toBe(`/agent/threads/${session.id}/chat`);
    // threadId and url put the target under the webhook signature (the SDK ignores them).
    expect(JSON.parse(request.body)).toEqual({ message: "Say hello", threadId: session.id, url: `${server.url}/agent/threads/${session.id}/chat` });
    expect(request.headers["x-sharely-message-id"]).toBe(data[0].messageId);
    expect(request.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(verifyWebhook(secret, request.headers, request.body, { url: `${server.url}/agent/threads/${session.id}/chat`, threadId: session.id })).toEqual({ ok: true });

    const messages = (await alice.get(`${path}/messages`)).body.messages;
    expect(messages.at(-1)).toMatchObject({ id: data[0].messageId, role: "assistant", content: "Hello from HTTP.", model: "sdk-agent", tokenUsage: { totalTokens: 4 } });
  });

  it("fails the turn with the server's answer when it is not 2xx, and refuses metadata addresses at registration", async () => {
    const server = await startAgentServer({ status: 500, body: JSON.stringify({ error: "model overloaded" }) });
    servers.push(server);
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = uniq("broken");
    expect((await alice.post("/api/agents", { id: agentId, name: "Broken", server_url: server.url })).status).toBe(201);
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const { turn } = (await alice.post(`${path}/turns`, { content: "hi" })).body;
    const status = async () => (await alice.get(`${path}/turns/${turn.id}`)).body;
    await pollUntil(status, (t) => t.status === "failed", "the turn to be failed");
    expect(await status()).toMatchObject({ status: "failed", error: expect.stringMatching(/500/) });
    // The server is at a private address (allowed here): its body is not read back to the asker.
    expect((await status()).error).toBe("the agent server answered 500 (not quoted: the server is at a private address)");
    expectProblem(await alice.post("/api/agents", { id: uniq("meta"), name: "x", server_url: "http://169.254.169.254/latest" }), "validation", { fields: ["server_url"] });
  });
});
