/**
 * API keys authenticated from each hub's cache (src/auth/key-cache.ts): revocation and expiry
 * still take effect at once on every node, and a node that missed a revocation's event serves
 * the key from its cache for at most KEY_CACHE_MS (moved here with an injected clock), except
 * for publishing to a channel, whose statement checks the key itself.
 */
import { describe, expect, it } from "vitest";
import { KeyCache } from "../../src/auth/key-cache.js";
import type { StoredKey } from "../../src/auth/authenticate.js";
import { api } from "../support/api.js";
import { testClock } from "../support/clock.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";
import { untilPast } from "../support/waiters.js";

const SCOPES = ["channels:read", "channels:publish", "sessions:read"];
const publish = (agentId: string) => ({ agentId, message: "hello" });

describe("the key cache on two hub processes", () => {
  const c = useCluster();

  /** An agent, a channel it is subscribed to, and a key of it, made on node a. */
  async function setup(expiresInSeconds?: number) {
    const master = api(c.a.url, c.ws.masterKey);
    const agentId = await makeAgent(master);
    const channel = (await master.post("/team-channels", { name: uniq("ch") })).body.id as string;
    const created = await master.post(`/api/agents/${agentId}/keys`, { scopes: SCOPES, ...(expiresInSeconds ? { expires_in_seconds: expiresInSeconds } : {}) });
    expect(created.status).toBe(201);
    return { master, agentId, channel, keyId: created.body.id as string, key: created.body.key as string, expiresAt: created.body.expires_at as string | null };
  }

  it("refuses a revoked key at once on both nodes, cached on both before", async () => {
    const { master, agentId, channel, keyId, key } = await setup();
    for (const url of [c.a.url, c.b.url]) {
      expect((await api(url, key).get("/api/me")).status).toBe(200);
      expect((await api(url, key).post(`/team-channels/${channel}/messages`, publish(agentId))).status).toBe(201);
    }
    expect((await master.delete(`/api/agents/${agentId}/keys/${keyId}`)).status).toBe(204);
    // No wait: the revocation answered once its event had reached both nodes.
    for (const url of [c.b.url, c.a.url]) {
      expectProblem(await api(url, key).get("/api/me"), "unauthorized");
      expectProblem(await api(url, key).post(`/team-channels/${channel}/messages`, publish(agentId)), "unauthorized");
    }
  });

  it("refuses a deleted agent's keys at once on both nodes, cached on both before", async () => {
    const { master, agentId, key } = await setup();
    for (const url of [c.a.url, c.b.url]) expect((await api(url, key).get("/api/me")).status).toBe(200);
    expect((await master.delete(`/api/agents/${agentId}`)).status).toBe(204);
    // No wait: the deletion answered once its revocations had reached both nodes.
    for (const url of [c.b.url, c.a.url]) {
      const res = await api(url, key).get("/api/me");
      expect(res.status, url === c.a.url ? "node a (where it was deleted)" : "node b").toBe(401);
      expectProblem(res, "unauthorized");
    }
  });

  it("refuses a revoked master key at once on both nodes", async () => {
    const admin = api(c.a.url, c.ws.masterKey);
    const created = await admin.post("/api/workspace/master-keys", { name: "short-lived" });
    expect(created.status).toBe(201);
    for (const url of [c.a.url, c.b.url]) expect((await api(url, created.body.key).get("/api/me")).status).toBe(200);
    expect((await api(c.b.url, c.ws.masterKey).delete(`/api/workspace/master-keys/${created.body.id}`)).status).toBe(204);
    for (const url of [c.a.url, c.b.url]) expectProblem(await api(url, created.body.key).get("/api/me"), "unauthorized");
  });

  it("refuses an expired key on both nodes as soon as it expires, cached on both before", async () => {
    const { agentId, channel, key, expiresAt } = await setup(1);
    for (const url of [c.a.url, c.b.url]) expect((await api(url, key).get("/api/me")).status).toBe(200);
    // The key lives about a second (the least allowed): wait until Postgres' expiry has passed, no longer.
    await untilPast(expiresAt!);
    for (const url of [c.a.url, c.b.url]) {
      expectProblem(await api(url, key).get("/api/me"), "unauthorized");
      expectProblem(await api(url, key).post(`/team-channels/${channel}/messages`, publish(agentId)), "unauthorized");
    }
  });
});

