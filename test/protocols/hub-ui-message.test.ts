/**
 * The hub as an AI SDK chat backend, on two hub processes: the `ai` package's
 * DefaultChatTransport (what `useChat` uses) sends a chat to `POST …/chat?format=ui-message` on
 * node A and reads the turn as UI message chunks (each checked against `uiMessageChunkSchema`),
 * which `readUIMessageStream` makes into the answer; a connection cut mid-turn is resumed by
 * `reconnectToStream` on node B with `Last-Event-ID` (every chunk once and in order, the turn
 * goes on); without it, a running turn replays from its start (useChat's `resume: true`);
 * nothing left answers 204, which the transport reads as "no stream".
 */
import { randomUUID } from "node:crypto";
import { DefaultChatTransport, parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema, type UIMessage, type UIMessageChunk } from "ai";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { expectProblem } from "../support/problem.js";
import { startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { ANSWER, idRecordingFetch, richAnswer } from "../support/stream-turns.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster();
const agents: SocketAgent[] = [];
afterAll(() => Promise.all(agents.map((a) => a.close())));

async function served(delayMs = 40) {
  const token = await cluster.ws.token("alice");
  const alice = api(cluster.a.url, token);
  const agentId = await makeAgent(alice, uniq("uichat"));
  const agent = startSocketAgent(cluster.a.url, await makeKey(alice, agentId, ["turns:serve"]), { kind: "events", events: richAnswer(delayMs) });
  agents.push(agent);
  await agent.served;
  const session = await makeSession(alice, agentId);
  return { token, alice, agentId, agent, sessionId: session.id as string };
}

/** A transport as an app would configure useChat against the hub: chat on node A, resume on node B. */
function transport(o: { token: string; agentId: string; fetch?: typeof fetch; lastEventId?: () => string | undefined }) {
  const auth = { authorization: `Bearer ${o.token}` };
  return new DefaultChatTransport<UIMessage>({
    api: `${cluster.a.url}/api/agents/${o.agentId}/chat?format=ui-message`,
    headers: auth,
    ...(o.fetch ? { fetch: o.fetch } : {}),
    prepareReconnectToStreamRequest: ({ id }) => {
      const last = o.lastEventId?.();
      return { api: `${cluster.b.url}/api/agents/${o.agentId}/sessions/${id}/stream?format=ui-message`, headers: { ...auth, ...(last ? { "last-event-id": last } : {}) } };
    },
  });
}

const ask = (text: string): UIMessage => ({ id: randomUUID(), role: "user", parts: [{ type: "text", text }] });

async function all<T>(stream: ReadableStream<T>, until?: (item: T) => boolean): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) {
    out.push(item);
    if (until?.(item)) break;
  }
  return out;
}

/** The chunks of a whole turn with thinking, a tool call and the text, in order. */
function expectWholeTurn(chunks: UIMessageChunk[], sessionId: string) {
  const types = chunks.map((c) => c.type);
  expect(types.slice(0, 8)).toEqual(["start", "start-step", "reasoning-start", "reasoning-delta", "reasoning-end", "tool-input-start", "tool-input-available", "tool-output-available"]);
  expect(types[8]).toBe("text-start");
  expect(types.slice(-3)).toEqual(["text-end", "finish-step", "finish"]);
  expect(chunks[0]).toMatchObject({ type: "start", messageId: expect.any(String), messageMetadata: { sessionId, turnId: expect.stringMatching(/^trn_/) } });
  expect(chunks.at(-1)).toEqual({ type: "finish", finishReason: "stop" });
  expect(types.filter((t) => t === "start")).toHaveLength(1);
  expect(chunks.filter((c) => c.type === "text-delta").map((c) => (c as { delta: string }).delta).join("")).toBe(ANSWER);
}

