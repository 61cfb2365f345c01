import type { Knex } from "knex";

/** Team channels: named pub/sub between agents, with per-channel gap-free seqs. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("team_channels", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable().references("workspaces.id").onDelete("CASCADE");
    t.text("name").notNullable();
    t.text("description");
    t.bigInteger("created_by").references("users.id").onDelete("SET NULL");
    // The last seq handed out; the next message gets message_count + 1 under the row lock.
    t.integer("message_count").notNullable().defaultTo(0);
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(["workspace_id", "name"], { indexName: "team_channels_workspace_name_unique" });
  });

  await knex.schema.createTable("team_channel_subscriptions", (t) => {
    t.text("channel_id").notNullable().references("team_channels.id").onDelete("CASCADE");
    t.text("workspace_id").notNullable();
    t.text("agent_id").notNullable();
    t.timestamp("subscribed_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["channel_id", "agent_id"]);
    t.foreign(["workspace_id", "agent_id"]).references(["workspace_id", "id"]).inTable("agents").onDelete("CASCADE");
    t.index(["workspace_id", "agent_id"]);
  });

  await knex.schema.createTable("team_channel_messages", (t) => {
    t.text("channel_id").notNullable().references("team_channels.id").onDelete("CASCADE");
    t.integer("seq").notNullable();
    t.uuid("id").notNullable();
    t.text("agent_id").notNullable();
    t.text("message").notNullable();
    t.jsonb("metadata");
    t.text("body_hash").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["channel_id", "seq"]);
    t.unique(["channel_id", "id"], { indexName: "team_channel_messages_id_unique" });
    t.index(["channel_id", "created_at"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ["team_channel_messages", "team_channel_subscriptions", "team_channels"]) {
    await knex.schema.dropTableIfExists(table);
  }
}
