/**
 * Ordered delivery of channel and session messages to this node's sockets: watches (replay
 * from Postgres, then live), channels joined at a head, streams left, and watched sessions
 * re-checked when access may have ended. Socket handlers and the event router both act
 * through here; the per-socket ordering rules themselves live in streams.ts.
 */
import type { Logger } from "pino";
import { Conflict } from "../errors.js";
import type { ChannelHead } from "../domain/channels/repository.js";
import type { HubMetrics } from "../observability/metrics.js";
import type { Services } from "../services.js";
import type { HubSocket, TurnEventPayload, WatchAck } from "./protocol.js";
import { rooms } from "./rooms.js";
import type { LocalSockets } from "./sockets.js";
import { closeSocket } from "./sockets.js";
import { Streams, messageBytes, type SeqRange, type StreamKind } from "./streams.js";

/** At most this many missed messages, and about this many bytes, in one watch ack or pushed page. */
export const REPLAY_LIMIT = 500;
export const REPLAY_MAX_BYTES = 1024 * 1024;
/** A resume pushes its next page once the socket has sent the last one, or after this long. */
const DRAIN_WAIT_MS = 10_000;

/** What delivery reads from the domain: messages after a seq, and who may read what. */
export type DeliveryDomain = {
  channels: Pick<Services["channels"], "readable" | "after" | "afterHeads" | "reachesBySubscription">;
  sessions: Pick<Services["sessions"], "readable" | "readableAmong">;
  sessionMessages: Pick<Services["sessionMessages"], "after">;
  turns: Pick<Services["turns"], "active" | "snapshot" | "eventsAfter" | "approvalsOf">;
};

/** A turn's stream id: its events are delivered per socket like any seq-numbered stream. */
export const turnStream = (sessionId: string, turnId: string) => `${sessionId}/${turnId}`;

interface ReplayPage {
  missed: Array<{ seq: number }>;
  /** The last seq the page covers (sent now, or left out as sent before). */
  cursor: number;
  more: boolean;
}

/** An ack to send, and what to do once it is sent (release held live messages). */
export interface WatchResult {
  ack: WatchAck;
  after(): void;
}

/** The room a watch of the stream joins (a turn's events go to its session's rooms). */
const roomOf = (kind: StreamKind, id: string) => (kind === "channel" ? rooms.channel(id) : kind === "session" ? rooms.session(id) : undefined);

export class Delivery {
  readonly streams: Streams;

  constructor(
    private readonly sockets: LocalSockets,
    private readonly domain: DeliveryDomain,
    private readonly log: Logger,
    /** Counts what is written one socket at a time (broadcasts are counted by `sockets`). */
    private readonly metrics?: HubMetrics,
  ) {
    this.streams = new Streams(
      {
        channel: {
          after: (id, afterSeq, limit) => domain.channels.after(id, afterSeq, limit),
          send: (socket, id, message) => this.send(socket as HubSocket, "channel", id, message),
          broadcast: (ready, _id, message) => sockets.emitTo(ready as HubSocket[], "channel:message", message),
        },
        session: {
          after: (id, afterSeq, limit) => domain.sessionMessages.after(id, afterSeq, limit),
          send: (socket, id, message) => this.send(socket as HubSocket, "session", id, message),
          broadcast: (ready, id, message) => sockets.emitTo(ready as HubSocket[], "session:message", { sessionId: id, message }),
        },
        turn: {
          after: async (id, afterSeq, limit) => {
            const [sessionId, turnId] = id.split("/") as [string, string];
            return (await domain.turns.eventsAfter(turnId, afterSeq, limit)).map((e) => ({ sessionId, turnId, seq: e.seq, event: e.event }));
          },
          send: (socket, id, payload) => this.send(socket as HubSocket, "turn", id, payload),
          broadcast: (ready, _id, payload) => sockets.emitTo(ready as HubSocket[], "turn:event", payload as TurnEventPayload),
        },
      },
      log,
    );
  }

  /**
   * A committed message for every socket of this node in any of `roomNames` (only those that
   * `admits`, when given: a session bound to a role under RBAC).
   */
  offer(kind: StreamKind, id: string, seq: number, message: unknown, roomNames: string[], admits?: (socket: HubSocket) => boolean): void {
    const targets = this.sockets.in(...roomNames);
    this.streams.offerAll(admits ? targets.filter(admits) : targets, kind, id, seq, message);
  }

  async watchChannel(socket: HubSocket, channelId: string, since: number | undefined): Promise<WatchResult> {
    const channel = await this.domain.channels.readable(socket.data.principal, channelId);
    return this.watch(socket, "channel", channelId, since ?? channel.message_count);
  }

