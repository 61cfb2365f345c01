/**
 * Fault: the hub process running a turn is killed mid-turn (SIGKILL: no cleanup). The turn
 * must not stay "running" forever: once its lease lapses, the other process fails it, keeping
 * what arrived (from the turn log in Redis), and watchers on that process see it end.
 */
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { startAgentServer, type AgentServer } from "../support/agent-server.js";
import { useCluster } from "../support/cluster.js";
import { makeSession, uniq } from "../support/factories.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true", AGENT_TURN_LEASE_MS: "2000" });
let server: AgentServer | undefined;
afterAll(() => server?.close());

describe("a hub killed mid-turn", () => {
  it("leaves no turn running: the other process fails it after the lease and stores what arrived", async () => {
    server = await startAgentServer({
      steps: [
        { event: "message_start", data: { role: "assistant", model: "slow" } },
        { event: "content_delta", data: { delta: "Half of " } },
        { event: "content_delta", data: { delta: "an answer" } },
        { stall: true },
      ],
    });
    const token = await cluster.ws.token("alice");
    const onA = api(cluster.a.url, token);
    const onB = api(cluster.b.url, token);
    const agentId = uniq("slow");
    expect((await onA.post("/api/agents", { id: agentId, name: "Slow", server_url: server.url })).status).toBe(201);
    const session = await makeSession(onA, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const watcher = await cluster.open(cluster.b.url, token);
    await watcher.emitAck("session:watch", { sessionId: session.id });

    const { turn } = (await onA.post(`${path}/turns`, { content: "take your time" })).body; // runs on A
    await watcher.until(() => watcher.of("turn:event").filter((e) => e.turnId === turn.id).length === 3, "three events");
    const killedAt = Date.now();
    await cluster.a.stop("SIGKILL");

    await watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === turn.id), "turn:ended from the other process", 15_000);
    const recovery = Date.now() - killedAt;
    const ended = watcher.of("turn:ended").find((e) => e.turn.id === turn.id).turn;
    expect(ended).toMatchObject({ status: "failed", error: "the hub process running this turn stopped" });
    const events = watcher.of("turn:event").filter((e) => e.turnId === turn.id);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events.slice(-2).map((e) => e.event.type)).toEqual(["error", "done"]);
    const stored = (await onB.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored).toMatchObject({ role: "assistant", content: "Half of an answer", finishReason: "error" });
    // The session takes new turns again.
    expect((await onB.get(`${path}/turns/${turn.id}`)).body.status).toBe("failed");
    console.log(`[faults] hub killed mid-turn: turn failed by the other process ${(recovery / 1000).toFixed(1)} s after the kill (lease 2 s); 3 events kept`);
  });
});
