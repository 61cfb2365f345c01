/** Socket.IO clients for tests: connect with a credential, collect events, await conditions. */
import { io as connectClient, type Socket } from "socket.io-client";
import { waiters } from "./waiters.js";

export interface Client {
  socket: Socket;
  /** Every event received, in order, by name. */
  events: Array<{ event: string; payload: any }>;
  of(event: string): any[];
  /** Resolves when `predicate` holds over the received events (checked on each event). */
  until(predicate: () => boolean, what?: string, timeoutMs?: number): Promise<void>;
  emitAck<T = any>(event: string, payload: unknown): Promise<T>;
  /**
   * How the socket was closed, once it is, as the client saw it: Socket.IO's disconnect reason
   * and, when the WebSocket itself was closed, its close code.
   */
  readonly closed: { reason: string; code: number | undefined } | undefined;
  close(): void;
}

export interface ConnectOptions {
  reconnection?: boolean;
  /** `auth.since`: the positions to resume from, by stream. */
  since?: Record<string, unknown>;
}

export async function connect(url: string, token: string | undefined, options: ConnectOptions = {}): Promise<Client> {
  const socket = connectClient(url, {
    path: "/socket.io",
    transports: ["websocket"],
    auth: { ...(token === undefined ? {} : { token }), ...(options.since ? { since: options.since } : {}) },
    reconnection: options.reconnection ?? false,
    forceNew: true,
  });
  const events: Client["events"] = [];
  const waiting = waiters();
  let closed: Client["closed"];
  socket.onAny((event, payload) => {
    events.push({ event, payload });
    waiting.wake();
  });
  socket.on("disconnect", (reason, details) => {
    const context = details && "context" in details ? (details.context as { code?: unknown } | undefined) : undefined;
    closed = { reason, code: typeof context?.code === "number" ? context.code : undefined };
    events.push({ event: "disconnect", payload: reason });
    waiting.wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err) => reject(err));
  });
  return {
    socket,
    events,
    of: (name) => events.filter((e) => e.event === name).map((e) => e.payload),
    until(predicate, what = "condition", timeoutMs = 10_000) {
      return waiting.until(predicate, what, timeoutMs, () => `got ${JSON.stringify(events.slice(-5))}`);
    },
    emitAck: (event, payload) => socket.timeout(10_000).emitWithAck(event, payload),
    get closed() {
      return closed;
    },
    close: () => socket.close(),
  };
}

/** Resolves with the connect_error message when a connection is refused. */
export function connectError(url: string, token: string | undefined, options: ConnectOptions = {}): Promise<string> {
  return connect(url, token, options).then(
    (c) => {
      c.close();
      throw new Error("connected, but should have been refused");
    },
    (err: Error) => err.message,
  );
}
