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
 * with capped exponential backoff, as are disconnects decided by the server.
 */
import { io, type Socket } from "socket.io-client";
import type { z } from "zod";
import type { AgentEvent } from "../domain/turns/events.js";
import type { AckError, TurnRequest } from "../realtime/protocol.js";

export type { TurnRequest } from "../realtime/protocol.js";

/** An event as an agent sends it (defaults such as `role` may be left out). */
export type OutgoingAgentEvent = z.input<typeof AgentEvent>;

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

  const socket: Socket = io(url, {
    path: "/socket.io",
    transports: ["websocket"],
    auth: { token: key },
    forceNew: true,
    reconnection: true,
    reconnectionDelay: baseDelay,
    reconnectionDelayMax: maxDelay,
  });
  const turns = new Map<string, ActiveTurn>();
  let closed = false;
  let attempts = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const nextDelay = () => {
    const d = Math.min(maxDelay, baseDelay * 2 ** Math.min(attempts++, 20));
    return Math.round(d * (0.75 + Math.random() * 0.5));
  };
  /** Runs `fn` after a backoff delay unless closed (one pending retry at a time). */
  const retry = (fn: () => void): number => {
    const delay = nextDelay();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!closed) fn();
    }, delay);
    return delay;
  };

  const send = (turnId: string, event: OutgoingAgentEvent) => socket.emit("agent:event", { turnId, event });

  const serve = () => {
    if (closed || !socket.connected) return;
    socket.timeout(serveTimeout).emit("agent:serve", {}, (err: Error | null, ack?: { ok: boolean; error?: AckError }) => {
      if (closed || !socket.connected) return;
      if (err) {
        const retryInMs = retry(serve);
        log({ level: "warn", event: "serve_refused", message: `the hub did not answer agent:serve in ${serveTimeout} ms; asking again`, retryInMs });
        return;
      }
      if (ack?.ok) {
        attempts = 0;
        log({ level: "info", event: "serving", message: "serving turns" });
        return;
      }
      const problem = ack?.error;
      const status = problem?.status ?? 0;
      const reason = problem ? `${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}` : "no reason given";
      if (status === 429 || status >= 500 || status === 0) {
        const retryInMs = retry(serve);
        log({ level: "warn", event: "serve_refused", message: `agent:serve refused (${reason}); asking again`, ...(problem ? { problem } : {}), retryInMs });
      } else {
        log({ level: "error", event: "serve_refused", message: `agent:serve refused (${reason}); not serving`, ...(problem ? { problem } : {}) });
      }
    });
  };

  const endAll = (reason: TurnAbortReason) => {
    for (const [turnId, turn] of turns) {
      if (reason === "closed" && !turn.ended && socket.connected) {
        send(turnId, { type: "error", error: "the agent is shutting down" });
        send(turnId, { type: "done" });
      }
      turn.ended = true;
      turn.controller.abort(reason);
    }
    turns.clear();
  };

  socket.on("connect", () => {
    log({ level: "info", event: "connected", message: `connected to ${url}` });
    serve();
  });

  socket.on("connect_error", (err: Error) => {
    if (closed) return;
    // Refused by the hub's handshake (socket.active false): Socket.IO does not retry by itself.
    if (!socket.active) {
      const retryInMs = retry(() => socket.connect());
      log({ level: "warn", event: "connect_error", message: `connection refused by the hub: ${err.message}`, retryInMs });
    } else {
      log({ level: "warn", event: "connect_error", message: `cannot connect to ${url}: ${err.message}; retrying` });
    }
  });

  socket.on("hub:closing", (payload: { reason?: unknown }) => {
    log({ level: "warn", event: "closing", message: `the hub is closing this socket: ${String(payload?.reason ?? "no reason given")}` });
  });

  socket.on("disconnect", (reason: string) => {
    endAll("disconnected");
    if (closed) return;
    if (!socket.active) {
      // The server closed the socket on purpose: Socket.IO does not reconnect by itself.
      const retryInMs = retry(() => socket.connect());
      log({ level: "warn", event: "disconnected", message: `disconnected by the hub (${reason}); reconnecting`, retryInMs });
    } else {
      log({ level: "warn", event: "disconnected", message: `disconnected (${reason}); reconnecting` });
    }
  });

  socket.on("turn:request", (request: TurnRequest) => {
    const turnId = typeof request?.turnId === "string" ? request.turnId : undefined;
    if (!turnId || closed) return;
    if (turns.has(turnId)) return; // the same request twice: one answer
    const turn: ActiveTurn = { controller: new AbortController(), ended: false };
    turns.set(turnId, turn);
    log({ level: "info", event: "turn_request", message: `turn ${turnId} of session ${String(request.sessionId)}`, turnId });
    const emit = (event: OutgoingAgentEvent) => {
      if (turn.ended || !socket.connected) return;
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

  socket.on("turn:cancel", (payload: { turnId?: unknown }) => {
    const turnId = typeof payload?.turnId === "string" ? payload.turnId : undefined;
    const turn = turnId ? turns.get(turnId) : undefined;
    if (!turnId || !turn || turn.ended) return;
    log({ level: "info", event: "turn_cancel", message: `turn ${turnId} cancelled`, turnId });
    turn.ended = true;
    turns.delete(turnId);
    turn.controller.abort("cancelled" satisfies TurnAbortReason);
    if (socket.connected) {
      send(turnId, { type: "message_end", finishReason: "cancelled" });
      send(turnId, { type: "done" });
    }
  });

  return {
    async close() {
      if (closed) return;
      const ending = turns.size > 0 && socket.connected;
      endAll("closed");
      closed = true;
      clearTimeout(retryTimer);
      // Socket.IO's server drops events read in the same tick as the disconnect packet (it
      // dispatches them on the next tick, to a socket no longer connected): let the turns' last
      // events land first.
      if (ending) await new Promise((resolve) => setTimeout(resolve, CLOSE_GAP_MS));
      if (socket.connected) {
        await new Promise<void>((resolve) => {
          socket.once("disconnect", () => resolve());
          socket.disconnect();
        });
      } else {
        socket.disconnect();
      }
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
