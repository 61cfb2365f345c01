/**
 * Approvals, the use cases (CONTRACT.md, "People in the loop"). An agent's `approval_request`
 * (or the hub itself, before a model's tool call that requires approval) puts its turn in
 * `waiting` and stores the approval, in one transaction; people decide over REST; the first
 * reject or `quorum` approvals settles it, and once none of the turn's approvals is pending the
 * turn runs on. Each change is published after its commit as `turn.approval`: the realtime
 * router tells the session's watchers, and the process that runs the turn carries on with the
 * outcome (turns/approvals.ts). A decision locks its approval's row, so two people deciding at
 * once, on any two processes, make exactly one deciding vote.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Conflict, Invalid, NotFound } from "../../errors.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { loadConversationFor } from "../asks/policy.js";
import { loadSessionFor, sessionAudience } from "../sessions/policy.js";
import { sessions, type Session } from "../sessions/repository.js";
import { DEFAULT_APPROVAL_WAIT_SEC, type ApprovalRequest } from "../turns/events.js";
import { turns, type Turn } from "../turns/repository.js";
import { assertMayDecide, mayDecide } from "./policy.js";
import { approvals, presentApproval, type Approval, type ApprovalKey, type ApprovalView } from "./repository.js";
import type { ApprovalsQueryInput, DecideInput } from "./schema.js";

/** Where a turn's session is: an agent's session, or a group's conversation. */
export type SessionPlace = { agentId: string } | { groupId: string };

/** Loads the session a route names, checked for reading (agent sessions and group conversations alike). */
function readable(actor: Principal, place: SessionPlace, sessionId: string) {
  return async (db: Knex): Promise<Session> =>
    "groupId" in place ? (await loadConversationFor(db, actor, place.groupId, sessionId, "read")).session : loadSessionFor(db, actor, sessionId, "read", place.agentId);
}

/** The most candidate approvals one page of the pending list looks through. */
const MAX_SCANNED = 500;
/** Approvals expired per sweep. */
const EXPIRE_BATCH = 100;

export class Approvals {
  constructor(
    private readonly deps: TxDeps,
    private readonly limits: { leaseMs: number },
  ) {}

  /**
   * A running turn asks people: the approval is stored and the turn waits. The same approval id
   * again answers the stored one (an agent that repeats itself); one that was already settled
   * lets the turn run on at once. Undefined when the turn is over.
   */
  async request(turn: Turn, req: ApprovalRequest): Promise<ApprovalView | undefined> {
    return transact(this.deps, async (trx, emit) => {
      const waiting = await turns.wait(trx, turn.id);
      if (!waiting) return undefined;
      const session = await sessions.find(trx, turn.workspace_id, turn.session_id);
      if (!session) return undefined;
      const assignees = req.assignees && (req.assignees.users?.length || req.assignees.groups?.length) ? { users: req.assignees.users ?? [], groups: req.assignees.groups ?? [] } : null;
      const inserted = await approvals.insert(trx, {
        id: req.approvalId,
        turn_id: turn.id,
        workspace_id: turn.workspace_id,
        session_id: turn.session_id,
        agent_id: turn.agent_id,
        title: req.title,
        detail: req.detail ?? null,
        input: req.input,
        assignees,
        quorum: req.quorum,
        expiresInSec: req.expiresInSec ?? DEFAULT_APPROVAL_WAIT_SEC,
      });
      const approval = inserted ?? (await approvals.find(trx, turn.workspace_id, turn.id, req.approvalId))!;
      if (approval.status !== "pending" && !(await approvals.anyPending(trx, turn.id))) await turns.resume(trx, turn.id, this.limits.leaseMs);
      if (inserted) this.publish(emit, session, approval);
      return presentApproval(approval);
    });
  }

  /** One approval of a turn, for whoever may read its session. */
  async get(actor: Principal, place: SessionPlace, sessionId: string, turnId: string, approvalId: string): Promise<ApprovalView> {
    const session = await readable(actor, place, sessionId)(this.deps.db);
    return presentApproval(await this.find(this.deps.db, session, turnId, approvalId));
  }

  /** A turn's approvals, oldest first, for whoever may read its session (a watch's running turn). */
  async ofTurn(turnId: string): Promise<ApprovalView[]> {
    return (await approvals.ofTurn(this.deps.db, turnId)).map(presentApproval);
  }

