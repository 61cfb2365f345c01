/**
 * The orchestrator's side of bench/hub-probe.ts: resets the probes of a stack's servers when a
 * step starts, reads them when it ends, and merges the two servers' figures into one line per
 * step (the "in hub" line under each row of the step table).
 */
import { Histogram, round } from "./lib.js";
import type { ProbeStats, SparseHistogram } from "./hub-probe.js";

export interface ProbeTarget {
  probePort: number;
}

/** A step's figures inside the servers, both processes merged (ms unless said otherwise). */
export interface HubInternals {
  eld: Quantiles;
  gc: { count: number; sumMs: number; maxMs: number };
  http: Quantiles;
  /** Postgres round trips per publish (HTTP request), by kind, and their times. */
  pgPerRequest: { key: number; insert: number; other: number };
  pgKey: Quantiles;
  pgInsert: Quantiles;
  pgOther: Quantiles;
  pgConnects: { count: number; sumMs: number };
  redisPublish: Quantiles;
  hop: Quantiles;
  reorderHolds: { count: number; maxMs: number };
  emit: Quantiles;
  written: Quantiles;
  rssMb: number[];
}

interface Quantiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

async function probe(target: ProbeTarget, what: "reset" | "stats"): Promise<ProbeStats | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${target.probePort}/${what}`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? ((await res.json()) as ProbeStats) : undefined;
  } catch {
    return undefined;
  }
}

export async function resetProbes(servers: ProbeTarget[]): Promise<void> {
  await Promise.all(servers.map((s) => probe(s, "reset")));
}

function merged(stats: ProbeStats[], name: keyof ProbeStats): Histogram {
  const out = new Histogram();
  for (const s of stats) {
    const x = s[name] as SparseHistogram;
    if (!x?.count) continue;
    for (const [i, c] of x.buckets) out.counts[i]! += c;
    out.count += x.count;
    out.sum += x.sum;
    out.max = Math.max(out.max, x.max);
    out.min = Math.min(out.min, x.min);
  }
  return out;
}

const q = (x: Histogram): Quantiles => ({ n: x.count, p50: round(x.quantile(0.5)), p99: round(x.quantile(0.99)), max: round(x.count ? x.max : NaN) });

/** The servers' figures since their reset; `requests`: the step's publishes (for per-request counts). */
export async function readProbes(servers: ProbeTarget[], requests: number): Promise<HubInternals | undefined> {
  const stats = (await Promise.all(servers.map((s) => probe(s, "stats")))).filter((s): s is ProbeStats => !!s);
  if (!stats.length) return undefined;
  const gc = merged(stats, "gcMs");
  const connects = merged(stats, "pgConnectMs");
  const reorder = merged(stats, "reorderHoldMs");
  const per = (name: keyof ProbeStats) => (requests ? round(merged(stats, name).count / requests) : 0);
  return {
    eld: q(merged(stats, "eldMs")),
    gc: { count: gc.count, sumMs: round(gc.sum), maxMs: round(gc.count ? gc.max : 0) },
    http: q(merged(stats, "httpMs")),
    pgPerRequest: { key: per("pgKeyMs"), insert: per("pgInsertMs"), other: per("pgOtherMs") },
    pgKey: q(merged(stats, "pgKeyMs")),
    pgInsert: q(merged(stats, "pgInsertMs")),
    pgOther: q(merged(stats, "pgOtherMs")),
    pgConnects: { count: connects.count, sumMs: round(connects.sum) },
    redisPublish: q(merged(stats, "redisPublishMs")),
    hop: q(merged(stats, "hopMs")),
    reorderHolds: { count: reorder.count, maxMs: round(reorder.count ? reorder.max : 0) },
    emit: q(merged(stats, "emitMs")),
    written: q(merged(stats, "writtenMs")),
    rssMb: stats.map((s) => round(s.rssBytes / 2 ** 20)),
  };
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const p99max = (x: Quantiles) => (x.n ? `${f(x.p99)}/${f(x.max)}` : "-");

/** The header of the "in hub" line (printed once under the step table's header). */
export const INTERNALS_LEGEND =
  "  in hub (both servers, ms, p99/max): eld = event-loop delay; gc = pauses n, sum, longest; http = request in the process; " +
  "pg key/ins/oth = round trips per publish and p99/max; conn = new Postgres connections (ms); pub = Redis PUBLISH; " +
  "hop = send to arrival on a node; hold = reorder holds (longest); emit = one broadcast's writes; written = send to written out";

export function formatInternals(x: HubInternals): string {
  const pg = (per: number, qq: Quantiles) => (qq.n ? `${f(per, 2)}×${p99max(qq)}` : "0");
  return (
    `         in hub: eld ${p99max(x.eld)} · gc ${x.gc.count}, ${f(x.gc.sumMs)}, ${f(x.gc.maxMs)} · http ${p99max(x.http)}` +
    ` · pg key ${pg(x.pgPerRequest.key, x.pgKey)} ins ${pg(x.pgPerRequest.insert, x.pgInsert)} oth ${pg(x.pgPerRequest.other, x.pgOther)}` +
    ` conn ${x.pgConnects.count}${x.pgConnects.count ? ` (${f(x.pgConnects.sumMs)})` : ""} · pub ${p99max(x.redisPublish)} · hop ${x.hop.n ? `${f(x.hop.p50)}/${f(x.hop.p99)}` : "-"} p50/p99` +
    ` · hold ${x.reorderHolds.count}${x.reorderHolds.count ? ` (${f(x.reorderHolds.maxMs)})` : ""} · emit ${p99max(x.emit)} · written ${x.written.n ? `${f(x.written.p50)}/${f(x.written.p99)}` : "-"} p50/p99`
  );
}
