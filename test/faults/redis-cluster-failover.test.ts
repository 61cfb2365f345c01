/**
 * Fault: the hubs run on a Redis Cluster of this file's own (3 masters, 3 replicas, never the
 * machine's Redis), and the master serving the hubs' events channel is killed (SIGKILL)
 * mid-stream; its replica takes over (cluster-node-timeout 1.5 s). Clients that resume with
 * `since` lose nothing and see nothing twice; REST keeps answering (201, or a 503 problem with
 * Retry-After at worst, each within a bound); /readyz reports the cluster's failed state and
 * recovers. The time to recover is printed (bench/RESULTS.md quotes it).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDelivered, expectHealthyHubs, publishesDuring, runFault, useFaultBed } from "../support/faults/bed.js";
import { api } from "../support/api.js";
import { uniq } from "../support/factories.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { connect } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

/** A request may wait this long for a dependency before it must answer (201 or a clean 503). */
const ANSWER_WITHIN_MS = 5_000;

let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1500 });
}, 60_000);
afterAll(() => cluster?.stop());

const bed = useFaultBed({ env: () => ({ REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.nodeList }) });

describe("a Redis Cluster master killed mid-stream", () => {
  it("fails over to its replica: nothing lost or repeated for resuming clients, REST answers, recovery timed", async () => {
    // The shard that carries every committed event between the hubs: the worst one to lose.
    const eventsChannel = `${process.env.TEST_FILE_REDIS_PREFIX}:events`;
    let failoverMs = 0;
    const owner = api(bed.hubs[0]!.url, bed.ws.masterKey);
    const doomed = (await owner.post(`/api/agents/${bed.agentId}/keys`, { scopes: ["sessions:read"] })).body as { id: string; key: string };
    let revoked: { status: number; ms: number } | undefined;
    const result = await runFault(bed, {
      scenario: "Redis Cluster master SIGKILLed (failover to its replica)",
      async fault() {
        const master = await cluster.masterOf(eventsChannel);
        const faultAt = Date.now();
        master.process.kill("SIGKILL");
        // A revocation while its event's shard has no master: it answers, within a bound.
        const revoking = owner.raw(`/api/agents/${bed.agentId}/keys/${doomed.id}`, { method: "DELETE", signal: AbortSignal.timeout(15_000) }).then(
          (res) => (revoked = { status: res.status, ms: Date.now() - faultAt }),
          () => (revoked = { status: 0, ms: Date.now() - faultAt }),
        );
        // Restored once every live node says cluster_state:ok and the channel's slot has a live master again.
        await cluster.waitHealthy(eventsChannel);
        const restoredAt = Date.now();
        failoverMs = restoredAt - faultAt;
        await revoking;
        return { faultAt, restoredAt };
      },
    });
    console.log(
      `[faults] redis cluster failover: replica promoted after ${(failoverMs / 1000).toFixed(1)} s; ` +
        `readyz 200 again ${((result.readyRecoveryMs ?? NaN) / 1000).toFixed(1)} s later; first new delivery to every client ${((result.deliveryRecoveryMs ?? NaN) / 1000).toFixed(1)} s after the promotion; ` +
        `kill to recovered: ${((failoverMs + Math.max(result.readyRecoveryMs ?? 0, result.deliveryRecoveryMs ?? 0)) / 1000).toFixed(1)} s`,
    );

    console.log(`[faults] redis cluster failover: a key revoked right after the kill answered ${revoked?.status} in ${revoked?.ms} ms`);
    expect.soft(revoked, "the revocation during the failover").toMatchObject({ status: 204, ms: expect.any(Number) });
    expect.soft(revoked!.ms, "the revocation's answer time during the failover (ms)").toBeLessThan(ANSWER_WITHIN_MS);
    // Every hub refuses the key once it has heard of the revocation, or its cache entry aged out.
    for (const h of bed.live()) {
      await pollUntil(() => api(h.url, doomed.key).get("/api/me").then((r) => r.status), (status) => status === 401, `hub ${h.name} refusing the revoked key`, 10_000, 100);
    }
    expectDelivered(result);
    expect.soft(result.lost, "deliveries lost").toBe(0);
    expect.soft(result.duplicated, "deliveries duplicated").toBe(0);
    expectHealthyHubs(bed, result);
    expect.soft(result.readyRecoveryMs, "/readyz 200 on every hub after the failover").toBeDefined();
    expect.soft(result.deliveryRecoveryMs, "every client received a message published after the failover").toBeDefined();
    // Readiness during the failover follows the cluster's own state, which is `fail` only from
    // the moment the nodes agree the master is gone until its replica is promoted (a second or
    // so): printed, not asserted (the last test below asserts it on a slot left without master).
    console.log(`[faults] redis cluster failover: /readyz during it: ${bed.live().map((h) => `${h.name} ${result.poller.of(h.name, result.faultAt, result.restoredAt).map((x) => x.status).join(" ")}`).join("; ")}`);
    // Publishing needs Postgres, not Redis: each publish answers (201, or a clean 503) without hanging.
    const during = publishesDuring(result.publisher.results, result.faultAt, result.restoredAt + 2000);
    expect.soft(during.length, "publishes during the failover").toBeGreaterThan(0);
    const slow = during.filter((r) => r.end - r.start >= ANSWER_WITHIN_MS).map((r) => ({ ms: r.end - r.start, status: r.status || r.error }));
    expect.soft(slow, `publishes during the failover that took ${ANSWER_WITHIN_MS} ms or more`).toEqual([]);
    const unclean = during
      .filter((r) => r.status !== 201 && !(r.status === 503 && /^application\/problem\+json/.test(r.contentType ?? "") && /^\d+$/.test(r.retryAfter ?? "")))
      .map((r) => ({ status: r.status || r.error, type: r.body?.type }));
    expect.soft(unclean, "publishes during the failover that were neither 201 nor a 503 problem with Retry-After").toEqual([]);
  }, 120_000);

  it("delivers live between the hubs again after the failover: the events subscription followed the new master", async () => {
    // Only one hub publishes here, so nothing on the other could repair a gap from Postgres:
    // what arrives came through the promoted master's sharded channel.
    const [a, b] = [bed.live()[0]!, bed.live()[1]!];
    const alice = api(a.url, bed.userToken);
    const channelId = (await alice.post("/team-channels", { name: uniq("after-failover") })).body.id as string;
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const watcher = await connect(to.url, bed.userToken);
      try {
        expect((await watcher.emitAck("channel:watch", { channelId, since: 0 })).ok).toBe(true);
        const before = watcher.of("channel:message").length;
        const sent = await api(from.url, bed.userToken).post(`/team-channels/${channelId}/messages`, { agentId: bed.agentId, message: `from ${from.name}` });
        expect(sent.status).toBe(201);
        await watcher.until(() => watcher.of("channel:message").length > before, `hub ${from.name}'s publish live on hub ${to.name}`, 5000);
        expect(watcher.of("channel:message").at(-1)).toMatchObject({ seq: sent.body.seq });
      } finally {
        watcher.close();
      }
    }
  }, 30_000);

  it("reports not ready on every hub while a slot has no master at all, and REST still answers", async () => {
    // The master of the events channel and its replica both gone: the cluster cannot recover by
    // itself, so its state stays `fail` (this leaves the cluster broken: the file's last test).
    const eventsChannel = `${process.env.TEST_FILE_REDIS_PREFIX}:events`;
    const master = await cluster.masterOf(eventsChannel);
    const id = (await redisCli(master.port, "CLUSTER", "MYID")).trim();
    // Its replicas, live or not (after the first test's failover it has none left alive).
    const replicaPorts = [...(await redisCli(master.port, "CLUSTER", "REPLICAS", id)).matchAll(/:(\d+)@/g)].map((m) => Number(m[1]));
    for (const n of cluster.nodes.filter((x) => x.port === master.port || replicaPorts.includes(x.port))) if (n.process.exitCode === null) n.process.kill("SIGKILL");
    for (const h of bed.live()) {
      await pollUntil(() => api(h.url).raw("/readyz", { signal: AbortSignal.timeout(5000) }).then((r) => r.status), (status) => status === 503, `hub ${h.name}'s /readyz 503`, 15_000, 200);
      const started = Date.now();
      const res = await api(h.url, bed.agentKey).raw(`/team-channels/${bed.channelId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentId: bed.agentId, message: "with a slot down" }),
        signal: AbortSignal.timeout(15_000),
      });
      expect([201, 503], `hub ${h.name}'s publish with a slot down`).toContain(res.status);
      expect(Date.now() - started, `hub ${h.name}'s publish time with a slot down (ms)`).toBeLessThan(ANSWER_WITHIN_MS);
    }
  }, 60_000);
});

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 5000 });
  return stdout;
}
