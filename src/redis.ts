/** ioredis clients, each with an error listener so a Redis outage is logged, never an unhandled crash. */
import { Redis } from "ioredis";
import type { Logger } from "pino";

export function createRedis(url: string, log: Logger, name: string): Redis {
  const client = new Redis(url, {
    connectionName: `agenthub:${name}`,
    maxRetriesPerRequest: null,
    enableAutoPipelining: name === "pub",
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

/** Closes gracefully when Redis answers, at once when it does not (quit would wait forever). */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  const timer = setTimeout(() => client.disconnect(), 2000);
  try {
    await client.quit();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
