/**
 * The realtime part of the typed client, over socket.io-client: typed events both ways, and
 * resume built in. It remembers the last `seq` of every stream (channel, session) it delivered;
 * after any disconnect it connects again (to the next hub when given several), hands those
 * positions to the handshake (`auth.since`), watches its watched streams again with `since`,
 * paging while the ack says `more: true`, and delivers each message once, in seq order (it
 * drops what it already delivered and holds what comes early). Turns render into a live message
 * per running turn (turns.ts) from the watch ack's snapshots and the `turn:event` deltas.
 *
 *   const rt = connectRealtime({ url: "http://localhost:3000", token: process.env.TOKEN! });
 *   rt.on("session:message", ({ sessionId, message }) => console.log(sessionId, message.seq));
 *   rt.turns.onUpdate((t) => render(t.message));
 *   await rt.watchSession(sessionId, { since: 0 });
 */
import { io, type Socket } from "socket.io-client";
import type { AgentEvent } from "../domain/turns/events.js";
import { AgentHubError } from "./errors.js";
import { TurnRenderer } from "./turns.js";
import type { ChannelMessage, ClientToServerEvents, HandshakeSince, Message, ServerToClientEvents, WatchAck } from "./types.js";

export type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

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

export type StreamKind = "channel" | "session";

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

interface StreamState {
  kind: StreamKind;
  id: string;
  /** The last seq delivered in order; undefined until the first message. */
  last: number | undefined;
  /** Watched explicitly (renewed on every connect). */
  watched: boolean;
  /** Messages that came early, by seq. */
  pending: Map<number, unknown>;
  gapSince: number | undefined;
  /** A watch in flight on the current connection. */
  watching: Promise<void> | undefined;
}

/** At most this many streams are named in `auth.since` (the hub's bound). */
const MAX_RESUMED = 1000;
/** Messages held per stream while waiting for a missing seq. */
const MAX_PENDING = 10_000;

const key = (kind: StreamKind, id: string) => `${kind}:${id}`;

export function connectRealtime(options: RealtimeOptions): RealtimeClient {
  return new RealtimeClient(options);
}

export class RealtimeClient {
  /** Live messages of running turns (snapshot + deltas); `turns.onUpdate(fn)` to render them. */
  readonly turns = new TurnRenderer();

  private readonly urls: string[];
  private urlIndex = 0;
  private current: HubSocket | undefined;
  private currentUrl: string | undefined;
  private attempts = 0;
  private everConnected = false;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly gapTimer: ReturnType<typeof setInterval>;
  private readonly listeners = new Map<string, Set<(...args: any[]) => void>>();
  private readonly streams = new Map<string, StreamState>();
  /** Pending waitFor checks, run again at close(). */
  private readonly waiting = new Set<() => void>();
  private readonly options: Required<Omit<RealtimeOptions, "url" | "token">> & Pick<RealtimeOptions, "token">;

  constructor(options: RealtimeOptions) {
    this.urls = (typeof options.url === "string" ? [options.url] : [...options.url]).map((u) => u.replace(/\/+$/, ""));
    if (!this.urls.length) throw new TypeError("connectRealtime: give at least one url");
    this.options = {
      token: options.token,
      path: options.path ?? "/socket.io",
      retryDelayMs: options.retryDelayMs ?? 500,
      retryDelayMaxMs: options.retryDelayMaxMs ?? 30_000,
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      gapTimeoutMs: options.gapTimeoutMs ?? 1000,
    };
    this.gapTimer = setInterval(() => this.fillGaps(), Math.max(50, Math.min(this.options.gapTimeoutMs, 500)));
    this.gapTimer.unref?.();
    this.open();
  }

  /** The socket of the current connection (a new one after each reconnect). */
  get socket(): HubSocket | undefined {
    return this.current;
  }

  get connected(): boolean {
    return !!this.current?.connected;
  }

  /** The hub the client is connected (or connecting) to. */
  get url(): string | undefined {
    return this.currentUrl;
  }

