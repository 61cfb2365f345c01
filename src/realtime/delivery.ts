/**
 * Ordered delivery of channel and session messages to this node's sockets: watches (replay
 * from Postgres, then live), channels joined at a head, streams left, and watched sessions
 * re-checked when access may have ended. Socket handlers and the event router both act
 * through here; the per-socket ordering rules themselves live in streams.ts.
 */
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";
import type { ChannelHead } from "../domain/channels/repository.js";
import type { Services } from "../services.js";
import type { HubSocket, WatchAck } from "./protocol.js";
import { rooms } from "./rooms.js";
import type { LocalSockets } from "./sockets.js";
import { Streams, type StreamKind } from "./streams.js";

/** At most this many missed messages in one watch ack; the client asks again for the rest. */
export const REPLAY_LIMIT = 500;

/** What delivery reads from the domain: messages after a seq, and who may read what. */
export type DeliveryDomain = {
  channels: Pick<Services["channels"], "readable" | "after" | "afterHeads" | "reachesBySubscription">;
  sessions: Pick<Services["sessions"], "readable">;
  sessionMessages: Pick<Services["sessionMessages"], "after">;
};

/** An ack to send, and what to do once it is sent (release held live messages). */
export interface WatchResult {
  ack: WatchAck;
  after(): void;
}

const roomOf = (kind: StreamKind, id: string) => (kind === "channel" ? rooms.channel(id) : rooms.session(id));

export class Delivery {
  readonly streams: Streams;

  constructor(
    private readonly sockets: LocalSockets,
    private readonly domain: DeliveryDomain,
    private readonly log: Logger,
  ) {
    this.streams = new Streams(
      {
        channel: {
          after: (id, afterSeq, limit) => domain.channels.after(id, afterSeq, limit),
          send: (socket, _id, message) => socket.emit("channel:message", message),
          broadcast: (_ready, skipped, id, message) =>
            sockets.emit([rooms.channel(id)], "channel:message", message, skipped as HubSocket[]),
        },
        session: {
          after: (id, afterSeq, limit) => domain.sessionMessages.after(id, afterSeq, limit),
          send: (socket, id, message) => socket.emit("session:message", { sessionId: id, message }),
          broadcast: (ready, _skipped, id, message) => sockets.emitTo(ready as HubSocket[], "session:message", { sessionId: id, message }),
        },
      },
      log,
    );
  }

  /** A committed message for every socket of this node in any of `roomNames`. */
  offer(kind: StreamKind, id: string, seq: number, message: unknown, roomNames: string[]): void {
    this.streams.offerAll(this.sockets.in(...roomNames), kind, id, seq, message);
  }

  async watchChannel(socket: HubSocket, channelId: string, since: number | undefined): Promise<WatchResult> {
    const channel = await this.domain.channels.readable(socket.data.principal, channelId);
    return this.watch(socket, "channel", channelId, since ?? channel.message_count);
  }

  async watchSession(socket: HubSocket, sessionId: string, since: number | undefined): Promise<WatchResult> {
    const session = await this.domain.sessions.readable(socket.data.principal, sessionId);
    return this.watch(socket, "session", sessionId, since ?? session.message_count, session.agent_id);
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
    socket.leave(roomOf(kind, id));
  }

  /** Leaves a channel the socket receives only through its agent's subscription (not one it watched). */
  leaveSubscribed(socket: HubSocket, channelId: string): void {
    if (!this.streams.get(socket, "channel", channelId)?.explicit) this.leave(socket, "channel", channelId);
  }

  /** Sockets whose access may have ended: each watched session (of `agentId`, when given) is checked again; failures leave. */
  async recheckSessions(sockets: HubSocket[], agentId?: string): Promise<void> {
    for (const socket of sockets) {
      for (const { id, state } of this.streams.list(socket, "session")) {
        if (agentId && state.agentId !== agentId) continue;
        if (!(await this.mayRead(socket.data.principal, id))) this.leave(socket, "session", id);
      }
    }
  }

  dropAll(socket: HubSocket): void {
    this.streams.dropAll(socket);
  }

  private mayRead(p: Principal, sessionId: string): Promise<boolean> {
    return this.domain.sessions.readable(p, sessionId).then(
      () => true,
      () => false,
    );
  }

  /**
   * Joins the stream's room with live delivery held, replays what came after `since` from
   * Postgres, acks it, then releases the held live messages after the replay.
   */
  private async watch(socket: HubSocket, kind: StreamKind, id: string, since: number, agentId?: string): Promise<WatchResult> {
    const from = this.streams.beginCatchUp(socket, kind, id, since, { explicit: true, ...(agentId ? { agentId } : {}) });
    socket.join(roomOf(kind, id));
    const rows = await (kind === "channel" ? this.domain.channels.after(id, from, REPLAY_LIMIT + 1) : this.domain.sessionMessages.after(id, from, REPLAY_LIMIT + 1));
    const more = rows.length > REPLAY_LIMIT;
    const missed = rows.slice(0, REPLAY_LIMIT);
    const cursor = missed.length ? missed[missed.length - 1]!.seq : from;
    return {
      ack: { ok: true, missed, ...(more ? { more: true as const } : {}) },
      after: () => this.streams.finishCatchUp(socket, kind, id, cursor, more),
    };
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
