/**
 * The Backplane's tools (services.tools, behind `GET /v1/…/tools` and `POST …/tools/{name}/execute`):
 * the seven Sharely tools exactly as the SDK defines them, each run over this workspace's
 * knowledge (a success and a failure each), filtered like RAG, and the refusals: unknown tool
 * 404, input its schema refuses 422, a key without tools:execute 403.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal.js";
import type { Api } from "../support/api.js";
import { makeWorkspace, type TestWorkspace } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { keyOf, masterOf, userOf } from "../support/principals.js";
import { rejectsWith } from "../support/problem.js";

const hub = useHub({ redis: false });

/** `@sharelyai/tools` packages/tools/src/definitions.ts, as published (name, description, input_schema). */
const SHARELY_DEFINITIONS = [
  {
    name: "search_knowledge",
    description:
      "Search the workspace knowledge base by keyword or text. Searches across document titles, filenames, and content using text matching. Use this when you know specific keywords or phrases. For conceptual or meaning-based search, use semantic_search instead.",
    input_schema: {
      type: "object",
      properties: {
        query: { type: "string", description: "The keyword or text to search for in titles and content" },
        limit: { type: "number", description: "Maximum number of results to return (min: 1, max: 50, default: 10)" },
      },
      required: ["query"],
    },
  },
  {
    name: "semantic_search",
    description:
      "Perform a semantic similarity search across the workspace knowledge base. This uses vector embeddings to find content that is conceptually similar to the query, even if the exact words don't match. Use this when keyword search doesn't return good results.",
    input_schema: {
      type: "object",
      properties: {
        text: { type: "string", description: "The natural language text to search for" },
        topK: { type: "number", description: "Maximum number of results to return (min: 1, max: 10, default: 10)" },
        languageId: { type: "string", description: "Language ID to filter results by a specific language" },
      },
      required: ["text"],
    },
  },
  {
    name: "get_knowledge_item",
    description:
      "Retrieve the full content of a specific knowledge item by its ID. Use this after searching to get the complete text of a document you need to reference.",
    input_schema: {
      type: "object",
      properties: { knowledgeId: { type: "string", description: "The ID of the knowledge item to retrieve" } },
      required: ["knowledgeId"],
    },
  },
  {
    name: "list_taxonomies",
    description:
      "List all published taxonomies in the workspace. Taxonomies organize knowledge into categories and hierarchies. Use this to discover how knowledge is structured before drilling into specific taxonomy content with get_taxonomy_knowledge.",
    input_schema: {
      type: "object",
      properties: {
        status: {
          type: "string",
          description: "Filter by status: 'PUBLISHED', 'DRAFT', 'PUBLISHED_UAT', or 'all'. Defaults to 'PUBLISHED'.",
        },
      },
    },
  },
  {
    name: "get_taxonomy_knowledge",
    description:
      "Get all knowledge items organized under a specific taxonomy. Returns categories and their associated knowledge documents. Use this after list_taxonomies to explore the content within a taxonomy.",
    input_schema: {
      type: "object",
      properties: { taxonomyId: { type: "string", description: "The ID of the taxonomy to retrieve knowledge from" } },
      required: ["taxonomyId"],
    },
  },
  {
    name: "get_workspace_stats",
    description:
      "Get summary statistics about the workspace including total knowledge items, spaces, and the most recent items. Use this to give the user an overview of their workspace.",
    input_schema: { type: "object", properties: {} },
  },
  {
    name: "list_roles",
    description:
      "List all RBAC roles defined in the workspace. Use this to understand the access control structure and what roles are available.",
    input_schema: { type: "object", properties: {} },
  },
];



let ws: TestWorkspace;
let master: Api;
const ids: Record<string, string> = {};
const run = (name: string, input: unknown, context?: unknown, actor: Principal = masterOf(ws.id)) => hub.services.tools.execute(actor, name, input, context);
const setRbac = (on: boolean) => hub.db("workspaces").where({ id: ws.id }).update({ rbac_enabled: on });

