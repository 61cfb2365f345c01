/**
 * Two hub processes sharing this test file's Postgres database and Redis, a knex handle on
 * the same database, and sockets that are all closed at the end: the multi-node test bed.
 */
import { afterAll, beforeAll } from "vitest";
import { createDb, type Db } from "../../src/db.js";
import { makeWorkspace, type TestWorkspace } from "./factories.js";
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

export async function startCluster(env: Record<string, string> = {}): Promise<Cluster> {
  const [a, b] = await Promise.all([spawnHub({ env }), spawnHub({ env })]);
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

/** A test file's cluster, with a workspace on it. */
export interface ClusterFixture extends Omit<Cluster, "stop"> {
  ws: TestWorkspace;
}

/**
 * Starts a cluster for the test file (beforeAll) and stops it, sockets included, after
 * (afterAll). `open` may be taken at once; the other fields are filled in by that beforeAll.
 */
export function useCluster(env: Record<string, string> = {}): ClusterFixture {
  let cluster: Cluster | undefined;
  const fixture = {
    open(url: string, token: string) {
      if (!cluster) throw new Error("useCluster: open() before the cluster started");
      return cluster.open(url, token);
    },
  } as ClusterFixture;
  beforeAll(async () => {
    cluster = await startCluster(env);
    Object.assign(fixture, { a: cluster.a, b: cluster.b, db: cluster.db, ws: await makeWorkspace(cluster.db) });
  }, 60_000);
  afterAll(() => cluster?.stop());
  return fixture;
}
