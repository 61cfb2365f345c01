/**
 * Knowledge: items people and agents write for RAG and the tools (create, list, get, remove),
 * chunked and indexed for full-text search, and the RAG query itself. Who may, and what each
 * caller sees: policy.ts.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import { userIdOf, type Principal } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { newId } from "../../ids.js";
import type { z } from "zod";
import { parse } from "../../schemas.js";
import { transact, type TxDeps } from "../events.js";
import { PAGE_MAX_BYTES, takePage } from "../pagination.js";
import type { Clock } from "../time.js";
import { assertCanReadKnowledge, assertCanWriteKnowledge, knowledgeScope } from "./policy.js";
import { knowledge, type KnowledgeItem, type KnowledgeScope } from "./repository.js";
import { CreateKnowledge, RagQuery } from "./schema.js";
import { assertTsConfig, chunkText, insertChunks, reindexOtherConfigs, searchChunks, type ChunkHit } from "./search.js";

/** A knowledge item as /api answers it: the stored item, times as ISO strings. */
export type KnowledgeView = Omit<KnowledgeItem, "created_at" | "updated_at"> & { created_at: string; updated_at: string };

/** A knowledge item as its schema parses it (./schema.ts, shared with the routes). */
export type CreateKnowledgeInput = z.output<typeof CreateKnowledge>;

/** RAG's query as its schema parses it: `text`, `topK?` (1–10; 5 when absent), `languageId?`. */
export type RagInput = z.output<typeof RagQuery>;

/** One RAG match (a chunk), as the Sharely Agent API answers it. */
export interface RagMatch {
  id: string;
  /** 0–1, higher is better. */
  score: number;
  metadata: {
    text: string;
    /** `page:<title>:<knowledgeId>` */
    source: string;
    knowledgeId: string;
    title: string;
    workspaceId: string;
    language: string | null;
  };
  values: [];
}

export const RAG_DEFAULT_TOP_K = 5;

export function presentKnowledge(item: KnowledgeItem): KnowledgeView {
  return {
    id: item.id,
    workspace_id: item.workspace_id,
    title: item.title,
    content: item.content,
    roles: item.roles,
    taxonomies: item.taxonomies,
    language: item.language,
    source: item.source,
    chunk_count: item.chunk_count,
    created_by: item.created_by,
    created_at: item.created_at.toISOString(),
    updated_at: item.updated_at.toISOString(),
  };
}

export function presentMatch(hit: ChunkHit): RagMatch {
  return {
    id: hit.chunkId,
    score: hit.score,
    metadata: {
      text: hit.text,
      source: `page:${hit.title}:${hit.knowledgeId}`,
      knowledgeId: hit.knowledgeId,
      title: hit.title,
      workspaceId: hit.workspaceId,
      language: hit.language,
    },
    values: [],
  };
}

/** Chunks inserted between two refreshes of the knowledge tables' statistics. */
const ANALYZE_EVERY = 500;