  /**
   * A session watch also carries the session's running turns: `{turn, seq, snapshot, approvals}` each. Their
   * live events are held from before the snapshot is read until after the ack, so the socket gets
   * exactly the events after `seq`, none before the ack.
   */
  async watchSession(socket: HubSocket, sessionId: string, since: number | undefined): Promise<WatchResult> {
    const session = await this.domain.sessions.readable(socket.data.principal, sessionId);
    const active = await this.domain.turns.active(sessionId);
    for (const t of active) this.streams.beginCatchUp(socket, "turn", turnStream(sessionId, t.id), 0, { explicit: true });
    const watched = await this.watch(socket, "session", sessionId, since ?? session.message_count, session.agent_id ?? undefined);
    const running = await Promise.all(active.map(async (turn) => ({ turn, ...(await this.domain.turns.snapshot(turn.id)), approvals: await this.domain.turns.approvalsOf(turn.id) })));
    if (!watched.ack.ok) return watched;
    return {
      ack: running.length ? { ...watched.ack, turns: running } : watched.ack,
      after: () => {
        watched.after();
        for (const r of running) this.streams.finishCatchUp(socket, "turn", turnStream(sessionId, r.turn.id), 0, r.seq, false);
      },
    };
  }

  /** A socket may receive at most `max` streams: one more watch is refused (409). */
  assertRoomFor(socket: HubSocket, kind: StreamKind, id: string, max: number): void {
    if (!this.streams.get(socket, kind, id) && this.streams.count(socket) >= max) {
      throw new Conflict(`This socket receives ${max} streams already; unwatch one before watching another`);
    }
  }

  /** Stops a watch. A channel the socket's agent is subscribed to keeps delivering (it ends with the subscription). */
  async unwatchChannel(socket: HubSocket, channelId: string): Promise<void> {
    if (await this.domain.channels.reachesBySubscription(socket.data.principal, channelId)) {
      this.streams.release(socket, "channel", channelId);
    } else this.leave(socket, "channel", channelId);
  }

  unwatchSession(socket: HubSocket, sessionId: string): void {
    this.leave(socket, "session", sessionId);
  }

  /**
   * Joins the channels' rooms with live delivery starting after each head, then reads back
   * what was committed after the head: a live event that passed this node before the join
   * leaves no hole even if no later message comes to reveal it (duplicates are dropped by seq).
   */
  joinChannels(socket: HubSocket, heads: ChannelHead[]): void {
    for (const { id, head } of heads) {
      this.streams.init(socket, "channel", id, head, { explicit: false });
      socket.join(rooms.channel(id));
    }
    void this.readBack(socket, heads);
  }

  /** Leaves a stream: no more of its messages, live or held. */
  leave(socket: HubSocket, kind: StreamKind, id: string): void {
    this.streams.drop(socket, kind, id);
    const room = roomOf(kind, id);
    if (room) socket.leave(room);
  }

  /** Leaves a channel the socket receives only through its agent's subscription (not one it watched). */
  leaveSubscribed(socket: HubSocket, channelId: string): void {
    if (!this.streams.get(socket, "channel", channelId)?.explicit) this.leave(socket, "channel", channelId);
  }

  /**
   * Sockets whose access may have ended: each watched session (of `agentId`, when given) is
   * checked again, one query per socket however many it watches; failures leave.
   */
  async recheckSessions(sockets: HubSocket[], agentId?: string): Promise<void> {
    for (const socket of sockets) {
      const ids = this.streams.list(socket, "session").filter(({ state }) => !agentId || state.agentId === agentId).map(({ id }) => id);
      if (!ids.length) continue;
      const readable = await this.domain.sessions.readableAmong(socket.data.principal, ids).catch(() => new Set<string>());
      for (const id of ids) if (!readable.has(id)) this.leave(socket, "session", id);
    }
  }

  dropAll(socket: HubSocket): void {
    this.streams.dropAll(socket);
  }

  /**
   * Joins the stream's room with live delivery held, replays what came after `since` from
   * Postgres (leaving out what the socket was already sent), acks it, then releases the held
   * live messages after the replay. With `more`, the client asks again from the ack's last seq.
   */
  private async watch(socket: HubSocket, kind: StreamKind, id: string, since: number, agentId?: string): Promise<WatchResult> {
    const { from, skip } = this.streams.beginCatchUp(socket, kind, id, since, { explicit: true, ...(agentId ? { agentId } : {}) });
    socket.join(roomOf(kind, id)!);
    const page = await this.replayPage(kind, id, from, skip);
    return {
      ack: { ok: true, missed: page.missed, ...(page.more ? { more: true as const } : {}) },
      after: () => this.streams.finishCatchUp(socket, kind, id, from, page.cursor, page.more),
    };
  }