  /**
   * Listens to a hub event or a connection event; returns a function that stops it.
   * `channel:message` and `session:message` come once each, in seq order per stream, across reconnects.
   */
  on<E extends RealtimeEventName>(event: E, listener: RealtimeEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (...args: any[]) => void);
    return () => set.delete(listener as (...args: any[]) => void);
  }

  /** The last seq delivered of a stream, if any. */
  position(kind: StreamKind, id: string): number | undefined {
    return this.streams.get(key(kind, id))?.last;
  }

  /** Sends an event without an ack (`agent:event`); dropped while disconnected. */
  emit(event: "agent:event", payload: Parameters<ClientToServerEvents["agent:event"]>[0]): boolean {
    if (!this.current?.connected) return false;
    this.current.emit(event, payload);
    return true;
  }

  /** Sends an event and resolves with its ack; throws AgentHubError for `{ok: false}`, an Error when not connected or on timeout. */
  async request<E extends "agent:serve" | "session:unwatch" | "channel:unwatch">(event: E, payload: Parameters<ClientToServerEvents[E]>[0], timeoutMs = this.options.ackTimeoutMs): Promise<{ ok: true }> {
    const socket = this.current;
    if (!socket?.connected) throw new Error(`not connected: cannot send ${event}`);
    const ack = (await (socket.timeout(timeoutMs) as any).emitWithAck(event, payload)) as { ok: boolean; error?: unknown };
    if (!ack?.ok) throw AgentHubError.from(0, (ack as { error?: unknown })?.error);
    return { ok: true };
  }

  /**
   * Watches a session (its messages, updates and turns), renewed after every reconnect. Resolves
   * once the first watch (and its pages) is done; throws AgentHubError when the hub refuses it.
   */
  watchSession(sessionId: string, options: WatchOptions = {}): Promise<void> {
    return this.watch("session", sessionId, options);
  }

  watchChannel(channelId: string, options: WatchOptions = {}): Promise<void> {
    return this.watch("channel", channelId, options);
  }

  async unwatchSession(sessionId: string): Promise<void> {
    await this.unwatch("session", sessionId);
  }

  async unwatchChannel(channelId: string): Promise<void> {
    await this.unwatch("channel", channelId);
  }

  /** Disconnects and stops reconnecting. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.gapTimer);
    for (const check of [...this.waiting]) check();
    const socket = this.current;
    if (socket?.connected) {
      await new Promise<void>((resolve) => {
        socket.once("disconnect", () => resolve());
        socket.disconnect();
      });
    } else socket?.disconnect();
  }

  // ---- connection --------------------------------------------------------------------------

  private open(): void {
    if (this.closed) return;
    const url = this.urls[this.urlIndex % this.urls.length]!;
    this.currentUrl = url;
    const socket: HubSocket = io(url, {
      path: this.options.path,
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      auth: (cb) => {
        const since = this.since();
        const token = this.options.token;
        Promise.resolve(typeof token === "function" ? token() : token).then(
          (t) => cb({ token: t, ...(since ? { since } : {}) }),
          () => cb({ ...(since ? { since } : {}) }),
        );
      },
    });
    this.current = socket;

    socket.on("connect", () => {
      if (socket !== this.current) return;
      this.attempts = 0;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.fire("connect", { url, reconnect });
      for (const st of this.streams.values()) {
        st.watching = undefined;
        if (st.watched) this.renewWatched(st, socket);
      }
    });
    socket.on("connect_error", (error) => {
      if (socket !== this.current || this.closed) return;
      socket.disconnect();
      const refused = (error as { type?: string }).type !== "TransportError" && error.message !== "timeout" && error.message !== "websocket error";
      const retryInMs = this.scheduleReconnect();
      this.fire("connect_error", { error, refused, url, retryInMs });
    });
    socket.on("disconnect", (reason) => {
      if (socket !== this.current) return;
      for (const st of this.streams.values()) st.watching = undefined;
      if (this.closed) {
        this.fire("disconnect", { reason, byServer: reason === "io server disconnect", retryInMs: undefined });
        return;
      }
      socket.disconnect();
      const retryInMs = this.scheduleReconnect();
      this.fire("disconnect", { reason, byServer: reason === "io server disconnect", retryInMs });
    });

    // Streams: ordered, once each.
    socket.on("channel:message", (message) => this.offer("channel", message?.channelId, message));
    socket.on("session:message", (payload) => this.offer("session", payload?.sessionId, payload));
    // Turns: rendered, and passed on as they come.
    socket.on("turn:started", (p) => {
      if (p?.turn) this.turns.started(p.sessionId, p.turn);
      this.fire("turn:started", p);
    });
    socket.on("turn:event", (p) => {
      if (p?.turnId) this.turns.event(p.sessionId, p.turnId, p.seq, p.event as AgentEvent);
      this.fire("turn:event", p);
    });
    socket.on("turn:ended", (p) => {
      if (p?.turn) this.turns.ended(p.sessionId, p.turn);
      this.fire("turn:ended", p);
    });
    for (const event of ["session:updated", "group:session", "ask:updated", "turn:request", "turn:cancel", "hub:closing"] as const) {
      socket.on(event, (payload: any) => this.fire(event, payload));
    }
  }

  /** Backoff before the next attempt, on the next hub. */
  private scheduleReconnect(): number {
    const base = Math.min(this.options.retryDelayMaxMs, this.options.retryDelayMs * 2 ** Math.min(this.attempts++, 20));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.urlIndex++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
    return delay;
  }

  /** `auth.since`: every stream with a position (watched ones first), at most MAX_RESUMED. */
  private since(): HandshakeSince | undefined {
    const known = [...this.streams.values()].filter((s) => s.last !== undefined).sort((a, b) => Number(b.watched) - Number(a.watched));
    if (!known.length) return undefined;
    const since: Required<HandshakeSince> = { channels: {}, sessions: {} };
    for (const s of known.slice(0, MAX_RESUMED)) (s.kind === "channel" ? since.channels : since.sessions)[s.id] = s.last!;
    return since;
  }

  private fire<E extends RealtimeEventName>(event: E, ...args: Parameters<RealtimeEvents[E]>): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        listener(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  // ---- streams -----------------------------------------------------------------------------

  private stream(kind: StreamKind, id: string): StreamState {
    let st = this.streams.get(key(kind, id));
    if (!st) {
      st = { kind, id, last: undefined, watched: false, pending: new Map(), gapSince: undefined, watching: undefined };
      this.streams.set(key(kind, id), st);
    }
    return st;
  }

  /** A message of a stream, live or replayed: delivered if next, held if early, dropped if seen. */
  private offer(kind: StreamKind, id: string | undefined, item: unknown): void {
    if (typeof id !== "string") return;
    const message = (kind === "channel" ? item : (item as { message?: unknown })?.message) as { seq?: unknown } | undefined;
    const seq = message?.seq;
    if (typeof seq !== "number") return;
    const st = this.stream(kind, id);
    if (st.last === undefined) st.last = seq - 1; // the first message of a stream seen from "now"
    if (seq <= st.last) return;
    if (seq > st.last + 1) {
      if (st.pending.size < MAX_PENDING) st.pending.set(seq, item);
      st.gapSince ??= Date.now();
      return;
    }
    this.deliver(st, seq, item);
    let next: unknown;
    while ((next = st.pending.get(st.last! + 1)) !== undefined) {
      st.pending.delete(st.last! + 1);
      this.deliver(st, st.last! + 1, next);
    }
    for (const s of [...st.pending.keys()]) if (s <= st.last!) st.pending.delete(s);
    st.gapSince = st.pending.size ? (st.gapSince ?? Date.now()) : undefined;
  }

  private deliver(st: StreamState, seq: number, item: unknown): void {
    st.last = seq;
    if (st.kind === "channel") this.fire("channel:message", item as ChannelMessage);
    else {
      const payload = item as { sessionId: string; message: Message };
      this.turns.message(payload.sessionId, payload.message);
      this.fire("session:message", payload);
    }
  }

  private async watch(kind: StreamKind, id: string, options: WatchOptions): Promise<void> {
    const st = this.stream(kind, id);
    if (options.since !== undefined && (st.last === undefined || options.since < st.last)) {
      // Asked for more history than was delivered: deliver it again from there.
      st.last = options.since;
      st.pending.clear();
    }
    st.watched = true;
    if (!this.connected) {
      await this.waitFor(() => this.connected);
    }
    try {
      await this.renew(st);
    } catch (err) {
      st.watched = false;
      throw err;
    }
  }

  private async unwatch(kind: StreamKind, id: string): Promise<void> {
    const st = this.streams.get(key(kind, id));
    if (!st) return;
    st.watched = false;
    this.streams.delete(key(kind, id));
    if (this.connected) await this.request(kind === "session" ? "session:unwatch" : "channel:unwatch", (kind === "session" ? { sessionId: id } : { channelId: id }) as never);
  }

  /** Watches a stream from its position on the current connection, page by page; one at a time per stream. */
  private renew(st: StreamState): Promise<void> {
    if (st.watching) return st.watching;
    const socket = this.current!;
    const run = (async () => {
      let since = st.last;
      for (;;) {
        const payload = st.kind === "session" ? { sessionId: st.id, ...(since !== undefined ? { since } : {}) } : { channelId: st.id, ...(since !== undefined ? { since } : {}) };
        const ack = (await (socket.timeout(this.options.ackTimeoutMs) as any).emitWithAck(st.kind === "session" ? "session:watch" : "channel:watch", payload)) as WatchAck<{ seq: number }>;
        if (socket !== this.current) return;
        if (!ack?.ok) throw AgentHubError.from(0, (ack as { error?: unknown })?.error);
        if (st.kind === "session") {
          for (const t of ack.turns ?? []) this.turns.snapshot(st.id, t);
          this.turns.runningAre(st.id, (ack.turns ?? []).map((t) => t.turn.id));
        }
        let lastSeq: number | undefined;
        for (const m of ack.missed) {
          this.offer(st.kind, st.id, st.kind === "session" ? { sessionId: st.id, message: m } : m);
          lastSeq = m.seq;
        }
        if (!ack.more) return;
        since = Math.max(lastSeq ?? 0, st.last ?? 0);
      }
    })();
    st.watching = run;
    const clear = () => {
      if (st.watching === run) st.watching = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /**
   * Renews a watched stream on a new connection: a refusal ends the watch (`watch_error`); no
   * answer in time is asked again a little later, while the connection lasts.
   */
  private renewWatched(st: StreamState, socket: HubSocket): void {
    this.renew(st).catch((err: unknown) => {
      if (socket !== this.current || this.closed || !st.watched) return;
      if (err instanceof AgentHubError) {
        st.watched = false;
        this.fire("watch_error", { kind: st.kind, id: st.id, error: err });
      } else {
        const timer = setTimeout(() => {
          if (socket === this.current && socket.connected && st.watched) this.renewWatched(st, socket);
        }, this.options.retryDelayMs);
        timer.unref?.();
      }
    });
  }

  /** Streams (and turns) with a seq missing for too long: watch them again from their position. */
  private fillGaps(): void {
    if (!this.connected) return;
    const now = Date.now();
    for (const st of this.streams.values()) {
      if (st.gapSince !== undefined && now - st.gapSince >= this.options.gapTimeoutMs && !st.watching) {
        st.gapSince = now;
        this.renew(st).catch(() => {
          // Not readable any more: deliver what was held, in order.
          if (st.pending.size) {
            st.last = Math.min(...st.pending.keys()) - 1;
            this.offer(st.kind, st.id, st.pending.get(st.last + 1));
          }
        });
      }
    }
    for (const t of this.turns.gapped(this.options.gapTimeoutMs)) {
      const st = this.stream("session", t.sessionId);
      if (!st.watching) void this.renew(st).catch(() => {});
    }
  }

  /** Resolves once `condition` holds (checked at every connect); rejects when the client is closed first. */
  private waitFor(condition: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const stop = () => {
        off();
        this.waiting.delete(check);
      };
      const check = () => {
        if (this.closed) {
          stop();
          reject(new Error("the realtime client was closed"));
        } else if (condition()) {
          stop();
          resolve();
        }
      };
      const off = this.on("connect", check);
      this.waiting.add(check);
      check();
    });
  }
}
