/**
 * A socket-mode agent that asks people before it acts (CONTRACT.md, "People in the loop"): on
 * each `turn:request` it starts its answer and sends an `approval_request`; when the settled
 * `turn:approval` reaches it (on whichever node it then serves), it answers with the outcome and
 * ends the turn. `moveTo` connects it anew to another node (its old node died) and serves there.
 */
import { io, type Socket } from "socket.io-client";
import { waiters } from "./waiters.js";

export interface ApprovalAgent {
  /** Every `turn:approval` this agent's sockets received, in order. */
  approvals: Array<{ turnId: string; approval: any }>;
  requests: Array<{ turnId: string }>;
  served: Promise<void>;
  until(predicate: () => boolean, what?: string, timeoutMs?: number): Promise<void>;
  /** Serves from `url` with a new socket (the old one is dropped). */
  moveTo(url: string): Promise<void>;
  close(): void;
}

/** `request(turnId)` is the approval_request the agent sends for each turn (without `type`). */
export function startApprovalAgent(url: string, key: string, request: (turnId: string) => Record<string, unknown>): ApprovalAgent {
  const w = waiters();
  const approvals: ApprovalAgent["approvals"] = [];
  const requests: ApprovalAgent["requests"] = [];
  let socket: Socket;
  const answered = new Set<string>();

  const serve = (at: string): Promise<void> => {
    socket = io(at, { path: "/socket.io", transports: ["websocket"], auth: { token: key }, forceNew: true, reconnection: false });
    const s = socket;
    const send = (turnId: string, event: Record<string, unknown>) => s.emit("agent:event", { turnId, event });
    s.on("turn:request", (r: { turnId: string }) => {
      requests.push(r);
      send(r.turnId, { type: "message_start", model: "careful-agent" });
      send(r.turnId, { type: "content_delta", delta: "Asking first. " });
      send(r.turnId, { type: "approval_request", ...request(r.turnId) });
      w.wake();
    });
    s.on("turn:approval", (p: { turnId: string; approval: any }) => {
      approvals.push(p);
      w.wake();
      if (p.approval.status === "pending" || answered.has(`${p.turnId}:${p.approval.id}`)) return;
      answered.add(`${p.turnId}:${p.approval.id}`);
      send(p.turnId, { type: "content_delta", delta: `The request was ${p.approval.status}.` });
      send(p.turnId, { type: "message_end", finishReason: "stop" });
      send(p.turnId, { type: "done" });
    });
    return new Promise((resolve, reject) => {
      s.on("connect_error", (err) => reject(err));
      s.on("connect", () => s.emit("agent:serve", {}, (ack: { ok: boolean }) => (ack.ok ? resolve() : reject(new Error(JSON.stringify(ack))))));
    });
  };

  return {
    approvals,
    requests,
    served: serve(url),
    until: (predicate, what = "condition", timeoutMs = 15_000) => w.until(predicate, what, timeoutMs, () => `got ${JSON.stringify(approvals)}`),
    async moveTo(next) {
      socket.removeAllListeners();
      socket.close();
      await serve(next);
    },
    close: () => socket.close(),
  };
}
