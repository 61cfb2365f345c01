/**
 * One measured step on one stack: wait for a quiet machine and every subscriber, publish open
 * loop at a rate, drain, then add up what the subscriber processes saw (delivery, latency,
 * order), with CPU per process group and, for agenthub, Postgres lock waiters. Disturbed steps
 * are run again when that could change the verdict.
 */
import { HTTP_TIMEOUT_MS, publishOpenLoop } from "./publisher.js";
import { statusAll, type StatusReport, type StepReport, type SubscriberProc } from "./ipc.js";
import { cpuBetween, cpuSnapshot, Histogram, now, pidsByComm, round, sleep, type CpuGroups } from "./lib.js";
import { BENCH_DB, cfg, PASS_DELIVERY, PASS_P99_MS, REDIS_URL, type StackName } from "./options.js";
import type { PgActivity } from "./postgres.js";
import { readProbes, resetProbes, type HubInternals } from "./internals.js";
import { fmt, printRow } from "./report.js";
import type { Stack } from "./stacks.js";

const DRAIN_IDLE_MS = 1500;
const DRAIN_CAP_MS = 15_000;
/** CPU (% of one core) used outside the benchmark's processes that counts as a quiet machine. */
const QUIET_OTHER_PCT = 20;
/** ... and above which a step counts as disturbed (and is run again, see --retries). */
const DISTURBED_OTHER_PCT = 40;

/** A stack with its subscribers connected: what a step runs on. */
export interface Testbed {
  stack: Stack;
  subs: SubscriberProc[];
  cpuGroups: CpuGroups;
}

/** The process groups whose CPU a step records. */
export function benchCpuGroups(stack: Stack, subs: SubscriberProc[]): CpuGroups {
  return {
    servers: () => stack.servers.map((s) => s.proc.child.pid!).filter(Boolean),
    clients: () => subs.map((s) => s.child.pid!).filter(Boolean),
    // Backends of the bench database, plus Postgres' own background processes (WAL writer...).
    postgres: () => pidsByComm("postgres", (cmd) => cmd.includes(BENCH_DB) || !/\(\d+\)|\[local\]/.test(cmd)),
    redis: stack.redisPids ?? (() => pidsByComm("redis-server", (cmd) => cmd.includes(`:${new URL(REDIS_URL).port || 6379}`))),
    bench: () => [process.pid],
  };
}

/** Waits (up to 15 s) until `count` sockets are connected (a slow consumer may have been dropped and be reconnecting). */
export async function waitConnected(subs: SubscriberProc[], count: number): Promise<StatusReport> {
  let status = await statusAll(subs);
  for (let waited = 0; status.connected < count && waited < 15_000; waited += 250) {
    await sleep(250);
    status = await statusAll(subs);
  }
  return status;
}

/** Besides the step's own figures, the subscriber processes' counts (see StepReport), added up. */
export interface StepResult extends Pick<StepReport, "duplicates" | "reordered" | "seqBackwards" | "seqGaps" | "stale"> {
  stack: StackName;
  kind: "warmup" | "fixed" | "max" | "refine";
  rate: number;
  messages: number;
  subscribers: number;
  connectedAtStart: number;
  expected: number;
  delivered: number;
  deliveredRatio: number;
  deliveriesPerSec: number;
  achievedSendRate: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  http: { ok: number; errors: number; errorSample: string | undefined; p50: number; p99: number; max: number };
  maxSendLagMs: number;
  disconnects: number;
  cpu: Record<string, number>;
  /** agenthub only: the bench database's sessions while publishing (see PgSampler). */
  pg: PgActivity | undefined;
  /** Inside the server processes, from the step's start to its drain (bench/hub-probe.ts). */
  hub: HubInternals | undefined;
  pass: boolean;
  /** Other workloads used more than DISTURBED_OTHER_PCT of a core during the step. */
  disturbed: boolean;
  /** How long the step waited for a quiet machine before it started. */
  quietWaitMs: number;
  attempt: number;
  wallS: number;
}

