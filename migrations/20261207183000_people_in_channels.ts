import type { Knex } from "knex";

/**
 * Issue 27: people post in team channels as themselves (a message carries `user_id` and
 * `user_name` instead of an `agent_id`); users remember whether their email was verified (an
 * unverified email matches no invitation by email); a session remembers whether its title is
 * still the default one, so its first user message can name it (domain/sessions/titles.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("team_channel_messages", (t) => {
    t.text("agent_id").nullable().alter();
    t.bigInteger("user_id").nullable();
    t.text("user_name").nullable();
  });
  await knex.raw(
    "ALTER TABLE team_channel_messages ADD CONSTRAINT team_channel_messages_author_check CHECK ((agent_id IS NULL) <> (user_id IS NULL))",
  );
  await knex.schema.alterTable("users", (t) => {
    // Users seen before this migration keep the answer their tokens gave then: true (absent = verified).
    t.boolean("email_verified").notNullable().defaultTo(true);
  });
  await knex.schema.alterTable("sessions", (t) => {
    // Sessions made before this migration keep their titles.
    t.boolean("title_is_default").notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("sessions", (t) => t.dropColumn("title_is_default"));
  await knex.schema.alterTable("users", (t) => t.dropColumn("email_verified"));
  await knex.raw("ALTER TABLE team_channel_messages DROP CONSTRAINT team_channel_messages_author_check");
  await knex("team_channel_messages").whereNull("agent_id").delete();
  await knex.schema.alterTable("team_channel_messages", (t) => {
    t.dropColumn("user_name");
    t.dropColumn("user_id");
    t.text("agent_id").notNullable().alter();
  });
}