  /**
   * One person's decision. The first reject, or the quorum-th approve, settles the approval; a
   * second decision by the same person, or any once it is settled, is 409.
   */
  async decide(actor: Principal, place: SessionPlace, sessionId: string, turnId: string, approvalId: string, input: DecideInput): Promise<ApprovalView> {
    return transact(this.deps, async (trx, emit) => {
      const session = await readable(actor, place, sessionId)(trx);
      const approval = await this.find(trx, session, turnId, approvalId, true);
      assertMayDecide(actor, approval, session.readers);
      if (approval.status !== "pending") throw new Conflict(`This approval is already ${approval.status}`);
      if (approval.expires_at.getTime() <= Date.now()) throw new Conflict("This approval has expired");
      if (approval.decisions.some((d) => d.user_id === actor.userId)) throw new Conflict("You have already decided on this approval");
      await approvals.addDecision(trx, approval, { user_id: actor.userId, decision: input.decision, comment: input.comment || null });
      const approves = approval.decisions.filter((d) => d.decision === "approve").length + (input.decision === "approve" ? 1 : 0);
      const outcome = input.decision === "reject" ? "rejected" : approves >= approval.quorum ? "approved" : undefined;
      const now = outcome ? await this.settle(trx, approval, outcome) : (await approvals.find(trx, session.workspace_id, turnId, approvalId))!;
      this.publish(emit, session, now);
      return presentApproval(now);
    });
  }

  /** Approvals the caller may decide, across sessions and group conversations, newest first. */
  async list(actor: Principal, query: ApprovalsQueryInput): Promise<{ approvals: Array<ApprovalView & { group_id: string | null }>; next_cursor: string | null }> {
    if (actor.kind !== "user") return { approvals: [], next_cursor: null };
    const { db } = this.deps;
    const found: Array<ApprovalView & { group_id: string | null }> = [];
    let after = query.cursor === undefined ? undefined : decodeKey(query.cursor);
    let scanned = 0;
    while (found.length < query.limit && scanned < MAX_SCANNED) {
      const batch = await approvals.page(db, actor.workspaceId, query.status, after, Math.min(100, MAX_SCANNED - scanned));
      if (!batch.length) return { approvals: found, next_cursor: null };
      const bySession = new Map((await sessions.findMany(db, actor.workspaceId, [...new Set(batch.map((a) => a.session_id))])).map((s) => [s.id, s]));
      for (const a of batch) {
        scanned++;
        after = a;
        const session = bySession.get(a.session_id);
        if (session && mayDecide(actor, a, session.readers)) found.push({ ...presentApproval(a), group_id: session.group_id });
        if (found.length === query.limit) break;
      }
    }
    return { approvals: found, next_cursor: after ? encodeKey(after) : null };
  }

  /** Settles pending approvals past their time as `expired` (any process; each is expired once). */
  async expireDue(): Promise<number> {
    return transact(this.deps, async (trx, emit) => {
      const due = await approvals.due(trx, EXPIRE_BATCH);
      for (const a of due) {
        const settled = await this.settle(trx, a, "expired");
        const session = await sessions.find(trx, a.workspace_id, a.session_id);
        if (session) this.publish(emit, session, settled);
      }
      return due.length;
    });
  }

  private async find(db: Knex, session: Session, turnId: string, approvalId: string, lock = false): Promise<Approval> {
    const approval = await approvals.find(db, session.workspace_id, turnId, approvalId, { lock });
    if (!approval || approval.session_id !== session.id) throw new NotFound("Approval");
    return approval;
  }

  /** Settles the approval; once none of its turn's is pending, the turn runs on. */
  private async settle(trx: Knex.Transaction, approval: Approval, status: "approved" | "rejected" | "expired"): Promise<Approval> {
    const settled = (await approvals.settle(trx, approval, status))!;
    if (!(await approvals.anyPending(trx, approval.turn_id))) await turns.resume(trx, approval.turn_id, this.limits.leaseMs);
    return settled;
  }

  private publish(emit: Emit, session: Session, a: Approval): void {
    publishApproval(emit, session, a);
  }
}

function publishApproval(emit: Emit, session: Session, a: Approval): void {
  emit({ type: "turn.approval", workspaceId: a.workspace_id, agentId: a.agent_id, sessionId: a.session_id, turnId: a.turn_id, approval: presentApproval(a), audience: sessionAudience(session.readers) });
}

/**
 * Inside a turn's ending transaction (turns/ending.ts): its pending approvals are cancelled,
 * watchers told, and all of them answered, to be kept with the stored answer.
 */
export async function settleApprovalsOfEnded(trx: Knex.Transaction, emit: Emit, turn: Turn, session: Session): Promise<ApprovalView[]> {
  for (const a of await approvals.settleAllOf(trx, turn.id, "cancelled")) publishApproval(emit, session, a);
  return (await approvals.ofTurn(trx, turn.id)).map(presentApproval);
}

const encodeKey = (k: ApprovalKey): string => Buffer.from(JSON.stringify([k.created_at.toISOString(), k.turn_id, k.id])).toString("base64url");

function decodeKey(cursor: string): ApprovalKey {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "string")) {
      const created_at = new Date(v[0] as string);
      if (!Number.isNaN(created_at.getTime())) return { created_at, turn_id: v[1] as string, id: v[2] as string };
    }
  } catch {
    // falls through
  }
  throw Invalid.field("cursor", "not a cursor this list gave out");
}
