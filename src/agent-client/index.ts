/**
 * A small socket-mode agent client: connects to a hub with an agent key (scope `turns:serve`),
 * emits `agent:serve` on every connect, hands each `turn:request` to a handler and sends what
 * the handler emits as `agent:event {turnId, event}`. It owns the end of every turn, so a handler
 * only produces events:
 * - `turn:cancel`: the turn's signal aborts, `message_end {finishReason: "cancelled"}` and `done`
 *   are sent at once, and whatever the handler emits afterwards is dropped;
 * - the handler returns without sending `done`: `done` is sent;
 * - the handler throws: `error {error}` and `done` are sent;
 * - the socket disconnects: the signal aborts and nothing more is sent for that turn (the hub
 *   ends it); after a reconnect the client serves again.
 * Refused connections (`unauthorized`, `unavailable`, `rate limited`, …) are logged and retried
 * with capped exponential backoff, as are disconnects decided by the server. The connection is the
 * typed client's (agenthub/client, connectRealtime), which owns reconnecting.
 */
import { AgentHubError } from "../client/errors.js";
import { connectRealtime } from "../client/realtime.js";
import type { AckProblem, OutgoingAgentEvent, TurnRequest } from "../client/types.js";

export type { OutgoingAgentEvent, TurnRequest } from "../client/types.js";

type AckError = AckProblem;

/** Why a turn's signal aborted: `signal.reason` is one of these. */
export type TurnAbortReason = "cancelled" | "disconnected" | "closed";

export type TurnHandler = (
  turn: TurnRequest,
  emit: (event: OutgoingAgentEvent) => void,
  signal: AbortSignal,
) => void | Promise<void>;

export interface AgentClientLogEntry {
  level: "info" | "warn" | "error";
  /** What happened: connected, serving, serve_refused, connect_error, disconnected, closing, turn_request, turn_cancel, turn_failed, closed. */
  event: string;
  message: string;
  turnId?: string;
  /** The problem of a refused `agent:serve`. */
  problem?: AckError;
  /** Milliseconds until the next attempt, when one is scheduled. */
  retryInMs?: number;
}

export interface ServeTurnsOptions {
  /** The hub's base URL, e.g. http://localhost:3000. */
  url: string;
  /** An agent key (`g_agent_…`) with scope `turns:serve`. */
  key: string;
  handler: TurnHandler;
  log?: (entry: AgentClientLogEntry) => void;
  /** First retry delay and its cap, in ms (defaults 500 and 30000); each retry doubles it, with ±25% jitter. */
  retryDelayMs?: number;
  retryDelayMaxMs?: number;
  /** How long to wait for the `agent:serve` ack before trying again (default 10000 ms). */
  serveTimeoutMs?: number;
}

export interface ServedAgent {
  /** Ends running turns (`error` + `done` to the hub), disconnects, stops retrying. */
  close(): Promise<void>;
}

/** How long close() waits between ending running turns and disconnecting. */
const CLOSE_GAP_MS = 100;

interface ActiveTurn {
  controller: AbortController;
  /** Nothing more is sent for this turn (done sent, cancelled, or the socket is gone). */
  ended: boolean;
}

