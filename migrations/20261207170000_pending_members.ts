import type { Knex } from "knex";

/**
 * Pending team members (CONTRACT.md, "Agents and their teams"): someone added to an agent's team
 * by email before they ever signed in. `email` is lower-cased. The first time a user with that
 * email signs in to the workspace, each of their invites becomes an `agent_members` row and the
 * invite is deleted (domain/users/repository.ts, provision).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("agent_member_invites", (t) => {
    t.text("workspace_id").notNullable();
    t.text("agent_id").notNullable();
    t.text("email").notNullable();
    t.text("access_level").notNullable();
    t.timestamp("assigned_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["workspace_id", "agent_id", "email"]);
    t.foreign(["workspace_id", "agent_id"]).references(["workspace_id", "id"]).inTable("agents").onDelete("CASCADE");
    t.check("access_level in ('viewer', 'editor')", [], "agent_member_invites_access_level_check");
    t.index(["workspace_id", "email"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("agent_member_invites");
}
