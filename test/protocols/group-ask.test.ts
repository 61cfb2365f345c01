/**
 * Every kind of agent in one group (issue 23): a group whose agents answer over a serving socket,
 * A2A, AG-UI, ADK and an OpenAI-compatible model is asked on node A; a member watching on node B
 * sees every agent's turn start, stream in order with no gap and end, and the conversation stores
 * each answer under its agent. Each peer is built with its protocol's library (the model server
 * on OpenAI's wire format, which no library serves).
 */
import { TaskState } from "@a2a-js/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { startA2aAgent } from "../support/a2a-agent.js";
import { startAdkAgent, streamed } from "../support/adk-agent.js";
import { run, startAguiPeer, text } from "../support/agui-peer.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { startModelServer, textAnswer } from "../support/model-server.js";
import { scriptedAnswer, startSocketAgent } from "../support/socket-agent.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
const closers: Array<() => Promise<void>> = [];
let alice: Api;
const ANSWERS = {
  socket: "Socket says the batch job.",
  a2a: "A2A says the batch job too.",
  agui: "AG-UI agrees: the batch job.",
  adk: "ADK blames the batch job.",
  model: "The model also thinks it was the batch job.",
};
type Kind = keyof typeof ANSWERS;
const ids = {} as Record<Kind, string>;

beforeAll(async () => {
  alice = api(cluster.a.url, await cluster.ws.token("alice"));
  for (const kind of Object.keys(ANSWERS) as Kind[]) ids[kind] = await makeAgent(alice, uniq(kind), `The ${kind} agent`);

  const socket = startSocketAgent(cluster.b.url, await makeKey(alice, ids.socket, ["turns:serve"]), { kind: "events", events: scriptedAnswer(ANSWERS.socket) });
  const a2a = await startA2aAgent(({ start, artifact, status }) => {
    start();
    artifact("A2A says ");
    artifact("the batch job too.", { append: true, lastChunk: true });
    status(TaskState.TASK_STATE_COMPLETED);
  });
  const agui = await startAguiPeer();
  agui.script((input) => ({ steps: run(input, text("m1", "AG-UI agrees: ", "the batch job.")) }));
  const adk = await startAdkAgent(streamed("ADK blames ", "the batch job."));
  const model = await startModelServer(() => textAnswer(ANSWERS.model));
  closers.push(() => socket.close(), a2a.close, agui.close, adk.close, model.close);

  const endpoints: Record<Exclude<Kind, "socket">, unknown> = {
    a2a: { protocol: "a2a", url: a2a.url },
    agui: { protocol: "agui", url: agui.url },
    adk: { protocol: "adk", url: adk.url, app: adk.app },
    model: { protocol: "model", url: model.url, model: "test-model" },
  };
  for (const [kind, endpoint] of Object.entries(endpoints)) expect((await alice.patch(`/api/agents/${ids[kind as Kind]}`, { endpoint })).status).toBe(200);
  await socket.served;
}, 90_000);
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

describe("a group of every kind of agent", () => {
  it("asks them together on one node and streams each to a member on the other", async () => {
    const group = await alice.post("/api/groups", { name: uniq("every-kind"), agentIds: Object.values(ids), allowed_users: ["bob@example.com"] });
    expect(group.status).toBe(201);
    const path = `/api/groups/${group.body.id}/conversations`;
    const conversation = (await alice.post(path, { title: "Every kind" })).body;
    const bob = await cluster.open(cluster.b.url, await cluster.ws.token("bob"));

    const started = await alice.post(`${path}/${conversation.id}/ask`, { content: "What caused the spike?" });
    expect(started.status).toBe(202);
    const askId = started.body.ask.id;
    const turnOf = Object.fromEntries(started.body.ask.agents.map((a: { agentId: string; turnId: string }) => [a.agentId, a.turnId]));

    const final = () => bob.of("ask:updated").find((e) => e.ask.id === askId && e.ask.status !== "running")?.ask;
    await bob.until(() => !!final(), "the ask to end", 30_000);
    expect(Object.fromEntries(final().agents.map((a: { agentId: string; status: string }) => [a.agentId, a.status]))).toEqual(
      Object.fromEntries(Object.values(ids).map((id) => [id, "completed"])),
    );

    const endedTurn = (turnId: string) => bob.of("turn:ended").find((e) => e.turn.id === turnId)?.turn;
    await bob.until(() => Object.values(turnOf).every((turnId) => !!endedTurn(turnId as string)), "every turn:ended", 10_000);
    for (const kind of Object.keys(ANSWERS) as Kind[]) {
      const turnId = turnOf[ids[kind]];
      const events = bob.of("turn:event").filter((e) => e.turnId === turnId);
      expect(events.map((e) => e.seq), kind).toEqual(events.map((_, i) => i + 1));
      expect(events.at(-1).event, kind).toEqual({ type: "done" });
      expect(events.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join(""), kind).toBe(ANSWERS[kind]);
      expect(endedTurn(turnId)?.status, kind).toBe("completed");
    }

    const stored = (await alice.get(`${path}/${conversation.id}/messages`)).body.messages;
    const answers = stored.filter((m: { role: string }) => m.role === "assistant");
    expect(Object.fromEntries(answers.map((m: { agentId?: string; agent_id?: string; content: string }) => [m.agentId ?? m.agent_id, m.content]))).toEqual(
      Object.fromEntries((Object.keys(ANSWERS) as Kind[]).map((kind) => [ids[kind], ANSWERS[kind]])),
    );
  });
});
