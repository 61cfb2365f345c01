/**
 * Serves a resume of an ask_agent stream (a GET with `Last-Event-ID`, resume.ts) on whichever
 * node it lands: from the turn log, the progress notifications after the client's seq, then
 * live ones as the turn runs on (on any node), then the call's result under the original
 * JSON-RPC id; then the stream ends. The SDK's transport writes it (its `replayEventsAfter`):
 * replay returns at once and the events follow on the same stream, so the answer is live.
 */
import { randomUUID } from "node:crypto";
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";
import type { Services } from "../services.js";
import { agentAnswer } from "./ask.js";
import { followTurn } from "./follow.js";
import { decodePosition, encodePosition, type StreamPosition } from "./resume.js";

type Send = (eventId: string, message: JSONRPCMessage) => Promise<void>;

export interface ResumeDeps {
  services: Services;
  /** Bounds how long a resume follows a turn (the turn's own timeout and a margin). */
  followMs: number;
}

/** JSON-RPC's internal error, for a call whose stream cannot be rebuilt. */
const CALL_LOST = -32603;

/**
 * `replayEventsAfter` for one resume request: `signal` is the request's (the reader left);
 * `ended` runs once the stream is complete (the caller closes the transport).
 */
export function resumeReplay(deps: ResumeDeps, p: Principal, signal: AbortSignal, ended: () => void): EventStore["replayEventsAfter"] {
  return async (lastEventId, { send }) => {
    const pos = decodePosition(lastEventId);
    if (!pos) throw new Error("not a resumable MCP stream position");
    void rebuild(deps, p, pos, send, signal).finally(ended);
    return `resume-${randomUUID()}`;
  };
}

async function rebuild(deps: ResumeDeps, p: Principal, pos: StreamPosition, send: Send, signal: AbortSignal): Promise<void> {
  if (pos.e) return; // the client has the result already
  const fail = (message: string) => send(encodePosition({ ...pos, e: 1 }), { jsonrpc: "2.0", id: pos.r, error: { code: CALL_LOST, message } });
  // Cut before ask_agent started its turn: nothing names the turn; the client calls again.
  if (!pos.t) return fail("The call was cut before its turn started: call ask_agent again (or read_session)");
  const turnId = pos.t;
  let at = { q: pos.q, n: 0 };
  try {
    // The policy first: who may no longer read the turn's session reads none of it.
    await deps.services.turns.getById(p, pos.a, turnId);
    const followed = await followTurn(
      deps.services.turns,
      turnId,
      (text, seq) => {
        at = { q: seq, n: at.n + 1 };
        if (seq <= pos.q || pos.p === undefined) return;
        const progress = { jsonrpc: "2.0" as const, method: "notifications/progress", params: { progressToken: pos.p, progress: at.n, message: text } };
        void send(encodePosition({ ...pos, ...at }), progress);
      },
      AbortSignal.any([signal, AbortSignal.timeout(deps.followMs)]),
    );
    const ended = await deps.services.turns.getById(p, pos.a, turnId);
    await send(encodePosition({ ...pos, q: Math.max(at.q, pos.q), n: at.n, e: 1 }), { jsonrpc: "2.0", id: pos.r, result: agentAnswer(ended, followed) });
  } catch (err) {
    if (signal.aborted) return;
    await fail(err instanceof AppError ? `${err.status} ${err.title}: ${err.detail}` : "The answer could not be followed: read it with read_session").catch(() => {});
  }
}
