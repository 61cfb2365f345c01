/**
 * A Redis Cluster of its own for a test file (or a benchmark): three masters and three replicas,
 * one `redis-server` each on free loopback ports, in their own temp dirs, joined with
 * `redis-cli --cluster create … --cluster-replicas 1`, and ready once every node says
 * cluster_state:ok. Never the machine's Redis on 6379. A small node timeout, so that a killed
 * master's replica takes over within seconds (the failover test).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";

const run = promisify(execFile);
const NODES = 6;
/** Ports tried for the six nodes (each also needs port + 10000 for the cluster bus). */
const PORT_RANGE = [7100, 7999] as const;
const READY_TIMEOUT_MS = 30_000;

export interface RedisClusterNode {
  port: number;
  process: ChildProcess;
}

export interface TestRedisCluster {
  nodes: RedisClusterNode[];
  /** For REDIS_CLUSTER_NODES: every node, as `127.0.0.1:port,…`. */
  nodeList: string;
  /** The node currently serving `key`'s slot as master. */
  masterOf(key: string): Promise<RedisClusterNode>;
  /** Resolves once every live node reports cluster_state:ok (and the slot of `key`, if given, has a live master). */
  waitHealthy(key?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** cluster-node-timeout: how long a master may be silent before its replica takes over. */
  nodeTimeoutMs?: number;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const ports = await freePorts(NODES);
  const dir = mkdtempSync(path.join(tmpdir(), "agenthub-redis-cluster-"));
  const nodes: RedisClusterNode[] = ports.map((port) => {
    const args = [
      "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
      "--cluster-config-file", path.join(dir, `nodes-${port}.conf`), "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 1500),
      "--dir", dir, "--dbfilename", `dump-${port}.rdb`, "--save", "", "--appendonly", "no", "--protected-mode", "no",
      "--logfile", path.join(dir, `redis-${port}.log`),
    ];
    return { port, process: spawn("redis-server", args, { stdio: "ignore" }) };
  });
  // A test process that dies without its afterAll still takes its redis-servers with it.
  const killAll = () => {
    for (const n of nodes) if (isAlive(n)) n.process.kill("SIGKILL");
  };
  process.once("exit", killAll);
  const stop = async () => {
    process.removeListener("exit", killAll);
    killAll();
    await Promise.all(nodes.map((n) => (n.process.exitCode === null && n.process.signalCode === null ? once(n.process, "exit") : undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((port) => waitFor(() => cli(port, "PING").then((r) => r === "PONG"))));
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"], { timeout: READY_TIMEOUT_MS });
    const cluster: TestRedisCluster = {
      nodes,
      nodeList: ports.map((p) => `127.0.0.1:${p}`).join(","),
      async masterOf(key) {
        const live = nodes.find(isAlive)!;
        const slot = Number(await cli(live.port, "CLUSTER", "KEYSLOT", key));
        const slots = JSON.parse(JSON.stringify(await command(live.port, (r) => r.cluster("SLOTS")))) as Array<[number, number, [string, number]]>;
        const range = slots.find(([from, to]) => slot >= from && slot <= to)!;
        return nodes.find((n) => n.port === range[2][1])!;
      },
      async waitHealthy(key) {
        await waitFor(async () => {
          for (const n of nodes.filter(isAlive)) if (!/cluster_state:ok/.test(await cli(n.port, "CLUSTER", "INFO"))) return false;
          return key ? isAlive(await cluster.masterOf(key)) : true;
        });
      },
      stop,
    };
    await cluster.waitHealthy();
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

function isAlive(n: RedisClusterNode): boolean {
  return n.process.exitCode === null && n.process.signalCode === null;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 5000 });
  return stdout.trim();
}

async function command<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Polls an outside process's state (redis-server has no event to await); bounded. */
async function waitFor(ok: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (Date.now() > until) throw new Error("redis cluster: not ready in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `count` ports in PORT_RANGE, each free along with its cluster bus port (+10000), from a random start. */
async function freePorts(count: number): Promise<number[]> {
  const [lo, hi] = PORT_RANGE;
  const found: number[] = [];
  let port = lo + Math.floor(Math.random() * (hi - lo - count * 4));
  while (found.length < count && port <= hi) {
    if ((await isFree(port)) && (await isFree(port + 10000))) found.push(port);
    port++;
  }
  if (found.length < count) throw new Error("redis cluster: no free ports");
  return found;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
