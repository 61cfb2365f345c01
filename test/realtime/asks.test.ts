/**
 * Asking a group across two hub processes: agents answer over a socket on either node and over
 * HTTP; members on the other node see every agent's turn live, once and in order, and can join
 * mid-ask; `first` cancels the rest; an agent without an endpoint fails alone; non-members and
 * agent keys cannot watch; a removed member stops receiving at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { answer, startAgentServer, type AgentServer } from "../support/agent-server.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { ackProblem } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
const sockets: SocketAgent[] = [];
let server: AgentServer;
let alice: Api;
let slow: string; // served over a socket on node A, slowly
let fast: string; // served over a socket on node B
let http: string; // an HTTP agent server
let dead: string; // no endpoint at all

const SLOW_ANSWER = "Alpha looked at the graphs and the spike came from the batch job.";

beforeAll(async () => {
  alice = api(cluster.a.url, await cluster.ws.token("alice"));
  [slow, fast, http, dead] = [await makeAgent(alice, uniq("slow")), await makeAgent(alice, uniq("fast")), await makeAgent(alice, uniq("http")), await makeAgent(alice, uniq("dead"))];
  server = await startAgentServer(answer([{ type: "message_start", role: "assistant", model: "http-model" }, { type: "content_delta", delta: "Charlie over HTTP." }, { type: "message_end", finishReason: "stop" }], 20));
  expect((await alice.patch(`/api/agents/${http}`, { server_url: server.url })).status).toBe(200);
  sockets.push(
    startSocketAgent(cluster.a.url, await makeKey(alice, slow, ["turns:serve"]), { kind: "events", events: scriptedAnswer(SLOW_ANSWER, { delayMs: 250, wordsPerChunk: 2 }) }),
    startSocketAgent(cluster.b.url, await makeKey(alice, fast, ["turns:serve"]), { kind: "events", events: scriptedAnswer("Bravo says hello.") }),
  );
  await Promise.all(sockets.map((s) => s.served));
}, 60_000);
afterAll(async () => {
  await Promise.all([...sockets.map((s) => s.close()), server?.close()]);
});

async function group(members: string[]): Promise<{ id: string; path: string; sessionId: string }> {
  const g = await alice.post("/api/groups", { name: uniq("team"), agentIds: [slow, fast, http, dead], allowed_users: members });
  expect(g.status).toBe(201);
  const path = `/api/groups/${g.body.id}/conversations`;
  const conversation = await alice.post(path, { title: "Incident review" });
  return { id: g.body.id, path, sessionId: conversation.body.id };
}

const finalAsk = (c: Client, askId: string) => c.of("ask:updated").find((e) => e.ask.id === askId && e.ask.status === "completed")?.ask;
const eventsOf = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId);

describe("asking a group, live across nodes", () => {
  it("runs every agent's turn at once, streams each to members on the other node, and stores attributed answers in finishing order", async () => {
    const { id, path, sessionId } = await group(["bob@example.com", "dave@example.com"]);
    const bob = await cluster.open(cluster.b.url, await cluster.ws.token("bob")); // in the group's room from connect
    const started = await alice.post(`${path}/${sessionId}/ask`, { content: "What caused the spike at noon?" });
    expect(started.status).toBe(202);
    const askId = started.body.ask.id;
    expect(started.body.ask.agents.map((a: any) => a.agentId)).toEqual([slow, fast, http, dead]);
    const turnOf = Object.fromEntries(started.body.ask.agents.map((a: any) => [a.agentId, a.turnId]));

    // Dave joins mid-ask on node A: the watch ack carries the running turns' snapshots.
    await bob.until(() => eventsOf(bob, turnOf[slow]).length >= 3, "the slow agent's first events");
    const dave = await cluster.open(cluster.a.url, await cluster.ws.token("dave"));
    const ack = await dave.emitAck("session:watch", { sessionId });
    expect(ack.ok).toBe(true);
    const running = ack.turns.find((t: any) => t.turn.id === turnOf[slow]);
    expect(running).toMatchObject({ seq: expect.any(Number), snapshot: { content: expect.any(String) } });

    await bob.until(() => !!finalAsk(bob, askId), "the ask to complete", 15_000);
    const ask = finalAsk(bob, askId);
    expect(ask).toMatchObject({ id: askId, session_id: sessionId, strategy: "all", status: "completed" });
    expect(Object.fromEntries(ask.agents.map((a: any) => [a.agentId, a.status]))).toEqual({ [slow]: "completed", [fast]: "completed", [http]: "completed", [dead]: "failed" });
    expect(bob.of("ask:updated").every((e) => e.groupId === id)).toBe(true);

    // Bob saw every agent's turn start, stream in order with no gap, and end.
    expect(new Set(bob.of("turn:started").filter((e) => e.sessionId === sessionId).map((e) => e.turn.agent_id))).toEqual(new Set([slow, fast, http, dead]));
    for (const agentId of [slow, fast, http]) {
      const seqs = eventsOf(bob, turnOf[agentId]).map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
    const deadEvents = eventsOf(bob, turnOf[dead]).map((e) => e.event);
    expect(deadEvents).toEqual([{ type: "error", error: expect.stringMatching(/no server_url and no socket serving it/) }, { type: "done" }]);

    // Dave rendered the slow turn from its snapshot plus the events after it.
    await dave.until(() => dave.of("turn:ended").some((e) => e.turn.id === turnOf[slow]), "the slow turn's end on dave's socket");
    const after = eventsOf(dave, turnOf[slow]).filter((e) => e.seq > running.seq);
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => running.seq + 1 + i));
    const rendered = running.snapshot.content + after.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("");
    expect(rendered).toBe(SLOW_ANSWER);

    // Answers are attributed and stored in the order they finished.
    const messages = (await api(cluster.b.url, await cluster.ws.token("bob")).get(`${path}/${sessionId}/messages`)).body.messages;
    // (Turns ending at the same moment on two nodes may announce their ends in either order; the slow one ends last.)
    expect(messages.map((m: any) => m.agentId ?? m.role)).toEqual(["user", expect.any(String), expect.any(String), expect.any(String), slow]);
    expect(new Set(messages.slice(1).map((m: any) => m.agentId))).toEqual(new Set([slow, fast, http, dead]));
    expect(messages.find((m: any) => m.agentId === slow)).toMatchObject({ role: "assistant", content: SLOW_ANSWER, finishReason: "stop" });
    expect(messages.find((m: any) => m.agentId === http)).toMatchObject({ content: "Charlie over HTTP.", model: "http-model" });
    expect(messages.find((m: any) => m.agentId === dead)).toMatchObject({ finishReason: "error" });

    // Each agent saw the conversation so far, with who said what.
    const request = sockets[1]!.requests.find((r) => r.sessionId === sessionId)!;
    expect(request.message).toMatchObject({ role: "user", content: "What caused the spike at noon?", userName: "alice" });
    expect(server.requests.at(-1)!.url).toBe(`/agent/threads/${sessionId}/chat`);
  });

  it("under `first`, the first answer to finish wins and the others are cancelled", async () => {
    const { path, sessionId } = await group(["bob@example.com"]);
    const bob = await cluster.open(cluster.b.url, await cluster.ws.token("bob"));
    const started = await alice.post(`${path}/${sessionId}/ask`, { content: "Quick: who is on call?", strategy: "first", agentIds: [slow, fast] });
    expect(started.status).toBe(202);
    const askId = started.body.ask.id;
    await bob.until(() => !!finalAsk(bob, askId), "the ask to complete", 15_000);
    expect(Object.fromEntries(finalAsk(bob, askId).agents.map((a: any) => [a.agentId, a.status]))).toEqual({ [fast]: "completed", [slow]: "cancelled" });
    const slowTurn = started.body.ask.agents.find((a: any) => a.agentId === slow).turnId;
    // The cancelled turn ended at once; its agent is told to stop right after.
    await sockets[0]!.until(() => sockets[0]!.cancels.some((c) => c.turnId === slowTurn), "turn:cancel to the slow agent");
    const messages = (await alice.get(`${path}/${sessionId}/messages`)).body.messages;
    expect(messages.map((m: any) => [m.agentId ?? "user", m.finishReason ?? null])).toEqual([["user", null], [fast, "stop"], [slow, "cancelled"]]);
  });

  it("refuses non-members and agent keys a watch, and cuts a removed member off at once", async () => {
    const { id, path, sessionId } = await group(["bob@example.com", "dave@example.com"]);
    const carol = await cluster.open(cluster.a.url, await cluster.ws.token("carol"));
    expect(await carol.emitAck("session:watch", { sessionId })).toEqual(ackProblem("not-found"));
    const key = await cluster.open(cluster.a.url, await makeKey(alice, fast, ["sessions:read", "sessions:write"]));
    expect(await key.emitAck("session:watch", { sessionId })).toEqual(ackProblem("not-found"));

    const bob = await cluster.open(cluster.b.url, await cluster.ws.token("bob"));
    const dave = await cluster.open(cluster.a.url, await cluster.ws.token("dave"));
    expect((await bob.emitAck("session:watch", { sessionId })).ok).toBe(true);
    const removed = await alice.put(`/api/groups/${id}`, { name: "smaller", agentIds: [slow, fast, http, dead], allowed_users: ["dave@example.com"] });
    expect(removed.status).toBe(200);
    const started = await alice.post(`${path}/${sessionId}/ask`, { content: "Anyone still listening?", agentIds: [fast, http] });
    expect(started.status).toBe(202);
    await dave.until(() => !!finalAsk(dave, started.body.ask.id), "the ask on dave's socket", 15_000);
    expect(bob.of("turn:started").filter((e) => e.sessionId === sessionId)).toEqual([]);
    expect(bob.of("turn:event").filter((e) => e.sessionId === sessionId)).toEqual([]);
    expect(bob.of("ask:updated")).toEqual([]);
    expect(bob.of("session:message").filter((e) => e.sessionId === sessionId)).toEqual([]);
  });

  it("stops the running turns of an agent the group drops", async () => {
    // An agent that takes 30 s, so its turn is surely running when the group drops it.
    const lingering = await makeAgent(alice, uniq("lingering"));
    const agent = startSocketAgent(cluster.b.url, await makeKey(alice, lingering, ["turns:serve"]), { kind: "events", events: scriptedAnswer("one two three four five six seven eight nine ten", { delayMs: 3000, wordsPerChunk: 1 }) });
    sockets.push(agent);
    await agent.served;
    const g = await alice.post("/api/groups", { name: uniq("team"), agentIds: [lingering, fast, http], allowed_users: [] });
    const path = `/api/groups/${g.body.id}/conversations`;
    const sessionId = (await alice.post(path, {})).body.id;
    const started = await alice.post(`${path}/${sessionId}/ask`, { content: "Take your time", agentIds: [lingering, fast] });
    const lingeringTurn = started.body.ask.agents.find((a: any) => a.agentId === lingering).turnId;
    expect((await alice.put(`/api/groups/${g.body.id}`, { name: "without it", agentIds: [fast, http] })).status).toBe(200);
    const ask = await pollUntil(async () => (await alice.get(`${path}/${sessionId}/asks/${started.body.ask.id}`)).body, (a) => a.status === "completed", "the ask to complete", 15_000);
    expect(ask.agents.find((a: any) => a.agentId === lingering)).toEqual({ agentId: lingering, turnId: lingeringTurn, status: "cancelled" });
    expect(agent.cancels.map((c) => c.turnId)).toContain(lingeringTurn);
  });
});
