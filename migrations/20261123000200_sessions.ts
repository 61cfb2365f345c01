import type { Knex } from "knex";

/**
 * Sessions (conversations with one agent) and their messages (whole agent turns).
 * Every time column is written by the service from its clock, in milliseconds, so the
 * activity cursor round-trips exactly.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("sessions", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable();
    t.text("agent_id").notNullable();
    t.bigInteger("owner_id").references("users.id").onDelete("CASCADE");
    t.text("title").notNullable();
    t.boolean("archived").notNullable().defaultTo(false);
    t.integer("message_count").notNullable().defaultTo(0);
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable();
    t.timestamp("last_message_at", { useTz: true });
    // The list order: newest activity first. Kept by Postgres, indexed below.
    t.specificType("activity_at", "timestamptz generated always as (coalesce(last_message_at, created_at)) stored");
    t.foreign(["workspace_id", "agent_id"]).references(["workspace_id", "id"]).inTable("agents").onDelete("CASCADE");
    t.check("message_count >= 0", [], "sessions_message_count_check");
  });
  await knex.raw(
    "CREATE INDEX sessions_agent_activity_idx ON sessions (workspace_id, agent_id, archived, activity_at DESC, id DESC)",
  );
  await knex.raw(
    "CREATE INDEX sessions_owner_activity_idx ON sessions (workspace_id, agent_id, owner_id, archived, activity_at DESC, id DESC)",
  );

  await knex.schema.createTable("session_messages", (t) => {
    t.text("session_id").notNullable().references("sessions.id").onDelete("CASCADE");
    t.integer("seq").notNullable();
    t.uuid("id").notNullable();
    t.text("role").notNullable();
    // json (not jsonb) keeps the turn exactly as sent, key order included.
    t.json("turn").notNullable();
    /** sha256 of the canonical JSON of the validated body, for idempotent retries. */
    t.text("body_hash").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.primary(["session_id", "seq"], { constraintName: "session_messages_pkey" });
    t.unique(["session_id", "id"], { indexName: "session_messages_session_id_id_unique" });
    t.check("role in ('user', 'assistant', 'system', 'tool')", [], "session_messages_role_check");
    t.check("seq >= 1", [], "session_messages_seq_check");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("session_messages");
  await knex.schema.dropTableIfExists("sessions");
}
