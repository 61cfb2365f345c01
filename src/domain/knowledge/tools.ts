/**
 * The Backplane's first-party tools, as the Sharely SDK (`@sharelyai/tools` definitions.ts)
 * names, describes and types them, each run over the caller's workspace's knowledge and filtered
 * like RAG (policy.ts). Each tool's input is a zod schema; the JSON Schema `GET /tools` shows is
 * generated from it (`z.toJSONSchema`, input side), so what is advertised and what is checked
 * cannot drift. Sharely's bounds that live only in a description ("min: 1, max: 50, default:
 * 10") are applied by clamping, as the JSON Schema does not refuse them.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import { z } from "zod";
import type { Principal } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { parse } from "../../schemas.js";
import { rbac } from "../rbac/repository.js";
import { assertCanExecuteTools, knowledgeScope } from "./policy.js";
import { knowledge, type KnowledgeItem, type KnowledgeScope } from "./repository.js";
import { ToolContext } from "./schema.js";
import { Knowledge, presentKnowledge, presentMatch } from "./service.js";
import type { TxDeps } from "../events.js";
import type { Source } from "../sessions/source.js";
import type { Clock } from "../time.js";

/** The `type` of the sources the tools cite, as the SDK's `Source` (@sharelyai/protocol) names them. */
type SourceType = "knowledge" | "semantic" | "role" | "stats" | "taxonomy";

export type ToolResult = { output: unknown; sources?: Source[] } | { output: null; error: string };

