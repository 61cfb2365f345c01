/**
 * The per-credential request limit: 429 with Retry-After, shared by processes through Redis.
 * Both hubs count on one test clock, which starts at the beginning of a 10-second window.
 */
import { describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { testClock } from "../support/clock.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const clock = testClock();
const env = { RATE_LIMIT_PER_10S: "5" };
const a = useHub({ env, clock });
const b = useHub({ env, clock });

/** Five requests of `token`, spread over both processes, all let through. */
async function useUpLimit(token: string) {
  const statuses = [];
  for (const hub of [a, b, a, b, a]) statuses.push((await api(hub.url, token).get("/api/me")).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200]);
}

describe("rate limit", () => {
  it("answers 429 with Retry-After once a credential passes its limit on any mix of processes", async () => {
    const token = await a.ws.token("busy");
    await useUpLimit(token);
    const over = await api(b.url, token).get("/api/agents");
    expectProblem(over, "rate-limited", { detail: "Slow down; retry after 10s" });
    expect(over.headers.get("retry-after")).toBe("10");
    // Another credential is counted on its own.
    expect((await api(a.url, a.ws.masterKey).get("/api/agents")).status).toBe(200);
    // Health checks are never limited.
    expect((await api(a.url).get("/healthz")).status).toBe(200);
  });

  it("lets the credential in again, on every process, once the window has passed", async () => {
    const token = await a.ws.token("patient");
    await useUpLimit(token);
    expectProblem(await api(a.url, token).get("/api/me"), "rate-limited");
    clock.advance(10_000);
    for (const hub of [a, b]) expect((await api(hub.url, token).get("/api/me")).status).toBe(200);
  });
});
