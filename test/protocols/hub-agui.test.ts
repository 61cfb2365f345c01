/**
 * The hub as an AG-UI agent, on two hub processes: `@ag-ui/client`'s HttpAgent runs an agent
 * (served over a socket) through `POST /api/agents/{agentId}/chat` on node A and receives the
 * turn as AG-UI events, in order, run after run in one thread; a connection cut mid-turn
 * resumes on node B from `Last-Event-ID` with every event once and in order, and the turn goes
 * on; nothing left answers 204; and the chat route refuses as REST does.
 */
import { randomUUID } from "node:crypto";
import { EventType, type BaseEvent } from "@ag-ui/core";
import { HttpAgent, runHttpRequest, transformHttpEventStream } from "@ag-ui/client";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { addToTeam, makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { expectProblem } from "../support/problem.js";
import { startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { ANSWER, idRecordingFetch, richAnswer } from "../support/stream-turns.js";
import { pollUntil } from "../support/waiters.js";

const METRICS_TOKEN = "metrics-token-0123456789";
const cluster = useCluster({ METRICS_TOKEN });
const agents: SocketAgent[] = [];
afterAll(() => Promise.all(agents.map((a) => a.close())));

/** Alice's agent, served over a socket on node A, and a session of hers with it. */
async function served(delayMs = 40) {
  const token = await cluster.ws.token("alice");
  const alice = api(cluster.a.url, token);
  const agentId = await makeAgent(alice, uniq("agui"));
  const agent = startSocketAgent(cluster.a.url, await makeKey(alice, agentId, ["turns:serve"]), { kind: "events", events: richAnswer(delayMs) });
  agents.push(agent);
  await agent.served;
  const session = await makeSession(alice, agentId);
  return { token, alice, agentId, agent, sessionId: session.id as string };
}

const userMessage = (content: string) => ({ id: randomUUID(), role: "user" as const, content });
const textOf = (events: BaseEvent[]) => events.filter((e) => e.type === EventType.TEXT_MESSAGE_CONTENT).map((e) => (e as unknown as { delta: string }).delta).join("");

/** The AG-UI events of a whole turn, as this hub answers one with thinking, a tool call and text. */
function expectWholeRun(events: BaseEvent[], sessionId: string) {
  const types = events.map((e) => e.type);
  expect(types.slice(0, 9)).toEqual([
    EventType.RUN_STARTED,
    EventType.REASONING_START,
    EventType.REASONING_MESSAGE_START,
    EventType.REASONING_MESSAGE_CONTENT,
    EventType.REASONING_MESSAGE_END,
    EventType.REASONING_END,
    EventType.TOOL_CALL_START,
    EventType.TOOL_CALL_ARGS,
    EventType.TOOL_CALL_END,
  ]);
  expect(types.slice(9, 11)).toEqual([EventType.TOOL_CALL_RESULT, EventType.TEXT_MESSAGE_START]);
  expect(types.slice(-2)).toEqual([EventType.TEXT_MESSAGE_END, EventType.RUN_FINISHED]);
  expect(types.filter((t) => t === EventType.RUN_STARTED)).toHaveLength(1);
  expect(events[0]).toMatchObject({ threadId: sessionId, runId: expect.stringMatching(/^trn_/) });
  expect(events.find((e) => e.type === EventType.TOOL_CALL_START)).toMatchObject({ toolCallId: "call-1", toolCallName: "search_logs" });
  expect(events.find((e) => e.type === EventType.TOOL_CALL_ARGS)).toMatchObject({ delta: JSON.stringify({ q: "noon" }) });
  expect(events.find((e) => e.type === EventType.TOOL_CALL_RESULT)).toMatchObject({ toolCallId: "call-1", content: JSON.stringify({ hits: 3 }) });
  expect(textOf(events)).toBe(ANSWER);
}

describe("POST /api/agents/{agentId}/chat with @ag-ui/client's HttpAgent", () => {
  it("runs the agent: the turn's events in order, then a second run in the same thread", async () => {
    const { token, agentId, sessionId, alice } = await served(5);
    const agent = new HttpAgent({ url: `${cluster.a.url}/api/agents/${agentId}/chat`, headers: { authorization: `Bearer ${token}` }, threadId: sessionId });
    agent.addMessage(userMessage("What happened at noon?"));
    const first: BaseEvent[] = [];
    await agent.runAgent({}, { onEvent: ({ event }) => void first.push(event) });
    expectWholeRun(first, sessionId);
    const assistant = agent.messages.find((m) => m.role === "assistant" && m.content === ANSWER);
    expect(assistant).toBeDefined();

    agent.addMessage(userMessage("And at midnight?"));
    const second: BaseEvent[] = [];
    await agent.runAgent({}, { onEvent: ({ event }) => void second.push(event) });
    expectWholeRun(second, sessionId);
    expect((second[0] as unknown as { runId: string }).runId).not.toBe((first[0] as unknown as { runId: string }).runId);

    // The just-ended turn, again from its first event, in the Sharely framing, from node B.
    const runId = (second[0] as unknown as { runId: string }).runId;
    const sharely = await fetch(`${cluster.b.url}/api/agents/${agentId}/sessions/${sessionId}/stream?format=sharely`, { headers: { authorization: `Bearer ${token}`, "last-event-id": `${runId}:0` } });
    const frames = (await sharely.text()).split("\n\n").filter((f) => f.startsWith("event:"));
    expect(frames[0]).toMatch(new RegExp(`^event: message_start\ndata: \\{"threadId":"${sessionId}".*\nid: ${runId}:1$`));
    expect(frames.at(-1)).toMatch(new RegExp(`^event: done\ndata: .*\nid: ${runId}:${frames.length}$`));

    const messages = (await alice.get(`/api/agents/${agentId}/sessions/${sessionId}/messages`)).body.messages;
    expect(messages.map((m: { role: string; content: unknown }) => [m.role, m.content])).toEqual([
      ["user", "What happened at noon?"],
      ["assistant", ANSWER],
      ["user", "And at midnight?"],
      ["assistant", ANSWER],
    ]);
  });

  it("makes a new session for a run without a thread (Agentgram's {messages}), named in RUN_STARTED and x-agenthub-session-id", async () => {
    const { token, agentId, alice } = await served(0);
    const res = await fetch(`${cluster.b.url}/api/agents/${agentId}/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hello?" }] }),
    });
    expect(res.status).toBe(200);
    const sessionId = res.headers.get("x-agenthub-session-id")!;
    const events: BaseEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      transformHttpEventStream(runHttpRequest(async () => res)).subscribe({ next: (e) => void events.push(e), error: reject, complete: resolve }),
    );
    expectWholeRun(events, sessionId);
    expect((await alice.get(`/api/agents/${agentId}/sessions/${sessionId}`)).body).toMatchObject({ id: sessionId, title: "Hello?" });
  });

  it("resumes a cut connection on the other node from Last-Event-ID: every event once and in order; the turn goes on; then 204", async () => {
    const { token, agentId, agent: socketAgent, sessionId, alice } = await served(40);
    const ids: string[] = [];
    const agent = new HttpAgent({
      url: `${cluster.a.url}/api/agents/${agentId}/chat`,
      headers: { authorization: `Bearer ${token}` },
      threadId: sessionId,
      fetch: idRecordingFetch(ids, 14) as never,
    });
    agent.addMessage(userMessage("What happened at noon?"));
    const before: BaseEvent[] = [];
    await agent.runAgent({}, { onEvent: ({ event }) => void before.push(event) }).catch(() => {});
    expect(before.some((e) => e.type === EventType.TEXT_MESSAGE_CONTENT)).toBe(true);
    expect(before.some((e) => e.type === EventType.RUN_FINISHED)).toBe(false);
    const lastId = ids.at(-1)!;
    const [turnId] = lastId.split(":");

    const streamUrl = `${cluster.b.url}/api/agents/${agentId}/sessions/${sessionId}/stream?format=agui`;
    const after: BaseEvent[] = [];
    const resumedIds: string[] = [];
    await new Promise<void>((resolve, reject) =>
      transformHttpEventStream(runHttpRequest(() => idRecordingFetch(resumedIds)(streamUrl, { headers: { authorization: `Bearer ${token}`, "last-event-id": lastId } }))).subscribe({
        next: (e) => void after.push(e),
        error: reject,
        complete: resolve,
      }),
    );
    expectWholeRun([...before, ...after], sessionId);
    const seqs = [...ids, ...resumedIds].map((id) => Number(id.split(":")[1]));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);

    // The cut did not cancel the turn: it completed with the whole answer.
    const turn = await pollUntil(() => alice.get(`/api/agents/${agentId}/sessions/${sessionId}/turns/${turnId}`), (r) => r.body.status !== "running" && r.body.status !== "queued", "the turn's end");
    expect(turn.body).toMatchObject({ status: "completed", snapshot: { content: ANSWER } });
    expect(socketAgent.cancels).toEqual([]);

    // Nothing left to resume: 204, with or without Last-Event-ID.
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(streamUrl, { headers: { ...auth, "last-event-id": resumedIds.at(-1)! } })).status).toBe(204);
    expect((await fetch(streamUrl, { headers: auth })).status).toBe(204);

    // Counted: the chat's stream on A, the resumed one on B; none open once they ended.
    const metric = async (url: string, name: string) => {
      const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      return Number(new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    };
    expect(await metric(cluster.a.url, 'agenthub_protocol_streams_total{format="agui",resumed="false"}')).toBeGreaterThanOrEqual(1);
    expect(await metric(cluster.b.url, 'agenthub_protocol_streams_total{format="agui",resumed="true"}')).toBeGreaterThanOrEqual(1);
    await pollUntil(() => metric(cluster.b.url, 'agenthub_protocol_streams_open{format="agui"}'), (n) => n === 0, "the resumed stream closed");
  });


  it("ends the run as cancelled when the turn is cancelled (a cancel stops the turn, a client never does)", async () => {
    const { token, agentId, sessionId, alice } = await served(60);
    const agent = new HttpAgent({ url: `${cluster.a.url}/api/agents/${agentId}/chat`, headers: { authorization: `Bearer ${token}` }, threadId: sessionId });
    agent.addMessage(userMessage("What happened at noon?"));
    const events: BaseEvent[] = [];
    let cancelled: Promise<unknown> | undefined;
    await agent.runAgent({}, {
      onEvent: ({ event }) => {
        events.push(event);
        if (event.type === EventType.TEXT_MESSAGE_CONTENT && !cancelled) {
          const runId = (events[0] as unknown as { runId: string }).runId;
          cancelled = alice.post(`/api/agents/${agentId}/sessions/${sessionId}/turns/${runId}/cancel`);
        }
      },
    });
    expect(((await cancelled) as { status: number }).status).toBe(202);
    expect(events.slice(-2).map((e) => e.type)).toEqual([EventType.TEXT_MESSAGE_END, EventType.RUN_FINISHED]);
    expect(events.at(-1)).toMatchObject({ threadId: sessionId, outcome: { type: "cancelled" } });
  });
});

describe("denials", () => {
  it("401 without a credential, 404 for another user's session or agent, 403/404 as REST for a viewer, 422 for a bad body", async () => {
    const { agentId, sessionId, alice } = await served(0);
    const chat = (token: string | undefined, body: unknown, path = `/api/agents/${agentId}/chat`) =>
      api(cluster.b.url, token).raw(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const run = { threadId: sessionId, runId: "r1", messages: [userMessage("Hi")], tools: [], context: [], state: {}, forwardedProps: {} };

    expectProblem(await chat(undefined, run), "unauthorized");
    expectProblem(await api(cluster.b.url).get(`/api/agents/${agentId}/sessions/${sessionId}/stream`), "unauthorized");

    const mallory = await cluster.ws.token("mallory");
    expectProblem(await chat(mallory, run), "not-found");
    expectProblem(await api(cluster.b.url, mallory).get(`/api/agents/${agentId}/sessions/${sessionId}/stream`), "not-found");
    expectProblem(await chat(await cluster.ws.token("alice"), { ...run, threadId: "ses_nope" }), "not-found");

    // A viewer of the agent may not append to Alice's session: for chat, not a session of theirs (404).
    const viewer = api(cluster.b.url, await cluster.ws.token("viewer"));
    await addToTeam(alice, agentId, viewer, "viewer");
    expect([403, 404]).toContain((await viewer.post(`/api/agents/${agentId}/sessions/${sessionId}/turns`, { content: "Hi" })).status);
    expectProblem(await chat(await cluster.ws.token("viewer"), run), "not-found");

    const alices = await cluster.ws.token("alice");
    expectProblem(await chat(alices, { threadId: sessionId }), "validation", { fields: ["messages"] });
    expectProblem(await chat(alices, { ...run, messages: [{ role: "assistant", content: "no question" }] }), "validation", { fields: ["messages"] });
    expectProblem(await api(cluster.b.url, alices).get(`/api/agents/${agentId}/sessions/${sessionId}/stream?format=nope`), "validation", { fields: ["format"] });
    const badId = await api(cluster.b.url, alices).raw(`/api/agents/${agentId}/sessions/${sessionId}/stream`, { headers: { "last-event-id": "garbage" } });
    expectProblem(badId, "validation", { fields: ["Last-Event-ID"] });
  });
});