/** The message readUIMessageStream makes of the chunks. */
async function messageOf(chunks: UIMessageChunk[]): Promise<UIMessage> {
  let last: UIMessage | undefined;
  const stream = new ReadableStream<UIMessageChunk>({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
  for await (const m of readUIMessageStream({ stream })) last = m;
  return last!;
}

describe("POST /api/agents/{agentId}/chat?format=ui-message with the ai package's DefaultChatTransport", () => {
  it("streams the turn as UI message chunks that readUIMessageStream makes into the answer", async () => {
    const { token, agentId, sessionId } = await served(5);
    const chunks = await all(await transport({ token, agentId }).sendMessages({ chatId: sessionId, messages: [ask("What happened at noon?")], trigger: "submit-message", messageId: undefined, abortSignal: undefined }));
    expectWholeTurn(chunks, sessionId);
    const message = await messageOf(chunks);
    expect(message).toMatchObject({ role: "assistant", id: (chunks[0] as { messageId: string }).messageId, metadata: { sessionId } });
    expect(message.parts.map((p) => p.type)).toEqual(["step-start", "reasoning", "dynamic-tool", "text"]);
    expect(message.parts[1]).toMatchObject({ type: "reasoning", text: "Look at noon.", state: "done" });
    expect(message.parts[2]).toMatchObject({ type: "dynamic-tool", toolName: "search_logs", toolCallId: "call-1", state: "output-available", input: { q: "noon" }, output: { hits: 3 } });
    expect(message.parts[3]).toMatchObject({ type: "text", text: ANSWER, state: "done" });
  });

  it("writes exactly the ai package's wire format: its header, chunks its schema accepts, ids, and [DONE]", async () => {
    const { token, agentId, sessionId } = await served(0);
    const res = await fetch(`${cluster.b.url}/api/agents/${agentId}/chat?format=ui-message`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: sessionId, messages: [ask("Hi")], trigger: "submit-message" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    const text = await res.text();
    // Each turn event's chunks end with its id (`<turnId>:<seq>`, rising); the last is `[DONE]`.
    expect(text).toMatch(/data: \[DONE\]\nid: trn_\w+:\d+\n\n$/);
    const seqs = [...text.matchAll(/\nid: trn_\w+:(\d+)\n/g)].map((m) => Number(m[1]));
    expect(seqs[0]).toBe(0);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    const parsed = await all(parseJsonEventStream({ stream: new Response(text).body!, schema: uiMessageChunkSchema }));
    expect(parsed.every((p) => p.success)).toBe(true);
    expectWholeTurn(parsed.map((p) => (p as { value: UIMessageChunk }).value), sessionId);
  });

  it("resumes a cut connection on the other node with Last-Event-ID: every chunk once and in order; the turn goes on; then none (204)", async () => {
    const { token, agentId, sessionId, alice, agent } = await served(40);
    const ids: string[] = [];
    const chat = transport({ token, agentId, fetch: idRecordingFetch(ids, 12), lastEventId: () => ids.at(-1) });
    const before = await all(await chat.sendMessages({ chatId: sessionId, messages: [ask("What happened at noon?")], trigger: "submit-message", messageId: undefined, abortSignal: undefined }));
    expect(before.some((c) => c.type === "text-delta")).toBe(true);
    expect(before.some((c) => c.type === "finish")).toBe(false);

    const resumedIds: string[] = [];
    const resume = transport({ token, agentId, fetch: idRecordingFetch(resumedIds), lastEventId: () => ids.at(-1) });
    const after = await all((await resume.reconnectToStream({ chatId: sessionId }))!);
    expectWholeTurn([...before, ...after], sessionId);
    const seqs = [...ids, ...resumedIds].map((id) => Number(id.split(":")[1]));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect((await messageOf([...before, ...after])).parts.find((p) => p.type === "text")).toMatchObject({ text: ANSWER });

    const turnId = ids[0]!.split(":")[0];
    const turn = await pollUntil(() => alice.get(`/api/agents/${agentId}/sessions/${sessionId}/turns/${turnId}`), (r) => !["queued", "running"].includes(r.body.status), "the turn's end");
    expect(turn.body).toMatchObject({ status: "completed", snapshot: { content: ANSWER } });
    expect(agent.cancels).toEqual([]);

    // Nothing left: the transport reads 204 as no stream, with or without Last-Event-ID.
    expect(await transport({ token, agentId, lastEventId: () => resumedIds.at(-1) }).reconnectToStream({ chatId: sessionId })).toBeNull();
    expect(await transport({ token, agentId }).reconnectToStream({ chatId: sessionId })).toBeNull();
  });

  it("replays a running turn from its start on reconnect without Last-Event-ID (useChat's resume: true)", async () => {
    const { token, agentId, sessionId } = await served(40);
    const chat = transport({ token, agentId });
    const first = (await chat.sendMessages({ chatId: sessionId, messages: [ask("What happened at noon?")], trigger: "submit-message", messageId: undefined, abortSignal: undefined })).getReader();
    const seen: UIMessageChunk[] = [];
    while (!seen.some((c) => c.type === "text-delta")) seen.push((await first.read()).value!);
    const replay = await all((await chat.reconnectToStream({ chatId: sessionId }))!);
    expectWholeTurn(replay, sessionId);
    expect(replay[0]).toEqual(seen[0]);
    await first.cancel();
  });

  it("refuses a chat id that is no session of the caller's (404), and a body without a user message (422)", async () => {
    const { token, agentId, sessionId } = await served(0);
    const send = (t: string | undefined, body: unknown) =>
      api(cluster.a.url, t).raw(`/api/agents/${agentId}/chat?format=ui-message`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expectProblem(await send(token, { id: "chat-made-up-by-the-client", messages: [ask("Hi")] }), "not-found");
    expectProblem(await send(await cluster.ws.token("mallory"), { id: sessionId, messages: [ask("Hi")] }), "not-found");
    expectProblem(await send(undefined, { id: sessionId, messages: [ask("Hi")] }), "unauthorized");
    expectProblem(await send(token, { id: sessionId, messages: [{ id: "m1", role: "user", parts: [{ type: "file", url: "x" }] }] }), "validation", { fields: ["messages"] });
  });
});
