/**
 * The benchmark's options, read once when this module loads: command-line flags, each also
 * accepted as BENCH_<NAME> in the environment (BENCH_SUBSCRIBERS=200), checked against their
 * range (a bad one exits with status 2). --help prints the usage that opens bench/fanout.ts.
 * Also the names and pass thresholds every part of the benchmark shares.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "./lib.js";

function usageError(message: string): never {
  console.error(message);
  process.exit(2);
}

function parseArgv() {
  try {
    return parseArgs({
      options: {
        subscribers: { type: "string" },
        messages: { type: "string" },
        duration: { type: "string" },
        "fixed-duration": { type: "string" },
        rate: { type: "string" },
        mode: { type: "string" },
        "start-rate": { type: "string" },
        step: { type: "string" },
        refine: { type: "string" },
        "max-rate": { type: "string" },
        "max-steps": { type: "string" },
        "client-procs": { type: "string" },
        "connect-batch": { type: "string" },
        stacks: { type: "string" },
        "payload-bytes": { type: "string" },
        warmup: { type: "string" },
        "quiet-wait": { type: "string" },
        retries: { type: "string" },
        rounds: { type: "string" },
        "server-node-args": { type: "string" },
        "pg-url": { type: "string" },
        "redis-url": { type: "string" },
        scenario: { type: "string" },
        turns: { type: "string" },
        deltas: { type: "string" },
        "delta-rate": { type: "string" },
        watchers: { type: "string" },
        serving: { type: "string" },
        "socket-events-per-10s": { type: "string" },
        chunks: { type: "string" },
        queries: { type: "string" },
        "in-flight": { type: "string" },
        backends: { type: "string" },
        sockets: { type: "string" },
        replay: { type: "string" },
        appends: { type: "string" },
        "append-in-flight": { type: "string" },
        "protocol-turns": { type: "string" },
        protocols: { type: "string" },
        quick: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (err) {
    return usageError(`${(err as Error).message}\n(see --help)`);
  }
}

const argv = parseArgv();

if (argv.help) {
  // The usage is the doc comment at the top of the entry point.
  const doc = /\/\*\*([\s\S]*?)\*\//.exec(fs.readFileSync(path.join(ROOT, "bench", "fanout.ts"), "utf8"));
  console.log(doc?.[1]?.replace(/^ \* ?/gm, "") ?? "");
  process.exit(0);
}

type Name = Exclude<keyof typeof argv & string, "help" | "quick">;

/** The flag, else BENCH_<NAME> from the environment. */
function opt(name: Name): string | undefined {
  return argv[name] ?? process.env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`];
}

function num(name: Name, fallback: number, min: number, max: number): number {
  const raw = opt(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) usageError(`--${name} must be a number from ${min} to ${max} (got ${raw})`);
  return n;
}

const int = (name: Name, fallback: number, min: number, max: number) => Math.round(num(name, fallback, min, max));

const SCENARIOS = ["fanout", "turns", "rag", "scale", "protocols", "streams", "cluster"] as const;
const scenario = (opt("scenario") ?? "fanout") as (typeof SCENARIOS)[number];
if (!SCENARIOS.includes(scenario)) usageError("--scenario must be fanout, turns, rag, scale, protocols, streams or cluster");
/** --quick (or BENCH_QUICK=1): the turns and rag scenarios' small defaults, for a first look. */
const quick = argv.quick ?? ["1", "true", "yes"].includes(process.env.BENCH_QUICK ?? "");

const MODES = ["fixed", "max", "both"] as const;
const mode = (opt("mode") ?? "both") as (typeof MODES)[number];
if (!MODES.includes(mode)) usageError("--mode must be fixed, max or both");

/**
 * bare and agenthub are the comparison. bare-coalesced is bare with agenthub's write
 * coalescing (src/realtime/coalesce.ts): not part of the bar, it shows what persistence costs
 * when both stacks write to sockets the same way. agenthub-cluster is agenthub on a Redis
 * Cluster of 3 masters and 3 replicas started for the run (the cluster scenario's default
 * stacks are agenthub,agenthub-cluster).
 */
const STACKS = ["bare", "bare-coalesced", "agenthub", "agenthub-cluster"] as const;
export type StackName = (typeof STACKS)[number];
const stacks = (opt("stacks") ?? (scenario === "cluster" ? "agenthub,agenthub-cluster" : "bare,agenthub")).split(",").map((s) => s.trim()) as StackName[];
if (!stacks.length || stacks.some((s) => !STACKS.includes(s))) usageError(`--stacks is a comma-separated list of ${STACKS.join(", ")}`);

/** The rag scenario's databases: a hub on Postgres (DATABASE_URL) and one on embedded PGlite. */
const BACKENDS = ["postgres", "pglite"] as const;
export type BackendName = (typeof BACKENDS)[number];
const backends = (opt("backends") ?? "postgres,pglite").split(",").map((s) => s.trim()) as BackendName[];
if (!backends.length || backends.some((b) => !BACKENDS.includes(b))) usageError(`--backends is a comma-separated list of ${BACKENDS.join(", ")}`);

const PROTOCOLS = ["socket", "a2a", "agui", "adk", "model"] as const;
const protocols = (opt("protocols") ?? PROTOCOLS.join(",")).split(",").map((s) => s.trim()) as Array<(typeof PROTOCOLS)[number]>;
if (!protocols.length || protocols.some((p) => !PROTOCOLS.includes(p))) usageError(`--protocols is a comma-separated list of ${PROTOCOLS.join(", ")}`);

export const cfg = {
  subscribers: int("subscribers", 1000, 1, 20_000),
  /** Messages per step; when unset, each step lasts `durationS` seconds (messages = rate × duration). */
  messages: opt("messages") ? int("messages", 0, 1, 1_000_000) : undefined,
  durationS: num("duration", 10, 1, 600),
  /** The fixed-rate step runs longer: its p99 is the figure compared against the 1.2× bar. */
  fixedDurationS: num("fixed-duration", 20, 1, 600),
  fixedRate: num("rate", 30, 0.1, 10_000),
  /** Fixed-rate steps per stack, the stacks taking turns; the median p99 is compared. */
  rounds: int("rounds", quick ? 1 : 3, 1, 20),
  mode,
  startRate: num("start-rate", 20, 0.1, 10_000),
  step: num("step", 20, 0.1, 10_000),
  refine: int("refine", 2, 0, 5),
  maxRate: num("max-rate", 400, 0.1, 10_000),
  maxSteps: int("max-steps", 15, 1, 100),
  clientProcs: int("client-procs", 2, 1, 16),
  connectBatch: int("connect-batch", 50, 1, 1000),
  payloadBytes: int("payload-bytes", 100, 1, 60_000),
  warmupS: num("warmup", quick ? 1 : 3, 0, 60),
  /** Before each step, wait up to this long for other workloads on the machine to calm down. */
  quietWaitS: num("quiet-wait", 20, 0, 300),
  /** Steps disturbed by other workloads are run again, up to this many times each. */
  retries: int("retries", 2, 0, 5),
  stacks,
  /** Extra node arguments for the server processes of both stacks (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). */
  serverNodeArgs: (opt("server-node-args") ?? "").split(/\s+/).filter(Boolean),
  scenario,
  quick,
  /** The turns scenario (bench/turns.ts): concurrent turns, one per session, each streaming `deltas` at `deltaRate`. */
  turns: int("turns", quick ? 10 : 50, 1, 1000),
  deltas: int("deltas", quick ? 100 : scenario === "protocols" || scenario === "streams" ? 200 : 500, 1, 10_000),
  deltaRate: num("delta-rate", 100, 0.1, 1000),
  /** User sockets receiving every turn (and watching every channel), split over the two hubs. */
  watchers: int("watchers", 20, 1, 2000),
  /** Sockets serving the agent's turns (agent:serve), split over the two hubs. */
  serving: int("serving", 4, 1, 100),
  /**
   * The hubs' SOCKET_EVENTS_PER_10S. Every agent:event counts, so the hub's default (100) stops a
   * serving socket at 10 events/s (see bench/RESULTS.md, "Turns"); the bench lifts it.
   */
  socketEventsPer10s: int("socket-events-per-10s", 100_000, 1, 100_000),
  /** The rag scenario (bench/rag.ts): knowledge chunks loaded, measured queries, requests in flight, databases. */
  chunks: int("chunks", quick ? 1000 : 10_000, 1, 1_000_000),
  queries: int("queries", quick ? 300 : 3000, 1, 1_000_000),
  inFlight: int("in-flight", 4, 1, 256),
  backends,
  /** The scale scenario (bench/scale.ts): sockets held by one node, missed messages replayed, REST appends timed and in flight. */
  sockets: int("sockets", quick ? 2000 : 10_000, 1, 18_000),
  replay: int("replay", quick ? 2000 : 10_000, 1, 1_000_000),
  appends: int("appends", quick ? 1000 : 4000, 1, 1_000_000),
  appendInFlight: int("append-in-flight", 16, 1, 256),
  /** The protocols scenario (bench/protocols.ts): turns per protocol per round, and which protocols (socket first: the others are compared with it). */
  protocolTurns: int("protocol-turns", quick ? 1 : 3, 1, 100),
  protocols,
};

export const PG_URL = opt("pg-url") ?? "postgres://root@127.0.0.1:5432/postgres";
export const REDIS_URL = opt("redis-url") ?? "redis://127.0.0.1:6379";
for (const u of [PG_URL, REDIS_URL]) {
  const h = new URL(u).hostname;
  if (h !== "127.0.0.1" && h !== "localhost" && h !== "[::1]") usageError(`the benchmark only talks to 127.0.0.1 (got ${u})`);
}

/** Per checkout, like the test databases, so two working trees can bench on one Postgres. */
const CHECKOUT = createHash("sha256").update(ROOT).digest("hex").slice(0, 8);
export const BENCH_DB = `agenthub_bench_${CHECKOUT}`;
export const REDIS_PREFIX = `agenthub-bench-${CHECKOUT}`;

/** A step passes when at least this share of (subscriber, message) pairs is delivered... */
export const PASS_DELIVERY = 0.99;
/** ... and its delivery p99 is at most this. */
export const PASS_P99_MS = 1000;
