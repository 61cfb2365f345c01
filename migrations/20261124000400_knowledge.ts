import type { Knex } from "knex";

/**
 * Knowledge: what RAG and the tools search. An item (`knowledge`) keeps its text, the roles it
 * is assigned to and its taxonomies (jsonb arrays, used in the SQL that filters it); its chunks
 * (`knowledge_chunks`) carry the full-text index: a tsvector (title weighted A, chunk text B)
 * stored by the statement that inserts them, with the text-search configuration it was made
 * with (KNOWLEDGE_TS_CONFIG), so a change of setting re-indexes what was made with another.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("knowledge", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("title").notNullable();
    t.text("content").notNullable();
    t.jsonb("roles").notNullable().defaultTo(knex.raw("'[]'::jsonb"));
    t.jsonb("taxonomies").notNullable().defaultTo(knex.raw("'[]'::jsonb"));
    t.text("language");
    t.text("source");
    t.integer("chunk_count").notNullable().defaultTo(0);
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["workspace_id", "created_at", "id"]);
  });
  await knex.raw(`create index knowledge_roles on knowledge using gin (roles jsonb_path_ops)`);
  await knex.raw(`create index knowledge_taxonomies on knowledge using gin (taxonomies jsonb_path_ops)`);

  await knex.schema.createTable("knowledge_chunks", (t) => {
    t.text("id").primary();
    t.text("knowledge_id").notNullable().references("knowledge.id").onDelete("CASCADE");
    t.text("workspace_id").notNullable();
    t.integer("position").notNullable();
    t.text("text").notNullable();
    t.text("ts_config").notNullable();
    t.specificType("tsv", "tsvector").notNullable();
    t.unique(["knowledge_id", "position"], { indexName: "knowledge_chunks_position_unique" });
    t.index(["workspace_id"]);
  });
  await knex.raw(`create index knowledge_chunks_tsv on knowledge_chunks using gin (tsv)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("knowledge_chunks");
  await knex.schema.dropTableIfExists("knowledge");
}
