/**
 * This node's sockets, as the event router and stream delivery see them: found by room, sent to
 * by room or one by one, closed with a reason. A small interface so both can be tested without
 * a server.
 */
import type { HubMetrics } from "../observability/metrics.js";
import type { HubServer, HubSocket, ServerToClientEvents } from "./protocol.js";
import { FairWrites } from "./writes.js";

type Event = keyof ServerToClientEvents;
type Payload<E extends Event> = Parameters<ServerToClientEvents[E]>[0];

export interface LocalSockets {
  /** This node's sockets in any of the rooms, each once. */
  in(...roomNames: string[]): HubSocket[];
  /** Sends to this node's sockets in any of the rooms (encoded once; Socket.IO's room broadcast, for events that are not streams). */
  emit<E extends Event>(roomNames: string[], event: E, payload: Payload<E>): void;
  /** Sends to these sockets of this node (encoded once; written fairly, see writes.ts). */
  emitTo<E extends Event>(sockets: HubSocket[], event: E, payload: Payload<E>): void;
  /** Closes a socket on purpose, telling it why first. */
  close(socket: HubSocket, reason: string): void;
}

/**
 * With `metrics`, every write is counted (and a live event's lag observed); `queued` is told of
 * every message a broadcast queues for a socket (the slow-consumer bound, limits.ts).
 */
export function localSockets(io: HubServer, metrics?: HubMetrics, queued?: (socket: HubSocket, bytes: number) => void): LocalSockets {
  const nsp = io.of("/");
  const writes = new FairWrites<HubSocket>(io.encoder, queued);
  const sockets: LocalSockets = {
    in(...roomNames) {
      const rooms = nsp.adapter.rooms;
      const ids: Iterable<string> =
        roomNames.length === 1 ? (rooms.get(roomNames[0]!) ?? []) : new Set(roomNames.flatMap((r) => [...(rooms.get(r) ?? [])]));
      const out: HubSocket[] = [];
      for (const id of ids) {
        const s = nsp.sockets.get(id);
        if (s) out.push(s);
      }
      return out;
    },
    emit(roomNames, event, payload) {
      io.local.to(roomNames).emit(event, ...([payload] as Parameters<ServerToClientEvents[typeof event]>));
      if (metrics) {
        const reached = roomNames.length === 1 ? (nsp.adapter.rooms.get(roomNames[0]!)?.size ?? 0) : sockets.in(...roomNames).length;
        metrics.wrote(event, payload, reached);
      }
    },
    emitTo(targets, event, payload) {
      if (!targets.length) return;
      const reached = writes.send(targets, event, payload);
      metrics?.wrote(event, payload, reached);
    },
    close: closeSocket,
  };
  return sockets;
}

/** Closes a socket on purpose, telling it why first. */
export function closeSocket(socket: HubSocket, reason: string): void {
  socket.emit("hub:closing", { reason });
  socket.disconnect(true);
}

/**
 * Drops a connection that cannot keep up. What engine.io still queues for it is discarded (the
 * client resumes with `since`); the reason is written straight to the websocket, behind only the
 * bytes it already holds, so a client that reads again learns why; then the websocket closes
 * once those are sent, and `ws` destroys it after its close timeout (30 s) if they never are.
 * A polite close would wait for engine.io's queue to drain, which a consumer that stopped reading
 * never lets happen.
 */
export function cutSocket(socket: Pick<HubSocket, "emit" | "disconnect" | "conn">, reason: string, metrics?: Pick<HubMetrics, "slowConsumer">): void {
  metrics?.slowConsumer();
  const conn = socket.conn as unknown as {
    writeBuffer?: unknown[];
    close?(discard: boolean): void;
    transport?: { name?: string; socket?: { readyState?: number; send?(data: string): void; close?(code?: number): void } };
  };
  const ws = conn.transport?.name === "websocket" ? conn.transport.socket : undefined;
  if (conn.writeBuffer) conn.writeBuffer.length = 0;
  if (ws?.send && ws.readyState === 1) {
    // An engine.io message ("4") carrying a Socket.IO event ("2") to the main namespace.
    ws.send(`42${JSON.stringify(["hub:closing", { reason }])}`);
    ws.close?.(1000);
  } else socket.emit("hub:closing", { reason });
  socket.disconnect(true);
  conn.close?.(true);
}
