/**
 * API keys: the workspace's master keys (create, list, revoke, never the last one), agent keys
 * that expire, and what an agent key may carry (scopes and role: never more than its creator).
 * One hub with Redis, so a revoked key's socket closes through the event path. The attacks on
 * keys, against two hubs, are in test/security/keys.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal.js";
import { assertCanGrantScopes, keyTokenRole, roleForNewKey } from "../../src/domain/keys/policy.js";
import { roleScopeWhen } from "../../src/domain/rbac/policy.js";
import { KeyExchange } from "../../src/http/routes/backplane/schema.js";
import { parse } from "../../src/schemas.js";
import type { Api } from "../support/api.js";
import { makeAgent, makeWorkspace, userId, type TestWorkspace } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { keyOf, masterOf, userOf } from "../support/principals.js";
import { expectProblem } from "../support/problem.js";
import { connect, connectError } from "../support/sockets.js";
import { untilPast } from "../support/waiters.js";

const hub = useHub();
const PATH = "/api/workspace/master-keys";
let master: Api;
let admin: Api; // a user with the admin role
let alice: Api; // a plain user, editor of `agent`
let agent: string;

beforeAll(async () => {
  master = hub.anon.as(hub.ws.masterKey);
  admin = hub.anon.as(await hub.ws.token("root", { role: "admin" }));
  alice = hub.anon.as(await hub.ws.token("alice"));
  agent = await makeAgent(alice);
});

async function createMaster(client: Api, body: unknown = {}) {
  const res = await client.post(PATH, body);
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string; prefix: string; name: string | null; created_at: string; created_by: number | null };
}

const liveIds = async (client: Api) => (await client.get(PATH)).body.keys.map((k: { id: string }) => k.id).sort();

/** A workspace of its own, with its first master key and a second one. */
async function workspaceWithTwoKeys(): Promise<{ ws: TestWorkspace; first: Api; firstId: string; second: { id: string; key: string } }> {
  const ws = await makeWorkspace(hub.db);
  const first = hub.anon.as(ws.masterKey);
  const firstId = (await first.get("/api/me")).body.key_id;
  return { ws, first, firstId, second: await createMaster(first, { name: "second" }) };
}

