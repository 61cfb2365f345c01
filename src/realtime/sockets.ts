/**
 * This node's sockets, as the event router and stream delivery see them: found by room, sent to
 * by room or one by one, closed with a reason. A small interface so both can be tested without
 * a server.
 */
import type { HubServer, HubSocket, ServerToClientEvents } from "./protocol.js";

type Event = keyof ServerToClientEvents;
type Payload<E extends Event> = Parameters<ServerToClientEvents[E]>[0];

export interface LocalSockets {
  /** This node's sockets in any of the rooms, each once. */
  in(...roomNames: string[]): HubSocket[];
  /** Sends to this node's sockets in any of the rooms (encoded once), less `except`. */
  emit<E extends Event>(roomNames: string[], event: E, payload: Payload<E>, except?: HubSocket[]): void;
  /** Sends to these sockets of this node (encoded once). */
  emitTo<E extends Event>(sockets: HubSocket[], event: E, payload: Payload<E>): void;
  /** Closes a socket on purpose, telling it why first. */
  close(socket: HubSocket, reason: string): void;
}

export function localSockets(io: HubServer): LocalSockets {
  const nsp = io.of("/");
  return {
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
    emit(roomNames, event, payload, except = []) {
      const target = io.local.to(roomNames);
      (except.length ? target.except(except.map((s) => s.id)) : target).emit(event, ...([payload] as Parameters<ServerToClientEvents[typeof event]>));
    },
    emitTo(sockets, event, payload) {
      if (sockets.length) io.local.to(sockets.map((s) => s.id)).emit(event, ...([payload] as Parameters<ServerToClientEvents[typeof event]>));
    },
    close: closeSocket,
  };
}

/** Closes a socket on purpose, telling it why first. */
export function closeSocket(socket: HubSocket, reason: string): void {
  socket.emit("hub:closing", { reason });
  socket.disconnect(true);
}

/**
 * Drops a connection that cannot keep up: tells it why (it may never arrive), then discards what
 * is queued and ends the websocket at once. A polite close would wait for the queue to drain,
 * which a consumer that stopped reading never lets happen.
 */
export function cutSocket(socket: Pick<HubSocket, "emit" | "disconnect" | "conn">, reason: string): void {
  socket.emit("hub:closing", { reason });
  socket.disconnect(true);
  const conn = socket.conn as unknown as { close?(discard: boolean): void; transport?: { socket?: { terminate?(): void } } };
  conn.close?.(true);
  conn.transport?.socket?.terminate?.();
}
