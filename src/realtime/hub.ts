/**
 * The realtime hub: Socket.IO on the HTTP server (Redis adapter when REDIS_URL is set),
 * handshake authentication with the same code as REST, server-decided rooms, and the routing
 * of committed domain events to sockets on every node.
 */
import type http from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import type { Logger } from "pino";
import { Server, type Socket } from "socket.io";
import { z } from "zod";
import type { Authenticator } from "../auth/authenticate.js";
import { describePrincipal, hasScope, type Principal } from "../auth/principal.js";
import type { Config } from "../config.js";
import { loadReadableChannel } from "../domain/channels/policy.js";
import { channelMessagesAfter, presentMessage as presentChannelMessage } from "../domain/channels/service.js";
import { messagesAfter as sessionMessagesAfter } from "../domain/sessions/messages.js";
import { loadReadableSession } from "../domain/sessions/policy.js";
import { groupIdsForUser, isGroupMember } from "../domain/groups/policy.js";
import type { DomainEvent, EventBus } from "../domain/events.js";
import type { Knex } from "knex";
import type { Clock } from "../domain/time.js";
import { AppError } from "../errors.js";
import { toProblem } from "../http/problem.js";
import { parse } from "../http/validate.js";
import type { Redis } from "ioredis";
import { closeRedis, createRedis } from "../redis.js";
import type { Services } from "../services.js";
import type { AckError, ClientToServerEvents, ServerToClientEvents, SocketData, WatchAck } from "./protocol.js";
import { rooms } from "./rooms.js";
import { Streams, type StreamKind } from "./streams.js";
import { localTransport, redisTransport, type EventTransport } from "./transport.js";
import { SocketLimits } from "./limits.js";
import { Reorderer } from "./reorder.js";
import { coalesceWrites } from "./coalesce.js";

type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type HubServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;


export interface RealtimeDeps {
  server: http.Server;
  config: Config;
  log: Logger;
  auth: Authenticator;
  services: Services;
  db: Knex;
  bus: EventBus;
  clock?: Clock | undefined;
}