describe("master keys", () => {
  it("creates a key shown once, which works at once, and lists keys without secrets", async () => {
    const created = await createMaster(master, { name: "ci" });
    expect(created).toEqual({
      id: expect.stringMatching(/^key_/),
      key: expect.stringMatching(/^g_master_/),
      prefix: created.key.slice(0, 17),
      name: "ci",
      created_at: expect.stringMatching(/Z$/),
      created_by: null,
    });
    const me = await hub.anon.as(created.key).get("/api/me");
    expect(me.body).toEqual({ kind: "master", workspace_id: hub.ws.id, key_id: created.id });

    const list = await master.get(PATH);
    expect(list.status).toBe(200);
    expect(list.body.next_cursor).toBeNull();
    expect(list.body.keys).toContainEqual({ id: created.id, name: "ci", prefix: created.prefix, created_at: created.created_at, created_by: null });
    expect(list.text).not.toContain(created.key);
    expect(list.text).not.toContain(hub.ws.masterKey);
    expect(list.body.keys.every((k: Record<string, unknown>) => !("key" in k) && !("hash" in k))).toBe(true);
  });

  it("revokes a key: 204, then it is refused (401) and no longer listed; again 404", async () => {
    const { id, key } = await createMaster(master);
    const self = hub.anon.as(key);
    expect((await self.get("/api/agents")).status).toBe(200);
    expect((await self.delete(`${PATH}/${id}`)).status).toBe(204); // a key may revoke itself
    expectProblem(await self.get("/api/agents"), "unauthorized");
    expect(await liveIds(master)).not.toContain(id);
    expectProblem(await master.delete(`${PATH}/${id}`), "not-found");
  });

  it("never revokes the workspace's last live master key (409)", async () => {
    const ws = await makeWorkspace(hub.db);
    const only = hub.anon.as(ws.masterKey);
    const [id] = await liveIds(only);
    expectProblem(await only.delete(`${PATH}/${id}`), "conflict", { detail: /last live master key/ });
    expect((await only.get("/api/me")).status).toBe(200);
    // with a second key, the first may go; then the second is the last
    const second = await createMaster(only);
    expect((await only.delete(`${PATH}/${id}`)).status).toBe(204);
    const next = hub.anon.as(second.key);
    expectProblem(await next.delete(`${PATH}/${second.id}`), "conflict");
    expect(await liveIds(next)).toEqual([second.id]);
  });

  it("never leaves zero live master keys under concurrent revocations", async () => {
    const { ws, firstId, second } = await workspaceWithTwoKeys();
    const root = hub.anon.as(await ws.token("root", { role: "admin" }));
    let live = [firstId, second.id];
    for (let round = 0; round < 5; round++) {
      const statuses = (await Promise.all(live.map((id) => root.delete(`${PATH}/${id}`)))).map((r) => r.status).sort();
      expect(statuses).toEqual([204, 409]);
      expect(await liveIds(root)).toHaveLength(1);
      live = [...(await liveIds(root)), (await createMaster(root)).id];
    }
  });

  it("is for the master key and admins; plain users and agent keys get 403", async () => {
    const created = await createMaster(admin, { name: "by admin" });
    expect(created.created_by).toBe(await userId(admin));
    expect(await liveIds(admin)).toContain(created.id);
    expect((await admin.delete(`${PATH}/${created.id}`)).status).toBe(204);

    const target = await createMaster(master);
    const key = await alice.post(`/api/agents/${agent}/keys`, { scopes: ["sessions:read", "sessions:write", "channels:read"] });
    const member = hub.anon.as(await hub.ws.token("mallory", { role: "member" }));
    for (const client of [alice, member, hub.anon.as(key.body.key)]) {
      expectProblem(await client.post(PATH, {}), "forbidden");
      expectProblem(await client.get(PATH), "forbidden");
      expectProblem(await client.delete(`${PATH}/${target.id}`), "forbidden");
    }
    expect(await liveIds(master)).toContain(target.id);
    expectProblem(await hub.anon.get(PATH), "unauthorized");
  });

  it("answers 404 for a key of another workspace, or an agent key's id", async () => {
    const theirs = await createMaster(hub.anon.as(hub.other.masterKey));
    expectProblem(await master.delete(`${PATH}/${theirs.id}`), "not-found");
    expectProblem(await admin.delete(`${PATH}/${theirs.id}`), "not-found");
    expect((await hub.anon.as(theirs.key).get("/api/me")).status).toBe(200);
    expect(await liveIds(master)).not.toContain(theirs.id);
    const agentKey = await alice.post(`/api/agents/${agent}/keys`, { scopes: [] });
    expectProblem(await master.delete(`${PATH}/${agentKey.body.id}`), "not-found");
    expectProblem(await master.delete(`${PATH}/key_nope`), "not-found");
  });

  it("validates the body (422)", async () => {
    expectProblem(await master.post(PATH, { name: "" }), "validation", { fields: ["name"] });
    expectProblem(await master.post(PATH, { name: "x", scopes: [] }), "validation");
  });

  it("closes the sockets of a revoked master key", async () => {
    const { id, key } = await createMaster(master);
    const socket = await connect(hub.url, key);
    const bystander = await connect(hub.url, hub.ws.masterKey);
    try {
      expect((await master.delete(`${PATH}/${id}`)).status).toBe(204);
      await socket.until(() => socket.closed !== undefined, "the revoked key's socket to close");
      expect(socket.of("hub:closing")).toEqual([{ reason: "key revoked" }]);
      expect(await connectError(hub.url, key)).toBe("unauthorized");
      expect(bystander.closed).toBeUndefined();
    } finally {
      socket.close();
      bystander.close();
    }
  });
});

