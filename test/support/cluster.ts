/**
 * Two hub processes sharing this test file's Postgres database and Redis, a knex handle on
 * the same database, and sockets that are all closed at the end: the multi-node test bed.
 */
import { createDb, type Db } from "../../src/db.js";
import { spawnHub, type HubProcess } from "./hub.js";
import { connect, type Client } from "./sockets.js";

export interface Cluster {
  a: HubProcess;
  b: HubProcess;
  db: Db;
  /** Connects a socket to a node; it is closed by stop(). */
  open(url: string, token: string): Promise<Client>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const [a, b] = await Promise.all([spawnHub(), spawnHub()]);
  const db = createDb({ databaseUrl: process.env.TEST_FILE_DATABASE_URL, dataDir: "/nonexistent" });
  const clients: Client[] = [];
  return {
    a,
    b,
    db,
    async open(url, token) {
      const c = await connect(url, token);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await Promise.all([a.stop(), b.stop()]);
      await db.destroy();
    },
  };
}
