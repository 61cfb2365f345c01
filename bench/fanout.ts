/**
 * Fan-out benchmark (issue 5): agenthub against bare Socket.IO + Redis adapter, in one run.
 *
 *   npm run bench -- [--subscribers 1000] [--mode fixed|max|both] [--rate 30] [--fixed-duration 20] [--rounds 3]
 *                    [--duration 10 | --messages M] [--start-rate 20] [--step 20] [--refine 2]
 *                    [--max-rate 400] [--max-steps 15] [--client-procs 2] [--stacks bare,agenthub]
 *                    [--payload-bytes 100] [--warmup 3] [--quiet-wait 20] [--retries 2]
 *                    [--server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]
 *                    [--pg-url postgres://root@127.0.0.1:5432/postgres] [--redis-url redis://127.0.0.1:6379]
 *
 *   npm run bench -- --scenario cluster [the fan-out's options]
 *
 *   npm run bench -- --scenario turns [--turns 50] [--deltas 500] [--delta-rate 100] [--watchers 20]
 *                    [--serving 4] [--rounds 3] [--warmup 3] [--socket-events-per-10s 100000] [--quick]
 *
 *   npm run bench -- --scenario rag [--chunks 10000] [--queries 3000] [--in-flight 4]
 *                    [--backends postgres,pglite] [--quick]
 *
 *   npm run bench -- --scenario scale [--sockets 10000] [--replay 10000] [--appends 4000]
 *   npm run bench -- --scenario protocols [--protocol-turns 3] [--deltas 200] [--delta-rate 100] [--protocols socket,a2a,agui,adk,model]
 *   npm run bench -- --scenario streams [--protocol-turns 3] [--deltas 200] [--delta-rate 100]
 *                    [--append-in-flight 16] [--client-procs 4] [--quick]
 *
 * Every option can also be given as BENCH_<NAME> in the environment (BENCH_SUBSCRIBERS=200).
 * --quick: one round, 1 s warm-ups and, for turns, 10 turns × 100 deltas; for rag, 1,000 chunks
 * and 300 queries (each unless given).
 *
 * Scenario turns (bench/turns.ts): --turns concurrent agent turns, each streaming --deltas
 * content_deltas at --delta-rate per second from --serving agent sockets (serveTurns), to
 * --watchers sockets of the sessions' owner over the two agenthub processes, against channel
 * broadcast at the same deliveries/s to the same sockets (--turns channels, each at --delta-rate
 * messages/s through REST). Per step: delivery latency (agent emit or publish to watcher receive)
 * p50/p99, hub CPU per delivered item, and 100% delivery in order (per watcher and turn: seq 1..n,
 * no gap or duplicate, each delta where it was sent; every turn completed and stored as sent).
 * Goal: turns' p99 within 1.5× the channel's. The hubs run with SOCKET_EVENTS_PER_10S raised to
 * --socket-events-per-10s (every agent:event counts against it).
 *
 * Scenario cluster: the fan-out (fixed rounds, then max rate) of agenthub on one Redis beside
 * agenthub on a Redis Cluster of 3 masters and 3 replicas (test/support/redis-cluster.ts, started
 * for the run on free loopback ports), in the same run: max rate, p99 at --rate, and the cost
 * per message (CPU of the hubs and of Redis per message published, and per delivery).
 *
 * Scenario rag (bench/rag.ts): --chunks knowledge chunks (items of 5 chunks, deterministic text
 * from topical word lists) loaded through POST /api/knowledge into one agenthub process per
 * backend (postgres: DATABASE_URL to a fresh bench database; pglite: the embedded default, DATA_DIR
 * in a temp dir), then --queries RAG queries (POST /v1/workspaces/{ws}/agent/rag, a fifth of them
 * needing the any-word fallback), closed loop with --in-flight requests at a time: latency
 * p50/p99, queries/s, and every answer 200 with 1..topK results sorted by score in 0..1.
 * Goal: p99 under 50 ms on Postgres at 10,000 chunks; prints EXPLAIN ANALYZE of one query there.
 *
 * Scenario scale (bench/scale.ts), per node (one agenthub process): REST append throughput
 * (POST a channel message, closed loop with --append-in-flight requests, --appends of them) against
 * bench/bare-koa.ts (Koa + pg inserting the same row with the same statement, no auth), rounds
 * alternating; time to replay --replay missed channel messages (~200 B) through channel:watch
 * paging from a fresh socket (5 times, median); resident memory per connected authenticated socket
 * (an agent key subscribed to one channel) at --sockets sockets, the RSS delta after a forced GC,
 * and the same for bare Socket.IO (bench/bare-server.ts) as a reference. Goals (issue 16): append
 * >= 0.8x bare Koa, replay < 1 s, <= 30 KB per socket.
 *
 * Every server process (all scenarios) loads bench/hub-probe.ts, which measures inside it: each
 * step of the fan-out prints an "in hub" line under its row (event-loop delay, GC pauses, Postgres
 * round trips per publish and their times, new Postgres connections, Redis PUBLISH time, arrival on
 * the nodes, reorder holds, broadcast write time, send-to-written time).
 *
 * Stacks: bare (stock Socket.IO, the issue's baseline), agenthub, and, only when asked for,
 * bare-coalesced (bare with agenthub's write coalescing, to see what persistence alone costs).
 *
 * For each stack (in the order given) it starts two server processes on 127.0.0.1 sharing Redis
 * (agenthub also shares a fresh Postgres database, dropped at the end) and connects S
 * subscribers split evenly over the two servers from `--client-procs` subscriber processes (the
 * same client code and split for every stack). Each step publishes through REST, alternating between
 * the two servers, open loop on a fixed schedule (R msg/s; a slow server does not slow the
 * schedule down). Each message carries its send time; latency is receive time minus send time on
 * the orchestrator's clock (the subscriber processes' clock offset is measured over IPC and removed).
 *
 *   fixed: a step at --rate (default 30 msg/s) for --fixed-duration seconds: delivered/expected,
 *          deliveries/s, p50/p95/p99/max. All stacks are up at once and take turns, --rounds
 *          times (reversing the order every other round), each measured step right after --warmup
 *          seconds at the same rate on the same stack; the median p99 per stack is compared.
 *   max:   --duration-second steps from --start-rate by --step until delivery drops below 99% or
 *          p99 passes 1 s, then --refine bisection steps between the last pass and the first failure.
 *
 * agenthub hubs run with LOG_LEVEL=warn on explicit ports (request logs are not measured) and the
 * default DATABASE_POOL_MAX; they publish as the subscribed agent, with its key. Per step it also
 * records CPU per process group from /proc (servers, subscriber clients, the bench database's
 * Postgres backends, Redis, this process, and "other": the rest of the machine; a step during
 * which other workloads were busy is marked and run again), and for agenthub how many Postgres
 * sessions wait on a lock. Prints a table per step, a summary with the ratios agenthub/bare, and
 * one final JSON line.
 */
