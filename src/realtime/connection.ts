/**
 * A socket's life: the handshake authenticates it with the same code as REST and works out its
 * rooms (the server decides them, never the client); on connection it joins them at once,
 * resumes the streams the client named in `auth.since` before anything live is sent on them
 * (and only once its access to each is confirmed: nothing of a stream reaches it before), gets
 * its limits, a close when its token expires, and handlers for the client events.
 */
import type { Logger } from "pino";
import type { Authenticator } from "../auth/authenticate.js";
import { addressKey, requestClientAddress, type ProxyTrust } from "../auth/client-address.js";
import { credentialKey, credentialNoun, describePrincipal, expiresAtOf, type Principal } from "../auth/principal.js";
import { agentSessionsPushedTo } from "../domain/sessions/policy.js";
import { AppError, Invalid, Unauthorized, isUnavailable } from "../errors.js";
import type { HubMetrics } from "../observability/metrics.js";
import type { LocalRateLimiter } from "../rate-limit.js";
import { parse } from "../schemas.js";
import type { Services } from "../services.js";
import { answer, payloadAndAck } from "./acks.js";
import type { Delivery, WatchResult } from "./delivery.js";
import type { SocketLimits } from "./limits.js";
import type { AccessRecheck } from "./recheck.js";
import { ChannelUnwatch, ChannelWatch, HandshakeSince, SessionUnwatch, SessionWatch } from "./schema.js";
import type { ClientToServerEvents, HubServer, HubSocket, SocketData } from "./protocol.js";
import { identityRooms, rooms } from "./rooms.js";
import { handleServing } from "./serving.js";
import { closeSocket } from "./sockets.js";

/** Node's setTimeout fires at once beyond this; later expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ConnectionDeps {
  auth: Authenticator;
  services: Pick<Services, "channels" | "groups" | "sessions" | "turns" | "turnRuntime">;
  delivery: Delivery;
  limits: SocketLimits;
  log: Logger;
  settings: { maxStreams: number; perCredential: number };
  /** Handshakes per address, and refused credentials per address (shared with REST). */
  handshakes: LocalRateLimiter;
  failedAuth: LocalRateLimiter;
  /** Whose X-Forwarded-For to believe for the handshake's address (the same rule as REST's). */
  proxy: ProxyTrust;
  /** Re-checks a socket's access right after it joined its rooms (a change made during the handshake). */
  recheck: Pick<AccessRecheck, "check">;
  metrics?: Pick<HubMetrics, "rateLimit">;
}

type AtConnect = NonNullable<SocketData["atConnect"]>;

export function acceptConnections(io: HubServer, deps: ConnectionDeps): void {
  const { log } = deps;
  const credentialSockets = new Map<string, number>();

  io.use(async (socket, next) => {
    const address = addressKey(requestClientAddress(socket.request, deps.proxy));
    if ((await deps.handshakes.hit(address)) > 0 || deps.failedAuth.over(address) > 0) {
      deps.metrics?.rateLimit("socket");
      return next(new Error("rate limited"));
    }
    let principal: Principal;
    try {
      const token = socket.handshake.auth?.token;
      principal = await deps.auth.authenticate(typeof token === "string" ? token : undefined);
    } catch (err) {
      // "unauthorized" is for refused credentials only: a hub that cannot check one right now says so.
      if (isUnavailable(err)) return next(new Error("unavailable"));
      if (err instanceof Unauthorized) await deps.failedAuth.hit(address);
      else if (!(err instanceof AppError)) log.error({ err }, "socket authentication failed");
      return next(new Error("unauthorized"));
    }
    let since: AtConnect["since"];
    try {
      since = parse(HandshakeSince, socket.handshake.auth?.since, "since") ?? {};
    } catch (err) {
      return next(new Error(`invalid auth.since: ${(err as Invalid).detail}`));
    }
    // A socket may not receive more streams than it could watch: a longer list is refused
    // before anything is looked up for it.
    const named = Object.keys(since.channels ?? {}).length + Object.keys(since.sessions ?? {}).length;
    if (named > deps.settings.maxStreams) return next(new Error(`invalid auth.since: names more than ${deps.settings.maxStreams} streams`));
    const credential = credentialKey(principal);
    if ((credentialSockets.get(credential) ?? 0) >= deps.settings.perCredential) return next(new Error("too many connections"));
    try {
      // Worked out before the connection is accepted, and joined synchronously on "connection",
      // so a client that sees "connect" is already in every room it belongs to.
      Object.assign(socket.data, { principal, streams: new Map(), atConnect: { ...(await roomsAtConnect(deps.services, principal)), since } } satisfies SocketData);
      next();
    } catch (err) {
      if (isUnavailable(err)) return next(new Error("unavailable"));
      log.error({ err }, "could not work out a socket's rooms");
      next(new Error("internal error"));
    }
  });

  io.on("connection", (socket) => {
    const slog = log.child({ socket: socket.id, principal: describePrincipal(socket.data.principal) });
    const credential = credentialKey(socket.data.principal);
    credentialSockets.set(credential, (credentialSockets.get(credential) ?? 0) + 1);
    slog.debug("socket connected");
    deps.limits.attach(socket);
    socket.on("disconnect", (reason) => {
      const left = (credentialSockets.get(credential) ?? 1) - 1;
      if (left > 0) credentialSockets.set(credential, left);
      else credentialSockets.delete(credential);
      deps.delivery.dropAll(socket);
      slog.debug({ reason }, "socket disconnected");
    });
    joinAtConnect(socket, deps);
    void deps.recheck.check([socket]).catch((err) => slog.warn({ err }, "could not re-check a new socket's access"));
    closeWhenExpired(socket);
    handleClientEvents(socket, deps, slog);
  });
}

