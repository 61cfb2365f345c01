/**
 * Model agents (`{protocol: "model"}`): the hub runs the agent against an OpenAI-compatible
 * chat-completions server (a scripted one, test/support/model-server.ts), streaming its answer
 * to watchers on the other node, running its tool calls (knowledge tools as the asker, MCP
 * tools), stopping at maxSteps, keeping the API key to the model server, and failing or
 * cancelling cleanly.
 */
import { afterAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeSession, uniq } from "../support/factories.js";
import { startMcpServer, unreachableUrl, type TestMcpServer } from "../support/mcp-server.js";
import { chunks, startModelServer, textAnswer, toolAnswer, type ModelServer, type Script } from "../support/model-server.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
const servers: ModelServer[] = [];
const releases: Array<() => void> = [];
const mcps: TestMcpServer[] = [];
afterAll(async () => {
  for (const release of releases) release();
  await Promise.all([...servers.map((s) => s.close()), ...mcps.map((s) => s.close())]);
});

/** A real MCP server (tools `add` and `echo`) registered in the workspace by the master key. */
async function registeredMcp(fields: Record<string, unknown> = {}): Promise<{ id: string; name: string; mcp: TestMcpServer }> {
  const mcp = await startMcpServer();
  mcps.push(mcp);
  const name = uniq("calc");
  const res = await api(cluster.a.url, cluster.ws.masterKey).post("/api/mcp-servers", { name, url: mcp.url, allowed_groups: ["*"], ...fields });
  expect(res.status, res.text).toBe(201);
  return { id: res.body.id, name, mcp };
}

const offeredTools = (server: ModelServer, i: number): string[] => (server.requests[i]!.body.tools ?? []).map((t: { function: { name: string } }) => t.function.name);

async function modelServer(script: Script): Promise<ModelServer> {
  const server = await startModelServer(script);
  servers.push(server);
  return server;
}

interface Fixture {
  alice: Api;
  agentId: string;
  sessionId: string;
  path: string;
  watcher: Client;
}

/** Alice's model agent on node A, a session of hers, and her watcher on node B. */
async function modelAgent(server: ModelServer, endpoint: Record<string, unknown> = {}): Promise<Fixture> {
  const alice = api(cluster.a.url, await cluster.ws.token("alice"));
  const agentId = await makeAgent(alice, uniq("model"));
  const set = await alice.patch(`/api/agents/${agentId}`, { endpoint: { protocol: "model", url: server.url, model: "test-model", ...endpoint } });
  expect(set.status, set.text).toBe(200);
  const session = await makeSession(alice, agentId);
  const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
  expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
  return { alice, agentId, sessionId: session.id, path: `/api/agents/${agentId}/sessions/${session.id}`, watcher };
}

const eventsOf = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId).map((e) => e.event);
const endOf = (c: Client, turnId: string) => c.of("turn:ended").find((e) => e.turn.id === turnId)?.turn;

/** Starts a turn and waits (on the watcher, node B) until it ended; answers the turn, its events and the stored answer. */
async function ask(f: Fixture, content: string) {
  const started = await f.alice.post(`${f.path}/turns`, { content });
  expect(started.status, started.text).toBe(202);
  const { turn } = started.body;
  await f.watcher.until(() => endOf(f.watcher, turn.id) !== undefined, "turn:ended", 15_000);
  const messages = (await f.alice.get(`${f.path}/messages`)).body.messages;
  return { turn: endOf(f.watcher, turn.id), events: eventsOf(f.watcher, turn.id), answer: messages.find((m: { id: string }) => m.id === turn.message_id) };
}

function deferred(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  releases.push(release);
  return { promise, release };
}

