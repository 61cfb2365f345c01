/**
 * Approvals (CONTRACT.md, "People in the loop"): the card of what a waiting turn asks people,
 * with Approve / Reject and a comment for whoever may decide (else why not, in words); the
 * compact audit trail kept with a stored answer (the shared view has no names); and the
 * pending-approvals page (`#/approvals`), kept live by `turn:approval` on any node.
 */
import type { Approval, ListedApproval, Session } from "agenthub/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { assigneesText, cannotDecideApproval } from "../permissions.js";
import { href } from "../router.js";
import { ErrorNote } from "./error-note.js";

/** Where an approval's turn runs: an agent's session, or a group's conversation. */
export type ApprovalPlace = { kind: "agent"; agentId: string } | { kind: "group"; groupId: string };

const STATUS_WORDS: Record<Approval["status"], string> = {
  pending: "waiting for a decision",
  approved: "approved",
  rejected: "rejected",
  expired: "expired before anyone decided",
  cancelled: "cancelled (the turn ended)",
};

const json = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
const when = (iso: string) => new Date(iso).toLocaleString();

/** The later of two views of one approval (an answer and a live event may cross). */
export function laterOf(a: Approval, b: Approval | undefined): Approval {
  if (!b || b.id !== a.id) return a;
  if (a.status !== "pending" && b.status === "pending") return a;
  if (b.status !== "pending" && a.status === "pending") return b;
  return b.decisions.length > a.decisions.length ? b : a;
}

function Decisions({ approval }: { approval: Approval }) {
  if (!approval.decisions.length) return null;
  return (
    <ul class="decisions" aria-label="Decisions">
      {approval.decisions.map((d, i) => (
        <li key={i}>
          <span class={`badge ${d.decision === "approve" ? "completed" : "failed"}`}>{d.decision === "approve" ? "approved" : "rejected"}</span>{" "}
          <strong>{d.name ?? (d.user_id === undefined ? "Someone" : `user ${d.user_id}`)}</strong>{" "}
          <time dateTime={d.at}>{when(d.at)}</time>
          {d.comment ? <q class="comment">{d.comment}</q> : null}
        </li>
      ))}
    </ul>
  );
}

/**
 * One approval as a card: the request, who may decide and how many must approve, when it
 * expires, the decisions so far, and (while pending) the decision form or why the reader may not
 * decide. `refusal` undefined: the reader may decide.
 */
export function ApprovalCard(props: { hub: Hub; approval: Approval; place: ApprovalPlace; refusal: string | undefined; onDecided?: (a: Approval) => void }) {
  const { hub, place, refusal, onDecided } = props;
  const [answered, setAnswered] = useState<Approval | undefined>();
  const approval = laterOf(props.approval, answered);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const me = hub.me;
  const mine = me.kind === "user" ? approval.decisions.find((d) => d.user_id === me.user_id) : undefined;
  const approvals = approval.decisions.filter((d) => d.decision === "approve").length;
  const pending = approval.status === "pending";
  const titleId = `approval-${approval.turn_id}-${approval.id}`.replace(/[^\w-]/g, "-");

  async function decide(decision: "approve" | "reject") {
    setBusy(true);
    setError(undefined);
    const body = { decision, ...(comment.trim() ? { comment: comment.trim() } : {}) };
    try {
      const a =
        place.kind === "agent"
          ? await hub.rest.approvals.decide(place.agentId, approval.session_id, approval.turn_id, approval.id, body)
          : await hub.rest.approvals.decideInConversation(place.groupId, approval.session_id, approval.turn_id, approval.id, body);
      setAnswered(a);
      setComment("");
      onDecided?.(a);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class={`approval ${approval.status}`} aria-labelledby={titleId} data-approval={approval.id}>
      <header>
        <h4 id={titleId}>{approval.title}</h4>
        <span class={`badge approval-status ${approval.status === "approved" ? "completed" : approval.status === "pending" ? "running" : "failed"}`}>{STATUS_WORDS[approval.status]}</span>
      </header>
      {approval.detail ? <p class="detail">{approval.detail}</p> : null}
      {approval.input !== undefined && approval.input !== null ? (
        <details class="approval-input" open={pending}>
          <summary>Input</summary>
          <pre>{json(approval.input)}</pre>
        </details>
      ) : null}
      <p class="muted approval-rules">
        {approval.assignees ? `Assigned to ${assigneesText(approval.assignees)}. ` : ""}
        {approval.quorum > 1 ? `${approvals} of ${approval.quorum} approvals needed; ` : ""}
        {pending ? (
          <>
            expires <time dateTime={approval.expires_at}>{when(approval.expires_at)}</time>.
          </>
        ) : approval.decided_at ? (
          <>
            settled <time dateTime={approval.decided_at}>{when(approval.decided_at)}</time>.
          </>
        ) : null}
      </p>
      <Decisions approval={approval} />
      {pending && mine ? <p class="muted">You {mine.decision === "approve" ? "approved" : "rejected"} this; waiting for the others.</p> : null}
      {pending && !mine && refusal ? <p class="muted refusal">{refusal}.</p> : null}
      {pending && !mine && !refusal ? (
        <form
          class="decide"
          aria-label={`Decide: ${approval.title}`}
          onSubmit={(e) => {
            e.preventDefault();
          }}
        >
          <label>
            <span class="sr-only">Comment (optional)</span>
            <input value={comment} placeholder="Comment (optional)" maxLength={4000} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          <button type="button" class="primary" disabled={busy} onClick={() => void decide("approve")}>
            Approve
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => void decide("reject")}>
            Reject
          </button>
        </form>
      ) : null}
      <ErrorNote error={error} />
    </section>
  );
}