export function serveTurns(options: ServeTurnsOptions): ServedAgent {
  const { url, key, handler } = options;
  const log = options.log ?? (() => {});
  const baseDelay = options.retryDelayMs ?? 500;
  const maxDelay = options.retryDelayMaxMs ?? 30_000;
  const serveTimeout = options.serveTimeoutMs ?? 10_000;

  const hub = connectRealtime({ url, token: key, retryDelayMs: baseDelay, retryDelayMaxMs: maxDelay, ackTimeoutMs: serveTimeout });
  const turns = new Map<string, ActiveTurn>();
  let closed = false;
  let attempts = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  /** Asks `agent:serve` again after a backoff delay unless closed (one pending retry at a time). */
  const retry = (fn: () => void): number => {
    const d = Math.min(maxDelay, baseDelay * 2 ** Math.min(attempts++, 20));
    const delay = Math.round(d * (0.75 + Math.random() * 0.5));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!closed) fn();
    }, delay);
    return delay;
  };

  const send = (turnId: string, event: OutgoingAgentEvent) => hub.emit("agent:event", { turnId, event });

  const serve = () => {
    if (closed || !hub.connected) return;
    hub.request("agent:serve", {}, serveTimeout).then(
      () => {
        if (closed) return;
        attempts = 0;
        log({ level: "info", event: "serving", message: "serving turns" });
      },
      (err: unknown) => {
        if (closed || !hub.connected) return;
        if (!(err instanceof AgentHubError)) {
          const retryInMs = retry(serve);
          log({ level: "warn", event: "serve_refused", message: `the hub did not answer agent:serve in ${serveTimeout} ms; asking again`, retryInMs });
          return;
        }
        const problem: AckError = err.problem;
        const status = problem.status;
        const reason = `${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`;
        if (status === 429 || status >= 500 || status === 0) {
          const retryInMs = retry(serve);
          log({ level: "warn", event: "serve_refused", message: `agent:serve refused (${reason}); asking again`, problem, retryInMs });
        } else {
          log({ level: "error", event: "serve_refused", message: `agent:serve refused (${reason}); not serving`, problem });
        }
      },
    );
  };

  const endAll = (reason: TurnAbortReason) => {
    for (const [turnId, turn] of turns) {
      if (reason === "closed" && !turn.ended && hub.connected) {
        send(turnId, { type: "error", error: "the agent is shutting down" });
        send(turnId, { type: "done" });
      }
      turn.ended = true;
      turn.controller.abort(reason);
    }
    turns.clear();
  };

  hub.on("connect", () => {
    log({ level: "info", event: "connected", message: `connected to ${url}` });
    serve();
  });

  hub.on("connect_error", ({ error, refused, retryInMs }) => {
    if (closed) return;
    if (refused) log({ level: "warn", event: "connect_error", message: `connection refused by the hub: ${error.message}`, retryInMs });
    else log({ level: "warn", event: "connect_error", message: `cannot connect to ${url}: ${error.message}; retrying`, retryInMs });
  });

  hub.on("hub:closing", (payload) => {
    log({ level: "warn", event: "closing", message: `the hub is closing this socket: ${String(payload?.reason ?? "no reason given")}` });
  });

  hub.on("disconnect", ({ reason, byServer, retryInMs }) => {
    endAll("disconnected");
    if (closed) return;
    const message = byServer ? `disconnected by the hub (${reason}); reconnecting` : `disconnected (${reason}); reconnecting`;
    log({ level: "warn", event: "disconnected", message, ...(retryInMs !== undefined ? { retryInMs } : {}) });
  });

  hub.on("turn:request", (request) => {
    const turnId = typeof request?.turnId === "string" ? request.turnId : undefined;
    if (!turnId || closed) return;
    if (turns.has(turnId)) return; // the same request twice: one answer
    const turn: ActiveTurn = { controller: new AbortController(), ended: false };
    turns.set(turnId, turn);
    log({ level: "info", event: "turn_request", message: `turn ${turnId} of session ${String(request.sessionId)}`, turnId });
    const emit = (event: OutgoingAgentEvent) => {
      if (turn.ended || !hub.connected) return;
      send(turnId, event);
      if (event.type === "done") {
        turn.ended = true;
        turns.delete(turnId);
      }
    };
    const finish = (error?: unknown) => {
      if (turn.ended) return;
      if (error !== undefined && !turn.controller.signal.aborted) {
        const message = error instanceof Error ? error.message : String(error);
        log({ level: "error", event: "turn_failed", message: `turn ${turnId} failed: ${message}`, turnId });
        emit({ type: "error", error: message.slice(0, 4000) || "the agent failed" });
      }
      emit({ type: "done" });
      turns.delete(turnId);
    };
    Promise.resolve()
      .then(() => handler(request, emit, turn.controller.signal))
      .then(() => finish(), finish);
  });

  hub.on("turn:cancel", (payload) => {
    const turnId = typeof payload?.turnId === "string" ? payload.turnId : undefined;
    const turn = turnId ? turns.get(turnId) : undefined;
    if (!turnId || !turn || turn.ended) return;
    log({ level: "info", event: "turn_cancel", message: `turn ${turnId} cancelled`, turnId });
    turn.ended = true;
    turns.delete(turnId);
    turn.controller.abort("cancelled" satisfies TurnAbortReason);
    if (hub.connected) {
      send(turnId, { type: "message_end", finishReason: "cancelled" });
      send(turnId, { type: "done" });
    }
  });

  return {
    async close() {
      if (closed) return;
      const ending = turns.size > 0 && hub.connected;
      endAll("closed");
      closed = true;
      clearTimeout(retryTimer);
      // Socket.IO's server drops events read in the same tick as the disconnect packet (it
      // dispatches them on the next tick, to a socket no longer connected): let the turns' last
      // events land first.
      if (ending) await new Promise((resolve) => setTimeout(resolve, CLOSE_GAP_MS));
      await hub.close();
      log({ level: "info", event: "closed", message: "disconnected" });
    },
  };
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  const err = new Error(`aborted: ${String(signal.reason)}`);
  err.name = "AbortError";
  return err;
}
