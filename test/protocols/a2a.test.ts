/**
 * A2A agents (CONTRACT.md, "Every kind of agent: endpoint protocols"), against agents built with
 * the official `@a2a-js/sdk` server, across two hub processes: a streamed answer reaches a
 * watcher on the other node in order and is stored whole; the session is the A2A context; the
 * agent gets the turn token, signed, and nothing else; a non-streaming agent is called once; a
 * question (`input-required`) ends the turn and the next turn continues the task; a cancel ends
 * the turn at once and reaches the agent; failures and hostile answers fail the turn with a
 * reason; a group's ask reaches an A2A agent like any other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@a2a-js/sdk";
import { verifyWebhook } from "../../src/endpoints/signature.js";
import { api, type Api } from "../support/api.js";
import { startA2aAgent, startHostileA2a, type A2aAgent, type A2aScript } from "../support/a2a-agent.js";
import { useCluster } from "../support/cluster.js";
import { makeSession, uniq } from "../support/factories.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
const peers: Array<{ close(): Promise<void> }> = [];
let alice: Api;
let aliceToken: string;
beforeAll(async () => {
  aliceToken = await cluster.ws.token("alice");
  alice = api(cluster.a.url, aliceToken);
});
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

/** The streamed answer: progress, three artifact chunks, completed. */
const streamed: A2aScript = ({ start, status, artifact }) => {
  start();
  status(TaskState.TASK_STATE_WORKING, "Looking at the graphs");
  artifact("The spike ", {});
  artifact("came from ", { append: true });
  artifact("the batch job.", { append: true, lastChunk: true });
  status(TaskState.TASK_STATE_COMPLETED);
};

async function peer(script: A2aScript, options: { streaming?: boolean } = {}): Promise<A2aAgent> {
  const agent = await startA2aAgent(script, options);
  peers.push(agent);
  return agent;
}

/** An agent of Alice's at `url`, a session with it, and its endpoint secret. */
async function a2aAgent(url: string) {
  const created = await alice.post("/api/agents", { id: uniq("a2a"), name: "A2A agent", endpoint: { protocol: "a2a", url } });
  expect(created.status, created.text).toBe(201);
  const agentId = created.body.id as string;
  const session = await makeSession(alice, agentId);
  return { agentId, secret: created.body.endpoint_secret as string, sessionId: session.id as string, path: `/api/agents/${agentId}/sessions/${session.id}` };
}

const turnOver = (path: string, turnId: string, timeoutMs = 15_000) =>
  pollUntil(() => alice.get(`${path}/turns/${turnId}`).then((r) => r.body), (t) => ["completed", "failed", "cancelled"].includes(t.status), "the turn to end", timeoutMs);
const storedAnswer = async (path: string, messageId: string) => (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === messageId);
const turnEvents = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId);