describe("model agents: the answer", () => {
  it("streams the model's reasoning and tokens to a watcher on the other node, with the system prompt and the history, and stores the answer", async () => {
    const server = await modelServer((_, i) =>
      i === 0
        ? { steps: [chunks.role(), chunks.reasoning("The user "), chunks.reasoning("greets."), ...textAnswer("Hello there, Alice.").steps] }
        : textAnswer("Noon, as before."),
    );
    const f = await modelAgent(server, { system: "You are terse." });
    const first = await ask(f, "Hi!");
    expect(first.turn.status).toBe("completed");
    const types = first.events.map((e) => e.type);
    expect(types[0]).toBe("message_start");
    expect(first.events[0]).toMatchObject({ model: "test-model" });
    expect(types.slice(1, 5)).toEqual(["thinking_start", "thinking_delta", "thinking_delta", "thinking_end"]);
    expect(types.slice(-2)).toEqual(["message_end", "done"]);
    expect(first.events.filter((e) => e.type === "content_delta").length).toBeGreaterThan(1);
    expect(first.answer).toMatchObject({ role: "assistant", content: "Hello there, Alice.", model: "test-model", finishReason: "stop" });
    expect(first.answer.thinking[0]).toMatchObject({ content: "The user greets." });

    const second = await ask(f, "When was the spike?");
    expect(second.answer.content).toBe("Noon, as before.");
    expect(server.requests[0]!.body).toMatchObject({ model: "test-model", stream: true, stream_options: { include_usage: true } });
    expect(server.requests[1]!.body.messages).toEqual([
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hi!" },
      { role: "assistant", content: "Hello there, Alice." },
      { role: "user", content: "When was the spike?" },
    ]);
  });

  it("sends the API key as a Bearer token to the model server only: never answered back, and blanked out of an echoed error", async () => {
    const apiKey = `sk-test-${uniq("secret")}`;
    const server = await modelServer((_, i) =>
      i === 0 ? textAnswer("Authorized.") : { status: 401, body: JSON.stringify({ error: { message: `Incorrect API key provided: ${apiKey}`, type: "invalid_request_error" } }) },
    );
    const f = await modelAgent(server, { apiKey });
    const ok = await ask(f, "Are you there?");
    expect(ok.turn.status).toBe("completed");
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${apiKey}`);

    const refused = await ask(f, "Again?");
    expect(refused.turn.status).toBe("failed");
    expect(refused.turn.error).toMatch(/^the model server answered 401: /);
    expect(refused.turn.error).toContain("[redacted]");

    const answers = [
      await f.alice.get(`/api/agents/${f.agentId}`),
      await f.alice.get(`${f.path}/messages`),
      await f.alice.get(`${f.path}/turns/${refused.turn.id}`),
      await f.alice.get(`${f.path}/turns/${ok.turn.id}`),
    ];
    expect(answers[0]!.body.endpoint).toMatchObject({ protocol: "model", apiKeySet: true });
    for (const res of answers) expect(res.text).not.toContain(apiKey);
    expect(JSON.stringify(f.watcher.events)).not.toContain(apiKey);
  });
});

describe("model agents: tools", () => {
  it("runs a knowledge tool call as the asker and feeds its answer back; usage is summed over the steps", async () => {
    const title = uniq("Rotation runbook");
    const master = api(cluster.a.url, cluster.ws.masterKey);
    const item = await master.post("/api/knowledge", { title, content: "Rotate the signing keys every ninety days with the rotate command." });
    expect(item.status, item.text).toBe(201);
    const server = await modelServer((_, i) =>
      i === 0 ? toolAnswer([{ id: "call_1", name: "search_knowledge", args: { query: "rotate signing keys" } }], [20, 8]) : textAnswer("Every ninety days.", [30, 5]),
    );
    const f = await modelAgent(server, { tools: true });
    const { turn, events, answer } = await ask(f, "How often do we rotate keys?");
    expect(turn.status).toBe("completed");

    const offered = server.requests[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name);
    expect(offered).toEqual(expect.arrayContaining(["search_knowledge", "semantic_search", "get_knowledge_item"]));
    const start = events.find((e) => e.type === "tool_call_start");
    expect(start).toMatchObject({ toolCallId: "call_1", name: "search_knowledge", input: { query: "rotate signing keys" } });
    const end = events.find((e) => e.type === "tool_call_end");
    expect(end).toMatchObject({ toolCallId: "call_1", output: { total: 1, results: [{ title }] } });
    expect(events.find((e) => e.type === "sources").sources[0]).toMatchObject({ id: item.body.id, title });

    const fedBack = server.requests[1]!.body.messages;
    expect(fedBack.at(-2)).toMatchObject({ role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "search_knowledge" } }] });
    expect(fedBack.at(-1)).toMatchObject({ role: "tool", tool_call_id: "call_1" });
    expect(fedBack.at(-1).content).toContain(title);

    expect(answer).toMatchObject({ content: "Every ninety days.", finishReason: "stop", tokenUsage: { inputTokens: 50, outputTokens: 13, totalTokens: 63 } });
    expect(answer.toolCalls[0]).toMatchObject({ id: "call_1", name: "search_knowledge" });
  });

  it("stops the tool loop at maxSteps", async () => {
    const server = await modelServer((_, i) => toolAnswer([{ id: `call_${i}`, name: "list_taxonomies", args: {} }]));
    const f = await modelAgent(server, { tools: true, maxSteps: 2 });
    const { turn, events, answer } = await ask(f, "Loop forever");
    expect(turn.status).toBe("completed");
    expect(server.requests).toHaveLength(2);
    expect(events.filter((e) => e.type === "tool_call_end")).toHaveLength(2);
    expect(answer).toMatchObject({ finishReason: "max_steps", tokenUsage: { inputTokens: 40, outputTokens: 16, totalTokens: 56 } });
  });

  it("offers no tools when the agent has none, and answers an unknown tool's call with an error the model sees", async () => {
    const server = await modelServer((_, i) => (i === 0 ? toolAnswer([{ id: "call_x", name: "rm_rf", args: { path: "/" } }]) : textAnswer("Sorry.")));
    const f = await modelAgent(server, { tools: false });
    const { turn, events } = await ask(f, "Delete everything");
    expect(server.requests[0]!.body.tools).toBeUndefined();
    expect(turn.status).toBe("completed");
    expect(events.find((e) => e.type === "tool_call_end")).toMatchObject({ toolCallId: "call_x", error: expect.stringContaining("rm_rf") });
  });
});

describe("model agents: failures and cancel", () => {
  it("fails the turn on a malformed chunk, keeping what arrived", async () => {
    const server = await modelServer(() => ({ steps: [chunks.role(), chunks.text("partial "), { raw: "{not json" }, chunks.text("never")] }));
    const f = await modelAgent(server);
    const { turn, answer } = await ask(f, "Hi");
    expect(turn.status).toBe("failed");
    expect(turn.error).toMatch(/^the model server sent a malformed chunk/);
    expect(answer).toMatchObject({ content: "partial ", finishReason: "error" });
  });

  it("fails the turn on a 500, once (no retry), naming the status and an excerpt", async () => {
    const server = await modelServer(() => ({ status: 500, body: JSON.stringify({ error: { message: "the GPU caught fire" } }) }));
    const f = await modelAgent(server);
    const { turn } = await ask(f, "Hi");
    expect(turn.status).toBe("failed");
    expect(turn.error).toMatch(/^the model server answered 500: .*the GPU caught fire/);
    expect(server.requests).toHaveLength(1);
  });

  it("fails the turn when the model server cannot be reached", async () => {
    const server = await modelServer(() => textAnswer("unused"));
    const f = await modelAgent(server);
    await f.alice.patch(`/api/agents/${f.agentId}`, { endpoint: { protocol: "model", url: "http://127.0.0.1:1/v1", model: "m" } });
    const { turn } = await ask(f, "Hi");
    expect(turn.status).toBe("failed");
    expect(turn.error).toMatch(/^the model server could not be used: 127\.0\.0\.1:1 (refused the connection|could not be reached)/);
  });

  it("cancels mid-stream: the model's connection is closed, what arrived is kept", async () => {
    const hold = deferred();
    const server = await modelServer(() => ({ steps: [chunks.role(), chunks.text("one "), chunks.text("two "), { until: hold.promise }, chunks.text("three")], hang: true }));
    const f = await modelAgent(server);
    const { turn } = (await f.alice.post(`${f.path}/turns`, { content: "Count slowly" })).body;
    await pollUntil(() => f.alice.get(`${f.path}/turns/${turn.id}`).then((r) => r.body), (t) => t.snapshot?.content === "one two ", "two words recorded");
    const cancelled = await f.alice.post(`${f.path}/turns/${turn.id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: "cancelled" });
    await server.until(() => server.requests[0]?.closedEarly === true, "the model call aborted");
    await f.watcher.until(() => endOf(f.watcher, turn.id) !== undefined, "turn:ended");
    const stored = (await f.alice.get(`${f.path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ content: "one two ", finishReason: "cancelled" });
  });
});

describe("model agents: MCP tools", () => {
  it("calls a tool of an MCP server the agent names, with the server's configured headers, and feeds its answer back", async () => {
    const { id, name, mcp } = await registeredMcp({ headers: { "X-Api-Key": "mcp-s3cret" } });
    const server = await modelServer((_, i) => (i === 0 ? toolAnswer([{ id: "call_add", name: `${name}__add`, args: { a: 2, b: 3 } }]) : textAnswer("It is 5.")));
    const f = await modelAgent(server, { mcpServers: [id] });
    const { turn, events, answer } = await ask(f, "What is 2 + 3?");
    expect(turn.status).toBe("completed");
    expect(offeredTools(server, 0).sort()).toEqual([`${name}__add`, `${name}__echo`]);
    expect(events.find((e) => e.type === "tool_call_start")).toMatchObject({ toolCallId: "call_add", name: `${name}__add`, input: { a: 2, b: 3 } });
    expect(events.find((e) => e.type === "tool_call_end")).toMatchObject({ toolCallId: "call_add", output: "5" });
    expect(server.requests[1]!.body.messages.at(-1)).toMatchObject({ role: "tool", tool_call_id: "call_add", content: expect.stringContaining("5") });
    expect(mcp.seen.length).toBeGreaterThan(0);
    expect(mcp.seen.every((h) => h["x-api-key"] === "mcp-s3cret")).toBe(true);
    expect(answer.content).toBe("It is 5.");
    expect(JSON.stringify(f.watcher.events)).not.toContain("mcp-s3cret");
  });

  it("leaves out a server the asker may not use, and goes on without one that cannot be opened, saying why", async () => {
    const allowed = await registeredMcp();
    const forbidden = await registeredMcp({ allowed_groups: [], allowed_users: ["bob@example.com"] });
    const broken = await registeredMcp();
    await api(cluster.a.url, cluster.ws.masterKey).patch(`/api/mcp-servers/${broken.id}`, { url: await unreachableUrl() });
    const server = await modelServer(() => textAnswer("Done."));
    const f = await modelAgent(server, { mcpServers: [allowed.id, forbidden.id, broken.id] });
    const seenBefore = forbidden.mcp.seen.length;
    const { turn, events } = await ask(f, "Which tools?");
    expect(turn.status).toBe("completed");
    expect(offeredTools(server, 0).sort()).toEqual([`${allowed.name}__add`, `${allowed.name}__echo`]);
    expect(forbidden.mcp.seen.length).toBe(seenBefore);
    const note = events.find((e) => e.type === "metadata_update");
    expect(note.metadata.mcp).toMatchObject({ notAllowed: 1, unavailable: [{ server: broken.name, reason: expect.stringContaining("could not be used") }] });
  });

  it("bounds what a tool answers: the model and the watchers get its first 16 KB and a note that it was cut", async () => {
    const { id, name } = await registeredMcp();
    const long = "abcdefgh".repeat(5000); // 40 000 characters
    const server = await modelServer((_, i) => (i === 0 ? toolAnswer([{ id: "call_long", name: `${name}__echo`, args: { text: long } }]) : textAnswer("Long.")));
    const f = await modelAgent(server, { mcpServers: [id] });
    const { turn, events } = await ask(f, "Echo a lot");
    expect(turn.status).toBe("completed");
    const output = events.find((e) => e.type === "tool_call_end").output;
    expect(output).toMatch(/^"abcdefgh.*… \[truncated: the tool answered 40002 bytes; only the first 16384 are shown\]$/);
    expect(events.find((e) => e.type === "tool_call_start").input).toEqual({ truncated: expect.stringMatching(/…$/) });
    const fedBack = server.requests[1]!.body.messages.at(-1);
    expect(fedBack).toMatchObject({ role: "tool", tool_call_id: "call_long" });
    expect(fedBack.content.length).toBeLessThan(17_000);
    expect(fedBack.content).toContain("[truncated");
  });
});
