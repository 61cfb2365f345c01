/**
 * The workspace's MCP servers (`/api/mcp-servers`) against real MCP servers made with the
 * official SDK: who sees and changes them, write-only headers (sent to the server, sealed in the
 * row, never answered), tools listed live on GET, the SSRF guard, and `usableBy` for model agents.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MasterPrincipal, UserPrincipal } from "../../src/auth/principal.js";
import type { Api } from "../support/api.js";
import { makeAgent, makeKey } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { startMcpServer, unreachableUrl, type TestMcpServer } from "../support/mcp-server.js";
import { expectProblem } from "../support/problem.js";

const SRE = "google-workspace/sre@example.com";
const SECRET = "Bearer s3cret-token-for-mcp";

const hub = useHub({ redis: false, env: { AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
let tools: TestMcpServer; // the server most tests use
let moved: TestMcpServer; // another origin, for URL changes
let master: Api;
let admin: Api;
let alice: Api; // allowed by email (in another case)
let sam: Api; // allowed by the groups claim
let carol: Api; // in the workspace, granted nothing
let key: Api; // an agent key
let stranger: Api; // master key of another workspace

beforeAll(async () => {
  [tools, moved] = [await startMcpServer(), await startMcpServer()];
  master = hub.anon.as(hub.ws.masterKey);
  admin = hub.anon.as(await hub.ws.token("root", { role: "admin" }));
  alice = hub.anon.as(await hub.ws.token("alice"));
  sam = hub.anon.as(await hub.ws.token("sam", { groups: [SRE] }));
  carol = hub.anon.as(await hub.ws.token("carol"));
  key = hub.anon.as(await makeKey(alice, await makeAgent(alice), ["sessions:read"]));
  stranger = hub.anon.as(hub.other.masterKey);
});
afterAll(async () => {
  await tools?.close();
  await moved?.close();
});

let n = 0;
async function makeServer(extra: Record<string, unknown> = {}, by: Api = master) {
  const res = await by.post("/api/mcp-servers", { name: `tools-${++n}`, url: tools.url, ...extra });
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.text}`);
  return res.body;
}

const user = (sub: string, extra: Partial<UserPrincipal> = {}): UserPrincipal => ({
  kind: "user", workspaceId: hub.ws.id, userId: 1_000_000 + sub.length, sub, email: `${sub}@example.com`, name: sub,
  groups: [], role: undefined, admin: false, emailVerified: true, expiresAt: new Date(Date.now() + 3_600_000), ...extra,
});
const masterOf = (workspaceId: string): MasterPrincipal => ({ kind: "master", workspaceId, keyId: "key_test" });
const names = (res: { body: { mcp_servers: Array<{ name: string }> } }) => res.body.mcp_servers.map((s) => s.name);

describe("creating and reading", () => {
  it("creates a server; headers are sealed in the row and answered by name only", async () => {
    const res = await master.post("/api/mcp-servers", {
      name: "github", url: tools.url, headers: { Authorization: SECRET, "X-Team": "sre" },
      allowed_users: ["ALICE@Example.com"], allowed_groups: [SRE], requiresApproval: true,
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^mcp_[a-z0-9]{25}$/), workspace_id: hub.ws.id, name: "github", url: tools.url,
      header_names: ["Authorization", "X-Team"], allowed_users: ["alice@example.com"], allowed_groups: [SRE],
      requires_approval: true, created_by: null, created_at: expect.any(String), updated_at: expect.any(String),
    });
    expect(res.text).not.toContain("s3cret");
    const row = await hub.db("mcp_servers").where({ id: res.body.id }).first();
    expect(row.headers).toMatch(/^v1\./);
    expect(row.headers).not.toContain("s3cret");
  });

  it("GET lists the server's tools live, sending it the configured headers, never answering them", async () => {
    const server = await makeServer({ headers: { Authorization: SECRET }, allowed_users: ["alice@example.com"] });
    const before = tools.seen.length;
    const res = await alice.get(`/api/mcp-servers/${server.id}`);
    expect(res.status).toBe(200);
    expect(res.body.tools_error).toBeNull();
    expect(res.body.tools.map((t: { name: string }) => t.name).sort()).toEqual(["add", "echo"]);
    expect(res.body.tools.find((t: { name: string }) => t.name === "add")).toMatchObject({ description: "Adds two numbers", inputSchema: { type: "object", properties: { a: {}, b: {} } } });
    expect(res.text).not.toContain("s3cret");
    const sent = tools.seen.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    for (const h of sent) expect(h.authorization).toBe(SECRET);
  });

  it("keeps a listing briefly: a second GET does not reconnect", async () => {
    const server = await makeServer();
    await master.get(`/api/mcp-servers/${server.id}`);
    const count = tools.initializations();
    const again = await master.get(`/api/mcp-servers/${server.id}`);
    expect(again.body.tools).toHaveLength(2);
    expect(tools.initializations()).toBe(count);
  });

  it("a server that cannot be reached answers tools: null and why", async () => {
    const server = await makeServer({ url: await unreachableUrl() });
    const res = await master.get(`/api/mcp-servers/${server.id}`);
    expect(res.status).toBe(200);
    expect(res.body.tools).toBeNull();
    expect(res.body.tools_error).toMatch(/127\.0\.0\.1/);
  });

  it("the list does not contact servers", async () => {
    await makeServer();
    const count = tools.seen.length;
    const res = await master.get("/api/mcp-servers?limit=200");
    expect(res.status).toBe(200);
    expect(res.body.mcp_servers.length).toBeGreaterThan(1);
    expect(res.body.mcp_servers[0]).not.toHaveProperty("tools");
    expect(tools.seen.length).toBe(count);
  });

  it("pages with a cursor", async () => {
    await makeServer();
    await makeServer();
    const first = await master.get("/api/mcp-servers?limit=1");
    expect(first.body.mcp_servers).toHaveLength(1);
    const second = await master.get(`/api/mcp-servers?limit=1&cursor=${first.body.next_cursor}`);
    expect(second.body.mcp_servers[0].id).not.toBe(first.body.mcp_servers[0].id);
  });
});

describe("who sees and who changes", () => {
  let restricted: { id: string; name: string };
  let everyone: { id: string; name: string };
  beforeAll(async () => {
    restricted = await makeServer({ allowed_users: ["alice@example.com"], allowed_groups: [SRE] });
    everyone = await makeServer({ allowed_groups: ["*"] });
  });

  it("lists to whom they are allowed: by email, by group claim, by '*'", async () => {
    expect(names(await alice.get("/api/mcp-servers?limit=200"))).toEqual(expect.arrayContaining([restricted.name, everyone.name]));
    expect(names(await sam.get("/api/mcp-servers?limit=200"))).toEqual(expect.arrayContaining([restricted.name, everyone.name]));
    const forCarol = names(await carol.get("/api/mcp-servers?limit=200"));
    expect(forCarol).toContain(everyone.name);
    expect(forCarol).not.toContain(restricted.name);
    expect((await key.get("/api/mcp-servers")).body.mcp_servers).toEqual([]);
    expect((await stranger.get("/api/mcp-servers")).body.mcp_servers).toEqual([]);
  });

  it("a server the caller may not see answers 404, as one of another workspace", async () => {
    expectProblem(await carol.get(`/api/mcp-servers/${restricted.id}`), "not-found");
    expectProblem(await stranger.get(`/api/mcp-servers/${restricted.id}`), "not-found");
    expectProblem(await key.get(`/api/mcp-servers/${everyone.id}`), "not-found");
    expectProblem(await carol.patch(`/api/mcp-servers/${restricted.id}`, { name: "mine" }), "not-found");
    expectProblem(await stranger.delete(`/api/mcp-servers/${restricted.id}`), "not-found");
  });

  it("only the master key and admins change them (403 for others)", async () => {
    expectProblem(await alice.post("/api/mcp-servers", { name: "nope", url: tools.url }), "forbidden");
    expectProblem(await key.post("/api/mcp-servers", { name: "nope", url: tools.url }), "forbidden");
    expectProblem(await alice.patch(`/api/mcp-servers/${restricted.id}`, { name: "mine" }), "forbidden");
    expectProblem(await carol.delete(`/api/mcp-servers/${everyone.id}`), "forbidden");
    expectProblem(await key.delete(`/api/mcp-servers/${everyone.id}`), "forbidden");
    const byAdmin = await makeServer({}, admin);
    const patched = await admin.patch(`/api/mcp-servers/${byAdmin.id}`, { requires_approval: true, allowed_groups: ["*"] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ requires_approval: true, allowed_groups: ["*"], created_by: expect.any(Number) });
    expect((await admin.delete(`/api/mcp-servers/${byAdmin.id}`)).status).toBe(204);
    expectProblem(await admin.get(`/api/mcp-servers/${byAdmin.id}`), "not-found");
  });

  it("a name is unique in the workspace (409), not across workspaces", async () => {
    expectProblem(await master.post("/api/mcp-servers", { name: restricted.name, url: tools.url }), "conflict");
    expect((await stranger.post("/api/mcp-servers", { name: restricted.name, url: tools.url })).status).toBe(201);
  });
});

describe("bad input", () => {
  it("refuses URLs the SSRF guard refuses (422 url)", async () => {
    for (const url of ["http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/mcp", "http://user:pw@127.0.0.1:1/mcp"]) {
      expectProblem(await master.post("/api/mcp-servers", { name: "ssrf", url }), "validation", { fields: ["url"] });
    }
    const server = await makeServer();
    expectProblem(await master.patch(`/api/mcp-servers/${server.id}`, { url: "http://[fd00:ec2::254]/mcp" }), "validation", { fields: ["url"] });
    expectProblem(await master.post("/api/mcp-servers", { name: "ftp", url: "ftp://example.com/mcp" }), "validation", { fields: ["url"] });
  });

  it("bounds headers: names are HTTP tokens, values short and on one line, at most 20", async () => {
    const bad = [
      { "Bad Name": "x" },
      { "X-Injected": "a\r\nHost: evil" },
      { "X-Big": "x".repeat(4097) },
      { Host: "evil.example" },
      { "X-A": "1", "x-a": "2" },
      Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, "v"])),
    ];
    for (const headers of bad) {
      const problem = expectProblem(await master.post("/api/mcp-servers", { name: "hdr", url: tools.url, headers }), "validation");
      for (const e of problem.errors!) expect(e.field).toMatch(/^headers\b/);
    }
  });

  it("takes requiresApproval or requires_approval, not both differing; names are slugs", async () => {
    expectProblem(await master.post("/api/mcp-servers", { name: "both", url: tools.url, requiresApproval: true, requires_approval: false }), "validation", { fields: ["requiresApproval"] });
    expect((await makeServer({ requires_approval: true })).requires_approval).toBe(true);
    expectProblem(await master.post("/api/mcp-servers", { name: "has space", url: tools.url }), "validation", { fields: ["name"] });
  });
});

describe("changing headers and URL", () => {
  it("a URL on another origin without headers drops them; on the same origin keeps them", async () => {
    const server = await makeServer({ headers: { Authorization: SECRET } });
    const samePath = await master.patch(`/api/mcp-servers/${server.id}`, { url: `${tools.origin}/mcp?v=2` });
    expect(samePath.body.header_names).toEqual(["Authorization"]);
    const elsewhere = await master.patch(`/api/mcp-servers/${server.id}`, { url: moved.url });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.header_names).toEqual([]);
    const before = moved.seen.length;
    expect((await master.get(`/api/mcp-servers/${server.id}`)).body.tools).toHaveLength(2);
    expect(moved.seen.slice(before).length).toBeGreaterThan(0);
    for (const h of moved.seen.slice(before)) expect(h.authorization).toBeUndefined();
    expect((await hub.db("mcp_servers").where({ id: server.id }).first()).headers).toBeNull();
  });

  it("a URL on another origin with headers takes the new ones; headers replace all; null removes", async () => {
    const server = await makeServer({ headers: { Authorization: SECRET, "X-Old": "1" } });
    const both = await master.patch(`/api/mcp-servers/${server.id}`, { url: moved.url, headers: { "X-New": "2" } });
    expect(both.body.header_names).toEqual(["X-New"]);
    const before = moved.seen.length;
    await master.get(`/api/mcp-servers/${server.id}`);
    for (const h of moved.seen.slice(before)) expect([h["x-new"], h.authorization, h["x-old"]]).toEqual(["2", undefined, undefined]);
    expect((await master.patch(`/api/mcp-servers/${server.id}`, { headers: null })).body.header_names).toEqual([]);
  });
});

describe("usableBy (model agents' turns)", () => {
  let forAlice: { id: string; name: string };
  let forAll: { id: string; name: string };
  beforeAll(async () => {
    forAlice = await makeServer({ headers: { Authorization: SECRET }, allowed_users: ["alice@example.com"], requiresApproval: true });
    forAll = await makeServer({ allowed_groups: ["*"] });
  });

  it("answers the servers the asker may use, by id or name, with headers opened", async () => {
    const usable = await hub.services.mcpServers.usableBy(user("alice"), [forAlice.id, forAll.name, "no-such-server"]);
    expect(usable).toEqual([
      { id: forAlice.id, name: forAlice.name, url: tools.url, headers: { Authorization: SECRET }, requiresApproval: true },
      { id: forAll.id, name: forAll.name, url: tools.url, headers: {}, requiresApproval: false },
    ]);
  });

  it("leaves out what the asker may not use", async () => {
    expect((await hub.services.mcpServers.usableBy(user("carol"), [forAlice.id, forAll.id])).map((s) => s.id)).toEqual([forAll.id]);
    expect((await hub.services.mcpServers.usableBy(user("alice", { emailVerified: false }), [forAlice.id])).map((s) => s.id)).toEqual([]);
    expect((await hub.services.mcpServers.usableBy(user("sam", { email: "sam@example.com", groups: [SRE] }), [forAlice.id])).map((s) => s.id)).toEqual([]);
    expect((await hub.services.mcpServers.usableBy(masterOf(hub.ws.id), [forAlice.id])).map((s) => s.id)).toEqual([forAlice.id]);
    expect(await hub.services.mcpServers.usableBy(masterOf(hub.other.id), [forAlice.id, forAll.name])).toEqual([]);
  });
});
