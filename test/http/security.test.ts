/**
 * What every answer carries and what a caller can make the hub hold: security headers, share
 * tokens kept out of logs, per-address limits on refused credentials, handshakes and public
 * routes, and caps on sockets per credential and streams per socket.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { makeAgent, makeSession, makeWorkspace, uniq, type TestWorkspace } from "../support/factories.js";
import { spawnHub, type HubProcess } from "../support/hub.js";
import { expectProblem, ackProblem } from "../support/problem.js";
import { connect, connectError } from "../support/sockets.js";
import { freshWindow, pollUntil, until } from "../support/waiters.js";
import { WINDOW_MS } from "../../src/rate-limit.js";

const METRICS_TOKEN = "metrics-token-0123456789";
let hub: HubProcess;
let ws: TestWorkspace;
const output: string[] = [];

beforeAll(async () => {
  hub = await spawnHub({
    env: {
      PUBLIC_URL: "https://hub.example",
      FAILED_AUTH_PER_10S_PER_IP: "5",
      PUBLIC_RATE_LIMIT_PER_10S: "8",
      SOCKETS_PER_CREDENTIAL: "2",
      SOCKET_MAX_STREAMS: "2",
      METRICS_TOKEN,
    },
    onOutput: (text) => output.push(text),
  });
  const { createDb } = await import("../../src/db.js");
  const db = createDb({ databaseUrl: process.env.TEST_FILE_DATABASE_URL, dataDir: "/nonexistent" });
  ws = await makeWorkspace(db);
  await db.destroy();
}, 60_000);
afterAll(() => hub?.stop());

describe("headers", () => {
  it("sends nosniff and HSTS on every answer, no-store on authenticated ones", async () => {
    const open = await api(hub.url).get("/healthz");
    expect(open.headers.get("x-content-type-options")).toBe("nosniff");
    expect(open.headers.get("strict-transport-security")).toMatch(/^max-age=\d+/);
    const authed = await api(hub.url, ws.masterKey).get("/api/me");
    expect(authed.headers.get("cache-control")).toBe("no-store");
    expect(authed.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("keeps share tokens out of the request logs", async () => {
    const alice = api(hub.url, await ws.token(uniq("alice")));
    const agentId = await makeAgent(alice, uniq("agent"));
    const session = await makeSession(alice, agentId);
    const link = await alice.post(`/api/agents/${agentId}/sessions/${session.id}/share`, {});
    const token = link.body.token as string;
    expect((await api(hub.url).get(`/api/shared/${token}`)).status).toBe(200);
    // The request's log line, once written, is the one that could have carried the token.
    await until(() => output.join("\n").includes("/api/shared/[redacted]"), "the shared read's log line");
    const logs = output.join("\n");
    expect(logs).toContain("/api/shared/[redacted]");
    expect(logs).not.toContain(token);
  });
});

describe("caps", () => {
  it("refuses a credential's sockets past the per-process cap, and watches past the per-socket cap", async () => {
    const key = ws.masterKey;
    const first = await connect(hub.url, key);
    const second = await connect(hub.url, key);
    expect(await connectError(hub.url, key)).toBe("too many connections");
    second.close();
    // The hub counts it gone once its socket leaves (read from /metrics: no log line says so).
    await pollUntil(() => api(hub.url, METRICS_TOKEN).get("/metrics").then((r) => r.text), (text) => /^agenthub_sockets_connected\{kind="master"\} 1$/m.test(text), "the hub to see the second socket leave");
    const third = await connect(hub.url, key);
    const channels = [];
    for (let i = 0; i < 3; i++) channels.push((await api(hub.url, key).post("/team-channels", { name: uniq("c") })).body.id as string);
    expect((await first.emitAck("channel:watch", { channelId: channels[0] })).ok).toBe(true);
    expect((await first.emitAck("channel:watch", { channelId: channels[1] })).ok).toBe(true);
    expect(await first.emitAck("channel:watch", { channelId: channels[2] })).toEqual(ackProblem("conflict"));
    // Watching one already watched is not one more.
    expect((await first.emitAck("channel:watch", { channelId: channels[1] })).ok).toBe(true);
    first.close();
    third.close();
  });
});

// Last: it leaves this address over its refused-credential limit for the rest of the window.
describe("per-address limits", () => {
  it("answers 429 to an address that keeps sending refused credentials, good ones included, and refuses its handshakes", async () => {
    await freshWindow(WINDOW_MS);
    for (let i = 0; i < 5; i++) expectProblem(await api(hub.url, `g_agent_${"x".repeat(50)}`).get("/api/me"), "unauthorized");
    expectProblem(await api(hub.url, ws.masterKey).get("/api/me"), "rate-limited");
    expect(await connectError(hub.url, ws.masterKey)).toBe("rate limited");
    // Without TRUST_PROXY, X-Forwarded-For is the client's own word: it changes no address.
    const spoofed = await api(hub.url, ws.masterKey).raw("/api/me", { method: "GET", headers: { "x-forwarded-for": "203.0.113.50" } });
    expectProblem(spoofed, "rate-limited");
  });

  it("limits routes that need no credential by address", async () => {
    await freshWindow(WINDOW_MS); // the 10 requests must fall in one window
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await api(hub.url).get(`/shared/${"a".repeat(43)}`)).status);
    expect(statuses.slice(0, 7).every((s) => s === 404)).toBe(true);
    expect(statuses.slice(-1)).toEqual([429]);
  });
});
