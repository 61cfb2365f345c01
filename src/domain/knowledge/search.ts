/**
 * Full-text search over knowledge: items cut into chunks, each chunk's tsvector (title weighted
 * A, its text B) made with the text-search configuration KNOWLEDGE_TS_CONFIG names, and the
 * ranked query RAG and the tools run. Plain Postgres full-text search, the same on a server and
 * on the embedded PGlite; workspace scope and role filter are part of the one query.
 */
import type { Knex } from "knex";
import { AppError } from "../../errors.js";
import { visibleSql, type KnowledgeScope } from "./repository.js";

// ---- chunking ---------------------------------------------------------------------------------

/** About this many characters per chunk, cut at a paragraph, else a sentence, else a word. */
export const CHUNK_SIZE = 1000;
/** Each chunk after the first starts about this many characters before the previous one ended. */
export const CHUNK_OVERLAP = 150;

/**
 * Cuts text into chunks of at most `size` characters, preferring (in the back half of the
 * window) a paragraph break, then a sentence end, then a space; a chunk begins at a word,
 * `overlap` characters or so before the previous one ended. Never splits a surrogate pair.
 */
export function chunkText(text: string, size = CHUNK_SIZE, overlap = CHUNK_OVERLAP): string[] {
  const chunks: string[] = [];
  const len = text.length;
  let start = skipSpace(text, 0);
  while (start < len) {
    let end = len;
    if (len - start > size) {
      const limit = start + size;
      const floor = start + Math.floor(size / 2);
      end = lastBoundary(text, floor, limit) ?? safeCut(text, limit);
    }
    const chunk = text.slice(start, end).trim();
    if (chunk) chunks.push(chunk);
    if (end >= len) break;
    // The next chunk starts at a word at most `overlap` characters back, and always moves on.
    let next = end;
    for (let i = Math.max(start + 1, end - overlap); i < end; i++) {
      if (/\s/.test(text[i - 1]!) && !/\s/.test(text[i]!)) {
        next = i;
        break;
      }
    }
    start = skipSpace(text, next);
  }
  return chunks;
}

