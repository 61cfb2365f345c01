/**
 * Fault: the network between the hubs and Postgres is cut for 10 s (a TCP proxy of this file
 * destroys every connection and holds new ones unanswered, as a partition does) and restored.
 * Publishes during the cut fail fast and cleanly (503 problem+json with Retry-After, never a
 * hang), /readyz says 503 and then 200, and nothing acknowledged is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDelivered, expectHealthyHubs, publishesDuring, runFault, useFaultBed } from "../support/faults/bed.js";
import { tcpProxy, type TcpProxy } from "../support/faults/proxy.js";
import { sleep } from "../support/faults/workload.js";

const OUTAGE_MS = 10_000;
/** A publish during the cut must have answered within this. */
const FAIL_WITHIN_MS = 5_000;

let proxy: TcpProxy;
beforeAll(async () => {
  const target = new URL(process.env.TEST_FILE_DATABASE_URL!);
  proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
});
afterAll(() => proxy?.close());

/** The file's own database, through the proxy. */
function throughProxy(): string {
  const url = new URL(process.env.TEST_FILE_DATABASE_URL!);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return url.toString();
}

const bed = useFaultBed({ env: () => ({ DATABASE_URL: throughProxy() }) });

describe("Postgres cut for 10 s", () => {
  it("fails publishes cleanly and fast, reports not ready, recovers, loses nothing acknowledged", async () => {
    const result = await runFault(bed, {
      scenario: "Postgres cut 10 s",
      async fault() {
        const faultAt = Date.now();
        proxy.cut("hold");
        // The cut's length is the fault under test: it must outlast FAIL_WITHIN_MS, or a hang would pass unseen.
        await sleep(OUTAGE_MS);
        proxy.restore();
        return { faultAt, restoredAt: Date.now() };
      },
    });

    expectDelivered(result);
    expectHealthyHubs(bed, result);

    const during = publishesDuring(result.publisher.results, result.faultAt, result.restoredAt);
    const failed = during.filter((r) => r.status !== 201);
    expect.soft(failed.length, "publishes refused during the cut").toBeGreaterThan(0);
    const unclean = failed
      .filter((r) => !(r.status === 503 && /^application\/problem\+json/.test(r.contentType ?? "") && r.body?.status === 503 && /^urn:agenthub:problem:/.test(r.body?.type ?? "") && /^\d+$/.test(r.retryAfter ?? "")))
      .map((r) => ({ status: r.status || r.error, contentType: r.contentType, retryAfter: r.retryAfter, type: r.body?.type, ms: r.end - r.start }));
    expect.soft(countShapes(unclean), "publishes during the cut that were not a 503 problem+json with Retry-After").toEqual([]);
    const started = result.publisher.results.filter((r) => r.start >= result.faultAt && r.start < result.restoredAt);
    const hung = started.filter((r) => r.end - r.start >= FAIL_WITHIN_MS).map((r) => r.end - r.start);
    expect.soft(hung.length === 0 ? [] : [`${hung.length} of ${started.length}, up to ${Math.max(...hung)} ms`], `publishes started during the cut that took ${FAIL_WITHIN_MS} ms or more`).toEqual([]);

    for (const h of bed.live()) {
      // Probes sent once the hub could notice (a probe waits up to 2 s) and answered before the restore.
      const samples = result.poller.of(h.name, result.faultAt + 2500, result.restoredAt).filter((s) => s.end < result.restoredAt);
      expect.soft(samples.length, `/readyz samples of hub ${h.name} during the cut`).toBeGreaterThan(0);
      expect.soft(samples.filter((s) => s.status !== 503).map((s) => s.status), `/readyz of hub ${h.name} during the cut`).toEqual([]);
    }
    expect.soft(result.readyRecoveryMs, "/readyz 200 on every hub after the network is restored").toBeDefined();
    expect.soft(result.deliveryRecoveryMs, "every client received a message published after the restore").toBeDefined();
  }, 90_000);
});

/** Groups similar failures so a report stays short. */
function countShapes(items: Array<Record<string, unknown>>): string[] {
  const counts = new Map<string, { n: number; maxMs: number }>();
  for (const { ms, ...shape } of items) {
    const key = JSON.stringify(shape);
    const c = counts.get(key) ?? { n: 0, maxMs: 0 };
    c.n++;
    c.maxMs = Math.max(c.maxMs, Number(ms));
    counts.set(key, c);
  }
  return [...counts].map(([k, c]) => `${c.n}× ${k} (up to ${c.maxMs} ms)`);
}
