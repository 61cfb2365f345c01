import type { Knex } from "knex";

/**
 * Agent keys may expire (`api_keys.expires_at`, null: never), and a share link remembers the
 * API key that made it (`share_links.created_by_key_id`, null when a user made it): the link
 * dies with that key, revoked or expired (sharing/repository.ts), and with its row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("api_keys", (t) => {
    t.timestamp("expires_at", { useTz: true });
  });
  await knex.schema.alterTable("share_links", (t) => {
    t.text("created_by_key_id").references("api_keys.id").onDelete("CASCADE");
    t.index(["created_by_key_id"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("share_links", (t) => {
    t.dropIndex(["created_by_key_id"]);
    t.dropForeign(["created_by_key_id"]);
    t.dropColumn("created_by_key_id");
  });
  await knex.schema.alterTable("api_keys", (t) => {
    t.dropColumn("expires_at");
  });
}