export interface ToolDefinition {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export type ToolContextInput = z.input<typeof ToolContext>;

/** A tool that ran but could not do what was asked (answered `{output: null, error}`). */
class ToolFailure extends Error {}

interface Run {
  actor: Principal;
  scope: KnowledgeScope;
  context: NonNullable<z.output<typeof ToolContext>> | Record<string, never>;
}

interface Tool<S extends z.ZodType> {
  name: string;
  description: string;
  input: S;
  run(input: z.output<S>, r: Run): Promise<{ output: unknown; sources?: Source[] }>;
}

const SNIPPET = 240;
const snippet = (text: string) => (text.length > SNIPPET ? `${text.slice(0, SNIPPET - 1).trimEnd()}…` : text);
const clamp = (n: number | null | undefined, fallback: number, min: number, max: number) =>
  Math.min(max, Math.max(min, Math.trunc(n ?? fallback)));
/** An item's `source`, as a citation's url when it is one. */
const urlOf = (source: string | null) => (source && /^https?:\/\//i.test(source) && URL.canParse(source) ? { url: source } : {});
const knowledgeSource = (item: { id: string; title: string; source: string | null }, type: SourceType, text: string): Source => ({
  id: item.id,
  type,
  title: item.title,
  ...urlOf(item.source),
  snippet: snippet(text),
});
const TAXONOMY_STATUSES = ["PUBLISHED", "DRAFT", "PUBLISHED_UAT", "ALL"];
const TAXONOMY_ITEMS_MAX = 100;
const RECENT_ITEMS = 5;

/** The `knowledge` and `tools` services, wired together. */
export function knowledgeServices(tx: TxDeps, clock: Clock, tsConfig: string, log?: Logger): { knowledge: Knowledge; tools: Tools } {
  const knowledge = new Knowledge(tx, clock, tsConfig, log);
  return { knowledge, tools: new Tools(tx.db, knowledge) };
}

export class Tools {
  private readonly tools: Array<Tool<z.ZodType>>;

  constructor(
    private readonly db: Knex,
    private readonly kb: Knowledge,
  ) {
    this.tools = definitions(db, kb) as Array<Tool<z.ZodType>>;
  }

  /** The seven tools, in the SDK's order: `{items: [{name, description, inputSchema}]}`. */
  list(): { items: ToolDefinition[] } {
    return { items: this.tools.map(describe) };
  }

  /**
   * Runs a tool for the caller. Unknown tool: 404; input that its schema refuses: 422 (fields
   * `input.…`, `context.…`); a tool that fails (an item not found, say): `{output: null, error}`.
   */
  async execute(actor: Principal, name: string, input: unknown, context?: unknown): Promise<ToolResult> {
    assertCanExecuteTools(actor);
    const tool = this.tools.find((t) => t.name === name);
    if (!tool) throw new NotFound(`Tool '${name}'`);
    const args = parse(z.object({ input: tool.input, context: ToolContext }), { input: input === undefined ? {} : input, context });
    const run: Run = { actor, scope: knowledgeScope(actor, args.context?.roleId), context: args.context ?? {} };
    try {
      return await tool.run(args.input, run);
    } catch (err) {
      if (err instanceof ToolFailure) return { output: null, error: err.message };
      throw err;
    }
  }
}

function describe(tool: Tool<z.ZodType>): ToolDefinition {
  const { $schema: _, ...inputSchema } = z.toJSONSchema(tool.input, { io: "input" }) as Record<string, unknown>;
  return { name: tool.name, description: tool.description, inputSchema };
}

const tool = <S extends z.ZodType>(t: Tool<S>) => t;

function definitions(db: Knex, kb: Knowledge) {
  // The tools speak camelCase (Sharely's shapes): the /api view, renamed.
  const itemView = (item: KnowledgeItem) => {
    const { id, title, content, roles, taxonomies, language, source, created_at: createdAt, updated_at: updatedAt } = presentKnowledge(item);
    return { id, title, content, roles, taxonomies, language, source, createdAt, updatedAt };
  };
  const rbacStatus = async (workspaceId: string) => ((await rbac.isActive(db, workspaceId)) ? "ACTIVE" : "INACTIVE");

  return [
    tool({
      name: "search_knowledge",
      description:
        "Search the workspace knowledge base by keyword or text. Searches across document titles, filenames, and content using text matching. Use this when you know specific keywords or phrases. For conceptual or meaning-based search, use semantic_search instead.",
      input: z.object({
        query: z.string().describe("The keyword or text to search for in titles and content"),
        limit: z.number().describe("Maximum number of results to return (min: 1, max: 50, default: 10)").optional(),
      }),
      async run(input, { actor, scope, context }) {
        if (!input.query.trim()) throw new ToolFailure("query must not be empty");
        const hits = await kb.match(actor.workspaceId, scope, {
          text: input.query.slice(0, 4000),
          limit: clamp(input.limit, 10, 1, 50),
          languageId: context.languageId ?? undefined,
          perItem: true,
        });
        const results = hits.map((h) => ({
          knowledgeId: h.knowledgeId,
          title: h.title,
          snippet: snippet(h.text),
          score: h.score,
          language: h.language,
          taxonomies: h.taxonomies,
          source: h.source,
        }));
        return {
          output: { query: input.query, total: results.length, results },
          sources: hits.map((h) => knowledgeSource({ id: h.knowledgeId, title: h.title, source: h.source }, "knowledge", h.text)),
        };
      },
    }),
    tool({
      name: "semantic_search",
      description:
        "Perform a semantic similarity search across the workspace knowledge base. This uses vector embeddings to find content that is conceptually similar to the query, even if the exact words don't match. Use this when keyword search doesn't return good results.",
      input: z.object({
        text: z.string().describe("The natural language text to search for"),
        topK: z.number().describe("Maximum number of results to return (min: 1, max: 10, default: 10)").optional(),
        languageId: z.string().describe("Language ID to filter results by a specific language").optional(),
      }),
      async run(input, { actor, scope, context }) {
        if (!input.text.trim()) throw new ToolFailure("text must not be empty");
        const hits = await kb.match(actor.workspaceId, scope, {
          text: input.text.slice(0, 4000),
          limit: clamp(input.topK ?? context.topK, 10, 1, 10),
          languageId: input.languageId ?? context.languageId ?? undefined,
        });
        const sources = new Map<string, Source>();
        for (const h of hits) if (!sources.has(h.knowledgeId)) sources.set(h.knowledgeId, knowledgeSource({ id: h.knowledgeId, title: h.title, source: h.source }, "semantic", h.text));
        return { output: hits.map(presentMatch), sources: [...sources.values()] };
      },
    }),
    tool({
      name: "get_knowledge_item",
      description:
        "Retrieve the full content of a specific knowledge item by its ID. Use this after searching to get the complete text of a document you need to reference.",
      input: z.object({
        knowledgeId: z.string().describe("The ID of the knowledge item to retrieve"),
      }),
      async run(input, { actor, scope }) {
        const item = input.knowledgeId ? await kb.find(actor.workspaceId, scope, input.knowledgeId) : undefined;
        if (!item) throw new ToolFailure(`Knowledge item '${input.knowledgeId}' not found`);
        return { output: itemView(item), sources: [knowledgeSource(item, "knowledge", item.content)] };
      },
    }),
    tool({
      name: "list_taxonomies",
      description:
        "List all published taxonomies in the workspace. Taxonomies organize knowledge into categories and hierarchies. Use this to discover how knowledge is structured before drilling into specific taxonomy content with get_taxonomy_knowledge.",
      input: z.object({
        status: z
          .string()
          .describe("Filter by status: 'PUBLISHED', 'DRAFT', 'PUBLISHED_UAT', or 'all'. Defaults to 'PUBLISHED'.")
          .optional(),
      }),
      async run(input, { actor, scope }) {
        const status = (input.status ?? "PUBLISHED").toUpperCase();
        if (!TAXONOMY_STATUSES.includes(status)) throw new ToolFailure("status must be one of 'PUBLISHED', 'DRAFT', 'PUBLISHED_UAT' or 'all'");
        // A taxonomy here is a name knowledge items carry, published with them: none is a draft.
        const published = status === "PUBLISHED" || status === "ALL";
        const tally = published ? await knowledge.tally(db, actor.workspaceId, scope, "taxonomies") : [];
        const taxonomies = tally.map((t) => ({ id: t.name, name: t.name, status: "PUBLISHED", knowledgeCount: t.count }));
        return {
          output: { total: taxonomies.length, taxonomies },
          sources: taxonomies.map((t) => ({ id: t.id, type: "taxonomy" as const, title: t.name })),
        };
      },
    }),
    tool({
      name: "get_taxonomy_knowledge",
      description:
        "Get all knowledge items organized under a specific taxonomy. Returns categories and their associated knowledge documents. Use this after list_taxonomies to explore the content within a taxonomy.",
      input: z.object({
        taxonomyId: z.string().describe("The ID of the taxonomy to retrieve knowledge from"),
      }),
      async run(input, { actor, scope }) {
        const items = input.taxonomyId ? await knowledge.withTaxonomy(db, actor.workspaceId, scope, input.taxonomyId, TAXONOMY_ITEMS_MAX) : [];
        if (!items.length) throw new ToolFailure(`Taxonomy '${input.taxonomyId}' not found`);
        const docs = items.map((i) => ({ knowledgeId: i.id, title: i.title, language: i.language, snippet: snippet(i.content) }));
        return {
          output: {
            taxonomy: { id: input.taxonomyId, name: input.taxonomyId, status: "PUBLISHED" },
            categories: [{ id: input.taxonomyId, name: input.taxonomyId, knowledge: docs }],
          },
          sources: items.map((i) => knowledgeSource(i, "taxonomy", i.content)),
        };
      },
    }),
    tool({
      name: "get_workspace_stats",
      description:
        "Get summary statistics about the workspace including total knowledge items, spaces, and the most recent items. Use this to give the user an overview of their workspace.",
      input: z.object({}),
      async run(_input, { actor, scope }) {
        const [stats, taxonomies, recent, status] = await Promise.all([
          knowledge.stats(db, actor.workspaceId, scope),
          knowledge.tally(db, actor.workspaceId, scope, "taxonomies"),
          knowledge.latest(db, actor.workspaceId, scope, RECENT_ITEMS),
          rbacStatus(actor.workspaceId),
        ]);
        return {
          output: {
            workspaceId: actor.workspaceId,
            rbacStatus: status,
            totalKnowledgeItems: stats.items,
            totalChunks: stats.chunks,
            totalTaxonomies: taxonomies.length,
            languages: stats.languages,
            recentItems: recent.map((i) => ({ knowledgeId: i.id, title: i.title, language: i.language, createdAt: i.created_at.toISOString() })),
          },
          sources: [{ id: actor.workspaceId, type: "stats" as const, title: "Workspace statistics" }],
        };
      },
    }),
    tool({
      name: "list_roles",
      description:
        "List all RBAC roles defined in the workspace. Use this to understand the access control structure and what roles are available.",
      input: z.object({}),
      async run(_input, { actor, scope }) {
        const [tally, status] = await Promise.all([knowledge.tally(db, actor.workspaceId, scope, "roles"), rbacStatus(actor.workspaceId)]);
        // A role-bound caller learns of its own role only, not of the others an item is shared with.
        const visible = scope.all || status === "INACTIVE" ? tally : tally.filter((r) => r.name === scope.role);
        const roles = visible.map((r) => ({ id: r.name, name: r.name, knowledgeCount: r.count }));
        return {
          output: { rbacStatus: status, total: roles.length, roles },
          sources: roles.map((r) => ({ id: r.id, type: "role" as const, title: r.name })),
        };
      },
    }),
  ];
}
