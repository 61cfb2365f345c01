/**
 * Agents reached over AG-UI (`endpoint: {protocol: "agui", url}`) on two hub processes: the
 * peer is an AG-UI agent writing with `@ag-ui/encoder`. The hub sends a signed RunAgentInput
 * with the turn token and the history, maps the event stream (or a JSON answer) to turn events
 * that a watcher on the other node sees in order, stores the whole answer, and fails or cancels
 * the turn cleanly on errors, cut or malformed streams, oversized events and cancels.
 */
import { RunAgentInputSchema } from "@ag-ui/core/schemas";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../src/endpoints/signature.js";
import { api, type Api } from "../support/api.js";
import { ev, run, startAguiPeer, text, type AguiPeer, type AguiScript } from "../support/agui-peer.js";
import { useCluster } from "../support/cluster.js";
import { makeSession, uniq, userId } from "../support/factories.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
let peer: AguiPeer;
let alice: Api;
beforeAll(async () => {
  peer = await startAguiPeer();
  alice = api(cluster.a.url, await cluster.ws.token("alice"));
});
afterAll(() => peer?.close());

/** An AG-UI agent of Alice's, a session with it, and a watcher of the session on node B. */
async function aguiAgent() {
  const created = await alice.post("/api/agents", { id: uniq("agui"), name: "AG-UI agent", endpoint: { protocol: "agui", url: peer.url } });
  expect(created.status, created.text).toBe(201);
  const session = await makeSession(alice, created.body.id);
  const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
  expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
  const path = `/api/agents/${created.body.id}/sessions/${session.id}`;
  return { agentId: created.body.id as string, secret: created.body.endpoint_secret as string, sessionId: session.id as string, path, watcher };
}

const turnEvents = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId);
const endOf = (c: Client, turnId: string) => c.of("turn:ended").find((e) => e.turn.id === turnId)?.turn;

async function ask(path: string, watcher: Client, content: string) {
  const res = await alice.post(`${path}/turns`, { content });
  expect(res.status, res.text).toBe(202);
  const turn = res.body.turn;
  await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended", 15_000);
  return { turn, message: res.body.message, ended: endOf(watcher, turn.id), events: turnEvents(watcher, turn.id).map((e) => e.event) };
}

