/**
 * What the benchmark prints: the opening line, a table row per step, the summary with the
 * ratios agenthub/bare against the issue's bars, and one final JSON line with every figure.
 */
import { formatInternals, INTERNALS_LEGEND } from "./internals.js";
import { round } from "./lib.js";
import { cfg, PASS_DELIVERY, PASS_P99_MS, type StackName } from "./options.js";
import type { StepResult } from "./step.js";

/** Everything measured on one stack. */
export interface StackResult {
  stack: StackName;
  note: string;
  connect: { connected: number; failed: number; ms: number; errors: string[] };
  clockOffsetsMs: number[];
  /** The fixed-rate step, once per round (stacks take turns, see --rounds). */
  fixedRounds: StepResult[];
  /** Median p99 and p50 over the rounds. */
  fixedP99Ms: number | null;
  fixedP50Ms: number | null;
  steps: StepResult[];
  /** Highest rate of a passing step in max mode (null if none passed). */
  maxSustainedRate: number | null;
  /** Lowest failing rate (null if none failed up to the cap). */
  firstFailingRate: number | null;
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

export const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const v = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return round(v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2);
};

export function printBanner(): void {
  console.log(
    `fan-out benchmark: ${cfg.subscribers} subscribers over 2 servers per stack, subscriber clients in ${cfg.clientProcs} process(es) (same for both stacks), ` +
      `${cfg.messages ? `${cfg.messages} messages` : `${cfg.durationS} s`} per step, payload ${cfg.payloadBytes} B, mode ${cfg.mode}` +
      (cfg.mode !== "max" ? `, fixed rate ${cfg.fixedRate} msg/s${cfg.messages ? "" : ` for ${cfg.fixedDurationS} s`}` : "") +
      (cfg.mode !== "fixed" ? `, max-rate steps from ${cfg.startRate} by ${cfg.step} (refine ${cfg.refine})` : "") +
      `; pass = delivered >= ${PASS_DELIVERY * 100}% and p99 <= ${PASS_P99_MS} ms`,
  );
}

// ---- the step table ----------------------------------------------------------------------------

/** A table's columns: heading and width; the first two are left-aligned, the others right. */
export type Columns = Array<[string, number]>;

const COLS: Columns = [
  ["stack", 14], ["kind", 6], ["rate", 6], ["msgs", 5], ["delivered/expected", 19], ["%", 7], ["deliv/s", 7],
  ["p50", 7], ["p95", 7], ["p99", 7], ["max", 7], ["http99", 7], ["err", 4], ["cpu srv", 7], ["clients", 7], ["pg", 5], ["redis", 5], ["bench", 5], ["other", 5], ["lockw", 5], ["ok", 4],
];

