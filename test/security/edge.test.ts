/**
 * Issue 21, the hub's own edges, replayed as an attacker would against two hub processes on one
 * Postgres and Redis (and, for the local sign-in, against the embedded default behind a proxy):
 * a spoofed X-Forwarded-For dodging per-address limits, one client's refused credentials locking
 * out everyone behind the same proxy (REST, key exchange, socket handshake), local sign-in
 * through X-Forwarded-Host, a NUL inside JSON-encoded fields answering 500, the shared view of a
 * group conversation naming people, /metrics open without METRICS_TOKEN, a short JWT_SECRET, and
 * a CSP that let the page connect to any ws: host. Each must fail.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { io as connectClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WINDOW_MS } from "../../src/rate-limit.js";
import { freshWindow as freshWindowOf } from "../support/waiters.js";
import { api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, uniq } from "../support/factories.js";
import { spawnHub, type HubProcess } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";
import { pollUntil } from "../support/waiters.js";

/** Behind one trusted proxy (TRUST_PROXY, one hop): the test plays the proxy and writes X-Forwarded-For. */
const cluster = useCluster({
  TRUST_PROXY: "1",
  PUBLIC_URL: "https://hub.example",
  FAILED_AUTH_PER_10S_PER_IP: "5",
  PUBLIC_RATE_LIMIT_PER_10S: "6",
});

/** What the proxy sends on for a client at `client` that itself sent `spoofed` (leftmost). */
const forwardedFor = (client: string, spoofed?: string) => ({ "x-forwarded-for": spoofed ? `${spoofed}, ${client}` : client });

