/** The Socket.IO wire protocol, typed once: what the server emits, what clients send, per-socket data. */
import type { Server, Socket } from "socket.io";
import type { Principal } from "../auth/principal.js";
import type { ChannelHead } from "../domain/channels/repository.js";
import type { StreamState } from "./streams.js";

export interface AckError {
  status: number;
  type: string;
  title: string;
  detail: string;
}

/** What `session:watch` and `channel:watch` ack; the other events ack `{ok: true}` or the same error. */
export type WatchAck = { ok: true; missed: unknown[]; more?: true } | { ok: false; error: AckError };

export interface ServerToClientEvents {
  "channel:message": (message: unknown) => void;
  "session:message": (payload: { sessionId: string; message: unknown }) => void;
  "session:updated": (payload: { sessionId: string; change: string; session: unknown }) => void;
  "group:session": (payload: { groupId: string; action: "added" | "removed"; sessionId: string }) => void;
  /** Sent just before the server closes a socket on purpose (revoked, expired, slow, abusive). */
  "hub:closing": (payload: { reason: string }) => void;
}

/** Client events; the handlers take the ack from the last argument, whatever came before it. */
export interface ClientToServerEvents {
  "session:watch": (...args: unknown[]) => void;
  "session:unwatch": (...args: unknown[]) => void;
  "channel:watch": (...args: unknown[]) => void;
  "channel:unwatch": (...args: unknown[]) => void;
}

export interface SocketData {
  principal: Principal;
  /** Ordered delivery state per stream, kept by streams.ts. */
  streams: Map<string, StreamState>;
  /** Rooms and channel streams worked out during the handshake, joined on "connection". */
  atConnect?: { rooms: string[]; channels: ChannelHead[]; since: { channels?: Record<string, number>; sessions?: Record<string, number> } } | undefined;
}

export type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type HubServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
