/**
 * One connection attempt of the realtime client to one hub: the socket and its handshake (token
 * and resume positions asked for at each attempt), how a failed attempt is told apart (refused by
 * the hub, or the network), the backoff before the next one, and the hub's events routed to
 * stream ordering, turn rendering and the client's listeners. Browser-safe.
 */
import { io } from "socket.io-client";
import type { AgentEvent } from "../domain/turns/events.js";
import type { HubSocket, RealtimeEventName, RealtimeEvents, ResolvedOptions } from "./realtime-options.js";
import type { StreamOrder } from "./stream-order.js";
import type { TurnRenderer } from "./turns.js";
import type { HandshakeSince } from "./types.js";

/** A socket to `url` that does not reconnect by itself (the client does, to the next hub). */
export function openHubSocket(url: string, options: ResolvedOptions, since: () => HandshakeSince | undefined): HubSocket {
  return io(url, {
    path: options.path,
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth: (cb) => {
      const positions = since();
      const token = options.token;
      Promise.resolve(typeof token === "function" ? token() : token).then(
        (t) => cb({ token: t, ...(positions ? { since: positions } : {}) }),
        () => cb({ ...(positions ? { since: positions } : {}) }),
      );
    },
  });
}

/** The hub refused the attempt (`unauthorized`, `unavailable`, `rate limited`, …) rather than the network failing. */
export function isRefusal(error: Error): boolean {
  return (error as { type?: string }).type !== "TransportError" && error.message !== "timeout" && error.message !== "websocket error";
}

/** The wait before attempt `attempt + 1`: doubled per failed attempt up to the cap, ±25% jitter. */
export function backoffMs(attempt: number, options: ResolvedOptions): number {
  const base = Math.min(options.retryDelayMaxMs, options.retryDelayMs * 2 ** Math.min(attempt, 20));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

type Fire = <E extends RealtimeEventName>(event: E, ...args: Parameters<RealtimeEvents[E]>) => void;

/** Stream messages go through ordering (once each, in seq order); turns are rendered and passed on; the rest passed on. */
export function routeHubEvents(socket: HubSocket, streams: StreamOrder, turns: TurnRenderer, fire: Fire): void {
  socket.on("channel:message", (message) => streams.offer("channel", message?.channelId, message));
  socket.on("session:message", (payload) => streams.offer("session", payload?.sessionId, payload));
  socket.on("turn:started", (p) => {
    if (p?.turn) turns.started(p.sessionId, p.turn);
    fire("turn:started", p);
  });
  socket.on("turn:event", (p) => {
    if (p?.turnId) turns.event(p.sessionId, p.turnId, p.seq, p.event as AgentEvent);
    fire("turn:event", p);
  });
  socket.on("turn:ended", (p) => {
    if (p?.turn) turns.ended(p.sessionId, p.turn);
    fire("turn:ended", p);
  });
  socket.on("turn:approval", (p) => {
    if (p?.turnId && p.approval) turns.approval(p.sessionId, p.turnId, p.approval);
    fire("turn:approval", p);
  });
  for (const event of ["session:updated", "group:session", "group:updated", "channel:updated", "ask:updated", "turn:request", "turn:cancel", "hub:closing"] as const) {
    socket.on(event, (payload: any) => fire(event, payload));
  }
}
