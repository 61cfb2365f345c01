/**
 * The realtime hub: Socket.IO on the HTTP server (the Redis adapter when Redis is given), the
 * connections it accepts, committed events carried to every node and routed to sockets, and a
 * close that tells sockets why. Redis clients are the caller's: it made them and closes them.
 * The Socket.IO server is made first (createSocketServer), so that the turn runtime can be
 * given the socket dispatch before the services it belongs to exist.
 */
import type http from "node:http";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import type { Logger } from "pino";
import { Server } from "socket.io";
import type { Authenticator } from "../auth/authenticate.js";
import type { Config } from "../config.js";
import type { DomainEvent, EventBus } from "../domain/events.js";
import type { Clock } from "../domain/time.js";
import type { HubMetrics } from "../observability/metrics.js";
import { memoryRateLimiter, type LocalRateLimiter } from "../rate-limit.js";
import { isCluster, type RedisClients } from "../redis.js";
import type { Services } from "../services.js";
import { coalesceWrites } from "./coalesce.js";
import { acceptConnections } from "./connection.js";
import { Delivery } from "./delivery.js";
import { SocketLimits } from "./limits.js";
import type { HubServer } from "./protocol.js";
import { AccessRecheck } from "./recheck.js";
import { EventRouter } from "./router.js";
import { localSockets } from "./sockets.js";
import { localTransport, redisTransport } from "./transport.js";

/** Slow consumers are looked for this often, rather than on each of the many sends a second a busy node makes. */
const SLOW_CONSUMER_SWEEP_MS = 1000;

export interface RealtimeDeps {
  /** From createSocketServer. */
  io: HubServer;
  config: Config;
  log: Logger;
  auth: Authenticator;
  services: Services;
  bus: EventBus;
  redis: RedisClients | undefined;
  /** Refused credentials per address, shared with REST. */
  failedAuth: LocalRateLimiter;
  clock?: Clock | undefined;
  metrics?: HubMetrics | undefined;
  /** Also told every committed event this node receives, from every node (the MCP server's resource updates). */
  onEvent?: ((event: DomainEvent) => void) | undefined;
}

export interface Realtime {
  io: HubServer;
  close(): Promise<void>;
}

/** Socket.IO on the HTTP server, across nodes through Redis when given; createRealtime handles its connections. */
export function createSocketServer(server: http.Server, config: Config, redis: RedisClients | undefined): HubServer {
  const io: HubServer = new Server(server, {
    path: "/socket.io",
    maxHttpBufferSize: config.socket.maxPayload,
    cors: { origin: true, credentials: false },
  });
  coalesceWrites(io.engine);
  if (redis) io.adapter(adapterOn(redis, config.redisPrefix));
  return io;
}

/**
 * The Socket.IO adapter across nodes: Redis pub/sub on one Redis; on a Redis Cluster the sharded
 * adapter (SPUBLISH/SSUBSCRIBE). It carries only what Socket.IO itself sends between nodes
 * (emits to one socket id, fetchSockets): room broadcasts go through the event transport,
 * routed by each node. So one channel per namespace ("static"): "dynamic" would SSUBSCRIBE once
 * per room on every node, for rooms nothing is ever sent to through the adapter.
 */
function adapterOn(redis: RedisClients, prefix: string) {
  if (!isCluster(redis.pub)) return createAdapter(redis.pub, redis.sub, { key: prefix });
  return createShardedAdapter(redis.pub, redis.sub, { channelPrefix: `${prefix}:socket.io`, subscriptionMode: "static" });
}

export async function createRealtime(deps: RealtimeDeps): Promise<Realtime> {
  const { config, log, redis, io } = deps;

  const { metrics } = deps;
  metrics?.watchSockets(io.of("/"));
  const limits = new SocketLimits(config.socket, log, deps.clock, metrics);
  const sockets = localSockets(io, metrics, (socket, bytes) => limits.queued(socket, bytes));
  const delivery = new Delivery(sockets, deps.services, log, metrics);
  const router = new EventRouter({ sockets, delivery, turns: deps.services.turnRuntime, log });
  const transport = redis ? await redisTransport(redis.pub, redis.events, `${config.redisPrefix}:events`, log) : localTransport();
  deps.bus.subscribe((event) => transport.publish(event));
  transport.onEvent((event, publishedAt) => {
    // At once, not behind the router's queue: the next request with the key must be refused.
    if (event.type === "key.revoked") deps.services.keyCache.forget(event.keyId);
    metrics?.routed(event, publishedAt);
    router.enqueue(event);
    deps.onEvent?.(event);
  });
  // A revocation answers once its event has reached every node's key cache.
  deps.services.keyCache.propagateWith(() => transport.settled());
  const recheck = new AccessRecheck(() => io.of("/").sockets.values(), deps.services, delivery, log);
  recheck.start(config.socket.recheckMs);
  acceptConnections(io, {
    auth: deps.auth,
    services: deps.services,
    delivery,
    limits,
    log,
    settings: config.socket,
    handshakes: memoryRateLimiter(config.socket.handshakesPer10sPerIp, deps.clock),
    failedAuth: deps.failedAuth,
    proxy: { trustProxy: config.trustProxy, hops: config.trustedProxyHops },
    recheck,
    metrics,
  });

  const sweep = setInterval(() => {
    for (const socket of io.of("/").sockets.values()) limits.checkBuffered(socket);
  }, SLOW_CONSUMER_SWEEP_MS);
  sweep.unref();

  return {
    io,
    async close() {
      router.close();
      recheck.stop();
      clearInterval(sweep);
      io.local.emit("hub:closing", { reason: "server shutting down" });
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
