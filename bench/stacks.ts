/**
 * The stacks under test, each two server processes on 127.0.0.1 sharing Redis: bare and
 * bare-coalesced (bench/bare-server.ts, no database) and agenthub (the build, dist/src/main.js, also sharing the
 * bench database), with what a publisher needs to reach them.
 */
import http from "node:http";
import { api, type Api } from "../test/support/api.js";
import { JWT_SECRET } from "../test/support/env.js";
import type { Cleanups } from "./cleanup.js";
import { freePort, HUB_NODE_ARGS, HUB_SCRIPT, ROOT, spawnNode, waitHealthy, type Child } from "./lib.js";
import { startRedisCluster } from "../test/support/redis-cluster.js";
import { cfg, REDIS_PREFIX, REDIS_URL, type StackName } from "./options.js";
import { BENCH_DB_URL, PgSampler } from "./postgres.js";

export interface Server {
  url: string;
  port: number;
  proc: Child;
  /** Keep-alive connections for the publisher: no TCP handshake on the measured path. */
  agent: http.Agent;
  /** Where the process's bench/hub-probe.ts answers (see bench/internals.ts). */
  probePort: number;
}

export interface Stack {
  name: StackName;
  servers: Server[];
  /** Socket auth token of every subscriber. */
  token: string;
  /** Message i goes to publishPaths[i % length] (one path: the fan-out's one channel). */
  publishPaths: string[];
  publishHeaders: Record<string, string>;
  agentId: string;
  note: string;
  /** agenthub only: what the bench database's sessions do while a step publishes. */
  pgSampler: PgSampler | undefined;
  /** The stack's own Redis processes, when it has them (agenthub-cluster), for the CPU figures. */
  redisPids?: () => number[];
}

const AGENT_ID = "bench-agent";

/** Starts a stack; what it starts is stopped by `cleanups`. agenthub needs the bench database's master key. */
export function startStack(name: StackName, masterKey: string | undefined, cleanups: Cleanups): Promise<Stack> {
  if (name === "bare" || name === "bare-coalesced") return startBare(name, cleanups);
  if (masterKey === undefined) throw new Error("agenthub needs the bench database (freshDatabase)");
  if (name === "agenthub-cluster") return startAgenthubOnCluster(masterKey, cleanups);
  return startAgenthub(masterKey, cleanups);
}

/** agenthub on a Redis Cluster of its own (3 masters, 3 replicas), stopped with the stack. */
async function startAgenthubOnCluster(masterKey: string, cleanups: Cleanups): Promise<Stack> {
  const cluster = await startRedisCluster();
  cleanups.add(() => cluster.stop());
  const stack = await startAgenthub(masterKey, cleanups, "agenthub-cluster", { REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.nodeList });
  return {
    ...stack,
    redisPids: () => cluster.nodes.map((n) => n.process.pid!).filter(Boolean),
    note: `${stack.note}; on a Redis Cluster of 3 masters + 3 replicas (${cluster.nodeList})`,
  };
}

/** Two server processes running `script` (with `nodeArgs`), once each is healthy. */
async function startServers(name: StackName, script: string, nodeArgs: string[], env: (port: number) => NodeJS.ProcessEnv, cleanups: Cleanups): Promise<Server[]> {
  const startOne = async (i: number): Promise<Server> => {
    // The port is free when asked for but could be taken before the child binds it: retry then.
    for (let attempt = 1; ; attempt++) {
      const [port, probePort] = [await freePort(), await freePort()];
      // bench/hub-probe.ts measures inside the process (event loop, GC, Postgres, Redis, writes).
      const probeEnv = { PROBE_PORT: String(probePort), PROBE_AGENTHUB: name.startsWith("agenthub") ? "1" : "0" };
      const proc = spawnNode(`${name}-${i}`, [...nodeArgs, ...cfg.serverNodeArgs, "--import", "./bench/hub-probe.ts", script], { ...process.env, ...env(port), ...probeEnv }, ROOT);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      cleanups.add(async () => {
        agent.destroy();
        await proc.stop(8000);
      });
      try {
        await waitHealthy(`http://127.0.0.1:${port}`, proc, 60_000);
        return { url: `http://127.0.0.1:${port}`, port, proc, agent, probePort };
      } catch (err) {
        if (attempt >= 3 || proc.child.exitCode === null) throw err;
      }
    }
  };
  return Promise.all([startOne(0), startOne(1)]);
}