import { atExit, Cleanups } from "./cleanup.js";
import { startSubscribers } from "./ipc.js";
import { ensureHubBuilt, now, round } from "./lib.js";
import { cfg, type StackName } from "./options.js";
import { freshDatabase } from "./postgres.js";
import { median, printBanner, printClusterSummary, printHeader, printSummary, type StackResult } from "./report.js";
import { startStack } from "./stacks.js";
import { benchCpuGroups, measuredStep, warmUp, type Testbed } from "./step.js";

const runStarted = now();
/** Re-runs of disturbed steps allowed per stack, whatever --retries says. */
const RETRY_BUDGET_PER_STACK = 5;

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    void atExit.run().then(() => process.exit(130));
  });
}

/** A stack that is up: servers started, subscribers connected and warmed up. */
interface OpenStack extends Testbed {
  budget: { retries: number };
  result: StackResult;
  /** Stops its servers and subscriber processes (also done at exit). */
  close(): Promise<void>;
}

async function openStack(name: StackName, masterKey: string | undefined): Promise<OpenStack> {
  // This stack's cleanups (servers, subscribers, samplers) run together, newest first, when it
  // closes: after its last step, or at exit.
  const own = new Cleanups();
  atExit.add(() => own.run());
  console.log(`\n== ${name} ==`);
  const stack = await startStack(name, masterKey, own);
  console.log(`  ${stack.note}; servers ${stack.servers.map((s) => s.url).join(", ")}`);

  const { subs, connect, clockOffsetsMs } = await startSubscribers(
    name,
    { urls: stack.servers.map((s) => s.url), count: cfg.subscribers, procs: cfg.clientProcs, token: stack.token, batch: cfg.connectBatch, checkSeq: name.startsWith("agenthub") },
    own,
  );
  const cpuGroups = benchCpuGroups(stack, subs);

  printHeader();
  await warmUp({ stack, subs, cpuGroups }, 10);
  const result: StackResult = {
    stack: name,
    note: stack.note,
    connect,
    clockOffsetsMs,
    fixedRounds: [],
    fixedP99Ms: null,
    fixedP50Ms: null,
    steps: [],
    maxSustainedRate: null,
    firstFailingRate: null,
  };
  return { stack, subs, cpuGroups, budget: { retries: RETRY_BUDGET_PER_STACK }, result, close: () => own.run() };
}