describe("AG-UI agents", () => {
  it("streams text, a tool call with its arguments and result, and reasoning to a watcher on the other node; stores the whole answer", async () => {
    const { sessionId, secret, path, watcher } = await aguiAgent();
    peer.script((input) => ({
      onRequest: async (request) => {
        const token = String(request.headers.authorization).replace(/^Bearer /, "");
        return (await api(cluster.b.url, await cluster.ws.token(uniq("validator"))).post(`/v1/workspaces/${cluster.ws.id}/api-authenticated`, { token })).body;
      },
      steps: run(
        input,
        [
          ev({ type: "REASONING_START", messageId: "r1" }),
          ev({ type: "REASONING_MESSAGE_START", messageId: "r1", role: "reasoning" }),
          ev({ type: "REASONING_MESSAGE_CONTENT", messageId: "r1", delta: "Check the logs " }),
          ev({ type: "REASONING_MESSAGE_CONTENT", messageId: "r1", delta: "first." }),
          ev({ type: "REASONING_MESSAGE_END", messageId: "r1" }),
          ev({ type: "REASONING_END", messageId: "r1" }),
          ev({ type: "TOOL_CALL_START", toolCallId: "call-1", toolCallName: "search_logs" }),
          ev({ type: "TOOL_CALL_ARGS", toolCallId: "call-1", delta: '{"query":"no' }),
          ev({ type: "TOOL_CALL_ARGS", toolCallId: "call-1", delta: 'on","limit":5}' }),
          ev({ type: "TOOL_CALL_END", toolCallId: "call-1" }),
          ev({ type: "TOOL_CALL_RESULT", messageId: "t1", toolCallId: "call-1", content: "3 errors at 12:00" }),
          ev({ type: "STATE_SNAPSHOT", snapshot: { step: "answered" } }),
          ev({ type: "CUSTOM", name: "ignored", value: { x: 1 } }),
          ...text("m1", "The logs ", "show a spike ", "at noon."),
        ],
        { usage: [{ inputTokens: 10, outputTokens: 6 }] },
      ),
    }));
    const { turn, message, ended, events } = await ask(path, watcher, "What happened at noon?");
    expect(ended).toMatchObject({ status: "completed" });
    expect(events.map((e) => e.type)).toEqual([
      "message_start", "thinking_start", "thinking_delta", "thinking_delta", "thinking_end", "tool_call_start", "tool_call_end",
      "metadata_update", "content_delta", "content_delta", "content_delta", "content_end", "message_end", "done",
    ]);
    expect(events[5]).toEqual({ type: "tool_call_start", toolCallId: "call-1", name: "search_logs", input: { query: "noon", limit: 5 } });
    expect(events[6]).toMatchObject({ type: "tool_call_end", toolCallId: "call-1", output: "3 errors at 12:00" });
    expect(events.at(-2)).toEqual({ type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 10, outputTokens: 6, totalTokens: 16 } });
    const seqs = turnEvents(watcher, turn.id).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ role: "assistant", content: "The logs show a spike at noon.", finishReason: "stop", tokenUsage: { totalTokens: 16 } });
    expect(stored.thinking).toMatchObject([{ id: "r1", content: "Check the logs first.", status: "completed" }]);
    expect(stored.toolCalls).toMatchObject([{ id: "call-1", name: "search_logs", input: { query: "noon", limit: 5 }, output: "3 errors at 12:00", status: "completed" }]);

    // What the agent received: a signed RunAgentInput for this session and turn, with the turn token.
    const request = peer.requests.at(-1)!;
    expect(RunAgentInputSchema.safeParse(request.input).success).toBe(true);
    expect(request.input).toMatchObject({ threadId: sessionId, runId: turn.id, tools: [], state: {}, context: [], forwardedProps: {} });
    expect(request.input.messages).toEqual([{ id: message.id, role: "user", content: "What happened at noon?" }]);
    expect(request.headers.accept).toBe("text/event-stream");
    expect(request.seen).toEqual({ id: String(await userId(alice)), user_metadata: {} });
    expect(verifyWebhook(secret, request.headers, request.body)).toEqual({ ok: true });
  });

  it("sends the history with each turn, and takes a JSON {messages} answer", async () => {
    const { path, watcher } = await aguiAgent();
    peer.script((input) => ({ steps: run(input, text("a1", "First answer.")) }));
    const first = await ask(path, watcher, "first question");
    peer.script((input) => ({ json: { messages: [...input.messages, { id: "a2", role: "assistant", content: "Second answer, whole." }] } }));
    const second = await ask(path, watcher, "second question");
    expect(second.ended.status).toBe("completed");
    expect(peer.requests.at(-1)!.input.messages).toEqual([
      { id: first.message.id, role: "user", content: "first question" },
      { id: first.turn.message_id, role: "assistant", content: "First answer." },
      { id: second.message.id, role: "user", content: "second question" },
    ]);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === second.turn.message_id);
    expect(stored).toMatchObject({ content: "Second answer, whole.", finishReason: "stop" });
  });

  it("fails the turn on RUN_ERROR with its message, keeping what arrived", async () => {
    const { path, watcher } = await aguiAgent();
    peer.script((input) => ({ steps: [ev({ type: "RUN_STARTED", threadId: input.threadId, runId: input.runId }), ...text("m", "partial"), ev({ type: "RUN_ERROR", message: "the model is overloaded", code: "OVERLOADED" })] }));
    const { turn, ended, events } = await ask(path, watcher, "hi");
    expect(ended).toMatchObject({ status: "failed", error: "the agent reported an error: the model is overloaded (OVERLOADED)" });
    expect(events.slice(-2)).toEqual([{ type: "error", error: ended.error }, { type: "done" }]);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ content: "partial", finishReason: "error" });
  });

  it("fails a stream that ends or is cut before RUN_FINISHED", async () => {
    const { path, watcher } = await aguiAgent();
    peer.script((input) => ({ steps: [ev({ type: "RUN_STARTED", threadId: input.threadId, runId: input.runId }), ...text("m", "half")] }));
    expect((await ask(path, watcher, "one")).ended).toMatchObject({ status: "failed", error: "the agent's answer ended before RUN_FINISHED" });
    peer.script((input) => ({ steps: [ev({ type: "RUN_STARTED", threadId: input.threadId, runId: input.runId }), ...text("m", "half"), { close: true }] }));
    expect((await ask(path, watcher, "two")).ended).toMatchObject({ status: "failed", error: expect.stringMatching(/^the agent's answer broke off/) });
  });

  it("fails malformed events, an oversized event and an unusable answer with a reason", async () => {
    const { path, watcher } = await aguiAgent();
    const cases: Array<[string, (input: any) => AguiScript, RegExp]> = [
      ["no messageId", (input) => ({ steps: run(input, [ev({ type: "TEXT_MESSAGE_CONTENT", delta: "x" })]) }), /^the agent sent a malformed TEXT_MESSAGE_CONTENT event \(messageId: /],
      ["not JSON", (input) => ({ steps: [...run(input, []).slice(0, 1), { raw: "data: {nope\n\n" }] }), /^the agent sent an event whose data is not JSON$/],
      ["args of no call", (input) => ({ steps: run(input, [ev({ type: "TOOL_CALL_ARGS", toolCallId: "zz", delta: "{}" })]) }), /TOOL_CALL_ARGS for tool call zz, which is not open/],
      ["oversized", (input) => ({ steps: run(input, [ev({ type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "x".repeat(300 * 1024) })]) }), /^the agent sent an event larger than 262144 bytes$/],
      ["500", () => ({ status: 500 }), /^the agent answered 500$/],
      ["bad JSON answer", () => ({ json: { hello: "world" } }), /neither an array of AG-UI events nor \{messages\}/],
    ];
    for (const [what, script, reason] of cases) {
      peer.script(script);
      const { ended } = await ask(path, watcher, what);
      expect(ended.status, what).toBe("failed");
      expect(ended.error, what).toMatch(reason);
    }
    // The hub is still fine: the next turn completes.
    peer.script((input) => ({ steps: run(input, text("ok", "fine")) }));
    expect((await ask(path, watcher, "still there?")).ended.status).toBe("completed");
  });

  it("fails a stream past the byte bound", async () => {
    const { path, watcher } = await aguiAgent();
    const filler = `: ${"x".repeat(64 * 1024)}\n`; // SSE comments: bytes that carry no event
    peer.script((input) => ({ steps: [...run(input, []).slice(0, 1), ...Array.from({ length: 140 }, () => ({ raw: filler }))] }));
    const { ended } = await ask(path, watcher, "flood");
    expect(ended).toMatchObject({ status: "failed", error: expect.stringMatching(/passed the \d+ bytes allowed/) });
  });

  it("cancels mid-stream at once: the agent's request is aborted, what arrived is kept", async () => {
    const { path, watcher } = await aguiAgent();
    peer.script((input) => ({ steps: [ev({ type: "RUN_STARTED", threadId: input.threadId, runId: input.runId }), ev({ type: "TEXT_MESSAGE_START", messageId: "m" }), ev({ type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "so far" }), { stall: true }] }));
    const { turn } = (await alice.post(`${path}/turns`, { content: "go slowly" })).body;
    await watcher.until(() => turnEvents(watcher, turn.id).some((e) => e.event.type === "content_delta"), "the first words");
    const request = peer.requests.at(-1)!;
    const cancelled = await alice.post(`${path}/turns/${turn.id}/cancel`);
    expect(cancelled.body).toMatchObject({ id: turn.id, status: "cancelled" });
    await peer.until(() => request.aborted, "the hub to abort the agent's request");
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended");
    expect(endOf(watcher, turn.id).status).toBe("cancelled");
    const stored = await pollUntil(() => alice.get(`${path}/messages`).then((r) => r.body.messages.find((m: { id: string }) => m.id === turn.message_id)), (m) => !!m, "the stored answer");
    expect(stored).toMatchObject({ content: "so far", finishReason: "cancelled" });
  });
});
