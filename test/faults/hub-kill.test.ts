/**
 * Fault: a hub process is killed (SIGKILL) mid-stream and a replacement started at once.
 * Its clients reconnect to the other hub or the replacement and resume; nothing the publisher
 * got a 201 for is lost, nothing arrives twice or out of order, and the surviving hub never
 * stops being ready.
 */
import { describe, expect, it } from "vitest";
import { expectDelivered, expectHealthyHubs, runFault, useFaultBed } from "../support/faults/bed.js";

const bed = useFaultBed();

describe("a hub killed mid-stream", () => {
  it("loses nothing acknowledged; clients resume on another hub; the survivor stays ready", async () => {
    const result = await runFault(bed, {
      scenario: "hub SIGKILL",
      async fault(bed) {
        const victim = bed.hubs.find((h) => h.name === "B")!;
        const faultAt = Date.now();
        await bed.kill(victim);
        // Restarted at once (on another port): clients find it, or the survivor, on reconnect.
        const restoredAt = Date.now();
        await bed.spawn("B2");
        return { faultAt, restoredAt };
      },
    });

    expectDelivered(result);
    expectHealthyHubs(bed, result);
    const moved = result.clients.filter((c) => c.connects > 1);
    expect.soft(moved.length, "clients that were on the killed hub and reconnected").toBeGreaterThan(0);
    // The survivor answers ready all along; the replacement once it listens.
    const survivor = result.poller.of("A");
    expect.soft(survivor.filter((s) => s.status !== 200).map((s) => s.status), "/readyz of the surviving hub").toEqual([]);
    expect.soft(result.readyRecoveryMs, "the replacement answered /readyz 200").toBeDefined();
    expect.soft(result.deliveryRecoveryMs, "every client received a message published after the kill").toBeDefined();
    // The replacement's memory, once it has carried its share, is near the killed hub's baseline.
    const killed = result.rss.find((r) => r.hub === "B")!;
    const replacement = result.rss.find((r) => r.hub === "B2")!;
    if (killed.baseline !== undefined && replacement.after !== undefined) {
      expect.soft(replacement.after, "RSS of the replacement hub").toBeLessThan(killed.baseline + 60);
    }
  }, 90_000);
});
