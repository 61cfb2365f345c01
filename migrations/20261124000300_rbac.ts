import type { Knex } from "knex";

/**
 * Role-based access: a workspace switches it on (`rbac_enabled`); while it is on, a session
 * (a Backplane thread) is bound to the role of the token that created it (`sessions.role_id`),
 * and the Backplane's thread fields that have no /api counterpart are kept with the session.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("workspaces", (t) => {
    t.boolean("rbac_enabled").notNullable().defaultTo(false);
  });
  await knex.schema.alterTable("sessions", (t) => {
    t.text("role_id");
    t.text("space_id");
    t.text("temporal_user_id");
    t.text("external_user_id");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("sessions", (t) => {
    t.dropColumn("external_user_id");
    t.dropColumn("temporal_user_id");
    t.dropColumn("space_id");
    t.dropColumn("role_id");
  });
  await knex.schema.alterTable("workspaces", (t) => {
    t.dropColumn("rbac_enabled");
  });
}
