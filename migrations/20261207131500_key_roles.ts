import type { Knex } from "knex";

/**
 * Keys never carry more than whoever made them (CONTRACT.md, Credentials). An agent key now
 * keeps the role it acts with under RBAC: `role_bound` says RBAC filters it at all (a key a
 * master key or an admin made with no role is not: it sees everything, like them), and `role`
 * is the role it sees (null while bound: what a caller without a role sees).
 *
 * Keys made before this could exceed their creators, and whether a creating user was an admin
 * was never recorded, so every existing agent key made by a user (`created_by` set) is narrowed,
 * failing closed: it loses `knowledge:write` and is bound to no role. Keys made by a master key
 * (`created_by` null) keep what they had. `down` drops the columns; the scopes taken stay taken.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("api_keys", (t) => {
    t.text("role");
    t.boolean("role_bound").notNullable().defaultTo(false);
  });
  await knex("api_keys")
    .where({ kind: "agent" })
    .whereNotNull("created_by")
    .update({ role_bound: true, role: null, scopes: knex.raw("scopes - 'knowledge:write'") });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("api_keys", (t) => {
    t.dropColumn("role_bound");
    t.dropColumn("role");
  });
}
