/**
 * The realtime client's vocabulary: its options (with their defaults, applied in one place), the
 * connection's own events next to the hub's, and the socket type. Browser-safe: types and one
 * pure function.
 */
import type { Socket } from "socket.io-client";
import type { AgentHubError } from "./errors.js";
import type { ClientToServerEvents, ServerToClientEvents } from "./types.js";

export type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type StreamKind = "channel" | "session";

/** The connection's own events, next to the hub's. */
export interface LifecycleEvents {
  /** Connected (first time or again) to `url`; watches are being renewed. */
  connect: (info: { url: string; reconnect: boolean }) => void;
  /** The connection ended; the next attempt is in `retryInMs` (none after close()). */
  disconnect: (info: { reason: string; byServer: boolean; retryInMs: number | undefined }) => void;
  /**
   * A connection attempt failed: `refused` when the hub refused it (`unauthorized`,
   * `unavailable`, `rate limited`, …), else the network; retried after `retryInMs`.
   */
  connect_error: (info: { error: Error; refused: boolean; url: string; retryInMs: number }) => void;
  /** A watch renewed after a reconnect was refused (access ended, say): the stream is no longer watched. */
  watch_error: (info: { kind: StreamKind; id: string; error: AgentHubError }) => void;
}

export type RealtimeEvents = ServerToClientEvents & LifecycleEvents;
export type RealtimeEventName = keyof RealtimeEvents;

export interface RealtimeOptions {
  /** A hub's base URL, or several hubs': each reconnect goes to the next one. */
  url: string | readonly string[];
  /** A user token, master key or agent key (`auth.token`); a function is asked at every connect. */
  token: string | (() => string | Promise<string>);
  /** Socket.IO path (default /socket.io). */
  path?: string;
  /** First reconnect delay and its cap, in ms (defaults 500 and 30000); doubled per failed attempt, ±25% jitter. */
  retryDelayMs?: number;
  retryDelayMaxMs?: number;
  /** How long an ack may take (default 10000 ms). */
  ackTimeoutMs?: number;
  /** How long delivery waits for a missing seq before watching the stream again from its position (default 1000 ms). */
  gapTimeoutMs?: number;
}

export interface WatchOptions {
  /** Deliver what came after this seq first (0: the whole history), then live. Without it: from now. */
  since?: number;
}

export type ResolvedOptions = Required<Omit<RealtimeOptions, "url" | "token">> & Pick<RealtimeOptions, "token">;

/** The hubs' base URLs (without trailing slashes) and every other option with its default. */
export function resolveOptions(options: RealtimeOptions): { urls: string[]; options: ResolvedOptions } {
  const urls = (typeof options.url === "string" ? [options.url] : [...options.url]).map((u) => u.replace(/\/+$/, ""));
  if (!urls.length) throw new TypeError("connectRealtime: give at least one url");
  return {
    urls,
    options: {
      token: options.token,
      path: options.path ?? "/socket.io",
      retryDelayMs: options.retryDelayMs ?? 500,
      retryDelayMaxMs: options.retryDelayMaxMs ?? 30_000,
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      gapTimeoutMs: options.gapTimeoutMs ?? 1000,
    },
  };
}
