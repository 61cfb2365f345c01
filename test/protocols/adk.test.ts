/**
 * Agents reached as a Google ADK API server (`endpoint: {protocol: "adk", url, app}`) on two hub
 * processes. The peer is the real thing: `@google/adk-devtools`' AdkApiServer running an
 * `@google/adk` LlmAgent (a scripted model, a FunctionTool that ADK runs itself). The hub makes
 * the ADK session once and reuses it, sends the question to `/run_sse` with the turn token and
 * a signature, maps ADK's streamed events to turn events that a watcher on the other node sees
 * (the final repeat of streamed text recorded once), and fails or cancels the turn cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentAnswerError } from "../../src/endpoints/event-stream.js";
import { verifyWebhook } from "../../src/endpoints/signature.js";
import { AdkTranslator } from "../../src/turns/adk-events.js";
import { api, type Api } from "../support/api.js";
import { startAdkAgent, streamed, type AdkAgent, type AdkRequest } from "../support/adk-agent.js";
import { useCluster } from "../support/cluster.js";
import { makeSession, uniq, userId } from "../support/factories.js";
import { unreachableUrl } from "../support/mcp-server.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
let adk: AdkAgent;
let alice: Api;
beforeAll(async () => {
  adk = await startAdkAgent();
  alice = api(cluster.a.url, await cluster.ws.token("alice"));
});
afterAll(() => adk?.close());

/** An ADK agent of Alice's, a session with it, and a watcher of the session on node B. */
async function adkAgent(endpoint: Record<string, unknown> = { protocol: "adk", url: adk.url, app: adk.app }) {
  const created = await alice.post("/api/agents", { id: uniq("adk"), name: "ADK agent", endpoint });
  expect(created.status, created.text).toBe(201);
  const session = await makeSession(alice, created.body.id);
  const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
  expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
  const path = `/api/agents/${created.body.id}/sessions/${session.id}`;
  return { secret: created.body.endpoint_secret as string, sessionId: session.id as string, path, watcher };
}

const turnEvents = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId);
const endOf = (c: Client, turnId: string) => c.of("turn:ended").find((e) => e.turn.id === turnId)?.turn;
const storedAnswer = (path: string, id: string) =>
  pollUntil(() => alice.get(`${path}/messages`).then((r) => r.body.messages.find((m: { id: string }) => m.id === id)), (m) => !!m, "the stored answer");
const sessionRequests = (sessionId: string) => adk.requests.filter((r) => r.method === "POST" && r.path.endsWith(`/sessions/${sessionId}`));
const runsOf = (sessionId: string) => adk.requests.filter((r) => r.path === "/run_sse" && r.body?.sessionId === sessionId);

async function ask(path: string, watcher: Client, content: string) {
  const res = await alice.post(`${path}/turns`, { content });
  expect(res.status, res.text).toBe(202);
  const turn = res.body.turn;
  await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended", 15_000);
  return { turn, ended: endOf(watcher, turn.id), events: turnEvents(watcher, turn.id).map((e) => e.event) };
}