/** A client address nobody else in this file uses (the limits are per address and outlive a test). */
let nextHost = 10;
const newClient = () => `198.51.100.${nextHost++}`;
const spoof = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}`;

const BAD_KEY = `g_agent_${"x".repeat(50)}`;

const freshWindow = () => freshWindowOf(WINDOW_MS);

function get(url: string, path: string, headers: Record<string, string>, credential?: string) {
  return api(url, credential).raw(path, { method: "GET", headers });
}

/** Connects a socket through "the proxy"; resolves "connected" (and closes it) or the connect_error message. */
function handshake(url: string, token: string, headers: Record<string, string>): Promise<string> {
  const socket = connectClient(url, { path: "/socket.io", transports: ["websocket"], auth: { token }, extraHeaders: headers, reconnection: false, forceNew: true });
  return new Promise<string>((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("connect_error", (err) => resolve(err.message));
  }).finally(() => socket.close());
}

/** A request with headers fetch would not send as given (a raw Host); resolves status and JSON body. */
function rawRequest(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(url, { method, headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = text;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describe("client address behind a trusted proxy (finding 7: X-Forwarded-For leftmost)", () => {
  it("a client rotating a spoofed leftmost X-Forwarded-For still meets its per-address limit, on both nodes", async () => {
    await freshWindow();
    const attacker = newClient();
    const bystander = newClient();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const node = i % 2 ? cluster.b : cluster.a;
      statuses.push((await get(node.url, `/api/shared/${"a".repeat(43)}`, forwardedFor(attacker, spoof()))).status);
    }
    expect(statuses.slice(0, 6)).toEqual([404, 404, 404, 404, 404, 404]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    // Another client behind the same proxy is not limited by it.
    expect((await get(cluster.a.url, `/api/shared/${"a".repeat(43)}`, forwardedFor(bystander))).status).toBe(404);
  });

  it("a client's refused credentials lock out that client only: REST, key exchange and handshake alike (finding 6)", async () => {
    await freshWindow();
    const attacker = newClient();
    const bystander = newClient();
    const { a, ws } = cluster;
    for (let i = 0; i < 5; i++) expectProblem(await get(a.url, "/api/me", forwardedFor(attacker, spoof()), BAD_KEY), "unauthorized");
    // Spoofing the leftmost entry changes nothing: the entry the proxy wrote is the address.
    expectProblem(await get(a.url, "/api/me", forwardedFor(attacker, spoof()), ws.masterKey), "rate-limited");
    expectProblem(await get(a.url, "/api/me", forwardedFor(attacker), ws.masterKey), "rate-limited");
    expect(await handshake(a.url, ws.masterKey, forwardedFor(attacker, spoof()))).toBe("rate limited");
    const exchange = (client: string, key: string) =>
      api(a.url).raw(`/workspaces/${ws.id}/generate-access-key-token`, { method: "POST", headers: { ...forwardedFor(client), "content-type": "application/json", "x-api-key": key }, body: "{}" });
    expectProblem(await exchange(attacker, ws.masterKey), "rate-limited");
    // The bystander, behind the same proxy (the same peer address), is served.
    expect((await get(a.url, "/api/me", forwardedFor(bystander), ws.masterKey)).status).toBe(200);
    expect(await handshake(a.url, ws.masterKey, forwardedFor(bystander))).toBe("connected");
    expect((await exchange(bystander, ws.masterKey)).status).toBe(201);
  });

  it("one client's bad tokens in socket handshakes do not lock the proxy's other clients out (finding 6)", async () => {
    await freshWindow();
    const attacker = newClient();
    const bystander = newClient();
    const { b, ws } = cluster;
    for (let i = 0; i < 5; i++) expect(await handshake(b.url, "not-a-token", forwardedFor(attacker, spoof()))).toBe("unauthorized");
    expect(await handshake(b.url, ws.masterKey, forwardedFor(attacker, spoof()))).toBe("rate limited");
    // The handshake and REST count refused credentials together, per client address.
    expectProblem(await get(b.url, "/api/me", forwardedFor(attacker), ws.masterKey), "rate-limited");
    expect(await handshake(b.url, ws.masterKey, forwardedFor(bystander))).toBe("connected");
    expect((await get(b.url, "/api/me", forwardedFor(bystander), ws.masterKey)).status).toBe(200);
    // Key exchange refusals count too, and only against their client.
    const other = newClient();
    for (let i = 0; i < 5; i++) {
      const res = await api(b.url).raw(`/workspaces/${ws.id}/generate-access-key-token`, { method: "POST", headers: { ...forwardedFor(other, spoof()), "x-api-key": BAD_KEY } });
      expectProblem(res, "unauthorized");
    }
    expect(await handshake(b.url, ws.masterKey, forwardedFor(other))).toBe("rate limited");
    expect(await handshake(b.url, ws.masterKey, forwardedFor(newClient()))).toBe("connected");
  });
});

describe("NUL inside JSON-encoded fields (finding 7)", () => {
  it("answers 422 naming the field and stores nothing, where it answered 500", async () => {
    const { a, b, ws } = cluster;
    const owner = api(a.url, await ws.token(uniq("nul")));
    const agentId = await makeAgent(owner);
    const threads = `/v1/workspaces/${ws.id}/agent/threads`;
    const thread = await owner.post(threads, { title: "NUL", agentServerId: agentId });
    expect(thread.status).toBe(201);
    const messages = `${threads}/${thread.body.id}/messages`;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ metadata: JSON.stringify({ note: "a\u0000b" }) }, "metadata.note"],
      [{ metadata: JSON.stringify({ nested: { deeper: ["x", "\u0000"] } }) }, "metadata.nested.deeper.1"],
      [{ metadata: JSON.stringify({ "bad\u0000key": 1 }) }, "metadata"],
      [{ metadata: { note: "a\u0000b" } }, "metadata.note"],
      [{ toolCalls: JSON.stringify([{ id: "c1", name: "search\u0000" }]) }, "toolCalls.0.name"],
      [{ thinkingSteps: JSON.stringify([{ id: "t1", content: "\u0000" }]) }, "thinkingSteps.0.content"],
    ];
    for (const [extra, field] of cases) {
      const res = await owner.post(messages, { role: "user", content: "hello", ...extra });
      expectProblem(res, "validation", { fields: [field] });
    }
    // Nothing was stored (read on the other node); a clean message still is.
    const stored = await api(b.url, ws.masterKey).get(`${threads}/${thread.body.id}`);
    expect(stored.status).toBe(200);
    expect(stored.body.messages).toEqual([]);
    expect((await owner.post(messages, { role: "user", content: "hello", metadata: JSON.stringify({ note: "fine" }) })).status).toBe(201);

    // An agent server's metadata (JSON-encoded by the SDK) and a channel message's metadata.
    const servers = `/v1/workspaces/${ws.id}/agent/servers`;
    const name = uniq("nul-server");
    expectProblem(await owner.post(servers, { name, url: "https://agent.example/x", metadata: JSON.stringify({ team: "\u0000" }) }), "validation", { fields: ["metadata.team"] });
    const listed = await api(b.url, ws.masterKey).get(servers);
    expect(JSON.stringify(listed.body)).not.toContain(name);
    const channel = await owner.post("/team-channels", { name: uniq("nul-channel") });
    expectProblem(await owner.post(`/team-channels/${channel.body.id}/messages`, { agentId, message: "hi", metadata: { x: "\u0000" } }), "validation", {
      fields: ["metadata.x"],
    });
    expect((await api(b.url, ws.masterKey).get(`/team-channels/${channel.body.id}/messages`)).body.messages).toEqual([]);
  });
});

describe("the shared view of a group conversation (finding 7)", () => {
  it("shows the agents and what was said, never who said it", async () => {
    const { a, b, ws } = cluster;
    const alice = api(a.url, await ws.token(uniq("alice"), { name: "Alice Example" }));
    const group = await alice.post("/api/groups", { name: uniq("group"), agentIds: [await makeAgent(alice), await makeAgent(alice)] });
    expect(group.status).toBe(201);
    const base = `/api/groups/${group.body.id}/conversations`;
    const conversation = await alice.post(base, { title: "Shared" });
    const asked = await alice.post(`${base}/${conversation.body.id}/ask`, { content: "who am I?" });
    expect(asked.status).toBe(202);
    // The agents have no endpoint: their turns fail at once, and the ask completes.
    await pollUntil(async () => (await alice.get(`${base}/${conversation.body.id}/asks/${asked.body.ask.id}`)).body, (ask) => ask.status === "completed", "the ask to complete");
    // Members see who asked ...
    const own = (await alice.get(`${base}/${conversation.body.id}/messages`)).body.messages;
    expect(own[0]).toMatchObject({ role: "user", userId: expect.any(Number), userName: "Alice Example" });
    // ... anyone with the link does not, on either node.
    const link = await alice.post(`${base}/${conversation.body.id}/share`, {});
    expect(link.status).toBe(201);
    for (const node of [a, b]) {
      const view = await api(node.url).get(`/api/shared/${link.body.token}`);
      expect(view.status).toBe(200);
      expect(view.body.messages[0]).toMatchObject({ role: "user", content: "who am I?" });
      for (const m of view.body.messages) {
        expect(m).not.toHaveProperty("userId");
        expect(m).not.toHaveProperty("userName");
      }
      expect(view.text).not.toContain("Alice Example");
    }
  });
});

describe("operator settings (finding 7)", () => {
  it("keeps /metrics off on a hub on Postgres without METRICS_TOKEN, saying how to turn it on", async () => {
    for (const node of [cluster.a, cluster.b]) {
      const res = await api(node.url).get("/metrics");
      expectProblem(res, "forbidden");
      expect(res.body.detail).toContain("METRICS_TOKEN");
      // Another credential of the hub opens nothing either.
      expectProblem(await api(node.url, cluster.ws.masterKey).get("/metrics"), "forbidden");
    }
  });

  it("refuses to start with a JWT_SECRET shorter than 32 characters, naming it", async () => {
    const output: string[] = [];
    await expect(spawnHub({ env: { JWT_SECRET: "x".repeat(31) }, onOutput: (t) => output.push(t) })).rejects.toThrow(/exited with 1/);
    expect(output.join("")).toContain("JWT_SECRET must be at least 32 characters");
  });

  it("lets the page connect to the hub's own origin only", async () => {
    for (const node of [cluster.a, cluster.b]) {
      const page = await fetch(`${node.url}/`, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      const csp = page.headers.get("content-security-policy") ?? "";
      const connect = /(?:^|;\s*)connect-src ([^;]*)/.exec(csp)?.[1]?.split(/\s+/);
      expect(connect).toEqual(["'self'", "wss://hub.example"]);
      await page.body?.cancel();
    }
  });
});

describe("local sign-in on the embedded default behind a proxy (finding 5)", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "agenthub-edge-"));
  let hub: HubProcess;
  beforeAll(async () => {
    hub = await spawnHub({ redis: false, env: { DATABASE_URL: "", REDIS_URL: "", JWT_SECRET: "", PUBLIC_URL: "", DATA_DIR: dataDir, TRUST_PROXY: "1" } });
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("X-Forwarded-Host: localhost lists no users and mints no token; with a trusted proxy it is off for everyone", async () => {
    const attack = { host: "hub.example", "x-forwarded-host": "localhost", "x-forwarded-for": "203.0.113.7" };
    const listed = await rawRequest(`${hub.url}/api/local/sign-in`, "GET", attack);
    expect(listed.status).toBe(404);
    expect(JSON.stringify(listed.body)).not.toContain("workspaces");
    const minted = await rawRequest(`${hub.url}/api/local/sign-in`, "POST", attack, { name: "Mallory", email: "mallory@example.com" });
    expect(minted.status).toBe(404);
    expect(minted.body).not.toHaveProperty("token");
    // Even a browser on this machine finds it off: behind a trusted proxy, loopback says nothing.
    expect((await rawRequest(`${hub.url}/api/local/sign-in`, "GET", { host: `localhost:${hub.port}` })).status).toBe(404);
    expect((await rawRequest(`${hub.url}/api/local/demo-agent`, "POST", attack)).status).toBe(404);
    // The CLI's local control still works behind TRUST_PROXY (it connects directly, with the
    // secret from DATA_DIR/hub.json), but not for a request that came through the proxy.
    const { secret } = JSON.parse(readFileSync(path.join(dataDir, "hub.json"), "utf8")) as { secret: string };
    const local = { "x-agenthub-local": secret };
    expect((await rawRequest(`${hub.url}/_local/workspaces`, "POST", { ...local, "x-forwarded-for": "203.0.113.7" }, { name: "through the proxy" })).status).toBe(403);
    const created = await rawRequest(`${hub.url}/_local/workspaces`, "POST", local, { name: "from the CLI" });
    expect(created.status).toBe(201);
    expect(created.body.workspace_id).toMatch(/^ws_/);
    // The embedded default keeps /metrics open without a token.
    expect((await api(hub.url).raw("/metrics", { method: "GET" })).status).toBe(200);
  });
});