let stepCounter = 0;

async function runStep(bed: Testbed, kind: StepResult["kind"], rate: number, messageCount?: number, attempt = 1): Promise<StepResult> {
  const { stack, subs, cpuGroups } = bed;
  const step = ++stepCounter;
  const messages = messageCount ?? cfg.messages ?? Math.max(1, Math.round(rate * cfg.durationS));
  const quietWaitMs = await waitQuiet(cpuGroups);
  const stepStarted = now();

  const status = await waitConnected(subs, cfg.subscribers);
  const connectedAtStart = status.connected;
  await Promise.all(subs.map((s) => s.call({ cmd: "begin", step, messages })));

  await stack.pgSampler?.start();
  await resetProbes(stack.servers);
  const cpu0 = cpuSnapshot(cpuGroups);
  const sent = await publishOpenLoop(stack, step, messages, rate, cfg.payloadBytes);
  const cpu1 = cpuSnapshot(cpuGroups);
  const pgActivity = stack.pgSampler?.stop();
  await Promise.race([sent.answered, sleep(HTTP_TIMEOUT_MS + 5000)]);

  await drain(subs, sent.ok * connectedAtStart);
  const hub = await readProbes(stack.servers, messages);
  const seen = merge(await Promise.all(subs.map((s) => s.call<StepReport>({ cmd: "end" }))));
  const statusAfter = await statusAll(subs);
  const { hist } = seen;
  const { firstSend, lastSend } = sent;
  const expected = messages * cfg.subscribers;
  const deliveredRatio = expected ? seen.unique / expected : 0;
  const latency = latencyOf(hist);
  const cpu = cpuBetween(cpu0, cpu1);
  const result: StepResult = {
    stack: stack.name,
    kind,
    rate,
    messages,
    subscribers: cfg.subscribers,
    connectedAtStart,
    expected,
    delivered: seen.unique,
    deliveredRatio: Math.round(deliveredRatio * 100_000) / 100_000,
    deliveriesPerSec: Math.round(seen.lastRecv > firstSend ? seen.unique / ((seen.lastRecv - firstSend) / 1000) : 0),
    achievedSendRate: round(messages > 1 && lastSend > firstSend ? (messages - 1) / ((lastSend - firstSend) / 1000) : rate),
    latencyMs: latency,
    http: { ok: sent.ok, errors: sent.errors, errorSample: sent.errorSample, p50: round(sent.http.quantile(0.5)), p99: round(sent.http.quantile(0.99)), max: round(sent.http.max) },
    maxSendLagMs: round(sent.maxLagMs),
    ...orderCounts(seen),
    disconnects: statusAfter.disconnects - status.disconnects,
    cpu,
    pg: pgActivity,
    hub,
    pass: deliveredRatio >= PASS_DELIVERY && latency.p99 <= PASS_P99_MS,
    disturbed: (cpu.other ?? 0) > DISTURBED_OTHER_PCT,
    quietWaitMs: Math.round(quietWaitMs),
    attempt,
    wallS: round((now() - stepStarted) / 1000),
  };
  printRow(result);
  if (!result.pass) await settle(subs);
  else await sleep(500);
  return result;
}

/** Until everything published reached everyone, or nothing moves for a while. */
export async function drain(subs: SubscriberProc[], reachable: number): Promise<void> {
  let prev = -1;
  let lastProgress = now();
  const deadline = now() + DRAIN_CAP_MS;
  while (now() < deadline) {
    const { unique } = await statusAll(subs);
    if (unique >= reachable) break;
    if (unique !== prev) {
      prev = unique;
      lastProgress = now();
    } else if (now() - lastProgress > DRAIN_IDLE_MS) break;
    await sleep(100);
  }
}

