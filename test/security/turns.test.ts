/**
 * Attacks on a turn's end, replayed against two hub processes on Postgres and Redis:
 * - a cancel that left the turn `running` for up to 5 s while a misbehaving agent kept
 *   streaming (and being recorded) after it;
 * - a NUL in an agent's `error` (or any event) that left the turn `running` for good, so the
 *   session refused every later turn with 409.
 */
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { answer, startAgentServer, type AgentServer } from "../support/agent-server.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent, type TurnScript } from "../support/socket-agent.js";
import type { Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
const agents: SocketAgent[] = [];
const servers: AgentServer[] = [];
afterAll(async () => {
  await Promise.all([...agents.map((a) => a.close()), ...servers.map((s) => s.close())]);
});

const turnEvents = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId);
const ended = (c: Client, turnId: string) => c.of("turn:ended").some((e) => e.turn.id === turnId);

/** Alice's agent served over a socket on node B (the cancel and the watcher are on A). */
async function servedOnB(script: TurnScript) {
  const alice = api(cluster.a.url, await cluster.ws.token("alice"));
  const agentId = await makeAgent(alice, uniq("agent"));
  const agent = startSocketAgent(cluster.b.url, await makeKey(alice, agentId, ["turns:serve"]), script);
  agents.push(agent);
  await agent.served;
  const session = await makeSession(alice, agentId);
  return { alice, agent, sessionId: session.id as string, path: `/api/agents/${agentId}/sessions/${session.id}` };
}

describe("a cancel ends the turn at once", () => {
  it("answers the turn already cancelled, keeps what arrived before, and drops what the agent sends after", async () => {
    // The agent ignores turn:cancel and goes on streaming for a while.
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const { alice, agent, sessionId, path } = await servedOnB({ kind: "events", events: scriptedAnswer(words, { wordsPerChunk: 1, delayMs: 40 }), onCancel: "ignore" });
    const watcher = await cluster.open(cluster.a.url, await cluster.ws.token("alice"));
    await watcher.emitAck("session:watch", { sessionId });
    const { turn } = (await alice.post(`${path}/turns`, { content: "stream a while" })).body;
    await agent.until(() => agent.sent.length >= 5, "a few events");

    const cancelled = await alice.post(`${path}/turns/${turn.id}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ id: turn.id, status: "cancelled", ended_at: expect.any(String) });
    const got = (await alice.get(`${path}/turns/${turn.id}`)).body;
    expect(got.status).toBe("cancelled");
    // The session takes a new turn straight away.
    expect((await alice.post(`${path}/turns`, { content: "next" })).status).not.toBe(409);

    await watcher.until(() => ended(watcher, turn.id), "turn:ended");
    const sentAtCancel = agent.sent.length;
    // Let the agent send at least five more events after the cancel: each is dropped.
    await agent.until(() => agent.sent.length >= sentAtCancel + 5, "events after the cancel");
    const events = turnEvents(watcher, turn.id);
    expect(events.at(-1)!.event).toEqual({ type: "done" });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const streamed = events.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("");
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ role: "assistant", finishReason: "cancelled", content: streamed });
    expect(streamed.length).toBeGreaterThan(0);
    expect(streamed.trim()).not.toBe(words);
    // What the agent sent after the cancel was never recorded: the turn's log ends at done.
    const late = (await alice.get(`${path}/turns/${turn.id}`)).body;
    expect(late.seq).toBe(events.length);
    await agent.until(() => agent.cancels.some((c) => c.turnId === turn.id), "turn:cancel");
  });

  it("cancels an HTTP agent's turn at once and aborts the call", async () => {
    const server = await startAgentServer();
    servers.push(server);
    const steps = Array.from({ length: 50 }, (_, i) => ({ event: "content_delta", data: { delta: `d${i} ` }, delayMs: 50 }));
    server.script({ steps: [{ event: "message_start", data: { role: "assistant", model: "m" } }, ...steps, { event: "done" }] });
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("http"));
    expect((await alice.patch(`/api/agents/${agentId}`, { server_url: server.url })).status).toBe(200);
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    await watcher.emitAck("session:watch", { sessionId: session.id });
    const { turn } = (await alice.post(`${path}/turns`, { content: "go" })).body;
    await watcher.until(() => turnEvents(watcher, turn.id).length >= 3, "a few events");
    // Cancelled on the node that does not run the call.
    const cancelled = await api(cluster.b.url, await cluster.ws.token("alice")).post(`${path}/turns/${turn.id}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    await watcher.until(() => ended(watcher, turn.id), "turn:ended");
    await pollUntil(async () => server.requests[0]?.cutShort, (cut) => cut === true, "the agent call aborted");
    const events = turnEvents(watcher, turn.id);
    expect(events.at(-1)!.event).toEqual({ type: "done" });
    expect(events.filter((e) => e.event.type === "content_delta").length).toBeLessThan(50);
  });
});

describe("a NUL from an agent fails the turn, and the session goes on", () => {
  it("an HTTP agent's error holding a NUL: the turn fails with a readable error; the next turn runs", async () => {
    const server = await startAgentServer();
    servers.push(server);
    server.script(answer([{ type: "content_delta", delta: "partial " }, { type: "error", error: "bad\u0000thing" }]));
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("nul"));
    await alice.patch(`/api/agents/${agentId}`, { server_url: server.url });
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    await watcher.emitAck("session:watch", { sessionId: session.id });
    const { turn } = (await alice.post(`${path}/turns`, { content: "hi" })).body;
    await watcher.until(() => ended(watcher, turn.id), "turn:ended");
    const final = watcher.of("turn:ended").find((e) => e.turn.id === turn.id).turn;
    expect(final).toMatchObject({ status: "failed", error: "the agent sent an event holding a NUL character" });
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ finishReason: "error", content: "partial " });
    server.script(answer([{ type: "content_delta", delta: "fine" }]));
    const next = await alice.post(`${path}/turns`, { content: "again" });
    expect(next.status).toBe(202);
    await watcher.until(() => ended(watcher, next.body.turn.id), "the next turn:ended");
    expect(watcher.of("turn:ended").find((e) => e.turn.id === next.body.turn.id).turn.status).toBe("completed");
  });
});
