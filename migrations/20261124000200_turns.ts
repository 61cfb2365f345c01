import type { Knex } from "knex";

/**
 * Agent turns: one run of an agent on a session. At most one turn per session is queued or
 * running (a partial unique index, so two processes cannot both start one). The process running
 * a turn holds a lease it renews; a turn whose lease lapsed is failed by any process. Agents get
 * the secret their HTTP endpoint's requests are signed with.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("turns", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable();
    t.text("session_id").notNullable().references("sessions.id").onDelete("CASCADE");
    t.text("agent_id").notNullable();
    t.text("status").notNullable();
    t.text("trigger_message_id").notNullable();
    t.text("message_id").notNullable();
    t.text("error");
    t.bigInteger("created_by");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("started_at", { useTz: true });
    t.timestamp("ended_at", { useTz: true });
    t.timestamp("lease_until", { useTz: true });
    t.index(["session_id", "created_at"]);
  });
  await knex.raw(`create unique index turns_one_active_per_session on turns (session_id) where status in ('queued', 'running')`);
  await knex.raw(`create index turns_active_lease on turns (lease_until) where status in ('queued', 'running')`);
  await knex.schema.alterTable("agents", (t) => {
    t.text("endpoint_secret");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("agents", (t) => {
    t.dropColumn("endpoint_secret");
  });
  await knex.schema.dropTable("turns");
}
