/**
 * A socket's life: the handshake authenticates it with the same code as REST and works out its
 * rooms (the server decides them, never the client); on connection it joins them at once, gets
 * its limits, a close when its token expires, and handlers for the client events.
 */
import type { Logger } from "pino";
import type { Authenticator } from "../auth/authenticate.js";
import { describePrincipal, expiresAtOf, type Principal } from "../auth/principal.js";
import { agentSessionsPushedTo } from "../domain/sessions/policy.js";
import { AppError } from "../errors.js";
import { ChannelUnwatch, ChannelWatch, SessionUnwatch, SessionWatch, parse } from "../schemas.js";
import type { Services } from "../services.js";
import { answer } from "./acks.js";
import type { Delivery } from "./delivery.js";
import type { SocketLimits } from "./limits.js";
import type { HubServer, HubSocket, SocketData } from "./protocol.js";
import { identityRooms, rooms } from "./rooms.js";
import { closeSocket } from "./sockets.js";

/** Node's setTimeout fires at once beyond this; later expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ConnectionDeps {
  auth: Authenticator;
  services: Pick<Services, "channels" | "groups">;
  delivery: Delivery;
  limits: SocketLimits;
  log: Logger;
}

export function acceptConnections(io: HubServer, deps: ConnectionDeps): void {
  const { log } = deps;

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
      // Worked out before the connection is accepted, and joined synchronously on "connection",
      // so a client that sees "connect" is already in every room it belongs to.
      Object.assign(socket.data, { principal, streams: new Map(), atConnect: await roomsAtConnect(deps.services, principal) } satisfies SocketData);
      next();
    } catch (err) {
      log.error({ err }, "could not work out a socket's rooms");
      next(new Error("internal error"));
    }
  });

  io.on("connection", (socket) => {
    const slog = log.child({ socket: socket.id, principal: describePrincipal(socket.data.principal) });
    slog.debug("socket connected");
    deps.limits.attach(socket, (reason) => closeSocket(socket, reason));
    socket.on("disconnect", (reason) => {
      deps.delivery.dropAll(socket);
      slog.debug({ reason }, "socket disconnected");
    });
    joinAtConnect(socket, deps.delivery);
    closeWhenExpired(socket);
    handleClientEvents(socket, deps.delivery, slog);
  });
}

/** The rooms the principal belongs in, and the channels its agent's subscriptions deliver. */
async function roomsAtConnect(services: ConnectionDeps["services"], p: Principal): Promise<NonNullable<SocketData["atConnect"]>> {
  const agentSessions = agentSessionsPushedTo(p);
  const [groupIds, channels] = await Promise.all([services.groups.memberOf(p), services.channels.subscribedHeads(p)]);
  return {
    rooms: [
      ...identityRooms(p),
      ...(agentSessions ? [rooms.agentSessions(p.workspaceId, agentSessions)] : []),
      ...groupIds.map(rooms.group),
    ],
    channels,
  };
}

function joinAtConnect(socket: HubSocket, delivery: Delivery): void {
  const initial = socket.data.atConnect;
  socket.data.atConnect = undefined;
  if (!initial) return;
  socket.join(initial.rooms);
  delivery.joinChannels(socket, initial.channels);
}

function closeWhenExpired(socket: HubSocket): void {
  const expiresAt = expiresAtOf(socket.data.principal);
  if (!expiresAt) return;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const ms = expiresAt.getTime() - Date.now();
    timer = ms > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(() => closeSocket(socket, "token expired"), Math.max(0, ms));
  };
  arm();
  socket.on("disconnect", () => clearTimeout(timer));
}

function handleClientEvents(socket: HubSocket, delivery: Delivery, log: Logger): void {
  socket.on("channel:watch", (payload, ack) =>
    answer(ack, log, async () => {
      const { channelId, since } = parse(ChannelWatch, payload, "payload");
      return delivery.watchChannel(socket, channelId, since);
    }),
  );
  socket.on("channel:unwatch", (payload, ack) =>
    answer(ack, log, async () => {
      await delivery.unwatchChannel(socket, parse(ChannelUnwatch, payload, "payload").channelId);
      return { ok: true };
    }),
  );
  socket.on("session:watch", (payload, ack) =>
    answer(ack, log, async () => {
      const { sessionId, since } = parse(SessionWatch, payload, "payload");
      return delivery.watchSession(socket, sessionId, since);
    }),
  );
  socket.on("session:unwatch", (payload, ack) =>
    answer(ack, log, async () => {
      delivery.unwatchSession(socket, parse(SessionUnwatch, payload, "payload").sessionId);
      return { ok: true };
    }),
  );
}