describe("agent key expiry", () => {
  const keysPath = () => `/api/agents/${agent}/keys`;

  it("shows expires_at: null for a key without expiry", async () => {
    const res = await alice.post(keysPath(), { scopes: ["sessions:read"] });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBeNull();
    expect((await alice.get(keysPath())).body.keys).toContainEqual(expect.objectContaining({ id: res.body.id, expires_at: null }));
  });

  it("refuses a key once it expires (401), and no longer lists it", async () => {
    const before = Date.now();
    const res = await alice.post(keysPath(), { name: "short", scopes: ["sessions:read"], expires_in_seconds: 1 });
    expect(res.status).toBe(201);
    const expiresAt = Date.parse(res.body.expires_at);
    expect(expiresAt - before).toBeGreaterThan(500);
    expect(expiresAt - before).toBeLessThan(3000);
    expect((await alice.get(keysPath())).body.keys).toContainEqual(expect.objectContaining({ id: res.body.id, expires_at: res.body.expires_at }));
    const key = hub.anon.as(res.body.key);
    expect((await key.get("/api/me")).status).toBe(200);

    // The key lives a second (the least allowed): wait out exactly that.
    await untilPast(expiresAt, 100);
    expectProblem(await key.get("/api/me"), "unauthorized");
    expect(await connectError(hub.url, res.body.key)).toBe("unauthorized");
    expect((await alice.get(keysPath())).body.keys.map((k: { id: string }) => k.id)).not.toContain(res.body.id);
  });

  it("rejects an expires_in_seconds outside 1..31536000 with 422", async () => {
    for (const expires_in_seconds of [0, -1, 1.5, "60", 31_536_001, null]) {
      expectProblem(await alice.post(keysPath(), { scopes: [], expires_in_seconds }), "validation", { fields: ["expires_in_seconds"] });
    }
    const year = await alice.post(keysPath(), { scopes: [], expires_in_seconds: 31_536_000 });
    expect(year.status).toBe(201);
  });
});

