/**
 * One behaviour suite over both Redis set-ups, each with two hub processes: the machine's single
 * Redis (REDIS_URL) and a 3x2 Redis Cluster of the file's own (REDIS_CLUSTER_NODES). Realtime
 * delivery across nodes, resuming with `since`, a turn streamed across nodes, a revocation
 * refused on the other node at once, and a rate limit shared by the nodes must hold on both.
 * (The wider suites run over a cluster too: TEST_REDIS_SETUP=cluster, see support/cluster.ts.)
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { JWT_SECRET, REDIS_URL } from "../support/env.js";
import { useCluster, type RedisSetup } from "../support/cluster.js";
import { makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { expectProblem } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import type { Client } from "../support/sockets.js";
import { freshWindow } from "../support/waiters.js";

const run = promisify(execFile);

/** Low enough to reach in a test, high enough for the other tests' requests (each uses its own credentials). */
const RATE_LIMIT = 40;

const SETUPS: Array<[string, RedisSetup]> = [
  ["one Redis", "single"],
  ["a Redis Cluster of 3 masters and 3 replicas", "cluster"],
];

describe.each(SETUPS)("on %s, with two hub processes", (_name, setup) => {
  const c = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true", RATE_LIMIT_PER_10S: String(RATE_LIMIT) }, { redis: setup });
  const agents: SocketAgent[] = [];
  afterAll(() => Promise.all(agents.map((a) => a.close())));

  async function channelWithPublisher() {
    const token = await c.ws.token(uniq("alice"));
    const alice = api(c.a.url, token);
    const agentId = await makeAgent(alice, uniq("agent"));
    const channelId = (await alice.post("/team-channels", { name: uniq("chan") })).body.id as string;
    return { token, alice, agentId, channelId };
  }
  const seqsOf = (client: Client, channelId: string) => client.of("channel:message").filter((m) => m.channelId === channelId).map((m) => m.seq as number);

  it("is ready on both nodes, and says which Redis it runs on", async () => {
    for (const node of [c.a, c.b]) {
      const res = await api(node.url).get("/readyz");
      expect(res.status).toBe(200);
      expect(res.body.checks.redis.status).toBe("up");
      if (setup === "cluster") expect(res.body.checks.redis.cluster_state).toBe("ok");
      else expect(res.body.checks.redis.cluster_state).toBeUndefined();
    }
  });

  it("delivers a publish on node A to a watcher on node B, once, in order", async () => {
    const { token, alice, agentId, channelId } = await channelWithPublisher();
    const onB = await c.open(c.b.url, token);
    expect(await onB.emitAck("channel:watch", { channelId, since: 0 })).toEqual({ ok: true, missed: [] });
    for (let i = 1; i <= 20; i++) expect((await alice.post(`/team-channels/${channelId}/messages`, { agentId, message: `m${i}` })).status).toBe(201);
    await onB.until(() => seqsOf(onB, channelId).length >= 20, "twenty messages on B");
    expect(seqsOf(onB, channelId)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("resumes with since on the other node: nothing lost, nothing twice", async () => {
    const { token, alice, agentId, channelId } = await channelWithPublisher();
    const aliceB = api(c.b.url, token);
    const first = await c.open(c.a.url, token);
    await first.emitAck("channel:watch", { channelId, since: 0 });
    for (let i = 1; i <= 5; i++) await alice.post(`/team-channels/${channelId}/messages`, { agentId, message: `live ${i}` });
    await first.until(() => seqsOf(first, channelId).length === 5, "five live messages");
    first.close();
    for (let i = 6; i <= 12; i++) await (i % 2 ? alice : aliceB).post(`/team-channels/${channelId}/messages`, { agentId, message: `missed ${i}` });

    const second = await c.open(c.b.url, token);
    const ack = await second.emitAck("channel:watch", { channelId, since: 5 });
    await alice.post(`/team-channels/${channelId}/messages`, { agentId, message: "live 13" });
    await second.until(() => seqsOf(second, channelId).includes(13), "live 13 on B");
    const seen = [...seqsOf(first, channelId), ...ack.missed.map((m: { seq: number }) => m.seq), ...seqsOf(second, channelId)];
    expect(seen).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
  });

  it("streams a turn served on node A to a watcher on node B: every event once, in order, and the answer stored", async () => {
    const token = await c.ws.token(uniq("alice"));
    const alice = api(c.a.url, token);
    const agentId = await makeAgent(alice, uniq("agent"));
    const text = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const agent = startSocketAgent(c.a.url, await makeKey(alice, agentId, ["turns:serve"]), { kind: "events", events: scriptedAnswer(text, { wordsPerChunk: 1 }) });
    agents.push(agent);
    await agent.served;
    const session = await makeSession(alice, agentId);
    const watcher = await c.open(c.b.url, token);
    expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);

    const { turn } = (await api(c.b.url, token).post(`/api/agents/${agentId}/sessions/${session.id}/turns`, { content: "count" })).body;
    await watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === turn.id), "turn:ended on B", 20_000);
    const events = watcher.of("turn:event").filter((e) => e.turnId === turn.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.event.type === "content_delta").map((e) => e.event.delta).join("").trim()).toBe(text);
    expect(watcher.of("turn:ended").find((e) => e.turn.id === turn.id).turn.status).toBe("completed");
    const got = await alice.get(`/api/agents/${agentId}/sessions/${session.id}/turns/${turn.id}`);
    expect(got.body).toMatchObject({ status: "completed", seq: events.length });
  });

  it("refuses a key revoked on node A on node B at once, though B had it cached", async () => {
    const master = api(c.a.url, c.ws.masterKey);
    const agentId = await makeAgent(master);
    const created = await master.post(`/api/agents/${agentId}/keys`, { scopes: ["sessions:read"] });
    const onB = api(c.b.url, created.body.key);
    expect((await onB.get("/api/me")).status).toBe(200);
    expect((await master.delete(`/api/agents/${agentId}/keys/${created.body.id}`)).status).toBe(204);
    // No wait: the revocation answered once node B had confirmed it.
    expectProblem(await onB.get("/api/me"), "unauthorized");
  });

  it("lets the CLI's rotate-key tell both hubs: the old master key is refused on each, its socket closed", async () => {
    const old = c.ws.masterKey;
    for (const node of [c.a, c.b]) expect((await api(node.url, old).get("/api/me")).status).toBe(200);
    const socket = await c.open(c.b.url, old);
    const redisEnv = c.redisCluster ? { REDIS_URL: "", REDIS_CLUSTER_NODES: c.redisCluster.nodeList } : { REDIS_URL };
    const env = { ...process.env, DATABASE_URL: process.env.TEST_FILE_DATABASE_URL!, JWT_SECRET, REDIS_PREFIX: process.env.TEST_FILE_REDIS_PREFIX!, ...redisEnv };
    const { stdout, stderr } = await run(process.execPath, ["bin/agenthub.js", "workspace", "rotate-key", "--workspace", c.ws.id], { env });
    expect(stderr).not.toContain("were not told");
    const rotated = JSON.parse(stdout) as { master_key: string };
    // Told over Redis: both hubs forget the old key (the CLI answers once it has published).
    await socket.until(() => socket.closed !== undefined, "the old key's socket on B to close");
    expect(socket.of("hub:closing")).toEqual([{ reason: "key revoked" }]);
    for (const node of [c.a, c.b]) {
      expectProblem(await api(node.url, old).get("/api/me"), "unauthorized");
      expect((await api(node.url, rotated.master_key).get("/api/me")).status).toBe(200);
    }
    c.ws.masterKey = rotated.master_key;
  });

  it("shares one rate limit between the nodes", async () => {
    const master = api(c.a.url, c.ws.masterKey);
    const agentId = await makeAgent(master);
    const key = (await master.post(`/api/agents/${agentId}/keys`, { scopes: ["sessions:read"] })).body.key as string;
    const [onA, onB] = [api(c.a.url, key), api(c.b.url, key)];
    await freshWindow(10_000, 6000);
    // Alternating nodes: counted per node, the first refusal would come only past 2 x the limit.
    let allowed = 0;
    let refused: Awaited<ReturnType<typeof onA.get>> | undefined;
    for (let i = 0; i < RATE_LIMIT * 2 && !refused; i++) {
      const res = await (i % 2 ? onB : onA).get("/api/me");
      if (res.status === 429) refused = res;
      else allowed++;
    }
    expect(allowed).toBe(RATE_LIMIT);
    expect(refused?.headers.get("retry-after")).toMatch(/^\d+$/);
  });
});