beforeAll(async () => {
  ws = await makeWorkspace(hub.db);
  master = hub.anon.as(ws.masterKey);
  const corpus: Array<[string, string, Record<string, unknown>]> = [
    ["Refund policy", "Refunds are processed within five business days. Contact support to request a refund.", { roles: ["support"], taxonomies: ["Policies"], source: "https://example.com/refunds" }],
    ["Shipping times", "Orders ship within two business days. International shipping takes two weeks.", { roles: ["sales", "support"], taxonomies: ["Policies", "Logistics"] }],
    ["Pricing", "Plans start at ten dollars a month. Discounts for annual billing.", { roles: ["sales"], taxonomies: ["Sales"], language: "en" }],
    ["Precios", "Los planes empiezan en diez dólares al mes.", { roles: ["sales"], language: "es" }],
  ];
  for (const [title, content, extra] of corpus) {
    const res = await master.post("/api/knowledge", { title, content, ...extra });
    expect(res.status, res.text).toBe(201);
    ids[title] = res.body.id;
  }
});

describe("tools.list", () => {
  it("lists Sharely's seven tools: names, descriptions and input JSON Schemas exactly", () => {
    const { items } = hub.services.tools.list();
    expect(items).toEqual(SHARELY_DEFINITIONS.map((d) => ({ name: d.name, description: d.description, inputSchema: d.input_schema })));
    // Key order too, as JSON: what a client diffing the schemas sees.
    expect(JSON.stringify(items.map((i) => i.inputSchema))).toBe(JSON.stringify(SHARELY_DEFINITIONS.map((d) => d.input_schema)));
  });
});

