/**
 * ioredis clients, each with an error listener so a Redis outage is logged, never an unhandled
 * crash. The one connection factory: a single Redis (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER_NODES) behind the same client type, so the rest of the hub has one code path.
 * What differs on a cluster is said where it matters: pub/sub is sharded (SPUBLISH/SSUBSCRIBE,
 * `publishTo`/`subscribeTo`), keys that must live together share a hash tag, and readiness asks
 * for the cluster's state.
 */
import { once } from "node:events";
import { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";

/** One Redis or a Redis Cluster: the commands the hub sends are the same on both. */
export type RedisClient = Redis | Cluster;

/** Where the hub's Redis is: one server, or some nodes of a cluster (the rest are discovered). */
export type RedisTarget = { url: string } | { clusterNodes: readonly { host: string; port: number }[] };

/** The configured Redis, if any. */
export function redisTarget(config: { redisUrl?: string | undefined; redisClusterNodes?: readonly { host: string; port: number }[] | undefined }): RedisTarget | undefined {
  if (config.redisClusterNodes?.length) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl ? { url: config.redisUrl } : undefined;
}

/** The hub's Redis connections: made once by server.ts and lent to whoever needs one. */
export interface RedisClients {
  /** Adapter publishes, event publishes and plain commands (rate limits). */
  pub: RedisClient;
  /** The Socket.IO adapter's subscriptions. */
  sub: RedisClient;
  /** The domain events channel's subscription. */
  events: RedisClient;
}

export function createRedisClients(target: RedisTarget, log: Logger): RedisClients {
  return { pub: createRedis(target, log, "pub"), sub: createRedis(target, log, "sub"), events: createRedis(target, log, "events") };
}

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

/** PUBLISH on one Redis; SPUBLISH (to the channel's shard) on a cluster. Answers how many subscribers got it. */
export function publishTo(client: RedisClient, channel: string, message: string): Promise<number> {
  return isCluster(client) ? client.spublish(channel, message).then(Number) : client.publish(channel, message);
}

/**
 * Subscribes `client` to `channel` (SSUBSCRIBE on a cluster, through the subscriber of the
 * channel's shard) and hands `handler` its messages. ioredis subscribes again after a
 * reconnect or a failover by itself.
 */
export function subscribeTo(client: RedisClient, channel: string, handler: (message: string) => void): Promise<unknown> {
  if (isCluster(client)) {
    client.on("smessage", (ch: string, message: string) => ch === channel && handler(message));
    return client.ssubscribe(channel);
  }
  client.on("message", (ch: string, message: string) => ch === channel && handler(message));
  return client.subscribe(channel);
}

/**
 * Waits (at most `timeoutMs`) until every client has passed ioredis's ready check. A SUBSCRIBE
 * sent earlier, while a client is connected but not yet ready, goes out before the ready check's
 * INFO (ioredis writes commands flagged "loading" at once), which Redis then refuses in
 * subscriber mode: the client reconnects and its subscription can be lost. A Redis that does not
 * answer in time is not waited for (readiness reports it; delivery begins once it answers).
 */
export async function redisReady(clients: RedisClients, timeoutMs = 5000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  const pending = Object.values(clients).filter((c) => c.status !== "ready");
  // A timeout aborts every wait (their listeners go with it); the start goes on without them.
  await Promise.all(pending.map((c) => once(c, "ready", { signal }).catch(() => undefined)));
}

/**
 * Throws unless every client is connected and Redis answers a PING. On a cluster, answers the
 * cluster's state as a node reports it (`ok` once every slot is served: a master that failed
 * has been replaced by its replica), which readiness requires to be `ok`.
 */
export async function pingRedis(clients: RedisClients): Promise<{ cluster_state?: string }> {
  for (const [name, client] of Object.entries(clients)) {
    if (client.status !== "ready") throw new Error(`redis client ${name} is ${client.status}`);
  }
  await clients.pub.ping();
  if (!isCluster(clients.pub)) return {};
  const info = String(await clients.pub.cluster("INFO"));
  return { cluster_state: /cluster_state:(\w+)/.exec(info)?.[1] ?? "unknown" };
}

/**
 * Closes every client: gracefully when Redis answers, at once when it does not (quit would wait
 * forever). Socket.IO's close has the adapter unsubscribe without waiting; a PING answered on
 * each client first means those commands are done before QUIT.
 */
export async function closeRedisClients(clients: RedisClients): Promise<void> {
  const all = Object.values(clients);
  await Promise.all(all.map((c) => (c.status === "ready" ? c.ping().catch(() => {}) : undefined)));
  await Promise.all(all.map(closeRedis));
}

/** How long a cluster command waits, between tries, for a failed master's replica to take over. */
const CLUSTER_RETRY_DELAY_MS = 200;

function createRedis(target: RedisTarget, log: Logger, name: string): RedisClient {
  const options = {
    connectionName: `agenthub:${name}`,
    maxRetriesPerRequest: null,
    // Plain commands (rate limits, turn logs) are batched per event-loop turn by ioredis; PUBLISH
    // is not: the event transport writes each committed event before this process routes it to
    // its own sockets. Auto-pipelined, it would wait for a setImmediate (or for the previous
    // pipeline's answer), after those writes: several ms at a fan-out of hundreds, which every
    // other node's subscribers waited on.
    enableAutoPipelining: name === "pub",
    autoPipeliningIgnoredCommands: ["publish", "spublish"],
  };
  const client: RedisClient =
    "url" in target
      ? new Redis(target.url, options)
      : new Cluster([...target.clusterNodes], {
          redisOptions: { connectionName: options.connectionName },
          enableAutoPipelining: options.enableAutoPipelining,
          autoPipeliningIgnoredCommands: options.autoPipeliningIgnoredCommands,
          // One subscriber connection per master, so a sharded channel is read from its own shard.
          shardedSubscribers: name !== "pub",
          // While a master fails over, its slots answer CLUSTERDOWN or not at all: ask again
          // (callers bound their own waits), and find the new master by refreshing the slots.
          retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
          retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
          retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
          maxRedirections: 64,
          slotsRefreshInterval: 1000,
          clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
        });
  let healthy = true;
  client.on("error", (err) => {
    if (healthy) log.error({ err, client: name }, "redis error");
    healthy = false;
  });
  client.on("ready", () => {
    if (!healthy) log.info({ client: name }, "redis reconnected");
    healthy = true;
  });
  if (isCluster(client)) {
    client.on("node error", (err: Error, node: string) => log.warn({ err, client: name, node }, "redis cluster node error"));
    client.on("+node", () => log.debug({ client: name }, "redis cluster topology changed"));
  }
  return client;
}

const QUIT_TIMEOUT_MS = 2000;

async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  const timer = setTimeout(() => client.disconnect(), QUIT_TIMEOUT_MS);
  try {
    await client.quit();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
