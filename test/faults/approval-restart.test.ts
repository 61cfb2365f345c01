/**
 * Fault: the hub process holding a turn that waits for people is killed (SIGKILL). Waiting
 * survives it: the turn's lease does not fail it while it waits (the wait outlasts several
 * leases), the agent serves again from the other node, a person decides there, and the outcome
 * reaches the agent, whose answer streams on to the end.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { startApprovalAgent } from "../support/approval-agent.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";

const LEASE_MS = 1000;
const cluster = useCluster({ AGENT_TURN_LEASE_MS: String(LEASE_MS) });
const closers: Array<() => void> = [];
afterAll(() => closers.forEach((c) => c()));

describe("a hub killed while a turn waits for people", () => {
  it("keeps the turn waiting past its lease; the decision made on the other node reaches the agent, and the turn ends", async () => {
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("careful"));
    const key = await makeKey(alice, agentId, ["turns:serve"]);
    const agent = startApprovalAgent(cluster.a.url, key, () => ({ approvalId: "restart-safe", title: "Restart the database?" }));
    closers.push(() => agent.close());
    await agent.served;
    const session = await makeSession(alice, agentId);
    const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;

    const started = await alice.post(`${path}/turns`, { content: "Restart it" });
    const turnId: string = started.body.turn.id;
    await watcher.until(() => watcher.of("turn:approval").some((e) => e.turnId === turnId), "the approval request");

    // The node the agent answered on goes away without a word.
    await cluster.a.stop("SIGKILL");
    const aliceB = api(cluster.b.url, await cluster.ws.token("alice"));
    // Several leases pass: nobody renews this turn's lease, and the sweep on B must leave it waiting.
    await sleep(4 * LEASE_MS);
    expect((await aliceB.get(`${path}/turns/${turnId}`)).body).toMatchObject({ status: "waiting", approvals: [{ status: "pending" }] });

    // The agent serves again from B; the decision there reaches it.
    await agent.moveTo(cluster.b.url);
    const decided = await aliceB.post(`${path}/turns/${turnId}/approvals/restart-safe`, { decision: "approve" });
    expect(decided.status, decided.text).toBe(200);
    await watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === turnId), "the turn to end", 15_000);
    expect(watcher.of("turn:ended").find((e) => e.turn.id === turnId).turn.status).toBe("completed");
    const stored = (await aliceB.get(`${path}/messages`)).body.messages.find((m: { role: string }) => m.role === "assistant");
    expect(stored.content).toBe("Asking first. The request was approved.");
    expect(stored.approvals).toMatchObject([{ id: "restart-safe", status: "approved" }]);
  }, 60_000);
});
