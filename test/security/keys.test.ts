/**
 * Issue 21, finding 2 replayed against two hub processes on Postgres, RBAC ACTIVE: a `support`
 * user, who may not see `finance` knowledge, mints an agent key and tries to read, retrieve,
 * delete and write the finance item with it, on both nodes, through every route (/api/knowledge,
 * RAG, the tools, an exchanged token). Every step must fail. Also: who may grant
 * `knowledge:write` and name a role, that generate-access-key-token never widens a key (roleId
 * and customerRoleId alike), and what the key-roles migration did to keys made before it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as keyRoles from "../../migrations/20261207131500_key_roles.js";
import { keyDisplayPrefix } from "../../src/auth/principal.js";
import { newId, newSecret, sha256 } from "../../src/ids.js";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, uniq, userId } from "../support/factories.js";
import { expectProblem } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent } from "../support/socket-agent.js";
import { pollUntil } from "../support/waiters.js";

const cluster = useCluster();

const FINANCE = "Finance forecast";
const SUPPORT = "Support escalations";
const SHARED = "Office hours";
const ALL = [FINANCE, SHARED, SUPPORT];

let a: (credential?: string) => Api; // node A
let b: (credential?: string) => Api; // node B
let ws: string;
let masterKey: string;
let adminToken: string;
let supportToken: string;
let financeId: string;
let supportAgent: string;
/** Keys as they were before the key-roles migration: made by a user, and by the master key. */
const legacy = { userMade: "", masterMade: "" };

const v1 = () => `/v1/workspaces/${ws}`;

/** What `client` may list of the knowledge, by title. */
async function listed(client: Api): Promise<string[]> {
  const res = await client.get("/api/knowledge?limit=200");
  expect(res.status, res.text).toBe(200);
  return (res.body.items as Array<{ title: string }>).map((i) => i.title).sort();
}

/** What RAG retrieves for words every item holds, by title. */
async function retrieved(client: Api): Promise<string[]> {
  const res = await client.post(`${v1()}/agent/rag`, { text: "quarterly numbers", topK: 10 });
  expect(res.status, res.text).toBe(200);
  return [...new Set((res.body as Array<{ metadata: { title: string } }>).map((m) => m.metadata.title))].sort();
}

/** generate-access-key-token on a node, as the Sharely SDK calls it. */
function exchange(node: (c?: string) => Api, key: string, body: unknown = {}) {
  return node().raw(`/workspaces/${ws}/generate-access-key-token`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify(body),
  });
}

async function tokenOf(node: (c?: string) => Api, key: string, body: unknown = {}): Promise<string> {
  const res = await exchange(node, key, body);
  expect(res.status, res.text).toBe(201);
  return res.body.token;
}