describe("tools.execute", () => {
  it("search_knowledge: one result per item, best first, cited as knowledge; an empty query fails", async () => {
    const res: any = await run("search_knowledge", { query: "business days" });
    expect(res.output.results.map((r: any) => r.title)).toEqual(expect.arrayContaining(["Refund policy", "Shipping times"]));
    expect(res.output).toMatchObject({ query: "business days", total: 2 });
    expect(res.output.results[0]).toEqual({
      knowledgeId: expect.stringMatching(/^kn_/),
      title: expect.any(String),
      snippet: expect.any(String),
      score: expect.any(Number),
      language: null,
      taxonomies: expect.any(Array),
      source: expect.toSatisfy((v: unknown) => v === null || typeof v === "string"),
    });
    expect(res.sources).toContainEqual({
      id: ids["Refund policy"],
      type: "knowledge",
      title: "Refund policy",
      url: "https://example.com/refunds",
      snippet: expect.stringContaining("Refunds are processed"),
    });
    expect((await run("search_knowledge", { query: "shipping", limit: 1 }) as any).output.results).toHaveLength(1);
    expect((await run("search_knowledge", { query: "business days", limit: 0 }) as any).output.results).toHaveLength(1);
    expect(await run("search_knowledge", { query: "  " })).toEqual({ output: null, error: "query must not be empty" });
  });

  it("semantic_search: RAG's matches, cited as semantic, topK and languageId from input or context; an empty text fails", async () => {
    const res: any = await run("semantic_search", { text: "refund policy" });
    expect(res.output[0]).toMatchObject({
      id: expect.stringMatching(/^kc_/),
      metadata: { knowledgeId: ids["Refund policy"], source: `page:Refund policy:${ids["Refund policy"]}`, workspaceId: ws.id },
      values: [],
    });
    expect(res.sources[0]).toEqual({ id: ids["Refund policy"], type: "semantic", title: "Refund policy", url: "https://example.com/refunds", snippet: expect.any(String) });
    expect(((await run("semantic_search", { text: "business days" }, { topK: 1 })) as any).output).toHaveLength(1);
    expect(((await run("semantic_search", { text: "business days", topK: 99 })) as any).output).toHaveLength(2);
    const es: any = await run("semantic_search", { text: "planes" }, { languageId: "es" });
    expect(es.output.map((m: any) => m.metadata.title)).toEqual(["Precios"]);
    expect(await run("semantic_search", { text: "" })).toEqual({ output: null, error: "text must not be empty" });
  });

  it("get_knowledge_item: the whole item; an unknown id fails", async () => {
    const res: any = await run("get_knowledge_item", { knowledgeId: ids["Pricing"] });
    expect(res.output).toEqual({
      id: ids["Pricing"],
      title: "Pricing",
      content: "Plans start at ten dollars a month. Discounts for annual billing.",
      roles: ["sales"],
      taxonomies: ["Sales"],
      language: "en",
      source: null,
      createdAt: expect.stringMatching(/Z$/),
      updatedAt: expect.stringMatching(/Z$/),
    });
    expect(res.sources).toEqual([{ id: ids["Pricing"], type: "knowledge", title: "Pricing", snippet: res.output.content }]);
    expect(await run("get_knowledge_item", { knowledgeId: "kn_nonesuch" })).toEqual({ output: null, error: "Knowledge item 'kn_nonesuch' not found" });
  });

  it("list_taxonomies: published taxonomies with counts; drafts none; an unknown status fails", async () => {
    const res: any = await run("list_taxonomies", {});
    expect(res.output).toEqual({
      total: 3,
      taxonomies: [
        { id: "Logistics", name: "Logistics", status: "PUBLISHED", knowledgeCount: 1 },
        { id: "Policies", name: "Policies", status: "PUBLISHED", knowledgeCount: 2 },
        { id: "Sales", name: "Sales", status: "PUBLISHED", knowledgeCount: 1 },
      ],
    });
    expect(res.sources).toContainEqual({ id: "Policies", type: "taxonomy", title: "Policies" });
    expect(((await run("list_taxonomies", { status: "all" })) as any).output.total).toBe(3);
    expect(((await run("list_taxonomies", { status: "DRAFT" })) as any).output).toEqual({ total: 0, taxonomies: [] });
    expect(await run("list_taxonomies", { status: "ARCHIVED" })).toEqual({ output: null, error: expect.stringMatching(/^status must be one of/) });
  });

  it("get_taxonomy_knowledge: the items under a taxonomy; an unknown taxonomy fails", async () => {
    const res: any = await run("get_taxonomy_knowledge", { taxonomyId: "Policies" });
    expect(res.output.taxonomy).toEqual({ id: "Policies", name: "Policies", status: "PUBLISHED" });
    expect(res.output.categories).toHaveLength(1);
    expect(res.output.categories[0].knowledge.map((k: any) => k.title).sort()).toEqual(["Refund policy", "Shipping times"]);
    expect(res.sources.map((s: any) => s.type)).toEqual(["taxonomy", "taxonomy"]);
    expect(await run("get_taxonomy_knowledge", { taxonomyId: "Nonesuch" })).toEqual({ output: null, error: "Taxonomy 'Nonesuch' not found" });
  });

  it("get_workspace_stats: counts and the latest items; input that is not an object is refused", async () => {
    const res: any = await run("get_workspace_stats", {});
    expect(res.output).toEqual({
      workspaceId: ws.id,
      rbacStatus: "INACTIVE",
      totalKnowledgeItems: 4,
      totalChunks: 4,
      totalTaxonomies: 3,
      languages: [
        { language: "en", count: 1 },
        { language: "es", count: 1 },
        { language: null, count: 2 },
      ],
      recentItems: ["Precios", "Pricing", "Shipping times", "Refund policy"].map((title) => ({
        knowledgeId: ids[title],
        title,
        language: expect.toSatisfy((v: unknown) => v === null || typeof v === "string"),
        createdAt: expect.stringMatching(/Z$/),
      })),
    });
    expect(res.sources).toEqual([{ id: ws.id, type: "stats", title: "Workspace statistics" }]);
    await rejectsWith(run("get_workspace_stats", "everything"), "validation", { fields: ["input"] });
  });

  it("list_roles: the roles knowledge is assigned to; a key without tools:execute is refused", async () => {
    const res: any = await run("list_roles", {});
    expect(res.output).toEqual({
      rbacStatus: "INACTIVE",
      total: 2,
      roles: [
        { id: "sales", name: "sales", knowledgeCount: 3 },
        { id: "support", name: "support", knowledgeCount: 2 },
      ],
    });
    expect(res.sources).toEqual([
      { id: "sales", type: "role", title: "sales" },
      { id: "support", type: "role", title: "support" },
    ]);
    await rejectsWith(run("list_roles", {}, undefined, keyOf(ws.id, ["knowledge:read"])), "forbidden", { detail: /tools:execute/ });
    expect(((await run("list_roles", {}, undefined, keyOf(ws.id, ["tools:execute"]))) as any).output.total).toBe(2);
  });

  it("refuses an unknown tool (404) and input its schema refuses (422), naming the field", async () => {
    await rejectsWith(run("delete_everything", {}), "not-found", { detail: "Tool 'delete_everything' not found" });
    await rejectsWith(run("search_knowledge", {}), "validation", { fields: ["input.query"] });
    await rejectsWith(run("search_knowledge", { query: 5 }), "validation", { fields: ["input.query"] });
    await rejectsWith(run("search_knowledge", { query: "x", limit: "ten" }), "validation", { fields: ["input.limit"] });
    await rejectsWith(run("semantic_search", { text: "x", languageId: 7 }), "validation", { fields: ["input.languageId"] });
    await rejectsWith(run("get_knowledge_item", null), "validation", { fields: ["input"] });
    await rejectsWith(run("semantic_search", { text: "x" }, { topK: "many" }), "validation", { fields: ["context.topK"] });
    // Properties the schema does not name are allowed (no additionalProperties: false), as in JSON Schema.
    expect(await run("list_roles", { verbose: true })).toHaveProperty("output.total", 2);
  });
});

