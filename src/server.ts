/**
 * The hub process: database (migrated), services, the Koa app and Socket.IO on one HTTP server,
 * and a graceful close that drains requests and sockets before letting go of Postgres and Redis.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createApp } from "./app.js";
import { Authenticator } from "./auth/authenticate.js";
import { JwtVerifier } from "./auth/jwt.js";
import { resolveJwtSecret } from "./auth/secret.js";
import type { Config } from "./config.js";
import { createDb, type Db, isEmbedded, migrateLatest } from "./db.js";
import { EventBus } from "./domain/events.js";
import type { Clock } from "./domain/time.js";
import { createRealtime } from "./realtime/hub.js";
import { createServices, type Services } from "./services.js";
import { memoryRateLimiter, redisRateLimiter } from "./http/rate-limit.js";
import { localControlRoutes, removeLocalHubFile, writeLocalHubFile, type LocalHubFile } from "./local-control.js";

export interface Hub {
  url: string;
  port: number;
  services: Services;
  /** The hub's database and event bus, for operations and tests (routes go through services). */
  db: Db;
  bus: EventBus;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
}

export async function startHub(config: Config, log: Logger, options: StartOptions = {}): Promise<Hub> {
  const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax });
  try {
    const applied = await migrateLatest(db);
    if (applied.length) log.info({ applied }, "migrations applied");

    const usesIdp = !!(config.jwt.jwksUrl || config.jwt.publicKey);
    const secret = config.jwt.secret ?? (usesIdp ? undefined : await resolveJwtSecret(db, undefined));
    if (config.jwt.secret && config.jwt.secret.length < 32) {
      log.warn("JWT_SECRET is shorter than 32 characters: HS256 tokens signed with it are easier to forge");
    }
    if (!config.jwt.secret && !usesIdp) {
      log.warn("JWT_SECRET is not set: using a generated development secret kept in the database");
    }
    const jwt = new JwtVerifier({ ...config.jwt, secret });
    const auth = new Authenticator(db, jwt);
    const bus = new EventBus(log);
    let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;
    const services = createServices({
      db,
      bus,
      config,
      log,
      publicUrl: () => publicUrl,
      ...(options.clock ? { clock: options.clock } : {}),
    });

    const server = http.createServer();
    let localHub: LocalHubFile | undefined;
    const embedded = isEmbedded(config);
    const realtime = await createRealtime({ server, config, log, auth, services, db, bus, clock: options.clock });
    const app = createApp({
      config,
      log,
      services,
      auth,
      ready: async () => {
        await db.raw("select 1");
        await realtime.ping();
      },
      rateLimiter:
        config.rateLimitPer10s === 0
          ? undefined
          : realtime.commands
            ? redisRateLimiter(realtime.commands, config.redisPrefix, config.rateLimitPer10s, log, options.clock)
            : memoryRateLimiter(config.rateLimitPer10s, options.clock),
      extraRouters: embedded ? [localControlRoutes(() => localHub, db, { ...config.jwt, secret })] : [],
    });
    server.on("request", app.callback());
    server.keepAliveTimeout = 65_000;

    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    if (embedded) localHub = writeLocalHubFile(config.dataDir, port);
    const url = `http://localhost:${port}`;
    publicUrl = config.publicUrl ?? url;
    log.info(
      { port, database: isEmbedded(config) ? "embedded (PGlite)" : "postgres", adapter: config.redisUrl ? "redis" : "in-process" },
      "agenthub listening",
    );

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        log.info("shutting down");
        if (localHub) removeLocalHubFile(config.dataDir, localHub);
        const stopHttp = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await realtime.close();
        const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
        await stopHttp;
        clearTimeout(timer);
        await db.destroy();
        log.info("stopped");
      })());
    return { url, port, services, db, bus, close };
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
}
