/**
 * Two hub processes sharing this test file's Postgres database and Redis, a knex handle on
 * the same database, and sockets that are all closed at the end: the multi-node test bed.
 * The Redis is the machine's one, or a Redis Cluster of the test's own (3 masters, 3
 * replicas: redis-cluster.ts) with `redis: "cluster"`; TEST_REDIS_SETUP=cluster makes that the
 * default, so any multi-node suite runs over both set-ups.
 */
import { afterAll, beforeAll } from "vitest";
import { createDb, type Db } from "../../src/db.js";
import { makeWorkspace, type TestWorkspace } from "./factories.js";
import { spawnHub, type HubProcess } from "./hub.js";
import { startRedisCluster, type TestRedisCluster } from "./redis-cluster.js";
import { connect, type Client } from "./sockets.js";

export type RedisSetup = "single" | "cluster";

export interface ClusterOptions {
  /** The Redis both hubs share: the machine's one (default) or a Redis Cluster started for them. */
  redis?: RedisSetup;
}

const defaultSetup = (): RedisSetup => (process.env.TEST_REDIS_SETUP === "cluster" ? "cluster" : "single");

export interface Cluster {
  a: HubProcess;
  b: HubProcess;
  db: Db;
  /** The Redis Cluster the hubs run on (redis: "cluster"), stopped by stop(). */
  redisCluster: TestRedisCluster | undefined;
  /** Connects a socket to a node; it is closed by stop(). */
  open(url: string, token: string): Promise<Client>;
  stop(): Promise<void>;
}

export async function startCluster(env: Record<string, string> = {}, options: ClusterOptions = {}): Promise<Cluster> {
  const redisCluster = (options.redis ?? defaultSetup()) === "cluster" ? await startRedisCluster() : undefined;
  if (redisCluster) env = { REDIS_URL: "", REDIS_CLUSTER_NODES: redisCluster.nodeList, ...env };
  let a: HubProcess, b: HubProcess;
  try {
    [a, b] = await Promise.all([spawnHub({ env }), spawnHub({ env })]);
  } catch (err) {
    await redisCluster?.stop();
    throw err;
  }
  const db = createDb({ databaseUrl: process.env.TEST_FILE_DATABASE_URL, dataDir: "/nonexistent" });
  const clients: Client[] = [];
  return {
    a,
    b,
    db,
    redisCluster,
    async open(url, token) {
      const c = await connect(url, token);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await Promise.all([a.stop(), b.stop()]);
      await db.destroy();
      await redisCluster?.stop();
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
export function useCluster(env: Record<string, string> = {}, options: ClusterOptions = {}): ClusterFixture {
  let cluster: Cluster | undefined;
  const fixture = {
    open(url: string, token: string) {
      if (!cluster) throw new Error("useCluster: open() before the cluster started");
      return cluster.open(url, token);
    },
  } as ClusterFixture;
  beforeAll(async () => {
    cluster = await startCluster(env, options);
    Object.assign(fixture, { a: cluster.a, b: cluster.b, db: cluster.db, redisCluster: cluster.redisCluster, ws: await makeWorkspace(cluster.db) });
  }, 60_000);
  afterAll(() => cluster?.stop());
  return fixture;
}