async function createKey(client: Api, agentId: string, body: Record<string, unknown>): Promise<{ id: string; key: string; role: string | null; role_bound: boolean; scopes: string[] }> {
  const res = await client.post(`/api/agents/${agentId}/keys`, body);
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** An agent key row written as the code before the migration wrote it (no role columns). */
async function insertLegacyKey(agentId: string, scopes: string[], createdBy: number | null): Promise<string> {
  const key = newSecret("g_agent_");
  await cluster.db("api_keys").insert({
    id: newId("key"),
    workspace_id: ws,
    agent_id: agentId,
    kind: "agent",
    name: "legacy",
    prefix: keyDisplayPrefix(key),
    hash: sha256(key),
    scopes: JSON.stringify(scopes),
    created_by: createdBy,
  });
  return key;
}

beforeAll(async () => {
  a = (c) => api(cluster.a.url, c);
  b = (c) => api(cluster.b.url, c);
  ws = cluster.ws.id;
  masterKey = cluster.ws.masterKey;
  adminToken = await cluster.ws.token("ada", { role: "admin" });
  supportToken = await cluster.ws.token("sam", { role: "support" });
  const master = a(masterKey);
  const put = async (title: string, roles: string[], taxonomies: string[]) => {
    const res = await master.post("/api/knowledge", { title, content: `${title}: the quarterly numbers and what they mean.`, roles, taxonomies });
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  financeId = await put(FINANCE, ["finance"], ["Finance"]);
  await put(SUPPORT, ["support"], ["Support"]);
  await put(SHARED, ["finance", "support"], ["Support"]);
  supportAgent = await makeAgent(a(supportToken), uniq("support-bot"));

  // The database as it was before the key-roles migration, with two over-broad keys in it; then
  // the migration runs (both hubs are up, and idle: nothing reads keys meanwhile).
  const legacyAgent = await makeAgent(master, uniq("legacy"));
  const creator = await userId(a(supportToken));
  await keyRoles.down(cluster.db);
  legacy.userMade = await insertLegacyKey(legacyAgent, ["knowledge:read", "knowledge:write", "tools:execute"], creator);
  legacy.masterMade = await insertLegacyKey(legacyAgent, ["knowledge:read", "knowledge:write"], null);
  await keyRoles.up(cluster.db);

  const on = await master.put(`${v1()}/rbac-status`, { rbacEnabled: true });
  expect(on.body).toEqual({ rbacStatus: "ACTIVE" });
});

describe("finding 2: a support user's key never exceeds the support role", () => {
  it("the control: the finance item exists, and the master key and a finance user see it", async () => {
    const finance = await cluster.ws.token("fay", { role: "finance" });
    for (const node of [a, b]) {
      expect(await listed(node(masterKey))).toEqual(ALL);
      expect(await listed(node(finance))).toEqual([FINANCE, SHARED]);
      expect(await retrieved(node(finance))).toEqual([FINANCE, SHARED]);
      expect((await node(masterKey).get(`/api/knowledge/${financeId}`)).status).toBe(200);
    }
  });

  it("minting a key with knowledge:write is refused (403 naming the scope) and makes no key", async () => {
    const support = a(supportToken);
    const res = await support.post(`/api/agents/${supportAgent}/keys`, { scopes: ["knowledge:read", "knowledge:write"] });
    expectProblem(res, "forbidden", { detail: /knowledge:write/ });
    expectProblem(await b(supportToken).post(`/api/agents/${supportAgent}/keys`, { scopes: ["knowledge:write"] }), "forbidden", { detail: /knowledge:write/ });
    expect((await b(supportToken).get(`/api/agents/${supportAgent}/keys`)).body.keys).toEqual([]);
    // A scope that does not exist stays a 422.
    expectProblem(await support.post(`/api/agents/${supportAgent}/keys`, { scopes: ["knowledge:admin"] }), "validation", { fields: ["scopes.0"] });
  });

  it("a knowledge:read key sees only the support role's items, on both nodes: list, get, RAG, tools; delete and write fail", async () => {
    const made = await createKey(b(supportToken), supportAgent, { scopes: ["knowledge:read", "tools:execute"] });
    expect(made).toMatchObject({ role: "support", role_bound: true, scopes: ["knowledge:read", "tools:execute"] });
    for (const node of [a, b]) {
      const key = node(made.key);
      expect(await key.get("/api/me")).toMatchObject({ body: { kind: "agent", role: "support", role_bound: true } });
      expect(await listed(key)).toEqual([SHARED, SUPPORT]);
      expectProblem(await key.get(`/api/knowledge/${financeId}`), "not-found");
      expect(await retrieved(key)).toEqual([SHARED, SUPPORT]);
      expectProblem(await key.delete(`/api/knowledge/${financeId}`), "forbidden", { detail: /knowledge:write/ });
      expectProblem(await key.post("/api/knowledge", { title: "Planted", content: "x", roles: ["finance"] }), "forbidden");

      const tool = async (name: string, input: unknown) => {
        const res = await key.post(`${v1()}/agent/tools/${name}/execute`, { input, context: { roleId: "finance" } });
        expect(res.status, res.text).toBe(200);
        return res.body;
      };
      const titles = (out: unknown) => JSON.stringify(out);
      expect(titles(await tool("semantic_search", { text: "quarterly numbers" }))).not.toContain(FINANCE);
      expect(titles(await tool("search_knowledge", { query: "quarterly" }))).not.toContain(FINANCE);
      expect(await tool("get_knowledge_item", { knowledgeId: financeId })).toEqual({ output: null, error: expect.stringMatching(/not found/) });
      expect(titles(await tool("list_taxonomies", {}))).not.toContain("Finance");
      expect(await tool("get_taxonomy_knowledge", { taxonomyId: "Finance" })).toEqual({ output: null, error: expect.stringMatching(/not found/) });
      const stats = await tool("get_workspace_stats", {});
      expect(stats.output.totalKnowledgeItems).toBe(2);
      expect(titles(stats)).not.toContain(FINANCE);

      // Exchanged for a token (no role asked): still the support role.
      const token = node(await tokenOf(node, made.key));
      expect(await listed(token)).toEqual([SHARED, SUPPORT]);
      expect(await retrieved(token)).toEqual([SHARED, SUPPORT]);
    }
    expect(await listed(a(masterKey))).toEqual(ALL); // nothing was deleted or planted
  });

  it("a role-bound writer (made by an admin for support) cannot delete the finance item: 404", async () => {
    const made = await createKey(a(adminToken), supportAgent, { scopes: ["knowledge:read", "knowledge:write"], role: "support" });
    for (const node of [a, b]) {
      expectProblem(await node(made.key).delete(`/api/knowledge/${financeId}`), "not-found");
      expectProblem(await node(made.key).get(`/api/knowledge/${financeId}`), "not-found");
    }
    expect((await b(masterKey).get(`/api/knowledge/${financeId}`)).status).toBe(200);
  });
});

describe("finding 2: threads bound to a role stay hidden from another role's keys", () => {
  it("a support key neither lists nor reads a finance thread of its own agent, on /v1 or /api, on either node", async () => {
    const finance = await createKey(a(adminToken), supportAgent, { scopes: ["sessions:read", "sessions:write"], role: "finance" });
    const created = await b(finance.key).post(`${v1()}/agent/threads`, { title: "Q3 forecast" });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ agentServerId: supportAgent, roleId: "finance" });
    const thread = created.body.id as string;
    const support = await createKey(a(supportToken), supportAgent, { scopes: ["sessions:read", "sessions:write"] });
    for (const node of [a, b]) {
      expect((await node(finance.key).get(`${v1()}/agent/threads/${thread}`)).status).toBe(200); // the control
      const key = node(support.key);
      expectProblem(await key.get(`${v1()}/agent/threads/${thread}`), "not-found");
      expect((await key.get(`${v1()}/agent/threads`)).body.items.map((t: { id: string }) => t.id)).not.toContain(thread);
      expectProblem(await key.get(`/api/agents/${supportAgent}/sessions/${thread}`), "not-found");
      expectProblem(await key.post(`${v1()}/agent/threads/${thread}/messages`, { role: "user", content: "let me in" }), "not-found");
      const exchanged = node(await tokenOf(node, support.key));
      expectProblem(await exchanged.get(`${v1()}/agent/threads/${thread}`), "not-found");
    }
  });
});

