/** SQL for approvals (`approvals`, `approval_decisions`): what a waiting turn asks people, and every decision. */
import type { Knex } from "knex";
import { intOrNull, json } from "../rows.js";
import { toIso, toIsoOrNull } from "../time.js";

export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired" | "cancelled";
export type Decision = "approve" | "reject";

/** Whom an approval names to decide it: emails (lower-cased) and group claims. */
export interface Assignees {
  users: string[];
  groups: string[];
}

export interface DecisionRow {
  user_id: number;
  /** The person's name as they signed in. */
  name: string | null;
  decision: Decision;
  comment: string | null;
  at: Date;
}

export interface Approval {
  id: string;
  turn_id: string;
  workspace_id: string;
  session_id: string;
  agent_id: string;
  title: string;
  detail: string | null;
  input: unknown;
  assignees: Assignees | null;
  quorum: number;
  status: ApprovalStatus;
  expires_at: Date;
  created_at: Date;
  decided_at: Date | null;
  decisions: DecisionRow[];
}

/** An approval as the API presents it (CONTRACT.md, "People in the loop"). */
export interface ApprovalView {
  id: string;
  turn_id: string;
  session_id: string;
  agent_id: string;
  title: string;
  detail: string | null;
  input: unknown;
  assignees: { users?: string[]; groups?: string[] } | null;
  quorum: number;
  status: ApprovalStatus;
  decisions: Array<{ user_id: number; name: string | null; decision: Decision; comment: string | null; at: string }>;
  expires_at: string;
  created_at: string;
  decided_at: string | null;
}

export function presentApproval(a: Approval): ApprovalView {
  return {
    id: a.id,
    turn_id: a.turn_id,
    session_id: a.session_id,
    agent_id: a.agent_id,
    title: a.title,
    detail: a.detail,
    input: a.input ?? null,
    assignees: a.assignees,
    quorum: a.quorum,
    status: a.status,
    decisions: a.decisions.map((d) => ({ user_id: d.user_id, name: d.name, decision: d.decision, comment: d.comment, at: toIso(d.at) })),
    expires_at: toIso(a.expires_at),
    created_at: toIso(a.created_at),
    decided_at: toIsoOrNull(a.decided_at),
  };
}

/**
 * An approval as the agent that asked is told it (its serving sockets, an A2A continuation, an
 * AG-UI resume): who decided by the name they signed in with, never their user id.
 */
export type AgentApprovalView = Omit<ApprovalView, "decisions"> & { decisions: Array<Omit<ApprovalView["decisions"][number], "user_id">> };

export function approvalForAgent(a: ApprovalView): AgentApprovalView {
  return { ...a, decisions: a.decisions.map(({ user_id: _user, ...d }) => d) };
}

const toApproval = (row: Record<string, any>, decisions: DecisionRow[] = []): Approval => ({
  id: row.id,
  turn_id: row.turn_id,
  workspace_id: row.workspace_id,
  session_id: row.session_id,
  agent_id: row.agent_id,
  title: row.title,
  detail: row.detail ?? null,
  input: json<unknown>(row.input, null),
  assignees: json<Assignees | null>(row.assignees, null),
  quorum: row.quorum,
  status: row.status,
  expires_at: row.expires_at,
  created_at: row.created_at,
  decided_at: row.decided_at ?? null,
  decisions,
});

const toDecision = (row: Record<string, any>): DecisionRow => ({ user_id: intOrNull(row.user_id)!, name: row.name ?? null, decision: row.decision, comment: row.comment ?? null, at: row.at });

/** Loads the decisions of these approval rows, oldest first. */
async function withDecisions(db: Knex, rows: Array<Record<string, any>>): Promise<Approval[]> {
  if (!rows.length) return [];
  const keys = rows.map((r) => [r.turn_id, r.id]);
  const decided = await db("approval_decisions as d")
    .leftJoin("users as u", "u.id", "d.user_id")
    .whereIn(["d.turn_id", "d.approval_id"], keys)
    .orderBy("d.at")
    .orderBy("d.user_id")
    .select("d.*", "u.name");
  return rows.map((r) => toApproval(r, decided.filter((d) => d.turn_id === r.turn_id && d.approval_id === r.id).map(toDecision)));
}

