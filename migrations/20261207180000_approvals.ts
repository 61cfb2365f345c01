import type { Knex } from "knex";

/**
 * People in the loop (CONTRACT.md, "People in the loop: approvals"). An agent's turn may ask
 * people before it acts: the approval is kept with its turn (`id` is the agent's approvalId,
 * unique within the turn) and every decision is kept beside it, one per person. A turn that waits
 * is `waiting`: still active (one active turn per session and agent), but not leased, so no lease sweep
 * fails it while people decide; its approval's `expires_at` bounds the wait.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("approvals", (t) => {
    t.text("turn_id").notNullable().references("turns.id").onDelete("CASCADE");
    t.text("id").notNullable();
    t.text("workspace_id").notNullable();
    t.text("session_id").notNullable();
    t.text("agent_id").notNullable();
    t.text("title").notNullable();
    t.text("detail");
    t.jsonb("input");
    /** {users: emails (lower-cased), groups: group claims}; null: no assignees. */
    t.jsonb("assignees");
    t.integer("quorum").notNullable().defaultTo(1);
    t.text("status").notNullable().defaultTo("pending");
    t.timestamp("expires_at", { useTz: true }).notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("decided_at", { useTz: true });
    t.primary(["turn_id", "id"]);
    t.check("status in ('pending', 'approved', 'rejected', 'expired', 'cancelled')", [], "approvals_status_check");
    t.check("quorum >= 1", [], "approvals_quorum_check");
    t.index(["workspace_id", "status", "created_at"]);
  });
  await knex.raw(`create index approvals_pending_expiry on approvals (expires_at) where status = 'pending'`);
  await knex.schema.createTable("approval_decisions", (t) => {
    t.text("turn_id").notNullable();
    t.text("approval_id").notNullable();
    t.bigInteger("user_id").notNullable();
    t.text("decision").notNullable();
    t.text("comment");
    t.timestamp("at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["turn_id", "approval_id", "user_id"]);
    t.foreign(["turn_id", "approval_id"]).references(["turn_id", "id"]).inTable("approvals").onDelete("CASCADE");
    t.check("decision in ('approve', 'reject')", [], "approval_decisions_decision_check");
  });
  // A waiting turn is active too: still one per session and agent.
  await knex.raw(`drop index turns_one_active_per_session`);
  await knex.raw(`create unique index turns_one_active_per_session on turns (session_id, agent_id) where status in ('queued', 'running', 'waiting')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index turns_one_active_per_session`);
  await knex.raw(`create unique index turns_one_active_per_session on turns (session_id, agent_id) where status in ('queued', 'running')`);
  await knex.schema.dropTable("approval_decisions");
  await knex.schema.dropTable("approvals");
}