/** The end (exclusive) of the best cut in [floor, limit]: a paragraph break, a sentence end, a space. */
function lastBoundary(text: string, floor: number, limit: number): number | undefined {
  const window = text.slice(floor, limit + 1);
  const find = (re: RegExp): number | undefined => {
    let found: number | undefined;
    for (const m of window.matchAll(re)) found = floor + m.index + m[0].length;
    return found === undefined ? undefined : Math.min(found, limit);
  };
  return find(/\n\s*\n/g) ?? find(/[.!?。！？]["')\]]*\s/g) ?? find(/\s/g);
}

/** `at`, or one less when that would split a surrogate pair. */
function safeCut(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

// ---- the text-search configuration ----------------------------------------------------------

/** KNOWLEDGE_TS_CONFIG names no text-search configuration of this database. */
export class UnknownTsConfig extends AppError {
  constructor(name: string) {
    super(500, "internal", "Internal Server Error", `KNOWLEDGE_TS_CONFIG is '${name}', which is not a text-search configuration of this database; knowledge search is unavailable until it names one (see pg_ts_config)`);
  }
}

/** Checks that the database knows the configuration (a clear error, not a SQL one, when it does not). */
export async function assertTsConfig(db: Knex, name: string): Promise<void> {
  try {
    await db.raw("select ?::regconfig", [name]);
  } catch (err) {
    if ((err as { code?: string }).code === "42704" || /text search configuration .* does not exist/i.test(String((err as Error).message))) {
      throw new UnknownTsConfig(name);
    }
    throw err;
  }
}

/** The tsvector of a chunk: its item's title (weight A) and its own text (B). */
const TSV = `setweight(to_tsvector(?::regconfig, ?), 'A') || setweight(to_tsvector(?::regconfig, c.text), 'B')`;

/** Inserts an item's chunks in one statement, indexed with `tsConfig`. */
export async function insertChunks(
  db: Knex,
  item: { id: string; workspaceId: string; title: string },
  chunks: Array<{ id: string; position: number; text: string }>,
  tsConfig: string,
): Promise<void> {
  if (!chunks.length) return;
  await db.raw(
    `insert into knowledge_chunks (id, knowledge_id, workspace_id, position, text, ts_config, tsv)
     select c.id, ?, ?, c.position, c.text, ?, ${TSV}
     from jsonb_to_recordset(?::jsonb) as c(id text, position int, text text)`,
    [item.id, item.workspaceId, tsConfig, tsConfig, item.title, tsConfig, JSON.stringify(chunks)],
  );
}

/** Re-indexes chunks made with another configuration (KNOWLEDGE_TS_CONFIG changed); how many. */
export async function reindexOtherConfigs(db: Knex, tsConfig: string): Promise<number> {
  const result = await db.raw(
    `update knowledge_chunks c
     set ts_config = ?, tsv = setweight(to_tsvector(?::regconfig, k.title), 'A') || setweight(to_tsvector(?::regconfig, c.text), 'B')
     from knowledge k where k.id = c.knowledge_id and c.ts_config <> ?`,
    [tsConfig, tsConfig, tsConfig, tsConfig],
  );
  return Number(result.rowCount ?? result.affectedRows ?? 0);
}

// ---- the query --------------------------------------------------------------------------------

/**
 * `and`: websearch syntax (every word, "phrases", -not, or). `or`: any of the text's lexemes,
 * built from its own tsvector, so nothing the caller typed is read as query syntax.
 */
export type MatchMode = "and" | "or";

const TSQUERY: Record<MatchMode, string> = {
  and: `websearch_to_tsquery(?::regconfig, ?)`,
  or: `(select string_agg('''' || replace(replace(t.lexeme, '\\', '\\\\'), '''', '''''') || '''', ' | ')::tsquery
         from unnest(to_tsvector(?::regconfig, ?)) as t)`,
};

export interface ChunkHit {
  chunkId: string;
  text: string;
  knowledgeId: string;
  title: string;
  workspaceId: string;
  language: string | null;
  source: string | null;
  taxonomies: string[];
  /** ts_rank_cd normalised into [0, 1) (rank / (rank + 1)). */
  score: number;
}

export interface MatchQuery {
  workspaceId: string;
  scope: KnowledgeScope;
  tsConfig: string;
  text: string;
  limit: number;
  languageId?: string | undefined;
  /** One hit per item (its best chunk) instead of every matching chunk. */
  perItem?: boolean;
}

/** The best chunks (or items) for the text, best first, in the caller's workspace and role. */
export async function matchChunks(db: Knex, q: MatchQuery, mode: MatchMode): Promise<ChunkHit[]> {
  const visible = visibleSql(q.scope);
  const language: { sql: string; bindings: string[] } = q.languageId === undefined ? { sql: "", bindings: [] } : { sql: " and k.language = ?", bindings: [q.languageId] };
  const inner = `
    select ${q.perItem ? "distinct on (k.id)" : ""} c.id as chunk_id, c.text, k.id as knowledge_id, k.title, k.workspace_id,
           k.language, k.source, k.taxonomies, ts_rank_cd(c.tsv, query.q, 32) as score
    from knowledge_chunks c
    join knowledge k on k.id = c.knowledge_id
    cross join (select ${TSQUERY[mode]} as q) as query
    where c.workspace_id = ? and k.workspace_id = ? and c.tsv @@ query.q${visible.sql}${language.sql}
    ${q.perItem ? "order by k.id, score desc, c.position" : ""}`;
  const { rows } = await db.raw(`select * from (${inner}) as hits order by score desc, knowledge_id, chunk_id limit ?`, [
    q.tsConfig,
    q.text,
    q.workspaceId,
    q.workspaceId,
    ...visible.bindings,
    ...language.bindings,
    q.limit,
  ]);
  return (rows as Array<Record<string, any>>).map((r) => ({
    chunkId: r.chunk_id,
    text: r.text,
    knowledgeId: r.knowledge_id,
    title: r.title,
    workspaceId: r.workspace_id,
    language: r.language ?? null,
    source: r.source ?? null,
    taxonomies: typeof r.taxonomies === "string" ? JSON.parse(r.taxonomies) : (r.taxonomies ?? []),
    score: Number(r.score),
  }));
}

/**
 * Ranks short documents (each a title, weight A, and a text, B) against a question: any of the
 * question's words may match, ranked as knowledge search ranks chunks. Only matching documents
 * are answered, best first. Group asks route by it (`match`).
 */
export async function rankDocuments(db: Knex, tsConfig: string, question: string, docs: Array<{ id: string; title: string; text: string }>): Promise<Array<{ id: string; score: number }>> {
  if (!docs.length) return [];
  const doc = `setweight(to_tsvector(?::regconfig, d.title), 'A') || setweight(to_tsvector(?::regconfig, d.text), 'B')`;
  const { rows } = await db.raw(
    `select d.id, ts_rank_cd(${doc}, query.q, 32) as score
     from jsonb_to_recordset(?::jsonb) as d(id text, title text, text text)
     cross join (select ${TSQUERY.or} as q) as query
     where query.q is not null and ${doc} @@ query.q
     order by score desc, d.id`,
    [tsConfig, tsConfig, JSON.stringify(docs), tsConfig, question, tsConfig, tsConfig],
  );
  return (rows as Array<{ id: string; score: string | number }>).map((r) => ({ id: r.id, score: Number(r.score) }));
}

/** Every word must match; when none does, any word may. */
export async function searchChunks(db: Knex, q: MatchQuery): Promise<ChunkHit[]> {
  const all = await matchChunks(db, q, "and");
  return all.length ? all : matchChunks(db, q, "or");
}