export interface Realtime {
  io: HubServer;
  /** A Redis client for plain commands (not subscribed), when Redis is used. */
  commands: Redis | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** At most this many missed messages in one watch ack; the client asks again for the rest. */
export const REPLAY_LIMIT = 500;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A seq to resume after: a whole number, sent as a JSON number or a numeric string. */
const Since = z.union([z.number(), z.string().regex(/^\d{1,15}$/).transform(Number)]).pipe(z.number().int().min(0)).optional();
const ChannelWatch = z.object({ channelId: z.string().min(1).max(100), since: Since });
const SessionWatch = z.object({ sessionId: z.string().min(1).max(100), since: Since });
const ChannelUnwatch = z.object({ channelId: z.string().min(1).max(100) });
const SessionUnwatch = z.object({ sessionId: z.string().min(1).max(100) });

export async function createRealtime(deps: RealtimeDeps): Promise<Realtime> {
  const { config, log, services } = deps;
  const db = deps.db;
  const io: HubServer = new Server(deps.server, {
    path: "/socket.io",
    maxHttpBufferSize: config.socket.maxPayload,
    cors: { origin: true, credentials: false },
  });
  coalesceWrites(io.engine);

  const redis = config.redisUrl
    ? {
        pub: createRedis(config.redisUrl, log, "pub"),
        sub: createRedis(config.redisUrl, log, "sub"),
        events: createRedis(config.redisUrl, log, "events"),
      }
    : undefined;
  if (redis) io.adapter(createAdapter(redis.pub, redis.sub, { key: config.redisPrefix }));
  const transport: EventTransport = redis
    ? await redisTransport(redis.pub, redis.events, `${config.redisPrefix}:events`, log)
    : localTransport();

  const limits = new SocketLimits(config.socket, log, deps.clock);
  const reorder = new Reorderer();
  const streams = new Streams(
    {
      channel: {
        after: (id, afterSeq, limit) => channelMessagesAfter(db, id, afterSeq, limit),
        send: (socket, _id, message) => socket.emit("channel:message", message),
        broadcast: (_ready, skipped, id, message) => {
          const target = io.local.to(rooms.channel(id));
          (skipped.length ? target.except(skipped.map((s) => s.id)) : target).emit("channel:message", message);
        },
      },
      session: {
        after: (id, afterSeq, limit) => sessionMessagesAfter(db, id, afterSeq, limit),
        send: (socket, id, message) => socket.emit("session:message", { sessionId: id, message }),
        broadcast: (ready, _skipped, id, message) => io.local.to(ready.map((s) => s.id)).emit("session:message", { sessionId: id, message }),
      },
    },
    log,
  );
  // Slow consumers are looked for once a second rather than on each of the tens of thousands
  // of sends a second a busy node makes.
  const sweep = setInterval(() => {
    for (const socket of io.of("/").sockets.values()) limits.checkBuffered(socket);
  }, 1000);
  sweep.unref();

  /** This node's sockets in any of the rooms, each once. */
  const localSockets = (...roomNames: string[]): HubSocket[] => {
    const adapterRooms = io.of("/").adapter.rooms;
    const ids: Iterable<string> =
      roomNames.length === 1 ? (adapterRooms.get(roomNames[0]!) ?? []) : new Set(roomNames.flatMap((r) => [...(adapterRooms.get(r) ?? [])]));
    const out: HubSocket[] = [];
    for (const id of ids) {
      const s = io.of("/").sockets.get(id);
      if (s) out.push(s);
    }
    return out;
  };

  const close = (socket: HubSocket, reason: string) => {
    socket.emit("hub:closing", { reason });
    socket.disconnect(true);
  };

  // ---- handshake and connection ----------------------------------------------------------

  io.use(async (socket, next) => {
    let principal: Principal;
    try {
      const token = socket.handshake.auth?.token;
      principal = await deps.auth.authenticate(typeof token === "string" ? token : undefined);
    } catch (err) {
      if (!(err instanceof AppError)) log.error({ err }, "socket authentication failed");
      return next(new Error("unauthorized"));
    }
    try {
      socket.data.principal = principal;
      socket.data.streams = new Map();
      // Worked out before the connection is accepted, and joined synchronously on "connection",
      // so a client that sees "connect" is already in every room it belongs to.
      initialRooms.set(socket.id, await roomsAtConnect(principal));
      next();
    } catch (err) {
      log.error({ err }, "could not work out a socket's rooms");
      next(new Error("internal error"));
    }
  });

  io.on("connection", (socket) => {
    const p = socket.data.principal;
    const slog = log.child({ socket: socket.id, principal: describePrincipal(p) });
    slog.debug("socket connected");
    limits.attach(socket, (reason) => close(socket, reason));
    socket.on("disconnect", (reason) => {
      streams.dropAll(socket);
      slog.debug({ reason }, "socket disconnected");
    });
    joinInitialRooms(socket);

    socket.on("channel:watch", (payload, ack) =>
      answer(ack, async () => {
        const { channelId, since } = parse(ChannelWatch, payload, "payload");
        const channel = await loadReadableChannel(db, socket.data.principal, channelId);
        return watch(socket, "channel", channelId, rooms.channel(channelId), since ?? Number(channel.message_count));
      }),
    );
    socket.on("channel:unwatch", (payload, ack) =>
      answer(ack, async () => {
        const { channelId } = parse(ChannelUnwatch, payload, "payload");
        const p = socket.data.principal;
        const subscribed =
          p.kind === "agent" &&
          (await db("team_channel_subscriptions").where({ channel_id: channelId, agent_id: p.agentId }).first("agent_id"));
        if (subscribed) {
          // The agent's own subscription keeps delivering; it now ends with the subscription.
          const st = streams.get(socket, "channel", channelId);
          if (st) st.explicit = false;
        } else {
          streams.drop(socket, "channel", channelId);
          socket.leave(rooms.channel(channelId));
        }
        return { ok: true as const };
      }),
    );
    socket.on("session:watch", (payload, ack) =>
      answer(ack, async () => {
        const { sessionId, since } = parse(SessionWatch, payload, "payload");
        const session = await loadReadableSession(db, socket.data.principal, sessionId);
        return watch(socket, "session", sessionId, rooms.session(sessionId), since ?? session.message_count, session.agent_id);
      }),
    );
    socket.on("session:unwatch", (payload, ack) =>
      answer(ack, async () => {
        const { sessionId } = parse(SessionUnwatch, payload, "payload");
        socket.leave(rooms.session(sessionId));
        streams.drop(socket, "session", sessionId);
        return { ok: true as const };
      }),
    );
  });

  interface ConnectRooms {
    rooms: string[];
    channelHeads: Array<{ id: string; head: number }>;
  }
  const initialRooms = new Map<string, ConnectRooms>();

  async function roomsAtConnect(p: Principal): Promise<ConnectRooms> {
    if (p.kind === "user") {
      const groupIds = await groupIdsForUser(db, p);
      return { rooms: [rooms.user(p.workspaceId, p.userId), rooms.workspaceUsers(p.workspaceId), ...groupIds.map(rooms.group)], channelHeads: [] };
    }
    if (p.kind === "master") return { rooms: [rooms.key(p.keyId)], channelHeads: [] };
    const out: ConnectRooms = { rooms: [rooms.key(p.keyId), rooms.agent(p.workspaceId, p.agentId)], channelHeads: [] };
    if (hasScope(p, "sessions:read")) out.rooms.push(rooms.agentSessions(p.workspaceId, p.agentId));
    if (hasScope(p, "channels:read")) {
      const subscribed = await db("team_channel_subscriptions as s")
        .join("team_channels as c", "c.id", "s.channel_id")
        .where({ "s.workspace_id": p.workspaceId, "s.agent_id": p.agentId })
        .select("c.id", "c.message_count");
      out.channelHeads = subscribed.map((r) => ({ id: r.id, head: Number(r.message_count) }));
    }
    return out;
  }

  function joinInitialRooms(socket: HubSocket): void {
    const p = socket.data.principal;
    const initial = initialRooms.get(socket.id);
    initialRooms.delete(socket.id);
    if (!initial) return;
    socket.join(initial.rooms);
    for (const { id, head } of initial.channelHeads) {
      streams.init(socket, "channel", id, head, { explicit: false });
      socket.join(rooms.channel(id));
    }
    void deliverCommittedSince(socket, initial.channelHeads);
    if (p.kind === "user") {
      const ms = p.expiresAt.getTime() - Date.now();
      const timer = setTimeout(() => close(socket, "token expired"), Math.max(0, Math.min(ms, MAX_TIMER_MS)));
      socket.on("disconnect", () => clearTimeout(timer));
    }
  }

  /**
   * A socket joined channels at their `head`: anything committed after that whose live event
   * passed this node before the join is read back once, so the stream has no hole even if no
   * later message comes to reveal it. Per-socket seq cursors drop what arrives twice.
   */
  async function deliverCommittedSince(socket: HubSocket, heads: Array<{ id: string; head: number }>): Promise<void> {
    if (!heads.length) return;
    try {
      const rows = await db("team_channel_messages")
        .where((q) => {
          for (const { id, head } of heads) q.orWhere((c) => c.where("channel_id", id).andWhere("seq", ">", head));
        })
        .orderBy([{ column: "channel_id" }, { column: "seq" }])
        .limit(REPLAY_LIMIT);
      for (const row of rows) {
        const message = presentChannelMessage(row);
        if (socket.connected && socket.rooms.has(rooms.channel(message.channelId))) {
          streams.offer(socket, "channel", message.channelId, message.seq, message);
        }
      }
    } catch (err) {
      log.warn({ err, socket: socket.id }, "could not read back a channel's recent messages");
    }
  }

  /**
   * Joins the stream's room with live delivery held, replays what came after `since` from
   * Postgres, acks it, then releases the held live messages after the replay.
   */
  async function watch(socket: HubSocket, kind: StreamKind, id: string, room: string, since: number, agentId?: string) {
    const from = streams.beginCatchUp(socket, kind, id, since, { explicit: true, ...(agentId ? { agentId } : {}) });
    socket.join(room);
    const after = kind === "channel" ? channelMessagesAfter : sessionMessagesAfter;
    const rows = await after(db, id, from, REPLAY_LIMIT + 1);
    const more = rows.length > REPLAY_LIMIT;
    const missed = rows.slice(0, REPLAY_LIMIT);
    const cursor = missed.length ? missed[missed.length - 1]!.seq : from;
    return {
      ack: { ok: true as const, missed, ...(more ? { more: true as const } : {}) },
      after: () => streams.finishCatchUp(socket, kind, id, cursor, more),
    };
  }

  // ---- committed events -> sockets, on every node ----------------------------------------

  deps.bus.subscribe((event) => transport.publish(event));
  // Events are routed strictly one after another, so an access change (a removal whose
  // re-check reads Postgres) takes effect before any message that was published after it.
  const queue: DomainEvent[] = [];
  let draining = false;
  transport.onEvent((event) => {
    queue.push(event);
    if (!draining) void drain();
  });
  async function drain(): Promise<void> {
    draining = true;
    while (queue.length) {
      const event = queue.shift()!;
      try {
        const pending = route(event);
        if (pending) await pending;
      } catch (err) {
        log.error({ err, event: event.type }, "could not route event");
      }
    }
    draining = false;
  }

  /** Delivers one event to this node's sockets; returns a promise only when it must read Postgres. */
  function route(event: DomainEvent): Promise<void> | void {
    switch (event.type) {
      case "channel.message":
        reorder.push(`channel:${event.channelId}`, event.seq, () =>
          streams.offerAll(localSockets(rooms.channel(event.channelId)), "channel", event.channelId, event.seq, event.message),
        );
        return;
      case "channel.subscribed":
        for (const s of localSockets(rooms.agent(event.workspaceId, event.agentId))) {
          if (!hasScope(s.data.principal, "channels:read")) continue;
          streams.init(s, "channel", event.channelId, event.head, { explicit: false });
          s.join(rooms.channel(event.channelId));
          void deliverCommittedSince(s, [{ id: event.channelId, head: event.head }]);
        }
        return;
      case "channel.unsubscribed":
        for (const s of localSockets(rooms.agent(event.workspaceId, event.agentId))) {
          if (streams.get(s, "channel", event.channelId)?.explicit) continue;
          streams.drop(s, "channel", event.channelId);
          s.leave(rooms.channel(event.channelId));
        }
        return;
      case "channel.deleted":
        for (const s of localSockets(rooms.channel(event.channelId))) {
          streams.drop(s, "channel", event.channelId);
          s.leave(rooms.channel(event.channelId));
        }
        return;
      case "session.message_appended":
        reorder.push(`session:${event.sessionId}`, event.seq, () =>
          streams.offerAll(localSockets(...sessionRooms(event)), "session", event.sessionId, event.seq, event.message),
        );
        return;
      case "session.updated": {
        const targets = sessionRooms(event);
        io.local.to(targets).emit("session:updated", { sessionId: event.sessionId, change: event.change, session: event.session });
        if (event.change === "deleted") {
          for (const s of localSockets(rooms.session(event.sessionId))) {
            streams.drop(s, "session", event.sessionId);
            s.leave(rooms.session(event.sessionId));
          }
        }
        return;
      }
      case "group.session_added":
      case "group.session_removed":
        io.local.to(rooms.group(event.groupId)).emit("group:session", {
          groupId: event.groupId,
          action: event.type === "group.session_added" ? "added" : "removed",
          sessionId: event.sessionId,
        });
        if (event.type === "group.session_removed") return recheckSessionWatchers(localSockets(rooms.session(event.sessionId)));
        return;
      case "group.created":
      case "group.updated":
      case "group.deleted": {
        const left: HubSocket[] = [];
        for (const s of localSockets(rooms.workspaceUsers(event.workspaceId))) {
          const p = s.data.principal;
          if (p.kind !== "user") continue;
          const member =
            event.type !== "group.deleted" &&
            isGroupMember(
              { created_by: event.createdBy, allowed_users: event.allowedUsers, allowed_groups: event.allowedGroups },
              p,
            );
          if (member) s.join(rooms.group(event.groupId));
          else if (s.rooms.has(rooms.group(event.groupId))) {
            s.leave(rooms.group(event.groupId));
            left.push(s);
          }
        }
        return recheckSessionWatchers(left);
      }
      case "agent.member_removed":
        return recheckSessionWatchers(localSockets(rooms.user(event.workspaceId, event.userId)), event.agentId);
      case "key.revoked":
        for (const s of localSockets(rooms.key(event.keyId))) close(s, "key revoked");
        return;
      case "agent.deleted":
        for (const s of localSockets(rooms.agent(event.workspaceId, event.agentId))) close(s, "agent deleted");
        return;
      case "agent.updated":
        return;
    }
  }

  function sessionRooms(event: Extract<DomainEvent, { type: "session.message_appended" | "session.updated" }>): string[] {
    return [
      rooms.session(event.sessionId),
      rooms.agentSessions(event.workspaceId, event.agentId),
      ...(event.audience.ownerUserId !== null ? [rooms.user(event.workspaceId, event.audience.ownerUserId)] : []),
      ...event.audience.groupIds.map(rooms.group),
    ];
  }

  /** Sockets whose access may have ended: every watched session is checked again; failures leave. */
  async function recheckSessionWatchers(sockets: HubSocket[], agentId?: string): Promise<void> {
    for (const s of sockets) {
      for (const [key, st] of [...(s.data.streams ?? new Map())]) {
        if (!key.startsWith("session:") || (agentId && st.agentId !== agentId)) continue;
        const sessionId = key.slice("session:".length);
        const allowed = await loadReadableSession(db, s.data.principal, sessionId).then(
          () => true,
          () => false,
        );
        if (!allowed) {
          streams.drop(s, "session", sessionId);
          s.leave(rooms.session(sessionId));
        }
      }
    }
  }

  // ---- acks -------------------------------------------------------------------------------

  function answer<T extends object>(
    ack: unknown,
    work: () => Promise<T | { ack: WatchAck; after: () => void }>,
  ): void {
    const reply = typeof ack === "function" ? (ack as (res: unknown) => void) : () => {};
    work().then(
      (res) => {
        if ("after" in res && "ack" in res) {
          reply(res.ack);
          res.after();
        } else reply(res);
      },
      (err) => {
        if (!(err instanceof AppError)) log.error({ err }, "socket handler failed");
        reply({ ok: false, error: ackError(err, config.bodyLimit) });
      },
    );
  }

  return {
    io,
    commands: redis?.pub,
    async ping() {
      if (!redis) return;
      for (const client of Object.values(redis)) {
        if (client.status !== "ready") throw new Error(`redis client is ${client.status}`);
      }
      await redis.pub.ping();
    },
    async close() {
      reorder.close();
      clearInterval(sweep);
      io.local.emit("hub:closing", { reason: "server shutting down" });
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (redis) {
        // io.close() has the adapter unsubscribe without waiting; a PING answered on each
        // client means those commands are done before QUIT.
        await Promise.all(Object.values(redis).map((c) => (c.status === "ready" ? c.ping().catch(() => {}) : undefined)));
        await Promise.all(Object.values(redis).map(closeRedis));
      }
    },
  };
}

function ackError(err: unknown, bodyLimit: number): AckError & Record<string, unknown> {
  const { problem } = toProblem(err, bodyLimit);
  return problem;
}
