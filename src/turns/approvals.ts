/**
 * Waiting for people, in this process (CONTRACT.md, "People in the loop"). An endpoint that runs
 * its agent here (a model's tool call, an A2A agent's `input-required`, an AG-UI interrupt) asks
 * through `RunningTurn.askPeople` and waits for the outcome; the decision may be made on any
 * process, and reaches this one as the `turn.approval` event every process hears (the realtime
 * router hands it to `settled`). What is decided and by whom is the domain's (domain/approvals).
 */
import { approvalForAgent, type ApprovalView } from "../domain/approvals/repository.js";

/** The most approvals one process waits for at once (each is one turn's pending call). */
const MAX_WAITING = 10_000;

type Waiter = (a: ApprovalView) => void;

export class ApprovalWaits {
  private readonly waiters = new Map<string, Waiter>();

  /**
   * Waits for the approval's outcome. Call before the approval is stored, so no decision can
   * come before the wait; `signal` (a cancel) ends the wait with its reason.
   */
  wait(turnId: string, approvalId: string, signal: AbortSignal): { settled: Promise<ApprovalView>; drop(): void } {
    const key = `${turnId}:${approvalId}`;
    if (this.waiters.size >= MAX_WAITING) throw new Error(`this hub process already waits for ${MAX_WAITING} approvals`);
    let drop = () => {};
    const settled = new Promise<ApprovalView>((resolve, reject) => {
      const onAbort = () => {
        drop();
        reject(signal.reason);
      };
      drop = () => {
        this.waiters.delete(key);
        signal.removeEventListener("abort", onAbort);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.set(key, (a) => {
        drop();
        resolve(a);
      });
    });
    return { settled, drop: () => drop() };
  }

  /** An approval changed somewhere: a wait for it ends once it is no longer pending. */
  settled(turnId: string, approval: ApprovalView): void {
    if (approval.status === "pending") return;
    this.waiters.get(`${turnId}:${approval.id}`)?.(approval);
  }
}

/** The outcome as an agent's protocol carries it (A2A's continuation, AG-UI's resume payload): `{approvalId, status, decisions}`. */
export function outcomeForAgent(a: ApprovalView) {
  return { approvalId: a.id, status: a.status, decisions: approvalForAgent(a).decisions.map(({ decision, name, comment, at }) => ({ decision, name, comment, at })) };
}

/** The outcome in words, for an agent told it in text (a model's tool call, an A2A message). */
export function outcomeInWords(a: ApprovalView): string {
  const by = (d: ApprovalView["decisions"][number]) => `${d.name ?? `user ${d.user_id}`}${d.comment ? ` ("${d.comment}")` : ""}`;
  switch (a.status) {
    case "approved":
      return `approved by ${a.decisions.filter((d) => d.decision === "approve").map(by).join(", ")}`;
    case "rejected": {
      const r = a.decisions.find((d) => d.decision === "reject");
      return `rejected by ${r ? by(r) : "someone"}`;
    }
    case "expired":
      return "not decided in time (the approval expired)";
    default:
      return `not approved (the approval was ${a.status})`;
  }
}
