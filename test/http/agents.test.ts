import { SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db.js";
import type { Api } from "../support/api.js";
import { JWT_SECRET } from "../support/env.js";
import { makeAgent, makeKey, uniq, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const hub = useHub({ redis: false });
let alice: Api; // creates agents: editor
let bob: Api; // a second user of the workspace
let master: Api;

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice"));
  bob = hub.anon.as(await hub.ws.token("bob"));
  master = hub.anon.as(hub.ws.masterKey);
});

describe("credentials", () => {
  it("refuses a request without a credential", async () => {
    expectProblem(await hub.anon.get("/api/agents"), "unauthorized");
  });

  it("refuses a token with a bad signature", async () => {
    const token = await new SignJWT({ workspace: hub.ws.id, email: "eve@example.com" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("eve")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    expectProblem(await hub.anon.as(token).get("/api/agents"), "unauthorized");
  });

  it("refuses an expired token", async () => {
    const token = await hub.ws.token("late", { ttlSeconds: -60 });
    expectProblem(await hub.anon.as(token).get("/api/agents"), "unauthorized", { detail: /expired/ });
  });

  it("refuses alg none", async () => {
    const token = new UnsecuredJWT({ workspace: hub.ws.id, email: "eve@example.com" }).setSubject("eve").setExpirationTime("1h").encode();
    expectProblem(await hub.anon.as(token).get("/api/agents"), "unauthorized");
  });

  it("refuses a token without exp", async () => {
    const token = await new SignJWT({ workspace: hub.ws.id, email: "eve@example.com" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("eve")
      .sign(new TextEncoder().encode(JWT_SECRET));
    expectProblem(await hub.anon.as(token).get("/api/agents"), "unauthorized");
  });

  it("refuses a token for a workspace that does not exist", async () => {
    const token = await new SignJWT({ workspace: "ws_nope", email: "eve@example.com" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("eve")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(JWT_SECRET));
    expectProblem(await hub.anon.as(token).get("/api/agents"), "unauthorized");
  });

  it("refuses unknown and malformed API keys", async () => {
    expectProblem(await hub.anon.as("g_master_doesnotexist").get("/api/agents"), "unauthorized");
    expectProblem(await hub.anon.as("g_agent_doesnotexist").get("/api/agents"), "unauthorized");
    expectProblem(await hub.anon.raw("/api/agents", { headers: { authorization: "Basic abc" } }), "unauthorized");
  });

  it("provisions a user on first sight with a stable int64 id", async () => {
    const first = await alice.get("/api/me");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ kind: "user", workspace_id: hub.ws.id, email: "alice@example.com" });
    expect(typeof first.body.user_id).toBe("number");
    const again = await hub.anon.as(await hub.ws.token("alice")).get("/api/me");
    expect(again.body.user_id).toBe(first.body.user_id);
  });
});

describe("agents", () => {
  it("creates an agent and makes the creator its editor", async () => {
    const id = uniq("logs");
    const res = await alice.post("/api/agents", { id, name: "Logs", description: "reads logs", server_url: "https://agents.example.com/logs" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id, name: "Logs", description: "reads logs", server_url: "https://agents.example.com/logs", workspace_id: hub.ws.id });
    expect(res.body.created_at).toMatch(/Z$/);
    const team = await alice.get(`/api/agents/${id}/team`);
    expect(team.status).toBe(200);
    expect(team.body.members).toEqual([
      expect.objectContaining({ user_id: await userId(alice), email: "alice@example.com", access_level: "editor", assigned_at: expect.any(String) }),
    ]);
  });

  it("answers 409 for a duplicate id in the same workspace, but allows it in another", async () => {
    const id = uniq("dup");
    await makeAgent(alice, id);
    expectProblem(await alice.post("/api/agents", { id, name: "again" }), "conflict");
    expect((await hub.anon.as(hub.other.masterKey).post("/api/agents", { id, name: "theirs" })).status).toBe(201);
  });

  it("rejects an invalid body with per-field errors and stores nothing", async () => {
    const res = await alice.post("/api/agents", { id: "Not A Slug", name: "", server_url: "ftp://x" });
    const fields = expectProblem(res, "validation").errors!.map((e) => e.field).sort();
    expect(fields).toEqual(["id", "name", "server_url"]);
    expectProblem(await alice.get("/api/agents/Not A Slug"), "not-found");
  });

  it("rejects malformed JSON with 422", async () => {
    const res = await alice.raw("/api/agents", { method: "POST", body: "{nope", headers: { "content-type": "application/json" } });
    expectProblem(res, "validation", { detail: "The body is not valid JSON", fields: ["body"] });
  });

  it("rejects an oversized body with 413", async () => {
    const res = await alice.post("/api/agents", { id: uniq("big"), name: "big", description: "x".repeat(2 * 1024 * 1024) });
    expectProblem(res, "payload-too-large", { detail: /\b1048576 bytes\b/ });
  });

  it("lists only the agents the caller can access", async () => {
    const mine = await makeAgent(alice);
    const bobs = await makeAgent(bob);
    const list = await alice.get("/api/agents");
    const ids = list.body.agents.map((a: { id: string }) => a.id);
    expect(ids).toContain(mine);
    expect(ids).not.toContain(bobs);
    const all = (await master.get("/api/agents")).body.agents.map((a: { id: string }) => a.id);
    expect(all).toEqual(expect.arrayContaining([mine, bobs]));
  });

  it("hides agents of other workspaces and of other teams (404)", async () => {
    const id = await makeAgent(alice);
    expectProblem(await bob.get(`/api/agents/${id}`), "not-found");
    expectProblem(await hub.anon.as(hub.other.masterKey).get(`/api/agents/${id}`), "not-found");
    expectProblem(await hub.anon.as(await hub.other.token("alice")).get(`/api/agents/${id}`), "not-found");
    expectProblem(await alice.get(`/api/agents/${uniq("missing")}`), "not-found");
  });

  it("lets editors update and delete, and refuses viewers (403)", async () => {
    const id = await makeAgent(alice);
    await alice.post(`/api/agents/${id}/team`, { user_id: await userId(bob), access_level: "viewer" });
    expect((await bob.get(`/api/agents/${id}`)).body.access_level).toBe("viewer");
    expectProblem(await bob.patch(`/api/agents/${id}`, { name: "mine now" }), "forbidden");
    expectProblem(await bob.delete(`/api/agents/${id}`), "forbidden");
    expectProblem(await bob.post(`/api/agents/${id}/keys`, { scopes: ["sessions:read"] }), "forbidden");
    expectProblem(await bob.post(`/api/agents/${id}/team`, { user_id: await userId(bob), access_level: "editor" }), "forbidden");

    const patched = await alice.patch(`/api/agents/${id}`, { name: "Renamed", description: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "Renamed", description: null });
    expectProblem(await alice.patch(`/api/agents/${id}`, {}), "validation", { fields: ["body"] });

    expect((await alice.delete(`/api/agents/${id}`)).status).toBe(204);
    expectProblem(await alice.get(`/api/agents/${id}`), "not-found");
  });

  it("lets the master key manage any agent of its workspace", async () => {
    const id = await makeAgent(alice);
    expect((await master.patch(`/api/agents/${id}`, { name: "by master" })).status).toBe(200);
    expect((await master.delete(`/api/agents/${id}`)).status).toBe(204);
  });

  it("treats the admin role like the master key", async () => {
    const id = await makeAgent(alice);
    const admin = hub.anon.as(await hub.ws.token("root-admin", { role: "admin" }));
    expect((await admin.get(`/api/agents/${id}`)).status).toBe(200);
    expect((await admin.patch(`/api/agents/${id}`, { name: "by admin" })).status).toBe(200);
  });

  it("does not let agent keys create or change agents", async () => {
    const id = await makeAgent(alice);
    const key = hub.anon.as(await makeKey(alice, id, ["sessions:read"]));
    expect((await key.get(`/api/agents/${id}`)).status).toBe(200);
    expectProblem(await key.post("/api/agents", { id: uniq("k"), name: "k" }), "forbidden");
    expectProblem(await key.patch(`/api/agents/${id}`, { name: "k" }), "forbidden");
    const other = await makeAgent(alice);
    expectProblem(await key.get(`/api/agents/${other}`), "not-found");
  });
});

describe("agent teams", () => {
  it("adds, re-levels and removes members, and validates the level", async () => {
    const id = await makeAgent(alice);
    const bobId = await userId(bob);
    const added = await alice.post(`/api/agents/${id}/team`, { user_id: bobId, access_level: "viewer" });
    expect(added.status).toBe(201);
    expect(added.body.members.map((m: { user_id: number }) => m.user_id)).toContain(bobId);

    const bad = await alice.post(`/api/agents/${id}/team`, { user_id: bobId, access_level: "owner" });
    expectProblem(bad, "validation", { fields: ["access_level"] });

    const relevel = await alice.post(`/api/agents/${id}/team`, { user_id: bobId, access_level: "editor" });
    expect(relevel.body.members.find((m: { user_id: number }) => m.user_id === bobId).access_level).toBe("editor");

    const removed = await alice.delete(`/api/agents/${id}/team/${bobId}`);
    expect(removed.status).toBe(200);
    expect(removed.body.members.map((m: { user_id: number }) => m.user_id)).not.toContain(bobId);
    expectProblem(await bob.get(`/api/agents/${id}`), "not-found");
    expectProblem(await alice.delete(`/api/agents/${id}/team/${bobId}`), "not-found");
  });

  it("shows a member's avatar from the token's picture claim, following changes", async () => {
    const id = await makeAgent(alice);
    const dana = hub.anon.as(await hub.ws.token("dana", { picture: "https://img.example.com/dana.png" }));
    await alice.post(`/api/agents/${id}/team`, { user_id: await userId(dana), access_level: "viewer" });
    const member = (await alice.get(`/api/agents/${id}/team`)).body.members.find((m: { name: string }) => m.name === "dana");
    expect(member.avatar).toBe("https://img.example.com/dana.png");
    await userId(hub.anon.as(await hub.ws.token("dana", { picture: "javascript:alert(1)" })));
    const after = (await alice.get(`/api/agents/${id}/team`)).body.members.find((m: { name: string }) => m.name === "dana");
    expect(after.avatar).toBeNull();
  });

  it("refuses users of another workspace and unknown users", async () => {
    const id = await makeAgent(alice);
    const stranger = await userId(hub.anon.as(await hub.other.token("stranger")));
    expectProblem(await alice.post(`/api/agents/${id}/team`, { user_id: stranger, access_level: "viewer" }), "validation", { fields: ["user_id"] });
    expectProblem(await alice.post(`/api/agents/${id}/team`, { user_id: 999999999, access_level: "viewer" }), "validation", { fields: ["user_id"] });
    expectProblem(await alice.post(`/api/agents/${id}/team`, { user_id: "1", access_level: "viewer" }), "validation", { fields: ["user_id"] });
  });

  it("answers 404 for the team of an agent the caller cannot see", async () => {
    const id = await makeAgent(alice);
    expectProblem(await bob.get(`/api/agents/${id}/team`), "not-found");
    expectProblem(await hub.anon.as(hub.other.masterKey).get(`/api/agents/${id}/team`), "not-found");
  });

  it("lists the workspace team, only for its own workspace", async () => {
    await userId(bob);
    const res = await alice.get(`/api/workspaces/${hub.ws.id}/team`);
    expect(res.status).toBe(200);
    expect(res.body.members).toEqual(
      expect.arrayContaining([{ user_id: await userId(bob), name: "bob", email: "bob@example.com", avatar: null }]),
    );
    expectProblem(await alice.get(`/api/workspaces/${hub.other.id}/team`), "not-found");
    // It pages: one at a time gives the same people in the same order.
    const paged: number[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { members: Array<{ user_id: number }>; next_cursor: string | null } = (await alice.get(`/api/workspaces/${hub.ws.id}/team?limit=1&cursor=${cursor}`)).body;
      paged.push(...page.members.map((m) => m.user_id));
      cursor = page.next_cursor;
    }
    expect(paged).toEqual(res.body.members.map((m: { user_id: number }) => m.user_id));
  });
});

describe("agent keys", () => {
  it("creates a key shown once, lists it without the secret, and revokes it at once", async () => {
    const id = await makeAgent(alice);
    const created = await alice.post(`/api/agents/${id}/keys`, { name: "ci", scopes: ["sessions:read", "channels:publish"] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), prefix: expect.any(String), scopes: ["sessions:read", "channels:publish"] });
    expect(created.body.key).toMatch(/^g_agent_[a-z0-9]{40,}$/);
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);

    const list = await alice.get(`/api/agents/${id}/keys`);
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(created.body.key);
    expect(list.body.keys).toEqual([expect.objectContaining({ id: created.body.id, name: "ci" })]);

    const key = hub.anon.as(created.body.key);
    expect((await key.get("/api/me")).body).toMatchObject({ kind: "agent", agent_id: id });
    expect((await alice.delete(`/api/agents/${id}/keys/${created.body.id}`)).status).toBe(204);
    expectProblem(await key.get("/api/me"), "unauthorized");
    expect((await alice.get(`/api/agents/${id}/keys`)).body.keys).toEqual([]);
    expectProblem(await alice.delete(`/api/agents/${id}/keys/${created.body.id}`), "not-found");
  });

  it("stores only a hash of the key", async () => {
    const id = await makeAgent(alice);
    const key = await makeKey(alice, id, ["sessions:read"]);
    const rows = await hub.db("api_keys").where({ agent_id: id });
    expect(JSON.stringify(rows)).not.toContain(key);
  });

  it("rejects unknown or missing scopes, and makes a scope-less key that may do nothing scoped", async () => {
    const id = await makeAgent(alice);
    expectProblem(await alice.post(`/api/agents/${id}/keys`, { scopes: ["admin"] }), "validation", { fields: ["scopes.0"] });
    expectProblem(await alice.post(`/api/agents/${id}/keys`, {}), "validation", { fields: ["scopes"] });
    const bare = await alice.post(`/api/agents/${id}/keys`, { scopes: [] });
    expect(bare.status).toBe(201);
    expectProblem(await hub.anon.as(bare.body.key).get(`/api/agents/${id}/sessions`), "forbidden");
    expectProblem(await hub.anon.as(bare.body.key).get("/team-channels"), "forbidden");
  });

  it("pages the agent list with limit and an opaque cursor", async () => {
    const pager = hub.anon.as(await hub.ws.token(uniq("pager")));
    const ids = [await makeAgent(pager, uniq("p")), await makeAgent(pager, uniq("p")), await makeAgent(pager, uniq("p"))].sort();
    const first = await pager.get("/api/agents?limit=2");
    expect(first.body.agents.map((a: { id: string }) => a.id)).toEqual(ids.slice(0, 2));
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await pager.get(`/api/agents?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body).toMatchObject({ agents: [expect.objectContaining({ id: ids[2] })], next_cursor: null });
    expect((await pager.get("/api/agents?limit=999999")).body.agents).toHaveLength(3);
    expectProblem(await pager.get("/api/agents?cursor=nope"), "validation", { fields: ["cursor"] });
  });

  it("answers a wrong method with 405 problem+json and an Allow header", async () => {
    const res = await alice.put("/api/agents", {});
    expectProblem(res, "method-not-allowed", { detail: /^PUT is not supported on \/api\/agents\b/ });
    expect(res.headers.get("allow")).toContain("POST");
  });

  it("stops keys working when their agent is deleted", async () => {
    const id = await makeAgent(alice);
    const key = hub.anon.as(await makeKey(alice, id, ["sessions:read"]));
    await alice.delete(`/api/agents/${id}`);
    expectProblem(await key.get("/api/me"), "unauthorized");
  });
});

describe("operations", () => {
  it("serves health and readiness without a credential", async () => {
    expect((await hub.anon.get("/healthz")).body).toEqual({ status: "ok" });
    expect((await hub.anon.get("/readyz")).status).toBe(200);
  });

  it("answers unknown routes with problem+json 404", async () => {
    expectProblem(await alice.get("/api/nothing-here"), "not-found", { detail: "No route for GET /api/nothing-here" });
  });

  it("carries a request id", async () => {
    const res = await hub.anon.raw("/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
  });

  it("deletes an agent with more sessions than one statement can name", async () => {
    const agentId = await makeAgent(alice, uniq("busy"));
    await hub.db.raw(
      `insert into sessions (id, workspace_id, agent_id, owner_id, title, created_at, updated_at)
       select 'ses_bulk_' || g, ?, ?, null, 'bulk', now(), now() from generate_series(1, 70000) g`,
      [hub.ws.id, agentId],
    );
    expect((await alice.delete(`/api/agents/${agentId}`)).status).toBe(204);
    expect(await hub.db("sessions").where({ agent_id: agentId }).count({ n: "*" })).toEqual([{ n: 0 }]);
  }, 60_000);

  it("keeps the migrations reversible", async () => {
    const db = createDb({ databaseUrl: process.env.TEST_FILE_DATABASE_URL, dataDir: "/nonexistent" });
    try {
      const { migrateRollbackAll, migrateLatest } = await import("../../src/db.js");
      const scratch = `scratch_${Date.now()}`;
      await db.raw(`CREATE SCHEMA ${scratch}`);
      const scoped = createDb({ databaseUrl: `${process.env.TEST_FILE_DATABASE_URL}?options=-c%20search_path%3D${scratch}`, dataDir: "/x" });
      await migrateLatest(scoped);
      await migrateRollbackAll(scoped);
      const left = await scoped.raw("select count(*)::int as n from information_schema.tables where table_schema = ?", [scratch]);
      expect(left.rows[0].n).toBe(2); // knex's own bookkeeping tables
      await scoped.destroy();
      await db.raw(`DROP SCHEMA ${scratch} CASCADE`);
    } finally {
      await db.destroy();
    }
  });
});
