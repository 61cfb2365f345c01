import type { Knex } from "knex";

/** Workspaces, users, agents, agent teams and API keys. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("settings", (t) => {
    t.text("key").primary();
    t.text("value").notNullable();
  });

  await knex.schema.createTable("workspaces", (t) => {
    t.text("id").primary();
    t.text("name").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("users", (t) => {
    t.bigIncrements("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("sub").notNullable();
    t.text("email").notNullable();
    t.text("name").notNullable();
    t.text("avatar");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(["workspace_id", "sub"], { indexName: "users_workspace_sub_unique" });
  });
  await knex.raw("CREATE INDEX users_workspace_email_idx ON users (workspace_id, lower(email))");

  await knex.schema.createTable("agents", (t) => {
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("id").notNullable();
    t.text("name").notNullable();
    t.text("description");
    t.text("server_url");
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["workspace_id", "id"], { constraintName: "agents_pkey" });
  });

  await knex.schema.createTable("agent_members", (t) => {
    t.text("workspace_id").notNullable();
    t.text("agent_id").notNullable();
    t.bigInteger("user_id").notNullable().references("users.id").onDelete("CASCADE");
    t.text("access_level").notNullable();
    t.timestamp("assigned_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["workspace_id", "agent_id", "user_id"]);
    t.foreign(["workspace_id", "agent_id"]).references(["workspace_id", "id"]).inTable("agents").onDelete("CASCADE");
    t.check("access_level in ('viewer', 'editor')", [], "agent_members_access_level_check");
    t.index(["user_id"]);
  });

  await knex.schema.createTable("api_keys", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("agent_id");
    t.text("kind").notNullable();
    t.text("name");
    t.text("prefix").notNullable();
    t.text("hash").notNullable().unique({ indexName: "api_keys_hash_unique" });
    t.jsonb("scopes").notNullable().defaultTo("[]");
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("revoked_at", { useTz: true });
    t.foreign(["workspace_id", "agent_id"]).references(["workspace_id", "id"]).inTable("agents").onDelete("CASCADE");
    t.check("kind in ('master', 'agent')", [], "api_keys_kind_check");
    t.index(["workspace_id", "agent_id"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ["api_keys", "agent_members", "agents", "users", "workspaces", "settings"]) {
    await knex.schema.dropTableIfExists(table);
  }
}
