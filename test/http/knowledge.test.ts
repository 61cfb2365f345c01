/**
 * Knowledge: /api/knowledge (who may write, read and delete; other workspaces), RBAC filtering
 * in SQL (roles, RBAC on and off), chunking, and the RAG search behind `POST /v1/…/rag`
 * (ranking, scores, role filter, the OR fallback), on Postgres and on the embedded PGlite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal.js";
import { Knowledge } from "../../src/domain/knowledge/service.js";
import { CHUNK_OVERLAP, CHUNK_SIZE, chunkText } from "../../src/domain/knowledge/search.js";
import { systemClock } from "../../src/domain/time.js";
import type { Hub } from "../../src/server.js";
import { api, type Api } from "../support/api.js";
import { makeAgent, makeKey, makeWorkspace, uniq, type TestWorkspace } from "../support/factories.js";
import { startTestHub, useHub } from "../support/hub.js";
import { keyOf, masterOf, userOf } from "../support/principals.js";
import { expectProblem, rejectsWith } from "../support/problem.js";

const hub = useHub({ redis: false });

// ---- principals for the service-level checks (RAG has no /api route of its own) -----------------



const setRbac = (workspaceId: string, on: boolean) => hub.db("workspaces").where({ id: workspaceId }).update({ rbac_enabled: on });

async function add(client: Api, body: Record<string, unknown>): Promise<any> {
  const res = await client.post("/api/knowledge", body);
  expect(res.status, res.text).toBe(201);
  return res.body;
}

// ---- /api/knowledge ----------------------------------------------------------------------------

describe("knowledge items", () => {
  let master: Api;
  let admin: Api;
  let alice: Api;
  let writer: Api;
  let reader: Api;
  let sessionsOnly: Api;

  beforeAll(async () => {
    master = hub.anon.as(hub.ws.masterKey);
    admin = hub.anon.as(await hub.ws.token("ada", { role: "admin" }));
    alice = hub.anon.as(await hub.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("kb"));
    writer = hub.anon.as(await makeKey(master, agentId, ["knowledge:write"])); // only the master key or an admin may grant it
    reader = hub.anon.as(await makeKey(alice, agentId, ["knowledge:read"]));
    sessionsOnly = hub.anon.as(await makeKey(alice, agentId, ["sessions:read"]));
  });

  it("creates an item in the documented shape", async () => {
    const res = await master.post("/api/knowledge", {
      title: "  Refund policy ",
      content: "Refunds are processed within five business days.",
      roles: ["support", "support", "sales"],
      taxonomies: ["Policies"],
      language: "en",
      source: "https://example.com/refunds",
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^kn_[0-9a-z]{25}$/),
      workspace_id: hub.ws.id,
      title: "Refund policy",
      content: "Refunds are processed within five business days.",
      roles: ["support", "sales"],
      taxonomies: ["Policies"],
      language: "en",
      source: "https://example.com/refunds",
      chunk_count: 1,
      created_by: null,
      created_at: expect.stringMatching(/Z$/),
      updated_at: res.body.created_at,
    });
    expect((await master.get(`/api/knowledge/${res.body.id}`)).body).toEqual(res.body);
  });

  it("defaults roles, taxonomies, language and source", async () => {
    const item = await add(admin, { title: "Plain", content: "Just text." });
    expect(item).toMatchObject({ roles: [], taxonomies: [], language: null, source: null, created_by: expect.any(Number) });
  });

  it("lets the master key, admins and keys with knowledge:write create; refuses users and other keys", async () => {
    await add(writer, { title: "From a key", content: "Written by an agent key." });
    expectProblem(await alice.post("/api/knowledge", { title: "x", content: "y" }), "forbidden");
    expectProblem(await reader.post("/api/knowledge", { title: "x", content: "y" }), "forbidden", { detail: /knowledge:write/ });
    expectProblem(await hub.anon.post("/api/knowledge", { title: "x", content: "y" }), "unauthorized");
  });

  it("validates bodies", async () => {
    expectProblem(await master.post("/api/knowledge", { title: "", content: " " }), "validation", { fields: ["title", "content"] });
    expectProblem(await master.post("/api/knowledge", { title: "t", content: "c", roles: "support" }), "validation", { fields: ["roles"] });
    expectProblem(await master.post("/api/knowledge", { title: "t", content: "c", roles: [""] }), "validation", { fields: ["roles.0"] });
    expectProblem(await master.post("/api/knowledge", { title: "t", content: "c", colour: "red" }), "validation");
  });

  it("reads: users, master, admins, keys with knowledge:read; other keys 403; other workspaces 404", async () => {
    const item = await add(master, { title: "Readable", content: "Everyone may read this." });
    for (const client of [alice, master, admin, reader]) expect((await client.get(`/api/knowledge/${item.id}`)).status).toBe(200);
    expectProblem(await sessionsOnly.get(`/api/knowledge/${item.id}`), "forbidden", { detail: /knowledge:read/ });
    expectProblem(await sessionsOnly.get("/api/knowledge"), "forbidden");
    const outsider = hub.anon.as(hub.other.masterKey);
    expectProblem(await outsider.get(`/api/knowledge/${item.id}`), "not-found");
    expectProblem(await outsider.delete(`/api/knowledge/${item.id}`), "not-found");
    expect((await outsider.get("/api/knowledge")).body.items.map((i: any) => i.id)).not.toContain(item.id);
    expectProblem(await master.get("/api/knowledge/kn_nonesuch"), "not-found");
  });

  it("deletes: the master key, admins and knowledge:write keys; then it is gone, chunks included", async () => {
    const a = await add(master, { title: "Doomed", content: "Soon gone." });
    expectProblem(await alice.delete(`/api/knowledge/${a.id}`), "forbidden");
    expectProblem(await reader.delete(`/api/knowledge/${a.id}`), "forbidden");
    expect((await writer.delete(`/api/knowledge/${a.id}`)).status).toBe(204);
    expectProblem(await master.get(`/api/knowledge/${a.id}`), "not-found");
    expectProblem(await master.delete(`/api/knowledge/${a.id}`), "not-found");
    expect(await hub.db("knowledge_chunks").where({ knowledge_id: a.id }).count("* as n").first()).toMatchObject({ n: 0 });
    const b = await add(master, { title: "Doomed too", content: "Also gone." });
    expect((await admin.delete(`/api/knowledge/${b.id}`)).status).toBe(204);
  });

  it("pages the list newest first with an opaque cursor", async () => {
    const ws = await makeWorkspace(hub.db);
    const m = hub.anon.as(ws.masterKey);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await add(m, { title: `Item ${i}`, content: `Number ${i}.` })).id);
    const seen: string[] = [];
    let cursor: string | null = "";
    do {
      const res: any = await m.get(`/api/knowledge?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((i: any) => i.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    expectProblem(await m.get("/api/knowledge?cursor=nope"), "validation", { fields: ["cursor"] });
    expectProblem(await m.get("/api/knowledge?limit=0"), "validation", { fields: ["limit"] });
  });

  it("bounds a page in bytes too", async () => {
    const ws = await makeWorkspace(hub.db);
    const m = hub.anon.as(ws.masterKey);
    const content = `${"All work and no play makes a dull document. ".repeat(21_000)}`.slice(0, 900_000);
    for (let i = 0; i < 5; i++) await add(m, { title: `Big ${i}`, content });
    const first = await m.get("/api/knowledge?limit=50");
    expect(first.body.items.length).toBeGreaterThan(0);
    expect(first.body.items.length).toBeLessThan(5);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const rest = await m.get(`/api/knowledge?limit=50&cursor=${first.body.next_cursor}`);
    expect(first.body.items.length + rest.body.items.length).toBe(5);
  }, 60_000);
});

// ---- RBAC --------------------------------------------------------------------------------------

describe("RBAC filtering", () => {
  let ws: TestWorkspace;
  const ids: Record<string, string> = {};
  let support: Api;
  let noRole: Api;
  let admin: Api;
  let master: Api;
  let reader: Api; // made by the master key naming no role: sees everything
  let noRoleReader: Api; // made by a user without a role: carries none

  const listed = async (client: Api) => {
    const res = await client.get("/api/knowledge?limit=200");
    expect(res.status).toBe(200);
    return (res.body.items as any[]).map((i) => i.title).sort();
  };

  beforeAll(async () => {
    ws = await makeWorkspace(hub.db);
    master = hub.anon.as(ws.masterKey);
    support = hub.anon.as(await ws.token("sam", { role: "support" }));
    noRole = hub.anon.as(await ws.token("nora"));
    admin = hub.anon.as(await ws.token("ada", { role: "admin" }));
    const agentId = await makeAgent(noRole, uniq("kb"));
    reader = hub.anon.as(await makeKey(master, agentId, ["knowledge:read"]));
    noRoleReader = hub.anon.as(await makeKey(noRole, agentId, ["knowledge:read"]));
    for (const [title, roles] of [
      ["support-only", ["support"]],
      ["sales-only", ["sales"]],
      ["both", ["support", "sales"]],
      ["nobody", []],
    ] as const) {
      ids[title] = (await add(master, { title, content: `The ${title} escalation guide.`, roles })).id;
    }
  });

  it("while RBAC is off, every reader sees everything", async () => {
    await setRbac(ws.id, false);
    for (const client of [support, noRole, admin, master, reader, noRoleReader]) expect(await listed(client)).toEqual(["both", "nobody", "sales-only", "support-only"]);
    expect((await support.get(`/api/knowledge/${ids["sales-only"]}`)).status).toBe(200);
    const hits = await hub.services.knowledge.search(userOf(ws.id, "support"), { text: "escalation guide", topK: 10 });
    expect(hits).toHaveLength(4);
  });

  it("while RBAC is on, a role sees its items, the all-seeing see everything, no role sees nothing", async () => {
    await setRbac(ws.id, true);
    try {
      expect(await listed(support)).toEqual(["both", "support-only"]);
      expect(await listed(noRole)).toEqual([]);
      expect(await listed(noRoleReader)).toEqual([]); // a key carries its creator's role
      for (const client of [admin, master, reader]) expect(await listed(client)).toEqual(["both", "nobody", "sales-only", "support-only"]);
      expectProblem(await support.get(`/api/knowledge/${ids["sales-only"]}`), "not-found");
      expectProblem(await support.get(`/api/knowledge/${ids["nobody"]}`), "not-found");
      expectProblem(await noRole.get(`/api/knowledge/${ids["both"]}`), "not-found");

      // A key exchanged with a role (generate-access-key-token) is bound to it; so is RAG.
      const salesKey = keyOf(ws.id, ["knowledge:read"], "sales");
      expect((await hub.services.knowledge.list(salesKey, { limit: 50 })).items.map((i) => i.title).sort()).toEqual(["both", "sales-only"]);
      const titles = async (p: Principal) => (await hub.services.knowledge.search(p, { text: "escalation guide", topK: 10 })).map((h) => h.metadata.title).sort();
      expect(await titles(userOf(ws.id, "support"))).toEqual(["both", "support-only"]);
      expect(await titles(salesKey)).toEqual(["both", "sales-only"]);
      expect(await titles(userOf(ws.id))).toEqual([]);
      expect(await titles(keyOf(ws.id, ["knowledge:read"]))).toHaveLength(4);
      expect(await titles(masterOf(ws.id))).toHaveLength(4);
      expect(await titles(userOf(ws.id, "admin", true))).toHaveLength(4);
    } finally {
      await setRbac(ws.id, false);
    }
  });

  it("a role-bound writer may not delete what its role cannot see", async () => {
    await setRbac(ws.id, true);
    try {
      await rejectsWith(hub.services.knowledge.remove(keyOf(ws.id, ["knowledge:write"], "support"), ids["sales-only"]!), "not-found");
    } finally {
      await setRbac(ws.id, false);
    }
  });
});

// ---- chunking ----------------------------------------------------------------------------------

describe("chunking", () => {
  const sentence = (i: number) => `Sentence number ${i} talks about topic ${i % 7} at some length.`;
  const paragraphs = Array.from({ length: 12 }, (_, p) => Array.from({ length: 6 }, (_, s) => sentence(p * 6 + s)).join(" ")).join("\n\n");

  it("keeps short text whole", () => {
    expect(chunkText("  One short paragraph.  ")).toEqual(["One short paragraph."]);
    expect(chunkText("   ")).toEqual([]);
  });

  it("cuts about every thousand characters, at paragraph or sentence ends, with a small overlap", () => {
    const chunks = chunkText(paragraphs);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(CHUNK_SIZE);
      expect(c.length).toBeGreaterThan(CHUNK_SIZE / 2 - CHUNK_OVERLAP);
    }
    for (const c of chunks.slice(0, -1)) expect(c).toMatch(/\.$/);
    // Each chunk starts with the words the previous one ended with (at most the overlap).
    for (let i = 1; i < chunks.length; i++) {
      const head = chunks[i]!.slice(0, 20);
      const tail = chunks[i - 1]!.slice(-CHUNK_OVERLAP - 20);
      expect(tail).toContain(head.split(" ")[0]);
    }
    // Nothing is lost.
    for (let i = 0; i < 72; i++) expect(chunks.some((c) => c.includes(sentence(i)))).toBe(true);
  });

  it("cuts text without spaces hard, never inside a surrogate pair", () => {
    const chunks = chunkText(`a${"😀".repeat(1500)}`);
    expect(chunks.join("").length).toBeGreaterThanOrEqual(3001);
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    for (const c of chunks) expect(c).not.toMatch(loneSurrogate);
  });
});

// ---- RAG ----------------------------------------------------------------------------------------

describe("RAG search", () => {
  let ws: TestWorkspace;
  let master: Api;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ws = await makeWorkspace(hub.db);
    master = hub.anon.as(ws.masterKey);
    const corpus: Array<[string, string, Record<string, unknown>?]> = [
      ["Refund policy", "Refunds are processed within five business days. To request a refund, contact support with your order number. Refund requests after 30 days are declined."],
      ["Shipping times", "Orders ship within two business days. International shipping takes up to two weeks. Tracking numbers are emailed."],
      ["Office hours", "Our office is open Monday to Friday, nine to five. Support answers email on weekends."],
      ["Política de reembolsos", "Los reembolsos se procesan en cinco días hábiles.", { language: "es" }],
      [
        "Employee handbook",
        [
          ...Array.from({ length: 30 }, (_, i) => `Section ${i} covers holidays, expenses and travel for employees in department ${i}.`),
          "Finally, the pineapple clause: every office keeps one pineapple on the reception desk.",
        ].join("\n\n"),
      ],
    ];
    for (const [title, content, extra] of corpus) ids[title] = (await add(master, { title, content, ...extra })).id;
  });

  const search = (text: string, extra: Record<string, unknown> = {}) => hub.services.knowledge.search(masterOf(ws.id), { text, ...extra });

  it("answers matches best first, in the Sharely shape, scored 0-1", async () => {
    const hits = await search("refund policy");
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]).toEqual({
      id: expect.stringMatching(/^kc_/),
      score: expect.any(Number),
      metadata: {
        text: expect.stringContaining("Refunds are processed"),
        source: `page:Refund policy:${ids["Refund policy"]}`,
        knowledgeId: ids["Refund policy"],
        title: "Refund policy",
        workspaceId: ws.id,
        language: null,
      },
      values: [],
    });
    for (const h of hits) {
      expect(h.score).toBeGreaterThan(0);
      expect(h.score).toBeLessThan(1);
    }
    const scores = hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it("ranks the document that matches best first", async () => {
    expect((await search("shipping tracking"))[0]!.metadata.title).toBe("Shipping times");
    expect((await search("support email weekends"))[0]!.metadata.title).toBe("Office hours");
    // Stemming (english): "refunded requests" finds "Refund requests".
    expect((await search("refunded requests"))[0]!.metadata.title).toBe("Refund policy");
  });

  it("finds the chunk of a long item that holds the words, not the whole item", async () => {
    const [hit] = await search("pineapple reception");
    expect(hit!.metadata.title).toBe("Employee handbook");
    expect(hit!.metadata.text).toContain("pineapple clause");
    expect(hit!.metadata.text.length).toBeLessThanOrEqual(1000);
    expect((await master.get(`/api/knowledge/${ids["Employee handbook"]}`)).body.chunk_count).toBeGreaterThan(2);
  });

  it("falls back to any of the words when no chunk has them all", async () => {
    const hits = await search("refund zeppelin");
    expect(hits.map((h) => h.metadata.title)).toEqual(["Refund policy"]);
    expect(await search("zeppelin dirigible")).toEqual([]);
    expect(await search("the and of")).toEqual([]);
    // Query syntax in the text is never an error.
    expect((await search(`refund "policy OR -" ' \\ & | ! ( :*`)).length).toBeGreaterThan(0);
  });

  it("honours topK and languageId, and validates them", async () => {
    expect(await search("business days")).toHaveLength(2);
    expect(await search("business days", { topK: 1 })).toHaveLength(1);
    const es = await search("reembolsos", { languageId: "es" });
    expect(es.map((h) => h.metadata)).toEqual([expect.objectContaining({ title: "Política de reembolsos", language: "es" })]);
    expect(await search("refund", { languageId: "es" })).toEqual([]);
    await rejectsWith(search("refund", { topK: 11 }), "validation");
    await rejectsWith(search("refund", { topK: 0 }), "validation");
    await rejectsWith(search("  "), "validation");
  });

  it("is for readers: a key needs knowledge:read", async () => {
    await rejectsWith(hub.services.knowledge.search(keyOf(ws.id, ["tools:execute"]), { text: "refund" }), "forbidden");
    expect(await hub.services.knowledge.search(keyOf(ws.id, ["knowledge:read"]), { text: "refund" })).not.toEqual([]);
  });

  it("stays in the caller's workspace", async () => {
    expect(await hub.services.knowledge.search(masterOf(hub.other.id), { text: "refund" })).toEqual([]);
  });

  it("refuses, clearly, a text-search configuration the database does not have", async () => {
    const kb = new Knowledge({ db: hub.db, bus: hub.bus }, systemClock, "public.nonesuch");
    await rejectsWith(kb.search(masterOf(ws.id), { text: "refund" }), "internal", { detail: /KNOWLEDGE_TS_CONFIG is 'public\.nonesuch'/ });
    await rejectsWith(kb.ready(), "internal", { detail: /not a text-search configuration/ });
  });
});

// ---- embedded --------------------------------------------------------------------------------

describe("on the embedded PGlite", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "agenthub-knowledge-"));
  let embedded: Hub;

  beforeAll(async () => {
    embedded = await startTestHub({ redis: false, env: { DATABASE_URL: "", DATA_DIR: dataDir } });
  }, 60_000);
  afterAll(async () => {
    await embedded?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("ships the configurations, indexes, answers RAG with the same SQL, and re-indexes when the setting changes", async () => {
    const { rows } = await embedded.db.raw("select cfgname from pg_ts_config");
    expect(rows.map((r: any) => r.cfgname)).toEqual(expect.arrayContaining(["simple", "english"]));
    const ws = await makeWorkspace(embedded.db);
    const m = api(embedded.url, ws.masterKey);
    const refund = await add(m, { title: "Refund policy", content: "Refunds are processed within five business days.", roles: ["support"] });
    await add(m, { title: "Shipping", content: "Orders ship within two business days." });
    const hits = await embedded.services.knowledge.search(masterOf(ws.id), { text: "refunded days" });
    expect(hits[0]).toMatchObject({ metadata: { knowledgeId: refund.id, source: `page:Refund policy:${refund.id}` }, values: [] });
    expect(hits[0]!.score).toBeGreaterThan(0);
    expect((await embedded.services.knowledge.search(masterOf(ws.id), { text: "refund zeppelin" })).map((h) => h.metadata.title)).toEqual(["Refund policy"]);
    await embedded.db("workspaces").where({ id: ws.id }).update({ rbac_enabled: true });
    expect(await embedded.services.knowledge.search(userOf(ws.id, "sales"), { text: "business days" })).toEqual([]);
    expect((await embedded.services.knowledge.search(userOf(ws.id, "support"), { text: "business days" })).map((h) => h.metadata.title)).toEqual(["Refund policy"]);

    // KNOWLEDGE_TS_CONFIG=simple: chunks are re-indexed once, and no longer stemmed.
    const simple = new Knowledge({ db: embedded.db, bus: embedded.bus }, systemClock, "simple");
    expect(await simple.search(masterOf(ws.id), { text: "refunded" })).toEqual([]);
    expect((await simple.search(masterOf(ws.id), { text: "refunds" })).map((h) => h.metadata.title)).toEqual(["Refund policy"]);
    const left = await embedded.db("knowledge_chunks").whereNot({ ts_config: "simple" }).count("* as n").first();
    expect(Number(left!.n)).toBe(0);
  });
});
