/**
 * Fault: the hubs run on a Redis Cluster of this file's own (3 masters, 3 replicas, never the
 * machine's Redis), and the master serving the hubs' events channel is killed (SIGKILL)
 * mid-stream; its replica takes over (cluster-node-timeout 1.5 s). Clients that resume with
 * `since` lose nothing and see nothing twice; REST keeps answering (201, or a 503 problem with
 * Retry-After at worst, each within a bound); /readyz reports the cluster's failed state and
 * recovers. The time to recover is printed (bench/RESULTS.md quotes it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDelivered, expectHealthyHubs, publishesDuring, runFault, useFaultBed } from "../support/faults/bed.js";
import { api } from "../support/api.js";
import { uniq } from "../support/factories.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { connect } from "../support/sockets.js";

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
    const result = await runFault(bed, {
      scenario: "Redis Cluster master SIGKILLed (failover to its replica)",
      async fault() {
        const master = await cluster.masterOf(eventsChannel);
        const faultAt = Date.now();
        master.process.kill("SIGKILL");
        // Restored once every live node says cluster_state:ok and the channel's slot has a live master again.
        await cluster.waitHealthy(eventsChannel);
        const restoredAt = Date.now();
        failoverMs = restoredAt - faultAt;
        return { faultAt, restoredAt };
      },
    });
    console.log(
      `[faults] redis cluster failover: replica promoted after ${(failoverMs / 1000).toFixed(1)} s; ` +
        `readyz 200 again ${((result.readyRecoveryMs ?? NaN) / 1000).toFixed(1)} s later; first new delivery to every client ${((result.deliveryRecoveryMs ?? NaN) / 1000).toFixed(1)} s after the promotion; ` +
        `kill to recovered: ${((failoverMs + Math.max(result.readyRecoveryMs ?? 0, result.deliveryRecoveryMs ?? 0)) / 1000).toFixed(1)} s`,
    );

    expectDelivered(result);
    expect.soft(result.lost, "deliveries lost").toBe(0);
    expect.soft(result.duplicated, "deliveries duplicated").toBe(0);
    expectHealthyHubs(bed, result);
    expect.soft(result.readyRecoveryMs, "/readyz 200 on every hub after the failover").toBeDefined();
    expect.soft(result.deliveryRecoveryMs, "every client received a message published after the failover").toBeDefined();
    // Readiness noticed: every hub answered 503 at least once while the slot had no master
    // (cluster_state fail, or a node not answering), and 200 again after (readyRecoveryMs).
    for (const h of bed.live()) {
      const during = result.poller.of(h.name, result.faultAt, result.restoredAt);
      expect.soft(during.filter((s) => s.status === 503).length, `/readyz 503 answers of hub ${h.name} during the failover (${during.map((s) => s.status).join(" ")})`).toBeGreaterThan(0);
    }
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
});