/** The rooms the principal belongs in, and the channels its agent's subscriptions deliver. */
async function roomsAtConnect(services: ConnectionDeps["services"], p: Principal): Promise<Omit<AtConnect, "since">> {
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

/**
 * Joins the rooms worked out at the handshake. Every stream the client named in `auth.since`
 * starts in catch-up right here, synchronously, so no live message reaches it before what it
 * missed; subscribed channels it did not name start at their head. A named stream's room is
 * joined only once the socket is found allowed to read it (a subscription counts).
 */
function joinAtConnect(socket: HubSocket, deps: ConnectionDeps): void {
  const initial = socket.data.atConnect;
  socket.data.atConnect = undefined;
  if (!initial) return;
  const { delivery, services } = deps;
  socket.join(initial.rooms);
  const named = { ...initial.since.channels };
  const fresh = [];
  for (const head of initial.channels) {
    const since = named[head.id];
    delete named[head.id];
    if (since === undefined) fresh.push(head);
    else {
      delivery.holdFrom(socket, "channel", head.id, since, false);
      void delivery.resume(socket, "channel", head.id);
    }
  }
  delivery.joinChannels(socket, fresh);
  // Other named streams resume as watches would, once the socket is found allowed to read
  // them: held now (so nothing live comes before what was missed), their rooms joined only once
  // access is confirmed (so nothing at all comes if it is not). One query per kind decides them
  // all, however many the client named.
  const p = socket.data.principal;
  const sessions = initial.since.sessions ?? {};
  const check = async (kind: "channel" | "session", streams: Record<string, number>, readable: (ids: string[]) => Promise<Set<string>>) => {
    const ids = Object.keys(streams);
    if (!ids.length) return;
    for (const id of ids) delivery.holdFrom(socket, kind, id, streams[id]!, true);
    const allowed = await readable(ids).catch(() => new Set<string>());
    for (const id of ids) {
      if (allowed.has(id)) void delivery.resume(socket, kind, id);
      else delivery.leave(socket, kind, id);
    }
  };
  void check("channel", named, (ids) => services.channels.readableAmong(p, ids));
  void check("session", sessions, (ids) => services.sessions.readableAmong(p, ids));
}

function closeWhenExpired(socket: HubSocket): void {
  const expiresAt = expiresAtOf(socket.data.principal);
  if (!expiresAt) return;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const ms = expiresAt.getTime() - Date.now();
    const reason = `${credentialNoun(socket.data.principal)} expired`;
    timer = ms > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(() => closeSocket(socket, reason), Math.max(0, ms));
  };
  arm();
  socket.on("disconnect", () => clearTimeout(timer));
}

function handleClientEvents(socket: HubSocket, deps: ConnectionDeps, log: Logger): void {
  const { delivery } = deps;
  /** One client event: its payload and ack whatever the client sent, its answer or problem acked. */
  const on = (event: keyof ClientToServerEvents, work: (payload: unknown) => Promise<object | WatchResult>) =>
    socket.on(event, (...args: unknown[]) => {
      const { payload, ack } = payloadAndAck(args);
      answer(ack, log, () => work(payload));
    });
  on("channel:watch", async (payload) => {
    const { channelId, since } = parse(ChannelWatch, payload, "payload");
    delivery.assertRoomFor(socket, "channel", channelId, deps.settings.maxStreams);
    return delivery.watchChannel(socket, channelId, since);
  });
  on("channel:unwatch", async (payload) => {
    await delivery.unwatchChannel(socket, parse(ChannelUnwatch, payload, "payload").channelId);
    return { ok: true };
  });
  on("session:watch", async (payload) => {
    const { sessionId, since } = parse(SessionWatch, payload, "payload");
    delivery.assertRoomFor(socket, "session", sessionId, deps.settings.maxStreams);
    return delivery.watchSession(socket, sessionId, since);
  });
  on("session:unwatch", async (payload) => {
    delivery.unwatchSession(socket, parse(SessionUnwatch, payload, "payload").sessionId);
    return { ok: true };
  });
  const serving = handleServing(socket, deps.services.turnRuntime, log);
  on("agent:serve", async () => serving.serve());
  socket.on("agent:event", (...args: unknown[]) => {
    serving.event(payloadAndAck(args).payload).catch((err) => log.error({ err }, "could not take an agent:event"));
  });
}
