/**
 * The hub process: makes the infrastructure once (Postgres, migrated; Redis when configured),
 * wires services, the Koa app and Socket.IO on one HTTP server, and closes gracefully: sockets
 * first, then requests drain, then Redis and Postgres are let go.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createApp } from "./app.js";
import { answerUnparsable } from "./http/middleware.js";
import { Authenticator } from "./auth/authenticate.js";
import { JwtVerifier } from "./auth/jwt.js";
import { turnTokenKey } from "./auth/turn-token.js";
import { developmentJwtSecret, storedSecretsKey, turnTokenSecret } from "./domain/settings.js";
import { SecretBox } from "./auth/secrets.js";
import type { Config } from "./config.js";
import { createDb, isEmbedded, migrateLatest, warmPool, type Db } from "./db.js";
import { EventBus } from "./domain/events.js";
import type { Clock } from "./domain/time.js";
import { memoryRateLimiter, redisRateLimiter, type RateLimiter } from "./rate-limit.js";
import { localRoutes } from "./http/routes/local/index.js";
import { removeLocalHubFile, writeLocalHubFile, type LocalHubFile } from "./http/routes/local/hub-file.js";
import { DEFAULT_HTTP_AGENT_OPTIONS, type AgentCallError } from "./endpoints/http-agent.js";
import { guardedFetch } from "./endpoints/guarded-fetch.js";
import type { OutboundDeps } from "./turns/endpoint.js";
import { checkReadiness } from "./observability/health.js";
import { HubMetrics } from "./observability/metrics.js";
import { McpEndpoint } from "./mcp/http.js";
import { createRealtime, createSocketServer } from "./realtime/server.js";
import { servingSocketCount, socketDispatch } from "./realtime/serving.js";
import { closeRedisClients, createRedisClients, isCluster, redisReady, redisTarget, type RedisClients } from "./redis.js";
import { memoryTurnLog } from "./turns/log.js";
import { createServices, type Services } from "./services.js";
import { redisTurnLog } from "./turns/redis-log.js";
import { servingSocketEndpoint } from "./turns/serving-socket.js";
import { a2aEndpoint } from "./turns/a2a.js";
import { sharelyHttpEndpoint } from "./turns/sharely-http.js";
import { modelEndpoint } from "./turns/model.js";
import { aguiEndpoint } from "./turns/agui.js";
import { adkEndpoint } from "./turns/adk.js";

/** Longer than the usual load balancer's idle timeout (60 s), so the balancer closes idle connections first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface Hub {
  url: string;
  port: number;
  services: Services;
  /** The hub's database and event bus, for operations and tests (routes go through services). */
  db: Db;
  bus: EventBus;
  /** Starts draining: /readyz answers 503 from now on, while everything else still works. close() drains too. */
  drain(): void;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
}