describe("a serving key bound to one role is never handed another role's turn", () => {
  it("a finance thread's turn is not dispatched to the support user's turns:serve socket; a finance-bound server takes it", async () => {
    const financeKey = await createKey(a(adminToken), supportAgent, { scopes: ["sessions:read", "sessions:write"], role: "finance" });
    const thread = (await a(financeKey.key).post(`${v1()}/agent/threads`, { title: "Q4 forecast" })).body.id as string;
    const server = await createKey(a(supportToken), supportAgent, { scopes: ["turns:serve"] });
    expect(server).toMatchObject({ role: "support", role_bound: true });
    const support = startSocketAgent(cluster.b.url, server.key, { kind: "events", events: scriptedAnswer("secret numbers") });
    try {
      await support.served;
      const path = `/api/agents/${supportAgent}/sessions/${thread}`;
      const { turn } = (await a(financeKey.key).post(`${path}/turns`, { content: "What is the Q4 forecast?" })).body;
      const ended = await pollUntil(async () => (await a(financeKey.key).get(`${path}/turns/${turn.id}`)).body, (t) => t.status !== "queued" && t.status !== "running", "the turn to end");
      expect(ended).toMatchObject({ status: "failed", error: expect.stringMatching(/bound to another role/) });
      expect(support.requests).toEqual([]);
    } finally {
      await support.close();
    }
    // The control: a serving key bound to finance takes such turns.
    const financeServer = await createKey(a(adminToken), supportAgent, { scopes: ["turns:serve"], role: "finance" });
    const finance = startSocketAgent(cluster.a.url, financeServer.key, { kind: "events", events: scriptedAnswer("the forecast") });
    try {
      await finance.served;
      const path = `/api/agents/${supportAgent}/sessions/${thread}`;
      const { turn } = (await a(financeKey.key).post(`${path}/turns`, { content: "And now?" })).body;
      const ended = await pollUntil(async () => (await b(financeKey.key).get(`${path}/turns/${turn.id}`)).body, (t) => t.status !== "queued" && t.status !== "running", "the turn to end");
      expect(ended.status).toBe("completed");
      expect(finance.requests.map((r) => r.turnId)).toEqual([turn.id]);
    } finally {
      await finance.close();
    }
  });
});