/** A running turn's approvals, live: each pending one decidable by whoever may (approvals/policy.ts). */
export function TurnApprovals({ hub, approvals, place, session }: { hub: Hub; approvals: Approval[]; place: ApprovalPlace; session: Session | undefined }) {
  if (!approvals.length) return null;
  return (
    <div class="approvals">
      {approvals.map((a) => (
        <ApprovalCard key={a.id} hub={hub} approval={a} place={place} refusal={cannotDecideApproval(hub.me, a, session)} />
      ))}
    </div>
  );
}

/** A stored answer's approvals, as a compact audit trail: what was asked, its outcome, and every decision (who, when, what, comment). */
export function ApprovalTrail({ approvals }: { approvals: unknown }) {
  if (!Array.isArray(approvals) || !approvals.length) return null;
  return (
    <details class="approval-trail">
      <summary>
        Approvals ({(approvals as Approval[]).map((a) => `${a.title}: ${a.status}`).join("; ")})
      </summary>
      {(approvals as Approval[]).map((a) => (
        <div key={a.id} class="trail-item">
          <p>
            <strong>{a.title}</strong> <span class="muted">asked <time dateTime={a.created_at}>{when(a.created_at)}</time>, {STATUS_WORDS[a.status]}</span>
          </p>
          {a.input !== undefined && a.input !== null ? <pre>{json(a.input)}</pre> : null}
          <Decisions approval={a} />
        </div>
      ))}
    </details>
  );
}

/**
 * The approvals the signed-in person may decide (GET /api/approvals?status=pending), kept live:
 * a settled one leaves, one with a new decision is replaced, and one not seen yet (or a
 * reconnect) reads the list again, since only the hub knows who may decide it.
 */
export function usePendingApprovals(hub: Hub): { approvals: ListedApproval[]; error: string | undefined; reload: () => void } {
  const [approvals, setList] = useState<ListedApproval[]>([]);
  const [error, setError] = useState<string | undefined>();
  // The list as last set, for events (which read it before the next render).
  const current = useRef<ListedApproval[]>([]);
  const setApprovals = (list: ListedApproval[]) => {
    current.current = list;
    setList(list);
  };
  const reload = () => {
    if (hub.me.kind !== "user") return;
    hub.rest.approvals.list({ status: "pending", limit: 100 }).then(
      (page) => {
        setApprovals(page.approvals);
        setError(undefined);
      },
      (err) => setError(describe(err)),
    );
  };
  useEffect(() => {
    reload();
    const offs = [
      hub.live.on("turn:approval", ({ approval }) => {
        const a = approval as Approval;
        const list = current.current;
        const i = list.findIndex((x) => x.id === a.id && x.turn_id === a.turn_id);
        if (i < 0) {
          if (a.status === "pending") reload();
        } else if (a.status !== "pending") setApprovals(list.filter((_, j) => j !== i));
        else setApprovals(list.map((x, j) => (j === i ? { ...laterOf(x, a), group_id: x.group_id } : x)));
      }),
      hub.live.on("connect", ({ reconnect }) => reconnect && reload()),
    ];
    return () => offs.forEach((off) => off());
  }, []);
  return { approvals, error, reload };
}

/** `#/approvals`: what waits for the reader's decision, with the agent's context and a link to the conversation. */
export function ApprovalsPage(props: {
  hub: Hub;
  pending: { approvals: ListedApproval[]; error: string | undefined; reload: () => void };
  agentNames: Map<string, string>;
  groupNames: Map<string, string>;
  sessionTitles: Map<string, string>;
}) {
  const { hub, pending, agentNames, groupNames, sessionTitles } = props;
  useEffect(() => pending.reload(), []);
  return (
    <section class="approvals-page" aria-labelledby="approvals-title">
      <h2 id="approvals-title">Pending approvals</h2>
      <ErrorNote error={pending.error} />
      {pending.approvals.length === 0 ? <p class="muted empty-approvals">Nothing waits for your decision.</p> : null}
      <ul class="pending-approvals">
        {pending.approvals.map((a) => {
          const place: ApprovalPlace = a.group_id ? { kind: "group", groupId: a.group_id } : { kind: "agent", agentId: a.agent_id };
          const link = a.group_id ? href({ view: "conversation", groupId: a.group_id, sessionId: a.session_id }) : href({ view: "session", agentId: a.agent_id, sessionId: a.session_id });
          const agent = agentNames.get(a.agent_id) ?? a.agent_id;
          return (
            <li key={`${a.turn_id}/${a.id}`}>
              <p class="context">
                <strong>{agent}</strong> asks
                {a.group_id ? <> in group {groupNames.get(a.group_id) ?? a.group_id}</> : null}, in <a href={link}>{sessionTitles.get(a.session_id) ?? "the conversation"}</a>{" "}
                <span class="muted">
                  (<time dateTime={a.created_at}>{when(a.created_at)}</time>)
                </span>
              </p>
              <ApprovalCard hub={hub} approval={a} place={place} refusal={undefined} onDecided={pending.reload} />
            </li>
          );
        })}
      </ul>
    </section>
  );
}