export async function startHub(config: Config, log: Logger, options: StartOptions = {}): Promise<Hub> {
  const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax, log });
  let redis: RedisClients | undefined;
  try {
    const applied = await migrateLatest(db);
    if (applied.length) log.info({ applied }, "migrations applied");
    await warmPool(db);
    const target = redisTarget(config);
    redis = target ? createRedisClients(target, log) : undefined;
    if (redis) await redisReady(redis);

    const secret = await jwtSecret(config, db, log);
    const bus = new EventBus(log);
    const metrics = new HubMetrics();
    metrics.followTurns(bus);
    metrics.watchPool(db);
    if (redis) metrics.watchRedis(redis);
    let draining = false;
    let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;
    const turnLog = redis ? redisTurnLog(redis.pub, config.redisPrefix) : memoryTurnLog();
    const server = http.createServer();
    const embedded = isEmbedded(config);
    const io = createSocketServer(server, config, redis);
    const agentHttp = {
      ...DEFAULT_HTTP_AGENT_OPTIONS,
      allowPrivate: config.agents.allowPrivate || embedded,
      allowHttp: config.agents.allowHttp || embedded,
      quotePrivateAnswers: embedded,
      onError: (err: AgentCallError) => metrics.agentError(err.beforeFirstByte),
      timeouts: {
        connectMs: config.agents.connectTimeoutMs,
        firstByteMs: config.agents.firstByteTimeoutMs,
        idleMs: config.agents.idleTimeoutMs,
        totalMs: config.agents.turnTimeoutMs,
      },
    };
    const secrets = await secretBox(config, db, log, embedded);
    const outbound: OutboundDeps = {
      fetch: guardedFetch({ ...agentHttp, ...agentHttp.timeouts, maxBytes: agentHttp.maxStreamBytes! }),
      callerToken: ({ turn, asker }) =>
        auth.issueTurnToken(
          { workspaceId: turn.workspace_id, agentId: turn.agent_id, sessionId: turn.session_id, turnId: turn.id, startedAt: turn.started_at },
          asker,
          config.agents.turnTimeoutMs,
        ),
      endpointSecret: ({ agent }) => services.agents.endpointSecret(agent.workspace_id, agent.id),
      secrets,
      turnTimeoutMs: config.agents.turnTimeoutMs,
      log,
    };
    // One endpoint per agent protocol: the agent's protocol picks the one that runs its turns
    // (turns/endpoint.ts). Their tokens and secrets come from the services and the
    // authenticator, built below from these; they ask for them only once a turn runs.
    const endpoints = [
      sharelyHttpEndpoint({ ...outbound, http: agentHttp }),
      a2aEndpoint(outbound),
      aguiEndpoint(outbound),
      adkEndpoint(outbound),
      modelEndpoint({
        ...outbound,
        knowledgeTools: { list: () => services.tools.list().items, execute: (actor, name, input) => services.tools.execute(actor, name, input) },
        mcpServers: { usableBy: (asker, ids) => services.mcpServers.usableBy(asker, ids) },
      }),
      servingSocketEndpoint(socketDispatch(io, log)),
    ];
    const services = createServices({ db, bus, config, log, turnLog, endpoints, secrets, fetch: outbound.fetch, servingSockets: servingSocketCount(io), clock: options.clock, publicUrl: () => publicUrl });
    // A hub that only verifies an identity provider's tokens still signs turn tokens, with a secret kept in the database.
    const turnKey = turnTokenKey(secret ?? (await turnTokenSecret(db)));
    const auth = new Authenticator(services.credentials, new JwtVerifier({ ...config.jwt, secret }), { key: turnKey, adminRole: config.jwt.adminValue });

    let localHub: LocalHubFile | undefined;
    const failedAuth = memoryRateLimiter(config.socket.failedAuthPer10sPerIp, options.clock);
    const perCredential = sharedLimiter(config.rateLimitPer10s, "rl", config, redis, log, options.clock);
    const mcp = new McpEndpoint({
      services,
      auth,
      failedAuth,
      perCredential,
      log,
      registry: metrics.registry,
      publicUrl: config.publicUrl,
      messageMaxBytes: config.messageMaxBytes,
      turnTimeoutMs: config.agents.turnTimeoutMs,
      maxBuffered: config.socket.maxBuffered,
    });
    const realtime = await createRealtime({ io, config, log, auth, services, bus, redis, failedAuth, clock: options.clock, metrics, onEvent: (e) => mcp.received(e) });
    // An unknown KNOWLEDGE_TS_CONFIG stops the start here, naming the setting, not at the first search.
    await services.knowledge.ready();
    services.turnRuntime.start();
    // Embedded default only: the CLI's local control, the web app's local sign-in and its built-in demo agent (served over a socket to this hub).
    const local = embedded
      ? localRoutes({ db, jwt: { ...config.jwt, secret }, services, auth, failedAuth, hubFile: () => localHub, hubUrl: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log })
      : undefined;
    const app = createApp({
      config,
      log,
      services,
      auth,
      readiness: () => checkReadiness({ db, redis, draining: () => draining, log }),
      metrics,
      limits: {
        perCredential,
        perAddress: sharedLimiter(config.publicPer10sPerIp, "rl-ip", config, redis, log, options.clock),
        failedAuth,
      },
      mcp,
      extraRouters: local?.routers ?? [],
    });
    server.on("request", app.callback());
    server.on("clientError", answerUnparsable);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    if (embedded) localHub = writeLocalHubFile(config.dataDir, port);
    const url = `http://localhost:${port}`;
    publicUrl = config.publicUrl ?? url;
    log.info({ port, database: embedded ? "embedded (PGlite)" : "postgres", adapter: redis ? (isCluster(redis.pub) ? "redis-cluster" : "redis") : "in-process" }, "agenthub listening");

    const drain = () => {
      if (!draining) log.info("draining: /readyz answers 503 from now on");
      draining = true;
    };
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        drain();
        log.info("shutting down");
        if (localHub) removeLocalHubFile(config.dataDir, localHub);
        const stopHttp = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        services.turnRuntime.close();
        await local?.close();
        await realtime.close();
        await mcp.close();
        const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
        await stopHttp;
        clearTimeout(timer);
        if (redis) await closeRedisClients(redis);
        await db.destroy();
        log.info("stopped");
      })());
    return { url, port, services, db, bus, drain, close };
  } catch (err) {
    if (redis) await closeRedisClients(redis).catch(() => {});
    await db.destroy().catch(() => {});
    throw err;
  }
}

/** JWT_SECRET; or, without it and without an identity provider, the generated development secret. */
async function jwtSecret(config: Config, db: Db, log: Logger): Promise<string | undefined> {
  const usesIdp = !!(config.jwt.jwksUrl || config.jwt.publicKey);
  if (usesIdp && (!config.jwt.issuer || !config.jwt.audience)) {
    log.error(
      "SECURITY: an identity provider is configured without JWT_ISSUER and JWT_AUDIENCE: any token that provider signs, for any application, is accepted. Set both.",
    );
  }
  if (config.jwt.secret || usesIdp) return config.jwt.secret;
  log.warn("JWT_SECRET is not set: using a generated development secret kept in the database");
  return developmentJwtSecret(db);
}

/** The key write-only secrets are sealed with: SECRETS_KEY, or one kept in the database (with a warning outside the embedded default). */
async function secretBox(config: Config, db: Db, log: Logger, embedded: boolean): Promise<SecretBox> {
  if (config.secrets.key) return new SecretBox(config.secrets.key, config.secrets.previous);
  if (!embedded) log.warn("SECRETS_KEY is not set: model API keys and MCP server headers are encrypted with a key kept in the database");
  return new SecretBox(await storedSecretsKey(db), config.secrets.previous);
}

/** A limit shared by every process through Redis when there is one (per process otherwise); off when 0. */
function sharedLimiter(limit: number, name: string, config: Config, redis: RedisClients | undefined, log: Logger, clock: Clock | undefined): RateLimiter | undefined {
  if (limit === 0) return undefined;
  return redis ? redisRateLimiter(redis.pub, `${config.redisPrefix}:${name}`, limit, log, clock) : memoryRateLimiter(limit, clock);
}
