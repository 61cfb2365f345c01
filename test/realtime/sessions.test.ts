/**
 * Session updates live, across two hub processes sharing Postgres and Redis: who receives
 * them, watch with since across nodes, and access that ends while a socket is open.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { makeAgent, makeKey, makeWorkspace, uniq, userId } from "../support/factories.js";
import { useCluster } from "../support/cluster.js";
import { ackProblem } from "../support/problem.js";
import type { Client } from "../support/sockets.js";

const cluster = useCluster();
const { open } = cluster;
let bobToken: string;
let aliceA: Api;
let bobA: Api;

beforeAll(async () => {
  aliceA = api(cluster.a.url, await cluster.ws.token("alice"));
  bobToken = await cluster.ws.token("bob");
  bobA = api(cluster.a.url, bobToken);
});

/** An agent that bob uses as a viewer, a session bob owns, and a key of the agent. */
async function bobsSession(scopes = ["sessions:read", "sessions:write"]) {
  const agentId = await makeAgent(aliceA, uniq("agent"));
  await aliceA.post(`/api/agents/${agentId}/team`, { user_id: await userId(bobA), access_level: "viewer" });
  const session = await bobA.post(`/api/agents/${agentId}/sessions`, { title: "bob's" });
  expect(session.status).toBe(201);
  const key = api(cluster.a.url, await makeKey(aliceA, agentId, scopes));
  return { agentId, sessionId: session.body.id as string, key };
}

const append = async (client: Api, agentId: string, sessionId: string, content: string) => {
  const res = await client.post(`/api/agents/${agentId}/sessions/${sessionId}/messages`, { id: randomUUID(), role: "assistant", content });
  expect(res.status).toBe(201);
  return res.body;
};

const seqs = (c: Client, sessionId: string) =>
  c.of("session:message").filter((m) => m.sessionId === sessionId).map((m) => m.message.seq);