/**
 * The fixed-rate comparison: every stack is up at once and they take turns, round after round
 * (in reverse order every other round), so a machine that drifts or a noisy minute touches
 * every stack alike; each stack's figure is the median over its rounds.
 */
async function runFixedRounds(open: OpenStack[]): Promise<void> {
  const messages = cfg.messages ?? Math.max(1, Math.round(cfg.fixedRate * cfg.fixedDurationS));
  for (let round = 1; round <= cfg.rounds; round++) {
    console.log(`\n-- fixed rate, round ${round}/${cfg.rounds}`);
    printHeader();
    for (const o of round % 2 ? open : [...open].reverse()) {
      // Each measured step follows --warmup seconds at the same rate on the same stack: the
      // figure is steady-state latency, not the first seconds after the other stack's turn
      // (which cost agenthub more, see bench/RESULTS.md).
      await warmUp(o, cfg.fixedRate);
      o.result.fixedRounds.push(await measuredStep(o, "fixed", cfg.fixedRate, o.budget, messages));
    }
  }
  for (const o of open) {
    o.result.fixedP99Ms = median(o.result.fixedRounds.map((r) => r.latencyMs.p99));
    o.result.fixedP50Ms = median(o.result.fixedRounds.map((r) => r.latencyMs.p50));
  }
}

/** Max-rate mode for one stack: raise the rate until a step fails, then bisect. */
async function runMaxRate(o: OpenStack): Promise<void> {
  const { result } = o;
  console.log(`\n-- max rate: ${o.stack.name}`);
  printHeader();
  let rate = cfg.startRate;
  for (let n = 0; n < cfg.maxSteps && rate <= cfg.maxRate; n++, rate = round(rate + cfg.step)) {
    const r = await measuredStep(o, "max", rate, o.budget);
    result.steps.push(r);
    if (r.pass) result.maxSustainedRate = rate;
    else {
      result.firstFailingRate = rate;
      break;
    }
  }
  for (let k = 0; k < cfg.refine && result.firstFailingRate !== null; k++) {
    const lo = result.maxSustainedRate ?? 0;
    const mid = round((lo + result.firstFailingRate) / 2);
    if (mid <= lo || mid >= result.firstFailingRate || result.firstFailingRate - lo < 2) break;
    const r = await measuredStep(o, "refine", mid, o.budget);
    result.steps.push(r);
    if (r.pass) result.maxSustainedRate = mid;
    else result.firstFailingRate = mid;
  }
}

async function main(): Promise<void> {
  printBanner();
  const masterKey = cfg.stacks.some((s) => s.startsWith("agenthub")) ? (await freshDatabase()).masterKey : undefined;
  const results: Partial<Record<StackName, StackResult>> = {};
  const open: OpenStack[] = [];
  for (const name of cfg.stacks) {
    const o = await openStack(name, masterKey);
    open.push(o);
    results[name] = o.result;
  }
  if (cfg.mode !== "max") await runFixedRounds(open);
  // Each stack's max-rate steps run with the stacks before it closed and the others idle.
  for (const o of open) {
    if (cfg.mode !== "fixed") await runMaxRate(o);
    await o.close();
  }
  if (cfg.scenario === "cluster") printClusterSummary(results, round((now() - runStarted) / 1000));
  else printSummary(results, round((now() - runStarted) / 1000));
}

try {
  ensureHubBuilt();
  if (cfg.scenario === "turns") await (await import("./turns.js")).runTurns();
  else if (cfg.scenario === "rag") await (await import("./rag.js")).runRag();
  else if (cfg.scenario === "scale") await (await import("./scale.js")).runScale();
  else if (cfg.scenario === "protocols") await (await import("./protocols.js")).runProtocols();
  else if (cfg.scenario === "streams") await (await import("./streams.js")).runStreams();
  else await main();
  await atExit.run();
  process.exit(0);
} catch (err) {
  console.error(`\nbenchmark failed: ${(err as Error)?.stack ?? err}`);
  await atExit.run();
  process.exit(1);
}
