import type { Knex } from "knex";

/**
 * The Agent Backplane sees an agent as an "agent server": it keeps the server's status (an
 * INACTIVE server gets no turns through /v1) and the metadata it was registered with.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("agents", (t) => {
    t.text("server_status").notNullable().defaultTo("ACTIVE");
    t.jsonb("server_metadata");
  });
  await knex.raw(`alter table agents add constraint agents_server_status_check check (server_status in ('ACTIVE', 'INACTIVE'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("agents", (t) => {
    t.dropChecks(["agents_server_status_check"]);
    t.dropColumn("server_metadata");
    t.dropColumn("server_status");
  });
}
