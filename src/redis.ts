/** ioredis clients, each with an error listener so a Redis outage is logged, never an unhandled crash. */
import { once } from "node:events";
import { Redis } from "ioredis";
import type { Logger } from "pino";

/** The hub's Redis connections: made once by server.ts and lent to whoever needs one. */
export interface RedisClients {
  /** Adapter publishes, event publishes and plain commands (rate limits). */
  pub: Redis;
  /** The Socket.IO adapter's subscriptions. */
  sub: Redis;
  /** The domain events channel's subscription. */
  events: Redis;
}

export function createRedisClients(url: string, log: Logger): RedisClients {
  return { pub: createRedis(url, log, "pub"), sub: createRedis(url, log, "sub"), events: createRedis(url, log, "events") };
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

/** Ready when every client is connected and Redis answers a PING. */
export async function pingRedis(clients: RedisClients): Promise<void> {
  for (const [name, client] of Object.entries(clients)) {
    if (client.status !== "ready") throw new Error(`redis client ${name} is ${client.status}`);
  }
  await clients.pub.ping();
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

function createRedis(url: string, log: Logger, name: string): Redis {
  const client = new Redis(url, {
    connectionName: `agenthub:${name}`,
    maxRetriesPerRequest: null,
    // Plain commands (rate limits, turn logs) are batched per event-loop turn by ioredis; PUBLISH
    // is not: the event transport writes each committed event before this process routes it to
    // its own sockets. Auto-pipelined, it would wait for a setImmediate (or for the previous
    // pipeline's answer), after those writes: several ms at a fan-out of hundreds, which every
    // other node's subscribers waited on.
    enableAutoPipelining: name === "pub",
    autoPipeliningIgnoredCommands: ["publish"],
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
  return client;
}

const QUIT_TIMEOUT_MS = 2000;

async function closeRedis(client: Redis): Promise<void> {
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
