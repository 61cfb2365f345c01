/**
 * The `agenthub` command: migrate | workspace create | workspace rotate-key | token | secrets
 * rotate. Reads the same environment as the server (DATABASE_URL, DATA_DIR, JWT_*, REDIS_*,
 * SECRETS_KEY*), so it acts on the same database, secrets and event channel.
 */
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { mintUserToken } from "../auth/jwt.js";
import { developmentJwtSecret } from "../domain/settings.js";
import { ConfigError, loadConfig, type Config } from "../config.js";
import { createDb, migrateLatest } from "../db.js";
import { EventBus, type DomainEvent } from "../domain/events.js";
import { MasterKeys } from "../domain/keys/service.js";
import { createWorkspace } from "../domain/workspaces/service.js";
import { findLocalHub } from "../http/routes/local/hub-file.js";
import { publishTo, redisTarget, type RedisClient } from "../redis.js";
import { DEMO_USAGE, parseDemoArgs, runDemoAgent } from "./demo-agent.js";
import { rotateSecrets } from "./secrets.js";

const USAGE = `Usage:
  agenthub migrate
  agenthub workspace create --name NAME
  agenthub workspace rotate-key --workspace ID
  agenthub token --workspace ID --sub S --email E [--name N] [--groups a,b] [--role R] [--ttl SECONDS]
  agenthub secrets rotate
  ${DEMO_USAGE}`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return;
  }
  if (command === "agent") {
    // Talks to a running hub only: no server configuration needed.
    const [sub, ...args] = rest;
    if (sub !== "demo") throw new UsageError(`unknown agent command '${sub ?? ""}'`);
    const parsed = parseDemoArgs(args);
    if ("error" in parsed) throw new UsageError(parsed.error);
    return runDemoAgent(parsed);
  }
  const config = loadConfig();
  switch (command) {
    case "migrate":
      if (runningEmbeddedHub(config)) {
        console.log(JSON.stringify({ applied: [], note: "the running embedded hub applied its migrations at start" }));
        return;
      }
      return withDb(config, async (db) => {
        const applied = await migrateLatest(db);
        console.log(JSON.stringify({ applied }));
      });
    case "workspace": {
      const [sub, ...args] = rest;
      if (sub === "rotate-key") return rotateKey(config, args);
      if (sub !== "create") throw new UsageError(`unknown workspace command '${sub ?? ""}'`);
      const { values } = parseArgs({ args, options: { name: { type: "string" } } });
      const name = values.name?.trim();
      if (!name) throw new UsageError("--name is required");
      const running = runningEmbeddedHub(config);
      if (running) {
        console.log(JSON.stringify(await running.call("/workspaces", { name })));
        return;
      }
      return withDb(config, async (db) => {
        await migrateLatest(db);
        const { workspace, masterKey } = await createWorkspace(db, name);
        console.log(JSON.stringify({ workspace_id: workspace.id, master_key: masterKey }));
      });
    }
    case "token": {
      const { values } = parseArgs({
        args: rest,
        options: {
          workspace: { type: "string" },
          sub: { type: "string" },
          email: { type: "string" },
          name: { type: "string" },
          groups: { type: "string" },
          role: { type: "string" },
          ttl: { type: "string" },
        },
      });
      for (const required of ["workspace", "sub", "email"] as const) {
        if (!values[required]) throw new UsageError(`--${required} is required`);
      }
      const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
      if (!Number.isInteger(ttl) || ttl < 1) throw new UsageError("--ttl must be a whole number of seconds, 1 or more");
      const running = config.jwt.secret ? undefined : runningEmbeddedHub(config);
      if (running) {
        const { token } = (await running.call("/token", {
          workspace: values.workspace,
          sub: values.sub,
          email: values.email,
          name: values.name,
          groups: values.groups?.split(",").map((g) => g.trim()).filter(Boolean),
          role: values.role,
          ttlSeconds: ttl,
        })) as { token: string };
        console.log(token);
        return;
      }
      const secret =
        config.jwt.secret ?? (await withDb(config, async (db) => {
          await migrateLatest(db);
          return developmentJwtSecret(db);
        }));
      const token = await mintUserToken({
        secret,
        workspace: values.workspace!,
        sub: values.sub!,
        email: values.email!,
        name: values.name,
        groups: values.groups?.split(",").map((g) => g.trim()).filter(Boolean),
        role: values.role,
        ttlSeconds: ttl,
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
      });
      console.log(token);
      return;
    }
    case "secrets": {
      const [sub] = rest;
      if (sub !== "rotate") throw new UsageError(`unknown secrets command '${sub ?? ""}'`);
      if (runningEmbeddedHub(config)) throw new Error("the embedded hub running on this DATA_DIR holds its database: stop it, then run this again");
      return withDb(config, async (db) => {
        await migrateLatest(db);
        await rotateSecrets(config, db);
      });
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/**
 * `workspace rotate-key`: a new master key, every other live master key of the workspace revoked,
 * in one transaction. Through a running embedded hub its own service emits `key.revoked`, which
 * closes the old keys' sockets; on Postgres the events go to the hubs over Redis when REDIS_URL
 * is set. Either way requests with an old key are refused at once (auth reads the database).
 */
async function rotateKey(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { workspace: { type: "string" } } });
  const workspaceId = values.workspace?.trim();
  if (!workspaceId) throw new UsageError("--workspace is required");
  const running = runningEmbeddedHub(config);
  if (running) {
    console.log(JSON.stringify(await running.call("/rotate-key", { workspace_id: workspaceId })));
    return;
  }
  const events: DomainEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((e) => events.push(e));
  const { masterKey } = await withDb(config, async (db) => {
    await migrateLatest(db);
    return new MasterKeys({ db, bus }).rotate(workspaceId);
  });
  // The new key is shown once: print it before anything else can fail.
  console.log(JSON.stringify({ workspace_id: workspaceId, master_key: masterKey }));
  await tellRunningHubs(config, events).catch((err: Error) => {
    console.error(`agenthub: the old keys are revoked, but running hubs were not told over Redis (${err.message}); their open sockets close when they next re-check credentials or reconnect`);
  });
}

