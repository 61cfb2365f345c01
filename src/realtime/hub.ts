/**
 * The realtime hub: Socket.IO on the HTTP server, the Redis adapter when REDIS_URL is set,
 * handshake authentication with the same code as REST.
 */
import type http from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import type { Logger } from "pino";
import { Server } from "socket.io";
import type { Authenticator } from "../auth/authenticate.js";
import type { Config } from "../config.js";
import { createRedis } from "../redis.js";
import type { Services } from "../services.js";

export interface RealtimeDeps {
  server: http.Server;
  config: Config;
  log: Logger;
  auth: Authenticator;
  services: Services;
}

export interface Realtime {
  io: Server;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function createRealtime(deps: RealtimeDeps): Promise<Realtime> {
  const { config, log } = deps;
  const io = new Server(deps.server, {
    path: "/socket.io",
    maxHttpBufferSize: config.socket.maxPayload,
    cors: { origin: true, credentials: false },
  });

  const redis = config.redisUrl
    ? { pub: createRedis(config.redisUrl, log, "pub"), sub: createRedis(config.redisUrl, log, "sub") }
    : undefined;
  if (redis) io.adapter(createAdapter(redis.pub, redis.sub, { key: config.redisPrefix }));

  io.use(async (socket, next) => {
    try {
      const token = socket.handshake.auth?.token;
      socket.data.principal = await deps.auth.authenticate(typeof token === "string" ? token : undefined);
      next();
    } catch {
      next(new Error("unauthorized"));
    }
  });

  return {
    io,
    async ping() {
      if (redis) await redis.pub.ping();
    },
    async close() {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (redis) await Promise.allSettled([redis.pub.quit(), redis.sub.quit()]);
    },
  };
}