describe("who may grant what", () => {
  it("an admin and the master key may grant knowledge:write and name any role, or none", async () => {
    const byAdmin = await createKey(a(adminToken), supportAgent, { scopes: ["knowledge:read", "knowledge:write"], role: "finance" });
    expect(byAdmin).toMatchObject({ role: "finance", role_bound: true, scopes: ["knowledge:read", "knowledge:write"] });
    expect(await listed(b(byAdmin.key))).toEqual([FINANCE, SHARED]);

    const byMaster = await createKey(b(masterKey), supportAgent, { scopes: ["knowledge:read", "knowledge:write"] });
    expect(byMaster).toMatchObject({ role: null, role_bound: false });
    expect(await listed(a(byMaster.key))).toEqual(ALL);
    const adminNone = await createKey(a(adminToken), supportAgent, { scopes: ["knowledge:read"], role: null });
    expect(adminNone).toMatchObject({ role: null, role_bound: false });

    const written = await b(byAdmin.key).post("/api/knowledge", { title: "Finance memo", content: "Written by the finance key.", roles: ["finance"] });
    expect(written.status, written.text).toBe(201);
    expect((await a(masterKey).delete(`/api/knowledge/${written.body.id}`)).status).toBe(204);
  });

  it("a user may not name a role other than their own (403), nor none; their own is fine", async () => {
    for (const role of ["finance", null]) {
      expectProblem(await a(supportToken).post(`/api/agents/${supportAgent}/keys`, { scopes: ["knowledge:read"], role }), "forbidden", { detail: /creator's role/ });
    }
    expect(await createKey(b(supportToken), supportAgent, { scopes: ["knowledge:read"], role: "support" })).toMatchObject({ role: "support", role_bound: true });
    // A user without a role makes keys bound to no role: under RBAC they see no role's knowledge.
    const nora = await cluster.ws.token("nora");
    const agentId = await makeAgent(a(nora), uniq("nora-bot"));
    expectProblem(await a(nora).post(`/api/agents/${agentId}/keys`, { scopes: ["knowledge:read"], role: "support" }), "forbidden");
    const roleless = await createKey(a(nora), agentId, { scopes: ["knowledge:read"] });
    expect(roleless).toMatchObject({ role: null, role_bound: true });
    expect(await listed(b(roleless.key))).toEqual([]);
    expectProblem(await b(roleless.key).post(`${v1()}/agent/rag`, { text: "quarterly numbers" }), "forbidden", { detail: /no role/ });
  });
});

describe("generate-access-key-token never widens", () => {
  it("a role-bound key is exchanged only for its own role: another is 403, by roleId or customerRoleId", async () => {
    const made = await createKey(a(supportToken), supportAgent, { scopes: ["knowledge:read"] });
    for (const node of [a, b]) {
      expectProblem(await exchange(node, made.key, { roleId: "finance" }), "forbidden", { detail: /bound to the role support/ });
      expectProblem(await exchange(node, made.key, { customerRoleId: "finance" }), "forbidden", { detail: /bound to the role support/ });
      expectProblem(await exchange(node, made.key, { roleId: "support", customerRoleId: "finance" }), "validation", { fields: ["customerRoleId"] });
      for (const body of [{}, { roleId: "support" }, { customerRoleId: "support" }, { roleId: "support", customerRoleId: "support" }]) {
        expect(await listed(node(await tokenOf(node, made.key, body)))).toEqual([SHARED, SUPPORT]);
      }
    }
  });

  it("a key that sees everything may be narrowed to any role, by roleId or customerRoleId; the master key too", async () => {
    const made = await createKey(a(masterKey), supportAgent, { scopes: ["knowledge:read"] });
    expect(await listed(b(await tokenOf(b, made.key)))).toEqual(ALL);
    expect(await listed(b(await tokenOf(b, made.key, { customerRoleId: "finance" })))).toEqual([FINANCE, SHARED]);
    expect(await listed(a(await tokenOf(a, made.key, { roleId: "support" })))).toEqual([SHARED, SUPPORT]);
    const narrowedMaster = b(await tokenOf(a, masterKey, { customerRoleId: "support" }));
    expect(await listed(narrowedMaster)).toEqual([SHARED, SUPPORT]);
    expect(await retrieved(narrowedMaster)).toEqual([SHARED, SUPPORT]);
  });
});

describe("keys made before keys carried roles (the migration, failing closed)", () => {
  it("a user-made key lost knowledge:write and is bound to no role; a master-made key kept what it had", async () => {
    for (const node of [a, b]) {
      const old = node(legacy.userMade);
      expect((await old.get("/api/me")).body).toMatchObject({ scopes: ["knowledge:read", "tools:execute"], role: null, role_bound: true });
      expectProblem(await old.post("/api/knowledge", { title: "Planted", content: "x" }), "forbidden", { detail: /knowledge:write/ });
      expectProblem(await old.delete(`/api/knowledge/${financeId}`), "forbidden");
      expect(await listed(old)).toEqual([]);
      expectProblem(await old.post(`${v1()}/agent/rag`, { text: "quarterly numbers" }), "forbidden");
      expectProblem(await exchange(node, legacy.userMade, { customerRoleId: "finance" }), "forbidden");

      const kept = node(legacy.masterMade);
      expect((await kept.get("/api/me")).body).toMatchObject({ scopes: ["knowledge:read", "knowledge:write"], role: null, role_bound: false });
      expect(await listed(kept)).toEqual(ALL);
    }
    expect(await listed(a(masterKey))).toEqual(ALL);
  });
});
