import type { Knex } from "knex";

/**
 * Group conversations ("ask the group"): a session belongs to one agent or to one group, never
 * both. A group's conversation runs several turns at once (one per agent asked), so the one
 * active turn is per session and agent; `asks` record each question routed across agents, one
 * running per conversation. Deleting a group deletes its conversations.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table sessions alter column agent_id drop not null`);
  await knex.schema.alterTable("sessions", (t) => {
    t.text("group_id").references("groups.id").onDelete("CASCADE");
  });
  await knex.raw(`alter table sessions add constraint sessions_agent_or_group_check check ((agent_id is null) <> (group_id is null))`);
  await knex.raw(`create index sessions_group_activity_idx on sessions (group_id, activity_at desc, id desc) where group_id is not null`);

  await knex.schema.createTable("asks", (t) => {
    t.text("id").primary();
    t.text("workspace_id").notNullable();
    t.text("group_id").notNullable().references("groups.id").onDelete("CASCADE");
    t.text("session_id").notNullable().references("sessions.id").onDelete("CASCADE");
    t.uuid("message_id").notNullable();
    t.text("strategy").notNullable();
    t.text("status").notNullable();
    /** The agents chosen, in the order they were chosen. */
    t.jsonb("agent_ids").notNullable();
    /** `@mentions` in the question that name no agent of the group. */
    t.jsonb("ignored_mentions").notNullable().defaultTo("[]");
    t.bigInteger("created_by");
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("ended_at", { useTz: true });
    t.unique(["session_id", "message_id"], { indexName: "asks_session_message_unique" });
    t.check("status in ('running', 'completed')", [], "asks_status_check");
    t.index(["session_id", "created_at"]);
  });
  await knex.raw(`create unique index asks_one_running_per_session on asks (session_id) where status = 'running'`);

  await knex.schema.alterTable("turns", (t) => {
    t.text("ask_id").references("asks.id").onDelete("CASCADE");
    t.index(["ask_id"]);
  });
  await knex.raw(`drop index turns_one_active_per_session`);
  await knex.raw(`create unique index turns_one_active_per_session on turns (session_id, agent_id) where status in ('queued', 'running')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index turns_one_active_per_session`);
  await knex.raw(`create unique index turns_one_active_per_session on turns (session_id) where status in ('queued', 'running')`);
  await knex.schema.alterTable("turns", (t) => {
    t.dropColumn("ask_id");
  });
  await knex.schema.dropTable("asks");
  await knex("sessions").whereNotNull("group_id").delete();
  await knex.raw(`alter table sessions drop constraint sessions_agent_or_group_check`);
  await knex.schema.alterTable("sessions", (t) => {
    t.dropColumn("group_id");
  });
  await knex.raw(`alter table sessions alter column agent_id set not null`);
}