  /**
   * Starts a stream in catch-up from `since` at once, so nothing live is sent before what was
   * missed; the replay itself is `resume`. For streams a client names in its handshake. The
   * stream's room is joined only by `resume`, once the caller's access is confirmed: until then
   * nothing of it (messages, updates, turn events) can reach the socket.
   */
  holdFrom(socket: HubSocket, kind: "channel" | "session", id: string, since: number, explicit: boolean): void {
    this.streams.beginCatchUp(socket, kind, id, since, { explicit });
  }

  /**
   * For a stream held by `holdFrom` whose access is confirmed: joins its room, then pushes what
   * the socket missed, page by page as the socket keeps up, then releases live delivery: the
   * same as a watch with `since`, without the client having to page. The room is joined before
   * the replay is read, so what was committed before the join is in the replay and what comes
   * after arrives live (held, then deduplicated by seq). A socket whose replay cannot be read
   * is closed so that it resumes again.
   */
  async resume(socket: HubSocket, kind: StreamKind, id: string): Promise<void> {
    const st = this.streams.get(socket, kind, id);
    if (!st?.catchingUp) return;
    const room = roomOf(kind, id);
    if (room) socket.join(room);
    let from = st.cursor;
    try {
      for (;;) {
        const page = await this.replayPage(kind, id, from, st.skip);
        if (!socket.connected || this.streams.get(socket, kind, id) !== st) return;
        for (const message of page.missed) this.send(socket, kind, id, message);
        this.streams.finishCatchUp(socket, kind, id, from, page.cursor, page.more, false);
        if (!page.more) return;
        from = page.cursor;
        await this.drained(socket);
      }
    } catch (err) {
      this.log.warn({ err, socket: socket.id, stream: `${kind}:${id}` }, "could not replay what a socket missed; closing it so it resumes again");
      closeSocket(socket, "could not replay what was missed; reconnect to resume");
    }
  }

  private send(socket: HubSocket, kind: StreamKind, id: string, message: unknown): void {
    if (kind === "channel") socket.emit("channel:message", message);
    else if (kind === "session") socket.emit("session:message", { sessionId: id, message });
    else socket.emit("turn:event", message as TurnEventPayload);
    this.metrics?.wrote(kind === "channel" ? "channel:message" : kind === "session" ? "session:message" : "turn:event", message, 1);
  }

  /** One page of a replay: at most REPLAY_LIMIT messages and about REPLAY_MAX_BYTES, less `skip`. */
  private async replayPage(kind: StreamKind, id: string, from: number, skip: SeqRange | undefined): Promise<ReplayPage> {
    const rows = await this.streams.after(kind, id, from, REPLAY_LIMIT + 1);
    const page: ReplayPage = { missed: [], cursor: from, more: rows.length > REPLAY_LIMIT };
    let bytes = 0;
    for (const row of rows.slice(0, REPLAY_LIMIT)) {
      const alreadySent = !!skip && row.seq >= skip.from && row.seq <= skip.to;
      const size = alreadySent ? 0 : messageBytes(row);
      if (page.missed.length && bytes + size > REPLAY_MAX_BYTES) {
        page.more = true;
        break;
      }
      page.cursor = row.seq;
      if (alreadySent) continue;
      page.missed.push(row);
      bytes += size;
    }
    return page;
  }

  /** Resolves once what the socket was sent has left engine.io's buffer (or after DRAIN_WAIT_MS). */
  private drained(socket: HubSocket): Promise<void> {
    const conn = socket.conn as unknown as { writeBuffer?: unknown[]; once(event: "drain" | "close", fn: () => void): void };
    if (!conn.writeBuffer?.length) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, DRAIN_WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      conn.once("drain", done);
      conn.once("close", done);
    });
  }

  private async readBack(socket: HubSocket, heads: ChannelHead[]): Promise<void> {
    if (!heads.length) return;
    try {
      for (const message of await this.domain.channels.afterHeads(heads, REPLAY_LIMIT)) {
        if (socket.connected && socket.rooms.has(rooms.channel(message.channelId))) {
          this.streams.offer(socket, "channel", message.channelId, message.seq, message);
        }
      }
    } catch (err) {
      this.log.warn({ err, socket: socket.id }, "could not read back a channel's recent messages");
    }
  }
}