describe("what an agent key may carry (keys/policy.ts)", () => {
  const ws = "ws_policy";
  const admin = userOf(ws, "admin", true);
  const support = userOf(ws, "support");
  const roleless = userOf(ws);
  const bound = (role: string | null): Principal => ({ kind: "agent", workspaceId: ws, agentId: "a", keyId: "k", scopes: [], role: role ?? undefined, roleBound: true });
  const denied = (f: () => unknown, detail: RegExp) => expect(f).toThrow(expect.objectContaining({ status: 403, message: expect.stringMatching(detail) }));

  it("knowledge:write only from the master key or an admin", () => {
    for (const actor of [masterOf(ws), admin]) expect(() => assertCanGrantScopes(actor, ["knowledge:read", "knowledge:write"])).not.toThrow();
    for (const actor of [support, roleless]) {
      denied(() => assertCanGrantScopes(actor, ["sessions:read", "knowledge:write"]), /knowledge:write/);
      expect(() => assertCanGrantScopes(actor, ["sessions:read", "knowledge:read", "tools:execute", "turns:serve"])).not.toThrow();
    }
  });

  it("a user's key carries the user's role; the master key and admins name any, or none", () => {
    expect(roleForNewKey(support, undefined)).toEqual({ bound: true, role: "support" });
    expect(roleForNewKey(support, "support")).toEqual({ bound: true, role: "support" });
    denied(() => roleForNewKey(support, "finance"), /the role finance/);
    denied(() => roleForNewKey(support, null), /no role/);
    expect(roleForNewKey(roleless, undefined)).toEqual({ bound: true, role: null });
    expect(roleForNewKey(roleless, null)).toEqual({ bound: true, role: null });
    denied(() => roleForNewKey(roleless, "support"), /the role support/);
    for (const actor of [masterOf(ws), admin]) {
      expect(roleForNewKey(actor, undefined)).toEqual({ bound: false });
      expect(roleForNewKey(actor, null)).toEqual({ bound: false });
      expect(roleForNewKey(actor, "finance")).toEqual({ bound: true, role: "finance" });
    }
    // A master key exchanged for one role hands on that role by default.
    expect(roleForNewKey({ ...masterOf(ws), role: "sales" } as Principal, undefined)).toEqual({ bound: true, role: "sales" });
  });

  it("an exchange never widens: a bound key keeps its role, a key that sees everything narrows to any", () => {
    expect(keyTokenRole(bound("support"), undefined)).toBe("support");
    expect(keyTokenRole(bound("support"), "support")).toBe("support");
    denied(() => keyTokenRole(bound("support"), "finance"), /bound to the role support/);
    expect(keyTokenRole(bound(null), undefined)).toBeUndefined();
    denied(() => keyTokenRole(bound(null), "finance"), /bound to no role/);
    for (const key of [keyOf(ws, []), masterOf(ws)]) {
      expect(keyTokenRole(key, undefined)).toBeUndefined();
      expect(keyTokenRole(key, "finance")).toBe("finance");
    }
  });

  it("RBAC filters a bound key even without a role, and a master key exchanged with a role", () => {
    expect(roleScopeWhen(true, bound(null))).toEqual({ all: false, role: null });
    expect(roleScopeWhen(true, bound("support"))).toEqual({ all: false, role: "support" });
    expect(roleScopeWhen(true, keyOf(ws, []))).toEqual({ all: true });
    expect(roleScopeWhen(true, { ...masterOf(ws), role: "sales" } as Principal)).toEqual({ all: false, role: "sales" });
    expect(roleScopeWhen(true, masterOf(ws))).toEqual({ all: true });
    expect(roleScopeWhen(false, bound("support"))).toEqual({ all: true });
  });

  it("the exchange body: roleId or customerRoleId, both only naming the same role (422 otherwise)", () => {
    expect(parse(KeyExchange, {})).toEqual({ roleId: undefined });
    expect(parse(KeyExchange, { roleId: "support" })).toEqual({ roleId: "support" });
    expect(parse(KeyExchange, { customerRoleId: "support" })).toEqual({ roleId: "support" });
    expect(parse(KeyExchange, { roleId: "support", customerRoleId: "support" })).toEqual({ roleId: "support" });
    expect(parse(KeyExchange, { roleId: null, customerRoleId: " sales " })).toEqual({ roleId: "sales" });
    expect(() => parse(KeyExchange, { roleId: "support", customerRoleId: "finance" })).toThrow(expect.objectContaining({ status: 422 }));
    expect(() => parse(KeyExchange, { customerRoleId: "" })).toThrow(expect.objectContaining({ status: 422 }));
  });
});

describe("agent keys over HTTP carry their creator's role", () => {
  const keysPath = () => `/api/agents/${agent}/keys`;

  it("shows role and role_bound in the created key, the list and /api/me; records it while RBAC is off", async () => {
    const support = hub.anon.as(await hub.ws.token("alice", { role: "support" }));
    const res = await support.post(keysPath(), { scopes: ["knowledge:read"] });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ role: "support", role_bound: true });
    expect((await alice.get(keysPath())).body.keys).toContainEqual(expect.objectContaining({ id: res.body.id, role: "support", role_bound: true }));
    expect((await hub.anon.as(res.body.key).get("/api/me")).body).toMatchObject({ kind: "agent", role: "support", role_bound: true });
    const byMaster = await master.post(keysPath(), { scopes: ["knowledge:write"] });
    expect(byMaster.body).toMatchObject({ role: null, role_bound: false, scopes: ["knowledge:write"] });
  });

  it("refuses, changing nothing: knowledge:write from a user (403), another role (403), a bad role (422)", async () => {
    const before = (await alice.get(keysPath())).body.keys.length;
    expectProblem(await alice.post(keysPath(), { scopes: ["knowledge:write"] }), "forbidden", { detail: /knowledge:write/ });
    expectProblem(await alice.post(keysPath(), { scopes: [], role: "finance" }), "forbidden", { detail: /creator's role/ });
    for (const role of ["", 7, "x".repeat(201)]) expectProblem(await admin.post(keysPath(), { scopes: [], role }), "validation", { fields: ["role"] });
    expect((await alice.get(keysPath())).body.keys).toHaveLength(before);
  });
});