describe("ADK agents", () => {
  it("streams thoughts and text to a watcher on the other node, once each; makes the ADK session once and reuses it", async () => {
    const { sessionId, secret, path, watcher } = await adkAgent();
    adk.script(({ stream }) => [
      { content: { role: "model", parts: [{ text: "Check the logs.", thought: true }] }, partial: true },
      ...(stream ? [1, 2].map((i) => ({ content: { role: "model", parts: [{ text: i === 1 ? "The logs " : "show a spike." }] }, partial: true })) : []),
      {
        content: { role: "model", parts: [{ text: "Check the logs.", thought: true }, { text: "The logs show a spike." }] },
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 6, totalTokenCount: 16 },
        turnComplete: true,
      },
    ]);
    const { turn, ended, events } = await ask(path, watcher, "What happened at noon?");
    expect(ended).toMatchObject({ status: "completed" });
    expect(events.map((e) => e.type)).toEqual([
      "message_start", "thinking_start", "thinking_delta", "thinking_end", "content_delta", "content_delta", "content_end", "message_end", "done",
    ]);
    expect(events.at(-2)).toEqual({ type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 10, outputTokens: 6, totalTokens: 16 } });
    const seqs = turnEvents(watcher, turn.id).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const stored = await storedAnswer(path, turn.message_id);
    expect(stored).toMatchObject({ role: "assistant", content: "The logs show a spike.", finishReason: "stop", tokenUsage: { totalTokens: 16 } });
    expect(stored.thinking).toMatchObject([{ content: "Check the logs.", status: "completed" }]);

    // What ADK received: its session made for the asker (no personal data), then the question, with the turn token, signed.
    const user = `u${await userId(alice)}`;
    const [made] = sessionRequests(sessionId);
    expect(made).toMatchObject({ path: `/apps/${adk.app}/users/${user}/sessions/${sessionId}`, status: 200 });
    const [run] = runsOf(sessionId) as [AdkRequest];
    expect(run.body).toEqual({ appName: adk.app, userId: user, sessionId, newMessage: { role: "user", parts: [{ text: "What happened at noon?" }] }, streaming: true });
    expect(run.headers.authorization).toMatch(/^Bearer \S+/);
    expect(verifyWebhook(secret, run.headers, JSON.stringify(run.body))).toEqual({ ok: true });
    expect(run.headers["webhook-id"]).toBe(turn.id);

    // The second turn goes to the same ADK session, which now holds both questions.
    adk.script(streamed("Second ", "answer."));
    const second = await ask(path, watcher, "And after?");
    expect(second.ended.status).toBe("completed");
    expect((await storedAnswer(path, second.turn.message_id)).content).toBe("Second answer.");
    expect(sessionRequests(sessionId).filter((r) => r.status === 200)).toHaveLength(1); // another node may ask again: 400, "already exists"
    expect(sessionRequests(sessionId).every((r) => r.status === 200 || r.status === 400)).toBe(true);
    const held: any = await fetch(`${adk.url}/apps/${adk.app}/users/${user}/sessions/${sessionId}`).then((r) => r.json());
    const questions = held.events.filter((e: any) => e.author === "user").map((e: any) => e.content.parts[0].text);
    expect(questions).toEqual(["What happened at noon?", "And after?"]);
  });

  it("shows a FunctionTool that ADK runs as a tool call with its arguments and response", async () => {
    const { path, watcher } = await adkAgent();
    adk.script(({ call, toolResults }) =>
      call === 0
        ? [{ content: { role: "model", parts: [{ text: "Let me look." }, { functionCall: { id: "call-1", name: "lookup", args: { query: "noon" } } }] } }]
        : [{ content: { role: "model", parts: [{ text: `Found: ${(toolResults[0] as { found: string }).found}.` }] }, turnComplete: true }],
    );
    const lookups = adk.lookups.length;
    const { turn, ended, events } = await ask(path, watcher, "Look it up");
    expect(ended.status).toBe("completed");
    expect(adk.lookups.slice(lookups)).toEqual([{ query: "noon" }]);
    expect(events.map((e) => e.type)).toEqual(["message_start", "content_delta", "tool_call_start", "tool_call_end", "content_delta", "content_delta", "content_end", "message_end", "done"]);
    expect(events[2]).toEqual({ type: "tool_call_start", toolCallId: "call-1", name: "lookup", input: { query: "noon" } });
    expect(events[3]).toMatchObject({ type: "tool_call_end", toolCallId: "call-1", output: { found: "3 errors at 12:00", query: { query: "noon" } } });
    const stored = await storedAnswer(path, turn.message_id);
    expect(stored.content).toBe("Let me look.\n\nFound: 3 errors at 12:00.");
    expect(stored.toolCalls).toMatchObject([{ id: "call-1", name: "lookup", input: { query: "noon" }, output: { found: "3 errors at 12:00" }, status: "completed" }]);
  });

  it("fails the turn on an ADK error event with its message, keeping what arrived", async () => {
    const { path, watcher } = await adkAgent();
    adk.script(() => [
      { content: { role: "model", parts: [{ text: "partial" }] }, partial: true },
      { errorCode: "RESOURCE_EXHAUSTED", errorMessage: "the model is overloaded" },
    ]);
    const { turn, ended, events } = await ask(path, watcher, "hi");
    expect(ended).toMatchObject({ status: "failed", error: "the agent reported an error: the model is overloaded (RESOURCE_EXHAUSTED)" });
    expect(events.slice(-2)).toEqual([{ type: "error", error: ended.error }, { type: "done" }]);
    expect(await storedAnswer(path, turn.message_id)).toMatchObject({ content: "partial", finishReason: "error" });

    // A model that throws: ADK reports it as an error event too; the hub is still fine after.
    adk.script(() => {
      throw new Error("the model broke");
    });
    expect((await ask(path, watcher, "again")).ended).toMatchObject({ status: "failed", error: expect.stringContaining("the model broke") });
    adk.script(streamed("fine"));
    expect((await ask(path, watcher, "still there?")).ended.status).toBe("completed");
  });

  it("fails a turn for an app the server does not have, and remakes a session the server lost", async () => {
    const unknown = await adkAgent({ protocol: "adk", url: adk.url, app: "no_such_app" });
    const failed = await ask(unknown.path, unknown.watcher, "hello?");
    expect(failed.ended).toMatchObject({ status: "failed", error: expect.stringMatching(/^the agent reported an error: .*no_such_app/) });

    const { sessionId, path, watcher } = await adkAgent();
    adk.script(streamed("one"));
    expect((await ask(path, watcher, "first")).ended.status).toBe("completed");
    const user = `u${await userId(alice)}`;
    expect((await fetch(`${adk.url}/apps/${adk.app}/users/${user}/sessions/${sessionId}`, { method: "DELETE" })).ok).toBe(true);
    adk.script(streamed("two"));
    const mark = adk.requests.length;
    const again = await ask(path, watcher, "second");
    expect(again.ended.status).toBe("completed");
    // The node that made the session remembered it: the turn found it gone (404), made it again, and ran.
    const calls = () => adk.requests.slice(mark).map((r) => `${r.path === "/run_sse" ? "run" : "session"} ${r.status}`);
    await adk.until(() => calls().join() === "run 404,session 200,run 200", "the session made again");
    expect((await storedAnswer(path, again.turn.message_id)).content).toBe("two");
  });

  it("cancels mid-stream at once: the run_sse request is aborted, what arrived is kept", async () => {
    const { sessionId, path, watcher } = await adkAgent();
    adk.script(() => [{ content: { role: "model", parts: [{ text: "so far" }] }, partial: true }, { stall: true }]);
    const { turn } = (await alice.post(`${path}/turns`, { content: "go slowly" })).body;
    await watcher.until(() => turnEvents(watcher, turn.id).some((e) => e.event.type === "content_delta"), "the first words");
    const run = runsOf(sessionId).at(-1)!;
    const cancelled = await alice.post(`${path}/turns/${turn.id}/cancel`);
    expect(cancelled.body).toMatchObject({ id: turn.id, status: "cancelled" });
    await adk.until(() => run.aborted, "the hub to abort the run_sse request");
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended");
    expect(endOf(watcher, turn.id).status).toBe("cancelled");
    expect(await storedAnswer(path, turn.message_id)).toMatchObject({ content: "so far", finishReason: "cancelled" });
  });

  it("fails the turn with a reason when the ADK server cannot be reached", async () => {
    const { path, watcher } = await adkAgent({ protocol: "adk", url: (await unreachableUrl()).replace(/\/mcp$/, ""), app: "any" });
    const { ended } = await ask(path, watcher, "anyone?");
    expect(ended).toMatchObject({ status: "failed", error: expect.stringMatching(/refused the connection|could not be reached/) });
  });
});