describe("A2A agents", () => {
  it("streams an answer to a watcher on the other node, every event once and in order", async () => {
    const agent = await peer(streamed);
    const { sessionId, path } = await a2aAgent(agent.url);
    const watcher = await cluster.open(cluster.b.url, aliceToken);
    expect((await watcher.emitAck("session:watch", { sessionId })).ok).toBe(true);
    const { turn } = (await alice.post(`${path}/turns`, { content: "What caused the spike?" })).body;
    await watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === turn.id), "turn:ended on the other node", 20_000);
    const events = turnEvents(watcher, turn.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.event.type)).toEqual(["message_start", "thinking_start", "thinking_delta", "content_delta", "content_delta", "content_delta", "thinking_end", "message_end", "done"]);
    expect(events.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("")).toBe("The spike came from the batch job.");
    expect(watcher.of("turn:ended").find((e) => e.turn.id === turn.id).turn.status).toBe("completed");
  }, 60_000);

  it("stores the streamed answer whole, with the session as the context, and gives the agent the turn token, signed", async () => {
    const agent = await peer(streamed);
    const { secret, sessionId, path } = await a2aAgent(agent.url);
    const { turn } = (await alice.post(`${path}/turns`, { content: "What caused the spike?" })).body;
    const ended = await turnOver(path, turn.id);
    expect(ended).toMatchObject({ status: "completed", snapshot: { model: "Test A2A agent", thinking: [{ title: "Working", content: "Looking at the graphs\n", status: "completed" }] } });
    expect(await storedAnswer(path, turn.message_id)).toMatchObject({ role: "assistant", content: "The spike came from the batch job.", finishReason: "stop" });

    const [call] = agent.calls;
    expect(call).toMatchObject({ text: "What caused the spike?", contextId: sessionId, messageId: turn.id, taskId: "" });
    expect(JSON.parse(call!.rawBody).method).toBe("SendStreamingMessage");
    const token = String(call!.headers.authorization).replace(/^Bearer /, "");
    expect(token).not.toBe(aliceToken);
    expect(JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString())).toMatchObject({ turn: turn.id, session: sessionId });
    expect(verifyWebhook(secret, call!.headers, call!.rawBody)).toEqual({ ok: true });

    // A second turn in the session: the same context, a new task.
    const second = (await alice.post(`${path}/turns`, { content: "And before that?" })).body.turn;
    expect((await turnOver(path, second.id)).status).toBe("completed");
    expect(agent.calls[1]).toMatchObject({ contextId: sessionId, messageId: second.id, taskId: "" });
    expect(agent.calls[1]!.runs).not.toBe(call!.runs);
  });

  it("calls an agent that does not stream once, and records its task or its message whole", async () => {
    const agent = await peer(({ call, start, artifact, status, reply }) => {
      if (call.text === "message") return reply("Hello from a message.");
      start();
      artifact("Forty-two.", { lastChunk: true });
      status(TaskState.TASK_STATE_COMPLETED);
    }, { streaming: false });
    const { path } = await a2aAgent(agent.url);
    const first = (await alice.post(`${path}/turns`, { content: "task" })).body.turn;
    expect((await turnOver(path, first.id)).status).toBe("completed");
    expect((await storedAnswer(path, first.message_id)).content).toBe("Forty-two.");
    expect(JSON.parse(agent.calls[0]!.rawBody).method).toBe("SendMessage");
    const second = (await alice.post(`${path}/turns`, { content: "message" })).body.turn;
    expect((await turnOver(path, second.id)).status).toBe("completed");
    expect((await storedAnswer(path, second.message_id)).content).toBe("Hello from a message.");
  });

  it("ends the turn with the agent's question (input-required), and the next turn continues that task", async () => {
    const agent = await peer(({ call, start, artifact, status }) => {
      start();
      if (!call.taskId) return status(TaskState.TASK_STATE_INPUT_REQUIRED, "Which environment: staging or production?");
      artifact(`Deploying to ${call.text}.`, { lastChunk: true });
      status(TaskState.TASK_STATE_COMPLETED);
    });
    const { path } = await a2aAgent(agent.url);
    const first = (await alice.post(`${path}/turns`, { content: "Deploy it" })).body.turn;
    expect((await turnOver(path, first.id)).status).toBe("completed");
    const question = await storedAnswer(path, first.message_id);
    const taskId = agent.calls[0]!.runs;
    expect(question).toMatchObject({ content: "Which environment: staging or production?", metadata: { a2a: { state: "input-required", taskId } } });
    const second = (await alice.post(`${path}/turns`, { content: "staging" })).body.turn;
    expect((await turnOver(path, second.id)).status).toBe("completed");
    expect(agent.calls[1]).toMatchObject({ taskId, runs: taskId });
    expect((await storedAnswer(path, second.message_id)).content).toBe("Deploying to staging.");
  });

  it("cancels mid-stream: the turn ends cancelled at once, keeping what arrived, and the agent's executor receives the cancel", async () => {
    const agent = await peer(async ({ start, status, artifact, cancelled }) => {
      start();
      status(TaskState.TASK_STATE_WORKING);
      artifact("partial ", {});
      await cancelled;
      status(TaskState.TASK_STATE_CANCELED);
    });
    const { path } = await a2aAgent(agent.url);
    const { turn } = (await alice.post(`${path}/turns`, { content: "take your time" })).body;
    await pollUntil(() => alice.get(`${path}/turns/${turn.id}`).then((r) => r.body), (t) => (t.snapshot?.content ?? "").includes("partial"), "the partial answer");
    const cancelled = await alice.post(`${path}/turns/${turn.id}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ id: turn.id, status: "cancelled" });
    await agent.until(() => agent.cancels.includes(agent.calls[0]!.runs), "the agent's cancelTask");
    expect(await storedAnswer(path, turn.message_id)).toMatchObject({ content: "partial ", finishReason: "cancelled" });
  });

  it("fails the turn with the agent's reason when its task fails", async () => {
    const agent = await peer(({ start, status, artifact }) => {
      start();
      artifact("Checking ", {});
      status(TaskState.TASK_STATE_FAILED, "the metrics database is down");
    });
    const { path } = await a2aAgent(agent.url);
    const { turn } = (await alice.post(`${path}/turns`, { content: "status?" })).body;
    const ended = await turnOver(path, turn.id);
    expect(ended).toMatchObject({ status: "failed", error: "the A2A agent's task failed: the metrics database is down" });
    expect(await storedAnswer(path, turn.message_id)).toMatchObject({ content: "Checking ", finishReason: "error" });
  });

  it("fails the turn with a reason for a card that does not exist and for hostile answers", async () => {
    const agent = await peer(streamed);
    const cases: Array<[string, RegExp]> = [[`${agent.url}/missing`, /agent card at .*\/missing\/\.well-known\/agent-card\.json could not be read: .*404/]];
    const hostile = async (answer: Parameters<typeof startHostileA2a>[0], reason: RegExp) => {
      const h = await startHostileA2a(answer);
      peers.push(h);
      cases.push([h.url, reason]);
    };
    await hostile((_req, res) => void res.type("text/event-stream").send("data: {not json\n\n"), /Failed to parse SSE event data/);
    await hostile((req, res) => void res.json({ jsonrpc: "2.0", id: req.body.id, error: { code: -32603, message: "the agent broke" } }), /the agent broke/);
    await hostile((_req, res) => void res.status(500).send("<html>oops</html>"), /500/);
    await hostile(
      (req, res) => void res.type("text/event-stream").send(`data: ${JSON.stringify({ jsonrpc: "2.0", id: req.body.id, result: { task: { id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING" } } } })}\n\n`),
      /stream ended before its task reached a final state/,
    );
    for (const [url, reason] of cases) {
      const { path } = await a2aAgent(url);
      const { turn } = (await alice.post(`${path}/turns`, { content: "hello?" })).body;
      const ended = await turnOver(path, turn.id);
      expect(ended.status, url).toBe("failed");
      expect(ended.error, url).toMatch(reason);
    }
  });

  it("answers a group's ask with A2A agents, streaming or not, each in the conversation's context", async () => {
    const streaming = await peer(streamed);
    const once = await peer(({ reply }) => reply("Nothing to add."), { streaming: false });
    const [s, o] = [await a2aAgent(streaming.url), await a2aAgent(once.url)];
    const g = await alice.post("/api/groups", { name: uniq("team"), agentIds: [s.agentId, o.agentId], allowed_users: ["bob@example.com"] });
    expect(g.status, g.text).toBe(201);
    const path = `/api/groups/${g.body.id}/conversations`;
    const conversation = (await alice.post(path, { title: "Incident review" })).body;
    const started = await alice.post(`${path}/${conversation.id}/ask`, { content: "What caused the spike?" });
    expect(started.status, started.text).toBe(202);
    const ask = await pollUntil(() => alice.get(`${path}/${conversation.id}/asks/${started.body.ask.id}`).then((r) => r.body), (a) => a.status === "completed", "the ask", 15_000);
    expect(Object.fromEntries(ask.agents.map((a: any) => [a.agentId, a.status]))).toEqual({ [s.agentId]: "completed", [o.agentId]: "completed" });
    const answers = (await alice.get(`${path}/${conversation.id}/messages`)).body.messages.filter((m: any) => m.role === "assistant");
    expect(Object.fromEntries(answers.map((m: any) => [m.agentId, m.content]))).toEqual({ [s.agentId]: "The spike came from the batch job.", [o.agentId]: "Nothing to add." });
    expect([streaming.calls[0]!.contextId, once.calls[0]!.contextId]).toEqual([conversation.id, conversation.id]);
  });
});
