/**
 * The realtime part of the typed client, over socket.io-client: typed events both ways, and
 * resume built in. It remembers the last `seq` of every stream (channel, session) it delivered;
 * after any disconnect it connects again (to the next hub when given several), hands those
 * positions to the handshake (`auth.since`), watches its watched streams again with `since`,
 * paging while the ack says `more: true`, and delivers each message once, in seq order (it
 * drops what it already delivered and holds what comes early). Turns render into a live message
 * per running turn (turns.ts) from the watch ack's snapshots and the `turn:event` deltas.
 * Its parts: stream-order.ts (once, in order), hub-socket.ts (one attempt), realtime-options.ts.
 *
 *   const rt = connectRealtime({ url: "http://localhost:3000", token: process.env.TOKEN! });
 *   rt.on("session:message", ({ sessionId, message }) => console.log(sessionId, message.seq));
 *   rt.turns.onUpdate((t) => render(t.message));
 *   await rt.watchSession(sessionId, { since: 0 });
 */
import { AgentHubError } from "./errors.js";
import { backoffMs, isRefusal, openHubSocket, routeHubEvents } from "./hub-socket.js";
import { Listeners } from "./listeners.js";
import { resolveOptions, type HubSocket, type RealtimeEventName, type RealtimeEvents, type RealtimeOptions, type ResolvedOptions, type StreamKind, type WatchOptions } from "./realtime-options.js";
import { StreamOrder, type OrderedStream } from "./stream-order.js";
import { TurnRenderer } from "./turns.js";
import type { ChannelMessage, ClientToServerEvents, Message, WatchAck } from "./types.js";

export type { HubSocket, LifecycleEvents, RealtimeEventName, RealtimeEvents, RealtimeOptions, StreamKind, WatchOptions } from "./realtime-options.js";

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
  private readonly listeners = new Listeners<RealtimeEvents>();
  /** Every stream's position; delivers its messages once each, in order. */
  private readonly streams = new StreamOrder((st, item) => this.deliver(st, item));
  /** Pending waitFor checks, run again at close(). */
  private readonly waiting = new Set<() => void>();
  private readonly options: ResolvedOptions;

  constructor(options: RealtimeOptions) {
    ({ urls: this.urls, options: this.options } = resolveOptions(options));
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
    return this.listeners.on(event, listener);
  }

  /** The last seq delivered of a stream, if any. */
  position(kind: StreamKind, id: string): number | undefined {
    return this.streams.get(kind, id)?.last;
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
    const socket = openHubSocket(url, this.options, () => this.streams.since());
    this.current = socket;

    socket.on("connect", () => {
      if (socket !== this.current) return;
      this.attempts = 0;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.fire("connect", { url, reconnect });
      for (const st of this.streams.all()) {
        st.watching = undefined;
        if (st.watched) this.renewWatched(st, socket);
      }
    });
    socket.on("connect_error", (error) => {
      if (socket !== this.current || this.closed) return;
      socket.disconnect();
      const retryInMs = this.scheduleReconnect();
      this.fire("connect_error", { error, refused: isRefusal(error), url, retryInMs });
    });
    socket.on("disconnect", (reason) => {
      if (socket !== this.current) return;
      for (const st of this.streams.all()) st.watching = undefined;
      if (this.closed) {
        this.fire("disconnect", { reason, byServer: reason === "io server disconnect", retryInMs: undefined });
        return;
      }
      socket.disconnect();
      const retryInMs = this.scheduleReconnect();
      this.fire("disconnect", { reason, byServer: reason === "io server disconnect", retryInMs });
    });

    routeHubEvents(socket, this.streams, this.turns, (event, ...args) => this.fire(event, ...args));
  }

  /** Backoff before the next attempt, on the next hub. */
  private scheduleReconnect(): number {
    const delay = backoffMs(this.attempts++, this.options);
    this.urlIndex++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
    return delay;
  }

  private fire<E extends RealtimeEventName>(event: E, ...args: Parameters<RealtimeEvents[E]>): void {
    this.listeners.fire(event, ...args);
  }

  // ---- streams -----------------------------------------------------------------------------

  /** A stream's next message, in order: passed on (and a session's rendered into its turns). */
  private deliver(st: OrderedStream, item: unknown): void {
    if (st.kind === "channel") this.fire("channel:message", item as ChannelMessage);
    else {
      const payload = item as { sessionId: string; message: Message };
      this.turns.message(payload.sessionId, payload.message);
      this.fire("session:message", payload);
    }
  }

  private async watch(kind: StreamKind, id: string, options: WatchOptions): Promise<void> {
    const st = this.streams.stream(kind, id);
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
    const st = this.streams.get(kind, id);
    if (!st) return;
    st.watched = false;
    this.streams.delete(kind, id);
    if (this.connected) await this.request(kind === "session" ? "session:unwatch" : "channel:unwatch", (kind === "session" ? { sessionId: id } : { channelId: id }) as never);
  }

  /** Watches a stream from its position on the current connection, page by page; one at a time per stream. */
  private renew(st: OrderedStream): Promise<void> {
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
          this.streams.offer(st.kind, st.id, st.kind === "session" ? { sessionId: st.id, message: m } : m);
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
  private renewWatched(st: OrderedStream, socket: HubSocket): void {
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
    for (const st of this.streams.all()) {
      if (st.gapSince !== undefined && now - st.gapSince >= this.options.gapTimeoutMs && !st.watching) {
        st.gapSince = now;
        this.renew(st).catch(() => this.streams.giveUpGap(st));
      }
    }
    for (const t of this.turns.gapped(this.options.gapTimeoutMs)) {
      const st = this.streams.stream("session", t.sessionId);
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
