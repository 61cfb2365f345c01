/** The Socket.IO wire protocol, typed once: what the server emits, what clients send, per-socket data. */
import type { Server, Socket } from "socket.io";
import type { Principal } from "../auth/principal.js";
import type { ChannelHead } from "../domain/channels/repository.js";
import type { StreamState } from "./streams.js";
import type { GroupUpdate } from "../domain/groups/policy.js";

export interface AckError {
  status: number;
  type: string;
  title: string;
  detail: string;
}

/** What `session:watch` and `channel:watch` ack; the other events ack `{ok: true}` or the same error. */
export type WatchAck = { ok: true; missed: unknown[]; more?: true; turns?: unknown[] } | { ok: false; error: AckError };

export interface ServerToClientEvents {
  "channel:message": (message: unknown) => void;
  "session:message": (payload: { sessionId: string; message: unknown }) => void;
  "session:updated": (payload: { sessionId: string; change: string; session: unknown }) => void;
  "group:session": (payload: { groupId: string; action: "added" | "removed"; sessionId: string }) => void;
  /** To the members the change concerns (groups/policy.ts groupUpdateFor). */
  "group:updated": (payload: { groupId: string; action: GroupUpdate }) => void;
  /** To the workspace's people (channels/policy.ts receivesChannelUpdates). */
  "channel:updated": (payload: { channelId: string; action: "created" | "deleted" | "subscribed" | "unsubscribed" }) => void;
  /** Sent just before the server closes a socket on purpose (revoked, expired, slow, abusive). */
  "hub:closing": (payload: { reason: string }) => void;
  /** A turn of a session the socket receives started, produced an event (seq from 1, per turn), ended. */
  "turn:started": (payload: { sessionId: string; turn: unknown }) => void;
  "turn:event": (payload: TurnEventPayload) => void;
  "turn:ended": (payload: { sessionId: string; turn: unknown }) => void;
  /** To the members of the group (and watchers of the conversation): an ask was made, or one of its turns ended. */
  "ask:updated": (payload: { groupId: string; ask: unknown }) => void;
  /** To one serving socket of the agent (after `agent:serve`): answer with `agent:event` until `done`. */
  "turn:request": (payload: TurnRequest) => void;
  "turn:cancel": (payload: { turnId: string }) => void;
  "turn:approval": (payload: { sessionId: string; turnId: string; approval: unknown }) => void;
}

export interface TurnEventPayload {
  sessionId: string;
  turnId: string;
  seq: number;
  event: unknown;
}

export interface TurnRequest {
  turnId: string;
  sessionId: string;
  /** The id the answer will be stored under. */
  messageId: string;
  /** The user's message that triggered the turn; in a group's conversation also who asked (`userId`, `userName`). */
  message: { id: string; role: string; content: unknown; userId?: number; userName?: string };
  /** The session's last 50 messages before the trigger, oldest first. */
  history: unknown[];
}

/** Client events; the handlers take the ack from the last argument, whatever came before it. */
export interface ClientToServerEvents {
  "session:watch": (...args: unknown[]) => void;
  "session:unwatch": (...args: unknown[]) => void;
  "channel:watch": (...args: unknown[]) => void;
  "channel:unwatch": (...args: unknown[]) => void;
  /** An agent key with `turns:serve` offers to answer its agent's turns; ack `{ok: true}`. */
  "agent:serve": (...args: unknown[]) => void;
  /** A serving socket's answer to a `turn:request`: `{turnId, event}`, no ack. */
  "agent:event": (...args: unknown[]) => void;
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
