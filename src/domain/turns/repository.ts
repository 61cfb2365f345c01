/** SQL for turns (`turns`): the durable record of each run; its events live in the turn log while it runs. */
import type { Knex } from "knex";
import { intOrNull } from "../rows.js";
import { toIso, toIsoOrNull } from "../time.js";

export type TurnStatus = "queued" | "running" | "waiting" | "completed" | "failed" | "cancelled";
/** Not ended: queued, running, or waiting for people (approvals). */
export const ACTIVE: TurnStatus[] = ["queued", "running", "waiting"];
/** Held by a process that renews its lease (a waiting turn is held by nobody: people decide). */
const LEASED: TurnStatus[] = ["queued", "running"];
export const isActive = (status: string): boolean => (ACTIVE as string[]).includes(status);
/** The partial unique index that allows one queued or running turn per session. */
export const ONE_ACTIVE_PER_SESSION = "turns_one_active_per_session";

export interface Turn {
  id: string;
  workspace_id: string;
  session_id: string;
  agent_id: string;
  status: TurnStatus;
  trigger_message_id: string;
  message_id: string;
  error: string | null;
  created_by: number | null;
  /** The ask (group conversations) the turn answers, if any. */
  ask_id: string | null;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
}

/** A turn as the API presents it. */
export interface TurnView {
  id: string;
  session_id: string;
  agent_id: string;
  status: TurnStatus;
  trigger_message_id: string;
  message_id: string;
  error?: string;
  ask_id?: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}

const toTurn = (row: Record<string, any>): Turn => ({
  id: row.id,
  workspace_id: row.workspace_id,
  session_id: row.session_id,
  agent_id: row.agent_id,
  status: row.status,
  trigger_message_id: row.trigger_message_id,
  message_id: row.message_id,
  error: row.error ?? null,
  created_by: intOrNull(row.created_by),
  ask_id: row.ask_id ?? null,
  created_at: row.created_at,
  started_at: row.started_at ?? null,
  ended_at: row.ended_at ?? null,
});

export function presentTurn(t: Turn): TurnView {
  return {
    id: t.id,
    session_id: t.session_id,
    agent_id: t.agent_id,
    status: t.status,
    trigger_message_id: t.trigger_message_id,
    message_id: t.message_id,
    ...(t.error ? { error: t.error } : {}),
    ...(t.ask_id ? { ask_id: t.ask_id } : {}),
    created_at: toIso(t.created_at),
    started_at: toIsoOrNull(t.started_at),
    ended_at: toIsoOrNull(t.ended_at),
  };
}

export const turns = {
  async insert(db: Knex, t: Pick<Turn, "id" | "workspace_id" | "session_id" | "agent_id" | "trigger_message_id" | "message_id" | "created_by" | "ask_id">, leaseMs: number): Promise<Turn> {
    const [row] = await db("turns")
      .insert({ ...t, status: "queued", lease_until: db.raw("now() + make_interval(secs => ?)", [leaseMs / 1000]) })
      .returning("*");
    return toTurn(row);
  },

  async find(db: Knex, workspaceId: string, id: string): Promise<Turn | undefined> {
    const row = await db("turns").where({ workspace_id: workspaceId, id }).first();
    return row ? toTurn(row) : undefined;
  },

  async byId(db: Knex, id: string): Promise<Turn | undefined> {
    const row = await db("turns").where({ id }).first();
    return row ? toTurn(row) : undefined;
  },

  /** An ask's turns, in the order they were made. */
  async ofAsk(db: Knex, askId: string): Promise<Turn[]> {
    return (await db("turns").where({ ask_id: askId }).orderBy("created_at").orderBy("id")).map(toTurn);
  },

  /** Active turns of these agents in a group's conversations (the group dropped them). */
  async activeInGroupOf(db: Knex, groupId: string, agentIdsKept: string[]): Promise<Turn[]> {
    return (
      await db("turns as t")
        .join("sessions as s", "s.id", "t.session_id")
        .where("s.group_id", groupId)
        .whereIn("t.status", ACTIVE)
        .whereNotIn("t.agent_id", agentIdsKept)
        .select("t.*")
    ).map(toTurn);
  },

  /** The session's queued or running turns (at most one per agent). */
  async active(db: Knex, sessionId: string): Promise<Turn[]> {
    return (await db("turns").where({ session_id: sessionId }).whereIn("status", ACTIVE)).map(toTurn);
  },

  /** Marks a queued turn running; false when it is no longer queued. */
  async markRunning(db: Knex, id: string, leaseMs: number): Promise<Turn | undefined> {
    const [row] = await db("turns")
      .where({ id, status: "queued" })
      .update({ status: "running", started_at: db.fn.now(), lease_until: db.raw("now() + make_interval(secs => ?)", [leaseMs / 1000]) })
      .returning("*");
    return row ? toTurn(row) : undefined;
  },

  /** Extends the lease of a queued or running turn. */
  async renew(db: Knex, id: string, leaseMs: number): Promise<void> {
    await db("turns").where({ id }).whereIn("status", LEASED).update({ lease_until: db.raw("now() + make_interval(secs => ?)", [leaseMs / 1000]) });
  },

  /** A running turn waits for people: no lease while it waits. Undefined when it is not running (nor waiting already). */
  async wait(db: Knex, id: string): Promise<Turn | undefined> {
    const [row] = await db("turns").where({ id }).whereIn("status", ["running", "waiting"]).update({ status: "waiting", lease_until: null }).returning("*");
    return row ? toTurn(row) : undefined;
  },

  /** A waiting turn runs on, leased again (whoever records its next event renews it). */
  async resume(db: Knex, id: string, leaseMs: number): Promise<Turn | undefined> {
    const [row] = await db("turns")
      .where({ id, status: "waiting" })
      .update({ status: "running", lease_until: db.raw("now() + make_interval(secs => ?)", [leaseMs / 1000]) })
      .returning("*");
    return row ? toTurn(row) : undefined;
  },

  /**
   * Ends an active turn; undefined when it had already ended (someone else finished it), or,
   * with `unlessWaiting`, when it waits for people (a serving socket that went away does not end it).
   */
  async end(db: Knex, id: string, status: Exclude<TurnStatus, "queued" | "running" | "waiting">, error: string | null, unlessWaiting = false): Promise<Turn | undefined> {
    const [row] = await db("turns")
      .where({ id })
      .whereIn("status", unlessWaiting ? LEASED : ACTIVE)
      .update({ status, error, ended_at: db.fn.now(), lease_until: null })
      .returning("*");
    return row ? toTurn(row) : undefined;
  },

  /** Active turns whose lease lapsed: their process stopped without ending them. */
  async lapsed(db: Knex, limit: number): Promise<Turn[]> {
    return (await db("turns").whereIn("status", LEASED).where("lease_until", "<", db.fn.now()).orderBy("lease_until").limit(limit)).map(toTurn);
  },
};
