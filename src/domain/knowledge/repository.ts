/** SQL for knowledge items (`knowledge`) and the role filter every knowledge query applies. */
import type { Knex } from "knex";
import { decodeActivityCursor, encodeActivityCursor, type Page } from "../pagination.js";
import { int, intOrNull, json } from "../rows.js";

/**
 * What a caller sees of the workspace's knowledge while its RBAC is on (policy.ts decides it):
 * everything, or the items assigned to one role (none when the caller has no role). While RBAC
 * is off every query shows everything, whatever the scope: the switch is read in the query.
 */
export type KnowledgeScope = { all: true } | { all: false; role: string | null };

/** ` and (…)` limiting `k` (a `knowledge` row) to the scope; empty when the scope is everything. */
export function visibleSql(scope: KnowledgeScope): { sql: string; bindings: string[] } {
  if (scope.all) return { sql: "", bindings: [] };
  const rbacOff = "not exists (select 1 from workspaces w where w.id = k.workspace_id and w.rbac_enabled)";
  if (scope.role === null) return { sql: ` and ${rbacOff}`, bindings: [] };
  return { sql: ` and (${rbacOff} or k.roles @> ?::jsonb)`, bindings: [JSON.stringify([scope.role])] };
}

export interface KnowledgeItem {
  id: string;
  workspace_id: string;
  title: string;
  content: string;
  roles: string[];
  taxonomies: string[];
  language: string | null;
  source: string | null;
  chunk_count: number;
  created_by: number | null;
  created_at: Date;
  updated_at: Date;
}

const toItem = (row: Record<string, any>): KnowledgeItem => ({
  id: row.id,
  workspace_id: row.workspace_id,
  title: row.title,
  content: row.content,
  roles: json<string[]>(row.roles, []),
  taxonomies: json<string[]>(row.taxonomies, []),
  language: row.language ?? null,
  source: row.source ?? null,
  chunk_count: int(row.chunk_count),
  created_by: intOrNull(row.created_by),
  created_at: new Date(row.created_at),
  updated_at: new Date(row.updated_at),
});

/** Items of the workspace the scope shows, as a query on `knowledge as k`. */
function visible(db: Knex, workspaceId: string, scope: KnowledgeScope): Knex.QueryBuilder {
  const q = db("knowledge as k").where("k.workspace_id", workspaceId);
  const { sql, bindings } = visibleSql(scope);
  if (sql) q.whereRaw(sql.replace(/^ and /, ""), bindings);
  return q;
}

export const knowledge = {
  /** Refreshes the planner's statistics of the knowledge tables. */
  async analyze(db: Knex): Promise<void> {
    await db.raw("analyze knowledge, knowledge_chunks");
  },

  async find(db: Knex, workspaceId: string, scope: KnowledgeScope, id: string, options: { forUpdate?: boolean } = {}): Promise<KnowledgeItem | undefined> {
    const q = visible(db, workspaceId, scope).andWhere("k.id", id).select("k.*");
    if (options.forUpdate) q.forUpdate();
    const row = await q.first();
    return row ? toItem(row) : undefined;
  },

  /** Newest first; `cursor` is the (created_at, id) of the last item served. Fetches `limit + 1`. */
  async page(db: Knex, workspaceId: string, scope: KnowledgeScope, page: { limit: number; cursor?: string | undefined }): Promise<KnowledgeItem[]> {
    const q = visible(db, workspaceId, scope).select("k.*");
    if (page.cursor) {
      const after = decodeActivityCursor(page.cursor);
      q.whereRaw("(k.created_at, k.id) < (?, ?)", [after.activityAt, after.id]);
    }
    return (await q.orderBy("k.created_at", "desc").orderBy("k.id", "desc").limit(page.limit + 1)).map(toItem);
  },

  cursorAfter: (item: { created_at: string; id: string }): string => encodeActivityCursor({ activityAt: new Date(item.created_at), id: item.id }),

  /** The latest `limit` items the scope shows. */
  async latest(db: Knex, workspaceId: string, scope: KnowledgeScope, limit: number): Promise<KnowledgeItem[]> {
    const rows = await visible(db, workspaceId, scope).select("k.*").orderBy("k.created_at", "desc").orderBy("k.id", "desc").limit(limit);
    return rows.map(toItem);
  },

  /** Items carrying the taxonomy, newest first, at most `limit`. */
  async withTaxonomy(db: Knex, workspaceId: string, scope: KnowledgeScope, taxonomy: string, limit: number): Promise<KnowledgeItem[]> {
    const rows = await visible(db, workspaceId, scope)
      .whereRaw("k.taxonomies @> ?::jsonb", [JSON.stringify([taxonomy])])
      .select("k.*")
      .orderBy("k.created_at", "desc")
      .orderBy("k.id", "desc")
      .limit(limit);
    return rows.map(toItem);
  },

  /** Each taxonomy (or role) of the items the scope shows, with how many items carry it, by name. */
  async tally(db: Knex, workspaceId: string, scope: KnowledgeScope, column: "taxonomies" | "roles"): Promise<Array<{ name: string; count: number }>> {
    const rows = await visible(db, workspaceId, scope)
      .joinRaw(`cross join jsonb_array_elements_text(k.${column}) as e(name)`)
      .groupBy("e.name")
      .orderBy("e.name")
      .select("e.name", db.raw("count(*) as count"));
    return rows.map((r: Record<string, any>) => ({ name: r.name, count: int(r.count) }));
  },

  /** Counts of the items the scope shows: items, chunks, and items per language. */
  async stats(db: Knex, workspaceId: string, scope: KnowledgeScope): Promise<{ items: number; chunks: number; languages: Array<{ language: string | null; count: number }> }> {
    const rows = await visible(db, workspaceId, scope)
      .groupBy("k.language")
      .orderBy("k.language")
      .select("k.language", db.raw("count(*) as items"), db.raw("coalesce(sum(k.chunk_count), 0) as chunks"));
    return {
      items: rows.reduce((n: number, r: Record<string, any>) => n + int(r.items), 0),
      chunks: rows.reduce((n: number, r: Record<string, any>) => n + int(r.chunks), 0),
      languages: rows.map((r: Record<string, any>) => ({ language: r.language ?? null, count: int(r.items) })),
    };
  },

  async insert(
    db: Knex,
    item: Omit<KnowledgeItem, "created_at" | "updated_at"> & { now: Date },
  ): Promise<KnowledgeItem> {
    const { now, roles, taxonomies, ...columns } = item;
    const [row] = await db("knowledge")
      .insert({ ...columns, roles: JSON.stringify(roles), taxonomies: JSON.stringify(taxonomies), created_at: now, updated_at: now })
      .returning("*");
    return toItem(row);
  },

  async delete(db: Knex, id: string): Promise<void> {
    await db("knowledge").where({ id }).delete();
  },
};