async function startBare(name: "bare" | "bare-coalesced", cleanups: Cleanups): Promise<Stack> {
  const coalesce = name === "bare-coalesced";
  const servers = await startServers(
    name,
    "bench/bare-server.ts",
    [],
    (port) => ({ PORT: String(port), HOST: "127.0.0.1", REDIS_URL, REDIS_KEY: `${REDIS_PREFIX}-${name}`, COALESCE: coalesce ? "1" : "0" }),
    cleanups,
  );
  return {
    name,
    servers,
    token: "bare",
    publishPaths: ["/team-channels/ch_bench/messages"],
    publishHeaders: {},
    agentId: AGENT_ID,
    pgSampler: undefined,
    note: `bench/bare-server.ts: Socket.IO + @socket.io/redis-adapter, no database, io.to(room).emit${coalesce ? ", with agenthub's write coalescing" : ""}`,
  };
}

/** The environment every benchmarked agenthub process runs with (bench Postgres and Redis, no limits in the way). */
export function agenthubEnv(): Record<string, string> {
  return {
    DATABASE_URL: BENCH_DB_URL,
    REDIS_URL,
    REDIS_PREFIX,
    JWT_SECRET,
    LOG_LEVEL: "warn",
    // One key publishes everything here; the per-credential limit would cap the rate itself.
    RATE_LIMIT_PER_10S: "0",
    AGENTHUB_BANNER: "0",
    PUBLIC_URL: "http://127.0.0.1",
    // The protocols scenario's agents are peers in the bench process, on loopback.
    AGENT_SERVER_ALLOW_PRIVATE: "true",
    AGENT_SERVER_ALLOW_HTTP: "true",
  };
}

async function startAgenthub(masterKey: string, cleanups: Cleanups, name: "agenthub" | "agenthub-cluster" = "agenthub", env: Record<string, string> = {}): Promise<Stack> {
  const servers = await startServers(
    name,
    HUB_SCRIPT,
    HUB_NODE_ARGS,
    (port) => ({
      ...agenthubEnv(),
      PORT: String(port),
      HOST: "127.0.0.1",
      // Client events per socket: every agent:event of a serving socket counts (the turns scenario).
      SOCKET_EVENTS_PER_10S: String(cfg.socketEventsPer10s),
      ...env,
    }),
    cleanups,
  );
  // The agent, its key and the channel it is subscribed to, made with the workspace's master key
  // (one of each per stack: both agenthub stacks share the bench database).
  const admin = api(servers[0]!.url, masterKey);
  const agentId = name === "agenthub" ? AGENT_ID : `${AGENT_ID}-cluster`;
  await postOk(admin, "/api/agents", { id: agentId, name: "Bench agent" });
  const { key } = await postOk<{ key: string }>(admin, `/api/agents/${agentId}/keys`, { name: "bench", scopes: ["channels:read", "channels:publish"] });
  const channel = await postOk<{ id: string }>(admin, "/team-channels", { name: name === "agenthub" ? "bench" : "bench-cluster" });
  await postOk(admin, `/team-channels/${channel.id}/subscribe`, { agentId });
  const pgSampler = new PgSampler();
  cleanups.add(() => pgSampler.close());
  return {
    name,
    servers,
    token: key,
    publishPaths: [`/team-channels/${channel.id}/messages`],
    publishHeaders: { authorization: `Bearer ${key}` },
    agentId,
    pgSampler,
    note: `dist/src/main.js with npm start's Node options (${HUB_NODE_ARGS.join(" ")}) on Postgres + Redis, LOG_LEVEL=warn, RATE_LIMIT_PER_10S=0, publishing with the agent's key`,
  };
}

export async function postOk<T>(client: Api, path: string, body: unknown): Promise<T> {
  const res = await client.post<T>(path, body);
  if (res.status < 200 || res.status > 299) throw new Error(`POST ${path}: ${res.status} ${res.text}`);
  return res.body;
}