describe("tools under RBAC", () => {
  it("filter like RAG: a role sees its items only; context.roleId narrows the all-seeing, never widens a role", async () => {
    await setRbac(true);
    try {
      const support = userOf(ws.id, "support");
      const titles = async (res: any) => res.output.results.map((r: any) => r.title).sort();
      expect(await titles(await run("search_knowledge", { query: "business days plans dollars" }, undefined, support))).toEqual(["Refund policy", "Shipping times"]);
      expect(await run("get_knowledge_item", { knowledgeId: ids["Pricing"] }, undefined, support)).toEqual({ output: null, error: expect.stringMatching(/not found/) });
      expect(((await run("list_roles", {}, undefined, support)) as any).output).toEqual({
        rbacStatus: "ACTIVE",
        total: 1,
        roles: [{ id: "support", name: "support", knowledgeCount: 2 }],
      });
      expect(((await run("get_workspace_stats", {}, undefined, support)) as any).output).toMatchObject({ rbacStatus: "ACTIVE", totalKnowledgeItems: 2 });
      expect(((await run("list_taxonomies", {}, undefined, support)) as any).output.taxonomies.map((t: any) => t.id)).toEqual(["Logistics", "Policies"]);
      expect(await run("get_taxonomy_knowledge", { taxonomyId: "Sales" }, undefined, support)).toEqual({ output: null, error: "Taxonomy 'Sales' not found" });
      // No role: nothing.
      expect(((await run("semantic_search", { text: "business days" }, undefined, userOf(ws.id))) as any).output).toEqual([]);
      // The master key acting for a sales user; a support user cannot pose as sales.
      expect(await titles(await run("search_knowledge", { query: "business days plans dollars" }, { roleId: "sales" }))).toEqual(["Pricing", "Shipping times"]);
      expect(await titles(await run("search_knowledge", { query: "business days plans dollars" }, { roleId: "sales" }, support))).toEqual(["Refund policy", "Shipping times"]);
      expect(((await run("search_knowledge", { query: "business days plans dollars" })) as any).output.total).toBe(3);
    } finally {
      await setRbac(false);
    }
  });

  it("while RBAC is off, roles change nothing (context.roleId included)", async () => {
    const support = userOf(ws.id, "support");
    expect(((await run("get_knowledge_item", { knowledgeId: ids["Pricing"] }, undefined, support)) as any).output.title).toBe("Pricing");
    expect(((await run("search_knowledge", { query: "business days plans dollars" }, { roleId: "sales" })) as any).output.total).toBe(3);
  });
});
