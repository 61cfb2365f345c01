import type { Knex } from "knex";

/**
 * Every kind of agent (CONTRACT.md, "Every kind of agent: endpoint protocols"). `endpoint` holds
 * an agent's protocol and its settings (`{protocol: "a2a", url}`, `{protocol: "model", url,
 * model, …}`), without secrets; `endpoint_api_key` a model agent's API key, sealed
 * (auth/secrets.ts). A Sharely agent server keeps its URL in `server_url`, as before, and an agent
 * with neither is served over a socket. `mcp_servers` are the MCP servers a workspace's model
 * agents may use, with their headers sealed the same way.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("agents", (t) => {
    t.jsonb("endpoint");
    t.text("endpoint_api_key");
  });
  await knex.schema.createTable("mcp_servers", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("name").notNullable();
    t.text("url").notNullable();
    /** Sealed JSON object of header name to value; null: none. */
    t.text("headers");
    t.jsonb("allowed_users").notNullable().defaultTo("[]");
    t.jsonb("allowed_groups").notNullable().defaultTo("[]");
    t.boolean("requires_approval").notNullable().defaultTo(false);
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(["workspace_id", "name"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("mcp_servers");
  await knex.schema.alterTable("agents", (t) => {
    t.dropColumn("endpoint_api_key");
    t.dropColumn("endpoint");
  });
}