// What a real ADK server does not send, or sends only in other set-ups (no streaming, the Python
// server's error event, several model calls), fed to the translation directly.
describe("ADK events as turn events", () => {
  it("records a non-partial event's text when nothing was streamed, and sums usage over model calls", () => {
    const t = new AdkTranslator();
    const first = t.step({ content: { role: "model", parts: [{ text: "Whole answer." }] }, usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 } });
    expect(first).toEqual({ events: [{ type: "message_start", role: "assistant", model: "" }, { type: "content_delta", delta: "Whole answer." }] });
    t.step({ content: { role: "model", parts: [{ functionCall: { id: "a", name: "partial_call" } }] }, partial: true }); // ADK runs only non-partial calls
    t.step({ content: { role: "model", parts: [{ text: "More." }] }, usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1, thoughtsTokenCount: 1 }, finishReason: "MAX_TOKENS" });
    expect(t.finish()).toEqual([{ type: "content_end" }, { type: "message_end", finishReason: "length", tokenUsage: { inputTokens: 7, outputTokens: 4, totalTokens: 11 } }]);
  });

  it("takes the server's own {error} event, refuses a malformed event, and ends calls left without a response", () => {
    expect(new AdkTranslator().step({ error: "Failed to run agent" })).toEqual({ error: "the agent reported an error: Failed to run agent" });
    expect(() => new AdkTranslator().step({ content: { parts: "not a list" } })).toThrow(AgentAnswerError);
    expect(() => new AdkTranslator().step("a string")).toThrow(/malformed ADK event/);
    const t = new AdkTranslator();
    const step = t.step({ content: { role: "model", parts: [{ functionCall: { name: "lookup", args: { q: "x".repeat(40_000) } } }] } });
    expect(step).toMatchObject({ events: [{ type: "message_start" }, { type: "tool_call_start", toolCallId: "call-1", name: "lookup", input: { truncated: true } }] });
    expect(t.finish()).toMatchObject([{ type: "tool_call_end", toolCallId: "call-1" }, { type: "message_end", finishReason: "stop" }]);
  });
});