/** How long the CLI waits for Redis before giving up on telling the hubs. */
const REDIS_TIMEOUT_MS = 5000;

/**
 * Publishes committed events on the hubs' events channel (`${REDIS_PREFIX}:events`, the one
 * realtime/server.ts subscribes to), as a hub that committed them would. Without REDIS_URL
 * (or REDIS_CLUSTER_NODES) there is no channel, and no other process to tell.
 */
async function tellRunningHubs(config: Config, events: DomainEvent[]): Promise<void> {
  const target = redisTarget(config);
  if (!target || events.length === 0) return;
  const options = { lazyConnect: true, connectTimeout: REDIS_TIMEOUT_MS, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null };
  const redis: RedisClient =
    "url" in target ? new Redis(target.url, options) : new Cluster([...target.clusterNodes], { lazyConnect: true, redisOptions: options, clusterRetryStrategy: () => null });
  redis.on("error", () => {}); // reported through the rejected promise below
  try {
    await redis.connect();
    for (const event of events) await publishTo(redis, `${config.redisPrefix}:events`, JSON.stringify(event));
    await redis.quit();
  } finally {
    redis.disconnect();
  }
}

/** An embedded hub already running on this DATA_DIR owns the PGlite files; ask it instead. */
function runningEmbeddedHub(config: Config) {
  if (config.databaseUrl) return undefined;
  const hub = findLocalHub(config.dataDir);
  if (!hub) return undefined;
  return {
    async call(path: string, body: unknown): Promise<unknown> {
      const res = await fetch(`http://127.0.0.1:${hub.port}/_local${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-agenthub-local": hub.secret },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { detail?: string };
      if (!res.ok) throw new Error(json.detail ?? `the running hub answered ${res.status}`);
      return json;
    },
  };
}

async function withDb<T>(config: Config, fn: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    if (err instanceof UsageError) console.error(`agenthub: ${err.message}\n\n${USAGE}`);
    else if (err instanceof ConfigError) console.error(err.message);
    else if (err?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") console.error(`agenthub: ${err.message}\n\n${USAGE}`);
    else console.error(`agenthub: ${err?.message ?? err}`);
    process.exit(err instanceof UsageError || err?.code?.startsWith?.("ERR_PARSE_ARGS") ? 2 : 1);
  },
);
