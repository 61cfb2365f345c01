/**
 * Team channels live, across two hub processes sharing Postgres and Redis.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { makeAgent, makeWorkspace, uniq } from "../support/factories.js";
import { useCluster } from "../support/cluster.js";
import { ackProblem } from "../support/problem.js";
import { connectError, type Client } from "../support/sockets.js";

const cluster = useCluster();
const { open } = cluster;
let aliceToken: string;
let aliceA: Api;
let aliceB: Api;

beforeAll(async () => {
  aliceToken = await cluster.ws.token("alice");
  aliceA = api(cluster.a.url, aliceToken);
  aliceB = api(cluster.b.url, aliceToken);
});

async function agentWithKey(scopes = ["channels:read", "channels:publish"]) {
  const agentId = await makeAgent(aliceA, uniq("agent"));
  const res = await aliceA.post(`/api/agents/${agentId}/keys`, { scopes });
  return { agentId, key: res.body.key as string, keyId: res.body.id as string };
}

async function newChannel() {
  return (await aliceA.post("/team-channels", { name: uniq("chan") })).body.id as string;
}

const publish = (client: Api, channelId: string, agentId: string, message: string) =>
  client.post(`/team-channels/${channelId}/messages`, { agentId, message }).then((r) => {
    expect(r.status).toBe(201);
    return r.body;
  });

const seqsOf = (c: Client, channelId: string) => c.of("channel:message").filter((m) => m.channelId === channelId).map((m) => m.seq);

describe("channel delivery across nodes", () => {
  it("delivers a publish on node A to a subscribed agent's socket on node B, and on A", async () => {
    const { agentId, key } = await agentWithKey();
    const channelId = await newChannel();
    await aliceA.post(`/team-channels/${channelId}/subscribe`, { agentId });
    const onB = await open(cluster.b.url, key);
    const onA = await open(cluster.a.url, key);
    const sent = await publish(aliceA, channelId, agentId, "hello from A");
    await onB.until(() => seqsOf(onB, channelId).length === 1, "delivery on B");
    await onA.until(() => seqsOf(onA, channelId).length === 1, "delivery on A");
    expect(onB.of("channel:message")[0]).toEqual(sent);
  });

  it("follows a subscription made after connect, on another node, live", async () => {
    const { agentId, key } = await agentWithKey();
    const channelId = await newChannel();
    const onB = await open(cluster.b.url, key);
    await aliceA.post(`/team-channels/${channelId}/subscribe`, { agentId });
    // The subscription event and the message travel the same ordered path to node B.
    await publish(aliceA, channelId, agentId, "after subscribe");
    await onB.until(() => seqsOf(onB, channelId).length === 1, "delivery after subscribe");
  });

  it("reads back what was committed after a subscription's head but never announced", async () => {
    const { agentId, key } = await agentWithKey();
    const channelId = await newChannel();
    const onB = await open(cluster.b.url, key);
    // A message committed whose live event was lost (its publisher died after commit): the
    // channel's head does not count it yet, so the subscription starts just before it.
    await cluster.db("team_channel_messages").insert({ channel_id: channelId, seq: 1, id: crypto.randomUUID(), agent_id: agentId, message: "orphan", body_hash: "x" });
    await aliceA.post(`/team-channels/${channelId}/subscribe`, { agentId });
    await onB.until(() => seqsOf(onB, channelId).length === 1, "the orphaned message");
    expect(onB.of("channel:message")[0]).toMatchObject({ seq: 1, message: "orphan" });
  });

  it("stops delivery after unsubscribe", async () => {
    const { agentId, key } = await agentWithKey();
    const [gone, sentinel] = [await newChannel(), await newChannel()];
    await aliceA.post(`/team-channels/${gone}/subscribe`, { agentId });
    await aliceA.post(`/team-channels/${sentinel}/subscribe`, { agentId });
    const onB = await open(cluster.b.url, key);
    await publish(aliceA, gone, agentId, "before");
    await onB.until(() => seqsOf(onB, gone).length === 1, "first message");
    await aliceB.post(`/team-channels/${gone}/unsubscribe`, { agentId });
    await publish(aliceA, gone, agentId, "after unsubscribe");
    await publish(aliceA, sentinel, agentId, "sentinel");
    await onB.until(() => seqsOf(onB, sentinel).length === 1, "sentinel");
    expect(seqsOf(onB, gone)).toEqual([1]);
  });

  it("lets a client that dropped reconnect to the other node with since and get every missed message once, in order", async () => {
    const { agentId } = await agentWithKey();
    const channelId = await newChannel();
    const first = await open(cluster.a.url, aliceToken);
    expect(await first.emitAck("channel:watch", { channelId, since: 0 })).toEqual({ ok: true, missed: [] });
    for (let i = 1; i <= 3; i++) await publish(aliceA, channelId, agentId, `live ${i}`);
    await first.until(() => seqsOf(first, channelId).length === 3, "three live messages");
    first.close();

    for (let i = 4; i <= 8; i++) await publish(i % 2 ? aliceA : aliceB, channelId, agentId, `missed ${i}`);
    const second = await open(cluster.b.url, aliceToken);
    const ack = await second.emitAck("channel:watch", { channelId, since: "3" });
    expect(ack.ok).toBe(true);
    expect(ack.missed.map((m: { seq: number }) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(ack.more).toBeUndefined();
    await publish(aliceA, channelId, agentId, "live 9");
    await second.until(() => seqsOf(second, channelId).includes(9), "live 9");
    expect(seqsOf(second, channelId)).toEqual([9]);
  });

  it("pages a long replay with more: true", async () => {
    const { agentId } = await agentWithKey();
    const channelId = await newChannel();
    const rows = Array.from({ length: 520 }, (_, i) => ({
      channel_id: channelId,
      seq: i + 1,
      id: crypto.randomUUID(),
      agent_id: agentId,
      message: `bulk ${i + 1}`,
      body_hash: "x",
    }));
    await cluster.db.batchInsert("team_channel_messages", rows, 200);
    await cluster.db("team_channels").where({ id: channelId }).update({ message_count: 520 });
    const c = await open(cluster.b.url, aliceToken);
    const page1 = await c.emitAck("channel:watch", { channelId, since: 0 });
    expect(page1.missed).toHaveLength(500);
    expect(page1.more).toBe(true);
    const page2 = await c.emitAck("channel:watch", { channelId, since: 500 });
    expect(page2.missed.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 501 + i));
    expect(page2.more).toBeUndefined();
    await publish(aliceA, channelId, agentId, "521");
    await c.until(() => seqsOf(c, channelId).includes(521), "live after paging");
    expect(seqsOf(c, channelId)).toEqual([521]);
  });

  it("gives gap-free seqs to concurrent publishers on two nodes, and every watcher sees each once, in order", async () => {
    const { agentId, key } = await agentWithKey();
    const channelId = await newChannel();
    await aliceA.post(`/team-channels/${channelId}/subscribe`, { agentId });
    const agentOnA = await open(cluster.a.url, key);
    const agentOnB = await open(cluster.b.url, key);
    const watcher = await open(cluster.b.url, aliceToken);
    await watcher.emitAck("channel:watch", { channelId, since: 0 });
    const N = 60;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => publish(i % 2 ? aliceA : aliceB, channelId, agentId, `m${i}`)),
    );
    const expected = Array.from({ length: N }, (_, i) => i + 1);
    expect(results.map((r) => r.seq).sort((x, y) => x - y)).toEqual(expected);
    for (const c of [agentOnA, agentOnB, watcher]) {
      await c.until(() => seqsOf(c, channelId).length >= N, "all messages");
      expect(seqsOf(c, channelId)).toEqual(expected);
    }
  });

  it("closes the race between replay and live: a watch during a publish burst misses nothing and repeats nothing", async () => {
    const { agentId } = await agentWithKey();
    const channelId = await newChannel();
    const N = 80;
    const burst = Promise.all(Array.from({ length: N }, (_, i) => publish(i % 2 ? aliceA : aliceB, channelId, agentId, `m${i}`)));
    const c = await open(cluster.a.url, aliceToken);
    const ack = await c.emitAck("channel:watch", { channelId, since: 0 });
    await burst;
    const got = () => [...ack.missed.map((m: { seq: number }) => m.seq), ...seqsOf(c, channelId)];
    await c.until(() => got().length >= N, "all messages");
    expect(got()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });
});

describe("channel denials", () => {
  it("refuses a bad credential with connect_error 'unauthorized'", async () => {
    expect(await connectError(cluster.a.url, undefined)).toBe("unauthorized");
    expect(await connectError(cluster.a.url, "g_agent_nope")).toBe("unauthorized");
    expect(await connectError(cluster.b.url, await cluster.ws.token("late", { ttlSeconds: -10 }))).toBe("unauthorized");
  });

  it("refuses watching a channel of another workspace, an unknown channel, or without channels:read", async () => {
    const otherWs = await makeWorkspace(cluster.db);
    const theirs = (await api(cluster.a.url, otherWs.masterKey).post("/team-channels", { name: uniq("theirs") })).body.id;
    const c = await open(cluster.a.url, aliceToken);
    expect(await c.emitAck("channel:watch", { channelId: theirs, since: 0 })).toEqual(ackProblem("not-found"));
    expect(await c.emitAck("channel:watch", { channelId: "ch_nope" })).toEqual(ackProblem("not-found"));
    expect(await c.emitAck("channel:watch", { since: "x" })).toEqual(ackProblem("validation", { fields: ["channelId", "since"] }));
    const { key } = await agentWithKey(["sessions:read"]);
    const channelId = await newChannel();
    const k = await open(cluster.b.url, key);
    expect(await k.emitAck("channel:watch", { channelId })).toEqual(ackProblem("forbidden"));
  });

  it("disconnects a revoked key's sockets on every node at once", async () => {
    const { agentId, key, keyId } = await agentWithKey();
    const onA = await open(cluster.a.url, key);
    const onB = await open(cluster.b.url, key);
    expect((await aliceA.delete(`/api/agents/${agentId}/keys/${keyId}`)).status).toBe(204);
    await onA.until(() => onA.of("disconnect").length > 0, "disconnect on A");
    await onB.until(() => onB.of("disconnect").length > 0, "disconnect on B");
    expect(onB.of("hub:closing")[0]).toEqual({ reason: "key revoked" });
    expect(onB.closed).toEqual({ reason: "io server disconnect", code: undefined });
    expect(await connectError(cluster.b.url, key)).toBe("unauthorized");
  });

  it("disconnects a user socket when its token expires", async () => {
    const c = await open(cluster.b.url, await cluster.ws.token("brief", { ttlSeconds: 2 }));
    await c.until(() => c.of("disconnect").length > 0, "expiry disconnect", 8000);
    expect(c.of("hub:closing")[0]).toEqual({ reason: "token expired" });
  });
});
