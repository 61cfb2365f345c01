/** The per-credential request limit: 429 with Retry-After, shared by processes through Redis. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hub } from "../../src/server.js";
import { api } from "../support/api.js";
import { makeWorkspace, type TestWorkspace } from "../support/factories.js";
import { startTestHub } from "../support/hub.js";

let a: Hub;
let b: Hub;
let ws: TestWorkspace;

beforeAll(async () => {
  const env = { RATE_LIMIT_PER_10S: "5" };
  [a, b] = await Promise.all([startTestHub({ env }), startTestHub({ env })]);
  ws = await makeWorkspace(a.db);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

/** Counts are per 10-second window: start near the beginning of one so the test cannot straddle two. */
async function freshWindow() {
  const left = 10_000 - (Date.now() % 10_000);
  if (left < 4000) await new Promise((r) => setTimeout(r, left + 50));
}

describe("rate limit", () => {
  it("answers 429 with Retry-After once a credential passes its limit on any mix of processes", async () => {
    await freshWindow();
    const token = await ws.token("busy");
    const statuses = [];
    for (const hub of [a, b, a, b, a]) statuses.push((await api(hub.url, token).get("/api/me")).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const over = await api(b.url, token).get("/api/agents");
    expect(over.status).toBe(429);
    expect(over.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(over.body).toMatchObject({ status: 429, type: expect.any(String), detail: expect.any(String) });
    // Another credential is counted on its own.
    expect((await api(a.url, ws.masterKey).get("/api/agents")).status).toBe(200);
    // Health checks are never limited.
    expect((await api(a.url).get("/healthz")).status).toBe(200);
  });
});