export class Knowledge {
  private indexReady: Promise<string> | undefined;
  private insertedSinceAnalyze = 0;

  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
    private readonly tsConfig: string,
    private readonly log?: Logger,
  ) {}

  /**
   * The text-search configuration, once the database is known to have it and chunks indexed
   * with another one (the setting changed) are re-indexed. Checked once per process; a failure
   * (an unknown configuration: a clear 500 naming KNOWLEDGE_TS_CONFIG) is tried again next time.
   * Awaiting it at start makes an unknown configuration a startup error.
   */
  ready(): Promise<string> {
    this.indexReady ??= (async () => {
      await assertTsConfig(this.deps.db, this.tsConfig);
      const reindexed = await reindexOtherConfigs(this.deps.db, this.tsConfig);
      if (reindexed) this.log?.info({ chunks: reindexed, tsConfig: this.tsConfig }, "knowledge re-indexed for KNOWLEDGE_TS_CONFIG");
      return this.tsConfig;
    })().catch((err) => {
      this.indexReady = undefined;
      this.log?.error({ err }, "knowledge search is not ready");
      throw err;
    });
    return this.indexReady;
  }

  async create(actor: Principal, input: CreateKnowledgeInput): Promise<KnowledgeView> {
    assertCanWriteKnowledge(actor);
    const body = parse(CreateKnowledge, input);
    const tsConfig = await this.ready();
    const id = newId("kn");
    const chunks = chunkText(body.content).map((text, position) => ({ id: newId("kc"), position, text }));
    const item = await transact(this.deps, async (trx) => {
      const row = await knowledge.insert(trx, {
        id,
        workspace_id: actor.workspaceId,
        title: body.title,
        content: body.content,
        roles: body.roles ?? [],
        taxonomies: body.taxonomies ?? [],
        language: body.language ?? null,
        source: body.source || null,
        chunk_count: chunks.length,
        created_by: userIdOf(actor),
        now: this.clock.now(),
      });
      await insertChunks(trx, { id, workspaceId: actor.workspaceId, title: body.title }, chunks, tsConfig);
      return row;
    });
    this.refreshStatistics(chunks.length);
    return presentKnowledge(item);
  }

  /**
   * The planner needs table statistics to use the full-text index: without them (a young table,
   * or PGlite, which has no autovacuum) it reads chunks item by item, several times slower. So
   * the knowledge tables are analysed after every ANALYZE_EVERY chunks this process inserts.
   */
  private refreshStatistics(inserted: number): void {
    this.insertedSinceAnalyze += inserted;
    if (this.insertedSinceAnalyze < ANALYZE_EVERY) return;
    this.insertedSinceAnalyze = 0;
    void knowledge.analyze(this.deps.db).catch((err) => this.log?.warn({ err }, "could not analyse the knowledge tables"));
  }

  /** What the caller may see, newest first, a page at a time (bounded in bytes too). */
  async list(actor: Principal, page: { limit: number; cursor?: string | undefined }): Promise<{ items: KnowledgeView[]; next_cursor: string | null }> {
    assertCanReadKnowledge(actor);
    const rows = await knowledge.page(this.deps.db, actor.workspaceId, knowledgeScope(actor), page);
    const { items, next } = takePage(rows.map(presentKnowledge), page.limit, knowledge.cursorAfter, PAGE_MAX_BYTES);
    return { items, next_cursor: next };
  }

  async get(actor: Principal, id: string): Promise<KnowledgeView> {
    assertCanReadKnowledge(actor);
    return presentKnowledge(await this.load(this.deps.db, actor.workspaceId, knowledgeScope(actor), id));
  }

  async remove(actor: Principal, id: string): Promise<void> {
    assertCanWriteKnowledge(actor);
    await transact(this.deps, async (trx) => {
      await this.load(trx, actor.workspaceId, knowledgeScope(actor), id, { forUpdate: true });
      await knowledge.delete(trx, id);
    });
  }

  /**
   * RAG: the chunks best matching `text`, best first, at most `topK` (1–10, default 5), of the
   * items the caller sees (in `languageId` when given). Every word must match; when no chunk has
   * them all, chunks with any of them are ranked instead.
   */
  async search(actor: Principal, input: RagInput): Promise<RagMatch[]> {
    assertCanReadKnowledge(actor);
    const q = parse(RagQuery, input);
    const hits = await this.match(actor.workspaceId, knowledgeScope(actor), {
      text: q.text,
      limit: q.topK ?? RAG_DEFAULT_TOP_K,
      languageId: q.languageId ?? undefined,
    });
    return hits.map(presentMatch);
  }

  /** The ranked search behind RAG and the search tools; `scope` as policy.ts decided it. */
  async match(workspaceId: string, scope: KnowledgeScope, q: { text: string; limit: number; languageId?: string | undefined; perItem?: boolean }): Promise<ChunkHit[]> {
    const tsConfig = await this.ready();
    return searchChunks(this.deps.db, { workspaceId, scope, tsConfig, ...q });
  }

  /** An item the scope shows, for the tools; undefined when there is none. */
  find(workspaceId: string, scope: KnowledgeScope, id: string): Promise<KnowledgeItem | undefined> {
    return knowledge.find(this.deps.db, workspaceId, scope, id);
  }

  private async load(db: Knex, workspaceId: string, scope: KnowledgeScope, id: string, options: { forUpdate?: boolean } = {}): Promise<KnowledgeItem> {
    const item = await knowledge.find(db, workspaceId, scope, id, options);
    if (!item) throw new NotFound("Knowledge item");
    return item;
  }
}