/** What an agent's request stores: the approval's own fields, and how long it may wait. */
export type NewApproval = Pick<Approval, "id" | "turn_id" | "workspace_id" | "session_id" | "agent_id" | "title" | "detail" | "input" | "assignees" | "quorum"> & { expiresInSec: number };

/** The sort key of the pending list: newest first. */
export interface ApprovalKey {
  created_at: Date;
  turn_id: string;
  id: string;
}

export const approvals = {
  /** Inserts a pending approval; undefined when the turn already has one of this id. */
  async insert(db: Knex, a: NewApproval): Promise<Approval | undefined> {
    const [row] = await db("approvals")
      .insert({
        id: a.id,
        turn_id: a.turn_id,
        workspace_id: a.workspace_id,
        session_id: a.session_id,
        agent_id: a.agent_id,
        title: a.title,
        detail: a.detail,
        input: a.input === undefined ? null : JSON.stringify(a.input),
        assignees: a.assignees ? JSON.stringify(a.assignees) : null,
        quorum: a.quorum,
        expires_at: db.raw("now() + make_interval(secs => ?)", [a.expiresInSec]),
      })
      .onConflict(["turn_id", "id"])
      .ignore()
      .returning("*");
    return row ? toApproval(row) : undefined;
  },

  async find(db: Knex, workspaceId: string, turnId: string, id: string, options: { lock?: boolean } = {}): Promise<Approval | undefined> {
    const q = db("approvals").where({ workspace_id: workspaceId, turn_id: turnId, id }).first();
    if (options.lock) q.forUpdate();
    const row = await q;
    return row ? (await withDecisions(db, [row]))[0] : undefined;
  },

  /** A turn's approvals, in the order they were asked. */
  async ofTurn(db: Knex, turnId: string): Promise<Approval[]> {
    return withDecisions(db, await db("approvals").where({ turn_id: turnId }).orderBy("created_at").orderBy("id"));
  },

  /** Whether the turn still has a pending approval. */
  async anyPending(db: Knex, turnId: string): Promise<boolean> {
    return !!(await db("approvals").where({ turn_id: turnId, status: "pending" }).first("id"));
  },

  async addDecision(db: Knex, a: Pick<Approval, "turn_id" | "id">, d: { user_id: number; decision: Decision; comment: string | null }): Promise<void> {
    await db("approval_decisions").insert({ turn_id: a.turn_id, approval_id: a.id, user_id: d.user_id, decision: d.decision, comment: d.comment });
  },

  /** Ends a pending approval with `status`; undefined when it was no longer pending. */
  async settle(db: Knex, a: Pick<Approval, "turn_id" | "id">, status: Exclude<ApprovalStatus, "pending">): Promise<Approval | undefined> {
    const [row] = await db("approvals").where({ turn_id: a.turn_id, id: a.id, status: "pending" }).update({ status, decided_at: db.fn.now() }).returning("*");
    return row ? (await withDecisions(db, [row]))[0] : undefined;
  },

  /** Ends every pending approval of the turn as `status` (the turn ended). */
  async settleAllOf(db: Knex, turnId: string, status: "cancelled"): Promise<Approval[]> {
    return withDecisions(db, await db("approvals").where({ turn_id: turnId, status: "pending" }).update({ status, decided_at: db.fn.now() }).returning("*"));
  },

  /** Pending approvals past their time, locked so one process expires each (others skip them). */
  async due(db: Knex, limit: number): Promise<Approval[]> {
    return withDecisions(db, await db("approvals").where({ status: "pending" }).where("expires_at", "<=", db.fn.now()).orderBy("expires_at").limit(limit).forUpdate().skipLocked());
  },

  /** Approvals of the workspace with `status`, newest first, after `after` (a page of candidates; the caller filters by policy). */
  async page(db: Knex, workspaceId: string, status: ApprovalStatus, after: ApprovalKey | undefined, limit: number): Promise<Approval[]> {
    const q = db("approvals").where({ workspace_id: workspaceId, status });
    // By the millisecond the API shows (Postgres keeps microseconds), so a cursor made from one is exact.
    if (after) q.andWhereRaw("(date_trunc('milliseconds', created_at), turn_id, id) < (?, ?, ?)", [after.created_at, after.turn_id, after.id]);
    return withDecisions(db, await q.orderByRaw("date_trunc('milliseconds', created_at) desc, turn_id desc, id desc").limit(limit));
  },
};
