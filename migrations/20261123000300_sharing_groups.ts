import type { Knex } from "knex";

/** Share links of sessions, and multi-agent groups with the sessions shared in them. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("share_links", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    // Deleting the session kills its links.
    t.text("session_id").notNullable().references("sessions.id").onDelete("CASCADE");
    /** sha256 of the token; the token itself is never stored. */
    t.text("token_hash").notNullable().unique({ indexName: "share_links_token_hash_unique" });
    /** The view is a snapshot: messages with seq <= this, the session's count at share time. */
    t.integer("max_seq").notNullable();
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("expires_at", { useTz: true }).notNullable();
    t.timestamp("revoked_at", { useTz: true });
    t.index(["session_id"]);
  });

  await knex.schema.createTable("groups", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("name").notNullable();
    /** Lower-cased emails. */
    t.jsonb("allowed_users").notNullable().defaultTo("[]");
    /** IdP group names, compared exactly with the token's `groups` claim. */
    t.jsonb("allowed_groups").notNullable().defaultTo("[]");
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable();
    t.index(["workspace_id"]);
  });

  await knex.schema.createTable("group_agents", (t) => {
    t.text("group_id").notNullable().references("groups.id").onDelete("CASCADE");
    t.text("workspace_id").notNullable();
    t.text("agent_id").notNullable();
    t.integer("position").notNullable();
    t.primary(["group_id", "agent_id"], { constraintName: "group_agents_pkey" });
    t.foreign(["workspace_id", "agent_id"]).references(["workspace_id", "id"]).inTable("agents").onDelete("CASCADE");
    t.index(["workspace_id", "agent_id"]);
  });

  await knex.schema.createTable("group_sessions", (t) => {
    t.text("group_id").notNullable().references("groups.id").onDelete("CASCADE");
    t.text("session_id").notNullable().references("sessions.id").onDelete("CASCADE");
    t.bigInteger("added_by").references("users.id").onDelete("SET NULL");
    t.timestamp("added_at", { useTz: true }).notNullable();
    t.primary(["group_id", "session_id"], { constraintName: "group_sessions_pkey" });
    t.index(["session_id"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ["group_sessions", "group_agents", "groups", "share_links"]) {
    await knex.schema.dropTableIfExists(table);
  }
}