describe("session events across nodes", () => {
  it("pushes messages and updates to the owner's sockets and the agent's reading keys on the other node", async () => {
    const { agentId, sessionId, key } = await bobsSession();
    const owner = await open(cluster.b.url, bobToken);
    const reader = await open(cluster.b.url, await makeKey(aliceA, agentId, ["sessions:read"]));
    const sent = await append(key, agentId, sessionId, "hello bob");
    for (const c of [owner, reader]) {
      await c.until(() => seqs(c, sessionId).length === 1, "session:message");
      expect(c.of("session:message")[0]).toEqual({ sessionId, message: sent });
    }
    expect((await bobA.patch(`/api/agents/${agentId}/sessions/${sessionId}`, { title: "renamed" })).status).toBe(204);
    await owner.until(() => owner.of("session:updated").length === 1, "session:updated");
    expect(owner.of("session:updated")[0]).toMatchObject({ sessionId, change: "renamed", session: { id: sessionId, title: "renamed" } });
    await bobA.post(`/api/agents/${agentId}/sessions/${sessionId}/archive`);
    await bobA.post(`/api/agents/${agentId}/sessions/${sessionId}/restore`);
    await bobA.delete(`/api/agents/${agentId}/sessions/${sessionId}`);
    await reader.until(() => reader.of("session:updated").length === 4, "four updates");
    expect(reader.of("session:updated").map((u) => u.change)).toEqual(["renamed", "archived", "restored", "deleted"]);
  });

  it("sends nothing to other users, other agents' keys, or keys without sessions:read", async () => {
    const { agentId, sessionId, key } = await bobsSession();
    const carol = await open(cluster.b.url, await cluster.ws.token("carol"));
    const otherAgent = await makeAgent(aliceA, uniq("other"));
    const otherKey = await open(cluster.b.url, await makeKey(aliceA, otherAgent, ["sessions:read"]));
    const writeOnly = await open(cluster.b.url, await makeKey(aliceA, agentId, ["sessions:write"]));
    const owner = await open(cluster.b.url, bobToken);
    await append(key, agentId, sessionId, "private");
    await owner.until(() => seqs(owner, sessionId).length === 1, "owner delivery");
    // Same publisher, same ordered path: had they been sent to the others, they would be there by now.
    for (const c of [carol, otherKey, writeOnly]) expect(c.of("session:message")).toEqual([]);
  });

  it("replays with since on the other node after a drop, then continues live without gap or duplicate", async () => {
    const { agentId, sessionId, key } = await bobsSession();
    const first = await open(cluster.a.url, bobToken);
    expect(await first.emitAck("session:watch", { sessionId, since: 0 })).toEqual({ ok: true, missed: [] });
    await append(key, agentId, sessionId, "1");
    await first.until(() => seqs(first, sessionId).length === 1, "first live");
    first.close();
    for (let i = 2; i <= 5; i++) await append(key, agentId, sessionId, String(i));
    const second = await open(cluster.b.url, bobToken);
    const ack = await second.emitAck("session:watch", { sessionId, since: 1 });
    await append(key, agentId, sessionId, "6");
    await second.until(() => seqs(second, sessionId).includes(6), "live 6");
    // Bob owns the session, so a late live push (through his user room) may cross the watch on
    // the wire; the replay then starts after it. Either way: every seq once, none missing.
    const got = [...ack.missed.map((m: { seq: number }) => m.seq), ...seqs(second, sessionId)].sort((x, y) => x - y);
    expect(got).toEqual([2, 3, 4, 5, 6]);
  });

  it("tells the owner and the agent's sockets when the agent's deletion takes its sessions", async () => {
    const { agentId, sessionId } = await bobsSession();
    const owner = await open(cluster.b.url, bobToken);
    const agentSocket = await open(cluster.a.url, await makeKey(aliceA, agentId, ["sessions:read"]));
    expect((await aliceA.delete(`/api/agents/${agentId}`)).status).toBe(204);
    await owner.until(() => owner.of("session:updated").length === 1, "deleted notice");
    expect(owner.of("session:updated")[0]).toMatchObject({ sessionId, change: "deleted", session: { id: sessionId } });
    await agentSocket.until(() => agentSocket.of("disconnect").length === 1, "agent socket closed");
  });

  it("refuses watches the caller may not make", async () => {
    const { agentId, sessionId } = await bobsSession();
    const carol = await open(cluster.a.url, await cluster.ws.token("carol"));
    expect(await carol.emitAck("session:watch", { sessionId, since: 0 })).toEqual(ackProblem("not-found"));
    const stranger = await makeWorkspace(cluster.db);
    const outsider = await open(cluster.b.url, stranger.masterKey);
    expect(await outsider.emitAck("session:watch", { sessionId })).toEqual(ackProblem("not-found"));
    const otherAgentKey = await open(cluster.b.url, await makeKey(aliceA, await makeAgent(aliceA, uniq("x")), ["sessions:read"]));
    expect(await otherAgentKey.emitAck("session:watch", { sessionId })).toEqual(ackProblem("not-found"));
    const noScope = await open(cluster.b.url, await makeKey(aliceA, agentId, ["channels:read"]));
    expect(await noScope.emitAck("session:watch", { sessionId })).toEqual(ackProblem("forbidden"));
    expect(await noScope.emitAck("session:watch", {})).toEqual(ackProblem("validation", { fields: ["sessionId"] }));
    const master = await open(cluster.a.url, cluster.ws.masterKey);
    expect(await master.emitAck("session:watch", { sessionId, since: 0 })).toEqual({ ok: true, missed: [] });
  });

  it("stops a removed team member's live session updates at once, on every node", async () => {
    const { agentId, sessionId, key } = await bobsSession();
    const keep = await bobsSession();
    const watcherB = await open(cluster.b.url, bobToken);
    const watcherA = await open(cluster.a.url, bobToken);
    for (const c of [watcherA, watcherB]) await c.emitAck("session:watch", { sessionId, since: 0 });
    await append(key, agentId, sessionId, "before");
    for (const c of [watcherA, watcherB]) await c.until(() => seqs(c, sessionId).length === 1, "before removal");

    expect((await aliceA.delete(`/api/agents/${agentId}/team/${await userId(bobA)}`)).status).toBe(200);
    await append(key, agentId, sessionId, "after");
    await append(keep.key, keep.agentId, keep.sessionId, "sentinel");
    for (const c of [watcherA, watcherB]) {
      await c.until(() => seqs(c, keep.sessionId).length === 1, "sentinel");
      expect(seqs(c, sessionId)).toEqual([1]);
    }
    expect(await watcherB.emitAck("session:watch", { sessionId, since: 0 })).toEqual(ackProblem("not-found"));
  });
});