describe("a node that missed a revocation's event", () => {
  const clock = testClock();
  const hub = useHub({ clock, env: { KEY_CACHE_MS: "2000" } });

  /** A key, used once (so this node has it cached), then revoked in Postgres with no event: as if this node missed it. */
  async function revokedBehindTheCache() {
    const master = hub.anon.as(hub.ws.masterKey);
    const agentId = await makeAgent(master);
    const channel = (await master.post("/team-channels", { name: uniq("ch") })).body.id as string;
    const created = await master.post(`/api/agents/${agentId}/keys`, { scopes: SCOPES });
    const key = hub.anon.as(created.body.key);
    expect((await key.get("/api/me")).status).toBe(200);
    await hub.db("api_keys").where({ id: created.body.id }).update({ revoked_at: hub.db.fn.now() });
    return { key, agentId, channel };
  }

  it("serves the key from its cache for at most KEY_CACHE_MS", async () => {
    const { key } = await revokedBehindTheCache();
    clock.advance(1500);
    expect((await key.get("/api/me")).status).toBe(200); // within the bound: the documented exception
    clock.advance(500);
    expectProblem(await key.get("/api/me"), "unauthorized");
  });

  it("never lets the cached key publish to a channel, and forgets it then", async () => {
    const { key, agentId, channel } = await revokedBehindTheCache();
    expectProblem(await key.post(`/team-channels/${channel}/messages`, publish(agentId)), "unauthorized");
    expectProblem(await key.get("/api/me"), "unauthorized");
  });

  it("still answers 404 for a missing channel with a live key", async () => {
    const master = hub.anon.as(hub.ws.masterKey);
    const agentId = await makeAgent(master);
    const created = await master.post(`/api/agents/${agentId}/keys`, { scopes: SCOPES });
    expectProblem(await hub.anon.as(created.body.key).post("/team-channels/ch_missing/messages", publish(agentId)), "not-found");
  });
});

describe("KeyCache", () => {
  const key = (id: string, expiresAt: Date | null = null): StoredKey => ({ id, workspaceId: "ws", kind: "agent", agentId: "a", scopes: [], roleBinding: { bound: false }, expiresAt });

  it("keeps a read for maxAgeMs, never past the key's expiry, and not at all with 0", () => {
    let t = 0;
    const cache = new KeyCache(1000, () => t);
    cache.set("h:1", key("k1"), 0);
    cache.set("h:2", key("k2", new Date(Date.now() - 1)), 0);
    expect(cache.get("h:1")?.id).toBe("k1");
    expect(cache.get("h:2")).toBeUndefined();
    t = 999;
    expect(cache.get("h:1")?.id).toBe("k1");
    t = 1000;
    expect(cache.get("h:1")).toBeUndefined();
    const off = new KeyCache(0, () => t);
    off.set("h:1", key("k1"), t);
    expect(off.get("h:1")).toBeUndefined();
  });

  it("forgets a key under every lookup, and does not keep a read that overlapped a revocation", async () => {
    const cache = new KeyCache(60_000);
    let release!: () => void;
    const store = cache.wrap({
      findLiveKey: async () => key("k1"),
      findLiveKeyById: () => new Promise<StoredKey>((resolve) => (release = () => resolve(key("k1")))),
      provisionUser: async () => undefined,
    });
    await store.findLiveKey("hash");
    expect(cache.get("h:hash")?.id).toBe("k1");
    const slow = store.findLiveKeyById("k1");
    await cache.revoked(["k1"]);
    expect(cache.get("h:hash")).toBeUndefined();
    release();
    expect((await slow)?.id).toBe("k1"); // read before the revocation was seen: answered, not kept
    expect(cache.get("i:k1")).toBeUndefined();
  });
});
