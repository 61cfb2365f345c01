/** Entry point: reads the configuration, starts the hub, prints where to go next, stops on SIGTERM. */
import { ConfigError, loadConfig, type Config } from "./config.js";
import { isEmbedded } from "./db.js";
import { createLogger } from "./logger.js";
import { startHub } from "./server.js";

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const log = createLogger(config.logLevel);

// A promise nobody awaited failed: a bug to fix, logged loudly, but not a reason to drop every
// connection this process holds.
process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));

try {
  const hub = await startHub(config, log);
  if (process.stdout.isTTY || config.banner) printBanner(hub.url, config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, delayMs: config.shutdownDelayMs }, "signal received");
    // Readiness fails at once; the hub keeps serving for SHUTDOWN_DELAY_MS so load balancers
    // take it out of rotation before it stops taking connections.
    hub.drain();
    setTimeout(() => {
      hub.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    }, config.shutdownDelayMs);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
} catch (err) {
  log.fatal({ err }, "agenthub failed to start");
  process.exit(1);
}

function printBanner(url: string, c: Config): void {
  const db = isEmbedded(c) ? `embedded PGlite in ${c.dataDir}` : "Postgres (DATABASE_URL)";
  const adapter = c.redisClusterNodes
    ? "sharded Redis adapter on a Redis Cluster (REDIS_CLUSTER_NODES)"
    : c.redisUrl
      ? "Redis adapter (REDIS_URL)"
      : "in-process adapter (single process)";
  process.stderr.write(
    [
      "",
      `  agenthub is running at ${url}`,
      `  database: ${db}; realtime: ${adapter}`,
      "",
      "  Next steps:",
      "    npx agenthub workspace create --name my-team        # prints workspace_id and master_key",
      "    npx agenthub token --workspace <workspace_id> --sub alice --email alice@example.com",
      `    curl -H "Authorization: Bearer <token>" ${url}/api/agents`,
      "",
      "  See README.md for the full walk-through.",
      "",
    ].join("\n") + "\n",
  );
}