/** The subscriber processes' step reports, added up. */
export function merge(reports: StepReport[]) {
  const hist = new Histogram();
  const sums = { unique: 0, duplicates: 0, reordered: 0, seqBackwards: 0, seqGaps: 0, stale: 0, turnsClean: 0, turnsEnded: 0, turnsFailed: 0 };
  let lastRecv = 0;
  let turnError: string | undefined;
  for (const r of reports) {
    hist.merge(r.hist);
    for (const k of Object.keys(sums) as Array<keyof typeof sums>) sums[k] += r[k];
    lastRecv = Math.max(lastRecv, r.lastRecv);
    turnError ??= r.turnError;
  }
  return { hist, ...sums, lastRecv, turnError };
}

type OrderCounts = Pick<StepReport, "duplicates" | "reordered" | "seqBackwards" | "seqGaps" | "stale">;

/** The order counts of the merged reports, as a step keeps them. */
export function orderCounts(seen: OrderCounts): OrderCounts {
  const { duplicates, reordered, seqBackwards, seqGaps, stale } = seen;
  return { duplicates, reordered, seqBackwards, seqGaps, stale };
}

/** The latency figures of a step's histogram, ms. */
export function latencyOf(hist: Histogram) {
  return {
    p50: round(hist.quantile(0.5)),
    p95: round(hist.quantile(0.95)),
    p99: round(hist.quantile(0.99)),
    max: round(hist.count ? hist.max : NaN),
    mean: round(hist.count ? hist.sum / hist.count : NaN),
  };
}

/** --warmup seconds at `rate`, printed but not measured. */
export async function warmUp(bed: Testbed, rate: number): Promise<void> {
  if (cfg.warmupS > 0) await runStep(bed, "warmup", rate, Math.max(1, Math.round(rate * cfg.warmupS)));
}

/**
 * Runs a step; when other workloads disturbed it and that could have changed the verdict (a
 * failed step, or the fixed-rate step whose p99 is compared), runs it again, bounded by --retries
 * and a per-stack budget, and keeps the least disturbed attempt (a disturbed pass still passes).
 */
export async function measuredStep(
  bed: Testbed,
  kind: StepResult["kind"],
  rate: number,
  budget: { retries: number },
  messageCount?: number,
): Promise<StepResult> {
  let best = await runStep(bed, kind, rate, messageCount);
  const worthRetrying = (r: StepResult) => r.disturbed && (r.kind === "fixed" || !r.pass);
  for (let attempt = 2; worthRetrying(best) && attempt <= cfg.retries + 1 && budget.retries > 0; attempt++) {
    budget.retries--;
    const again = await runStep(bed, kind, rate, messageCount, attempt);
    if ((again.cpu.other ?? 0) < (best.cpu.other ?? 0)) best = again;
  }
  return best;
}

/** Waits (up to --quiet-wait) until the machine's other workloads use little CPU; returns the wait. */
export async function waitQuiet(cpuGroups: CpuGroups): Promise<number> {
  const started = now();
  const deadline = started + cfg.quietWaitS * 1000;
  let announced = false;
  while (now() < deadline) {
    const a = cpuSnapshot(cpuGroups);
    await sleep(500);
    const other = cpuBetween(a, cpuSnapshot(cpuGroups)).other ?? 0;
    if (other < QUIET_OTHER_PCT) break;
    if (!announced) {
      console.log(`         … other workloads use ${fmt(other, 0)}% of a core; waiting up to ${cfg.quietWaitS} s for a quiet machine`);
      announced = true;
    }
  }
  return now() - started;
}

/** After an overloaded step: wait (bounded) until stragglers stop arriving. */
export async function settle(subs: SubscriberProc[]): Promise<void> {
  const deadline = now() + 15_000;
  let last = (await statusAll(subs)).lastRecv;
  while (now() < deadline) {
    await sleep(500);
    const s = await statusAll(subs);
    if (s.lastRecv === last) break;
    last = s.lastRecv;
  }
}