export function line(cells: string[], cols: Columns = COLS): string {
  return cells.map((c, i) => (i < 2 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join(" ");
}

export function printHeader(): void {
  console.log(line(COLS.map(([h]) => h)));
  console.log("  (latencies in ms, publish-to-delivery; cpu in % of one core over the sending window; other = CPU used by other workloads on the machine;");
  console.log("   lockw = Postgres sessions waiting on a lock, on average while publishing)");
  console.log(INTERNALS_LEGEND);
}

export function printRow(r: StepResult): void {
  const cpu = (group: string) => fmt(r.cpu[group] ?? NaN, 0);
  console.log(
    line([
      r.stack, r.kind, fmt(r.rate, r.rate % 1 ? 1 : 0), String(r.messages), `${r.delivered}/${r.expected}`, fmt(r.deliveredRatio * 100, 2), String(r.deliveriesPerSec),
      fmt(r.latencyMs.p50), fmt(r.latencyMs.p95), fmt(r.latencyMs.p99), fmt(r.latencyMs.max), fmt(r.http.p99), String(r.http.errors),
      cpu("servers"), cpu("clients"), cpu("postgres"), cpu("redis"), cpu("bench"), cpu("other"), r.pg ? fmt(r.pg.lockWaitersAvg, 1) : "-",
      r.kind === "warmup" ? "" : (r.pass ? "yes" : "NO") + (r.disturbed ? "*" : ""),
    ]),
  );
  if (r.hub) console.log(formatInternals(r.hub));
  const notes: string[] = [];
  if (r.http.errors) notes.push(`http errors: ${r.http.errors} (${r.http.errorSample})`);
  if (r.connectedAtStart < r.subscribers) notes.push(`only ${r.connectedAtStart} subscribers connected at start`);
  if (r.disconnects) notes.push(`${r.disconnects} disconnects during the step`);
  if (r.duplicates) notes.push(`${r.duplicates} duplicate deliveries`);
  // agenthub promises per-socket seq order with no gaps; the bare baseline has no seq to check.
  if (r.seqBackwards) notes.push(`${r.seqBackwards} deliveries broke seq order`);
  if (r.seqGaps) notes.push(`${r.seqGaps} seq gaps`);
  if (r.disturbed) notes.push(`* other workloads used ${fmt(r.cpu.other!, 0)}% of a core: figures are disturbed`);
  if (r.attempt > 1) notes.push(`attempt ${r.attempt}`);
  if (r.maxSendLagMs > 50) notes.push(`publisher fell ${fmt(r.maxSendLagMs, 0)} ms behind schedule`);
  if (notes.length) console.log(`         ! ${notes.join("; ")}`);
}

// ---- the summary -------------------------------------------------------------------------------

const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 ? round(a / b) : null);

function describeMax(r: StackResult | undefined): string {
  if (!r || cfg.mode === "fixed") return "-";
  return (
    `${r.maxSustainedRate ?? `< ${cfg.startRate}`} msg/s` +
    (r.maxSustainedRate ? ` (${r.steps.find((x) => x.pass && x.rate === r.maxSustainedRate)?.deliveriesPerSec ?? "?"} deliveries/s measured)` : "") +
    (r.firstFailingRate !== null ? `, fails at ${r.firstFailingRate}` : `, no failure up to ${cfg.maxRate} / ${cfg.maxSteps} steps`)
  );
}

function describeFixed(r: StackResult | undefined): string {
  if (!r?.fixedRounds.length) return "-";
  return `${fmt(r.fixedP99Ms ?? NaN)} ms (p50 ${fmt(r.fixedP50Ms ?? NaN)}); rounds: ${r.fixedRounds.map((x) => fmt(x.latencyMs.p99)).join(", ")}`;
}

/** The summary against the bars (max rate >= 1.0× bare, p99 <= 1.2× bare), then the JSON line. */
export function printSummary(results: Partial<Record<StackName, StackResult>>, elapsedS: number): void {
  const { bare, agenthub: hub, "bare-coalesced": coalesced } = results;
  const maxRateRatio = ratio(hub?.maxSustainedRate, bare?.maxSustainedRate);
  const p99Ratio = ratio(hub?.fixedP99Ms, bare?.fixedP99Ms);

  console.log("\n== summary ==");
  console.log(`max sustained rate (>= 99% delivered, p99 <= 1 s):`);
  console.log(`  bare      ${describeMax(bare)}`);
  console.log(`  agenthub  ${describeMax(hub)}`);
  console.log(`  ratio agenthub/bare: ${maxRateRatio ?? "-"}   (bar: >= 1.0)`);
  if (coalesced) {
    console.log(`  bare-coalesced  ${describeMax(coalesced)}`);
    console.log(`  ratio agenthub/bare-coalesced: ${ratio(hub?.maxSustainedRate, coalesced.maxSustainedRate) ?? "-"}   (persistence at equal socket writes; not the bar)`);
  }
  console.log(`p99 at ${cfg.fixedRate} msg/s (median of ${cfg.rounds} round(s)):`);
  console.log(`  bare      ${describeFixed(bare)}`);
  console.log(`  agenthub  ${describeFixed(hub)}`);
  if (coalesced) console.log(`  bare-coalesced  ${describeFixed(coalesced)}`);
  const roundRatios = (hub?.fixedRounds ?? []).map((h, i) => ratio(h.latencyMs.p99, bare?.fixedRounds[i]?.latencyMs.p99)).filter((x) => x !== null);
  console.log(`  ratio agenthub/bare: ${p99Ratio ?? "-"}   (bar: <= 1.2)${roundRatios.length > 1 ? `; round by round: ${roundRatios.join(", ")}` : ""}`);
  const meetsRate = maxRateRatio === null ? null : maxRateRatio >= 1;
  const meetsP99 = p99Ratio === null ? null : p99Ratio <= 1.2;
  const kept = Object.values(results).flatMap((r) => [...r.fixedRounds, ...r.steps]);
  // A disturbed pass still passes; a disturbed failure or fixed-rate p99 may be the machine's fault.
  const disturbed = kept.filter((r) => r.disturbed && (r.kind === "fixed" || !r.pass)).map((r) => `${r.stack} ${r.kind} ${r.rate}`);
  if (disturbed.length) console.log(`WARNING: other workloads on the machine disturbed these steps, so their verdicts are less trustworthy: ${disturbed.join(", ")}`);
  console.log(`bar met: max rate ${meetsRate ?? "-"}, p99 ${meetsP99 ?? "-"}; run took ${fmt(elapsedS, 0)} s`);

  console.log(
    JSON.stringify({
      bench: "fanout",
      config: { ...cfg, passDelivery: PASS_DELIVERY, passP99Ms: PASS_P99_MS, hubLogLevel: "warn" },
      results,
      summary: {
        bareMaxRate: bare?.maxSustainedRate ?? null,
        bareCoalescedMaxRate: coalesced?.maxSustainedRate ?? null,
        agenthubMaxRate: hub?.maxSustainedRate ?? null,
        maxRateRatio,
        fixedRate: cfg.fixedRate,
        bareP99AtFixed: bare?.fixedP99Ms ?? null,
        bareCoalescedP99AtFixed: coalesced?.fixedP99Ms ?? null,
        agenthubP99AtFixed: hub?.fixedP99Ms ?? null,
        p99RatioByRound: roundRatios,
        p99Ratio,
        meetsMaxRateBar: meetsRate,
        meetsP99Bar: meetsP99,
        disturbedSteps: disturbed,
      },
      elapsedS,
    }),
  );
}

/** CPU per message published (ms of one core), from a step's CPU figures: hubs, Redis, both. */
function costPerMessage(r: StepResult): { hubs: number; redis: number; total: number; perDeliveryUs: number } {
  const perMessage = (pct: number) => round((pct * 10) / Math.max(r.achievedSendRate || r.rate, 0.001));
  const hubs = perMessage(r.cpu.servers ?? 0);
  const redis = perMessage(r.cpu.redis ?? 0);
  const perSubscriber = Math.max(1, r.delivered / Math.max(1, r.messages));
  return { hubs, redis, total: round(hubs + redis), perDeliveryUs: round(((hubs + redis) * 1000) / perSubscriber) };
}

/**
 * The cluster scenario's summary: agenthub on one Redis and on a Redis Cluster, side by side
 * (max rate, p99 at the fixed rate, CPU per message), then the JSON line.
 */
export function printClusterSummary(results: Partial<Record<StackName, StackResult>>, elapsedS: number): void {
  const single = results.agenthub;
  const cluster = results["agenthub-cluster"];
  const cost = (r: StackResult | undefined) => {
    const rounds = (r?.fixedRounds ?? []).map(costPerMessage);
    if (!rounds.length) return null;
    return {
      hubsMs: median(rounds.map((c) => c.hubs)),
      redisMs: median(rounds.map((c) => c.redis)),
      totalMs: median(rounds.map((c) => c.total)),
      perDeliveryUs: median(rounds.map((c) => c.perDeliveryUs)),
    };
  };
  const [singleCost, clusterCost] = [cost(single), cost(cluster)];
  const describeCost = (c: ReturnType<typeof cost>) =>
    c ? `${fmt(c.totalMs ?? NaN, 2)} ms CPU per message (hubs ${fmt(c.hubsMs ?? NaN, 2)}, Redis ${fmt(c.redisMs ?? NaN, 2)}); ${fmt(c.perDeliveryUs ?? NaN, 1)} µs per delivery` : "-";
  console.log("\n== summary: one Redis beside a Redis Cluster (3 masters + 3 replicas) ==");
  console.log(`max sustained rate (>= 99% delivered, p99 <= 1 s):`);
  console.log(`  one Redis  ${describeMax(single)}`);
  console.log(`  cluster    ${describeMax(cluster)}`);
  console.log(`  ratio cluster/one: ${ratio(cluster?.maxSustainedRate, single?.maxSustainedRate) ?? "-"}`);
  console.log(`p99 at ${cfg.fixedRate} msg/s (median of ${cfg.rounds} round(s)):`);
  console.log(`  one Redis  ${describeFixed(single)}`);
  console.log(`  cluster    ${describeFixed(cluster)}`);
  console.log(`  ratio cluster/one: ${ratio(cluster?.fixedP99Ms, single?.fixedP99Ms) ?? "-"}`);
  console.log(`cost at ${cfg.fixedRate} msg/s (median of the rounds):`);
  console.log(`  one Redis  ${describeCost(singleCost)}`);
  console.log(`  cluster    ${describeCost(clusterCost)}`);
  const kept = Object.values(results).flatMap((r) => [...r.fixedRounds, ...r.steps]);
  const disturbed = kept.filter((r) => r.disturbed && (r.kind === "fixed" || !r.pass)).map((r) => `${r.stack} ${r.kind} ${r.rate}`);
  if (disturbed.length) console.log(`WARNING: other workloads on the machine disturbed these steps, so their verdicts are less trustworthy: ${disturbed.join(", ")}`);
  console.log(`run took ${fmt(elapsedS, 0)} s`);
  console.log(
    JSON.stringify({
      bench: "cluster",
      config: { ...cfg, passDelivery: PASS_DELIVERY, passP99Ms: PASS_P99_MS, hubLogLevel: "warn" },
      results,
      summary: {
        singleMaxRate: single?.maxSustainedRate ?? null,
        clusterMaxRate: cluster?.maxSustainedRate ?? null,
        fixedRate: cfg.fixedRate,
        singleP99AtFixed: single?.fixedP99Ms ?? null,
        clusterP99AtFixed: cluster?.fixedP99Ms ?? null,
        singleCost,
        clusterCost,
        disturbedSteps: disturbed,
      },
      elapsedS,
    }),
  );
}
