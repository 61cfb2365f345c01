/**
 * Fault: the hubs' Redis (a private redis-server of this file, never the machine's) is stopped
 * for 10 s and started again, empty. Live pushes between hubs stop meanwhile; afterwards every
 * client has every acknowledged message (gap repair and resumes), /readyz said 503 during the
 * outage and 200 after it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDelivered, expectHealthyHubs, publishesDuring, runFault, useFaultBed } from "../support/faults/bed.js";
import { privateRedis, type PrivateRedis } from "../support/faults/redis-server.js";
import { sleep } from "../support/faults/workload.js";

const OUTAGE_MS = 10_000;
/** A request may wait this long for a dependency before it must answer (201 or a clean 503). */
const ANSWER_WITHIN_MS = 5_000;

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await privateRedis();
});
afterAll(() => redis?.stop());

const bed = useFaultBed({ env: () => ({ REDIS_URL: redis.url }) });

describe("Redis stopped for 10 s", () => {
  it("loses nothing acknowledged; /readyz reports the outage and recovers; requests do not hang", async () => {
    const result = await runFault(bed, {
      scenario: "Redis stopped 10 s",
      async fault() {
        const faultAt = Date.now();
        await redis.stop();
        // The outage's length is the fault under test: it must outlast ANSWER_WITHIN_MS, or a hang would pass unseen.
        await sleep(OUTAGE_MS);
        await redis.start();
        return { faultAt, restoredAt: Date.now() };
      },
    });

    expectDelivered(result);
    expectHealthyHubs(bed, result);
    // Readiness: 503 while Redis is down (after a moment to notice), 200 again after.
    for (const h of bed.live()) {
      // Probes sent once the hub could notice and answered before the restart.
      const during = result.poller.of(h.name, result.faultAt + 2500, result.restoredAt).filter((s) => s.end < result.restoredAt);
      expect.soft(during.length, `/readyz samples of hub ${h.name} during the outage`).toBeGreaterThan(0);
      expect.soft(during.filter((s) => s.status !== 503).map((s) => s.status), `/readyz of hub ${h.name} during the outage`).toEqual([]);
    }
    expect.soft(result.readyRecoveryMs, "/readyz 200 on every hub after Redis is back").toBeDefined();
    expect.soft(result.deliveryRecoveryMs, "every client received a message published after Redis is back").toBeDefined();
    // Publishing needs Postgres, not Redis: each publish answers (201, or a clean 503) without hanging.
    const during = publishesDuring(result.publisher.results, result.faultAt, result.restoredAt);
    const slow = during.filter((r) => r.end - r.start >= ANSWER_WITHIN_MS).map((r) => ({ ms: r.end - r.start, status: r.status || r.error }));
    expect.soft(slow, `publishes during the outage that took ${ANSWER_WITHIN_MS} ms or more`).toEqual([]);
    const unclean = during
      .filter((r) => r.status !== 201 && !(r.status === 503 && /^application\/problem\+json/.test(r.contentType ?? "") && /^\d+$/.test(r.retryAfter ?? "")))
      .map((r) => ({ status: r.status || r.error, type: r.body?.type }));
    expect.soft(unclean, "publishes during the outage that were neither 201 nor a 503 problem with Retry-After").toEqual([]);
  }, 90_000);
});
