/**
 * Helpers shared by the fan-out benchmark's processes: the clock, a mergeable latency histogram,
 * CPU accounting from /proc, free ports and child-process plumbing. The messages between the
 * orchestrator and its subscriber processes are in bench/ipc.ts.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout: the working directory of every process the benchmark starts. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Milliseconds on the wall-clock time line, with sub-millisecond resolution. */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rounded to 2 decimals (NaN and infinities as they are): the precision of every figure reported. */
export function round(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : n;
}

/** What an open loop did: when it sent its first and last item, how far it fell behind at worst, how many it sent. */
export interface OpenLoopRun {
  firstSend: number;
  lastSend: number;
  maxLagMs: number;
  sent: number;
}

/**
 * Calls send(i, t) for i = 0..count-1 at start + i × intervalMs, open loop: a late caller sends
 * what is due at once and never slows the schedule down. Stops early when `stopped()` says so, or
 * a minute past the schedule.
 */
export async function openLoop(count: number, intervalMs: number, send: (i: number, t: number) => void, stopped: () => boolean = () => false): Promise<OpenLoopRun> {
  const run: OpenLoopRun = { firstSend: 0, lastSend: 0, maxLagMs: 0, sent: 0 };
  const start = now() + 5;
  const hardStop = start + count * intervalMs + 60_000;
  for (let i = 0; i < count && now() < hardStop && !stopped(); ) {
    const wait = start + i * intervalMs - now();
    if (wait > 0.5) await sleep(wait);
    for (let t = now(); i < count && start + i * intervalMs <= t && !stopped(); i++, t = now()) {
      run.maxLagMs = Math.max(run.maxLagMs, t - (start + i * intervalMs));
      if (i === 0) run.firstSend = t;
      run.lastSend = t;
      send(i, t);
      run.sent++;
    }
  }
  return run;
}

// ---- latency histogram ---------------------------------------------------------------------

/** Log-bucketed histogram: 1% relative resolution from 0.01 ms to ~2 minutes. */
const H_MIN = 0.01;
const H_FACTOR = 1.01;
const H_LOG = Math.log(H_FACTOR);
export const H_BUCKETS = Math.ceil(Math.log(120_000 / H_MIN) / H_LOG) + 2;

export class Histogram {
  counts: Uint32Array;
  count = 0;
  sum = 0;
  max = -Infinity;
  min = Infinity;

  constructor(counts?: Uint32Array) {
    this.counts = counts ?? new Uint32Array(H_BUCKETS);
  }

  add(ms: number): void {
    const i = ms <= H_MIN ? 0 : Math.min(H_BUCKETS - 1, 1 + Math.floor(Math.log(ms / H_MIN) / H_LOG));
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  merge(o: HistogramData): void {
    for (let i = 0; i < H_BUCKETS; i++) this.counts[i]! += o.counts[i]!;
    this.count += o.count;
    this.sum += o.sum;
    if (o.count) {
      this.max = Math.max(this.max, o.max);
      this.min = Math.min(this.min, o.min);
    }
  }

  /** The q-quantile (0..1), to the histogram's 1% resolution (bucket midpoint, clamped to max). */
  quantile(q: number): number {
    if (!this.count) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < H_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        if (i === 0) return Math.max(this.min, 0);
        const lo = H_MIN * H_FACTOR ** (i - 1);
        return Math.min(this.max, Math.max(this.min, lo * Math.sqrt(H_FACTOR)));
      }
    }
    return this.max;
  }

  data(): HistogramData {
    return { counts: this.counts, count: this.count, sum: this.sum, max: this.max, min: this.min };
  }
}

export interface HistogramData {
  counts: Uint32Array;
  count: number;
  sum: number;
  max: number;
  min: number;
}

// ---- CPU accounting --------------------------------------------------------------------------

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks.

/** utime + stime of a process in ms, or undefined when it is gone (or not on Linux). */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/**
 * Pids of processes whose command name is `comm` (e.g. every Postgres process), optionally only
 * those whose command line (a Postgres backend's title names its database) passes `keep`.
 */
export function pidsByComm(comm: string, keep?: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/comm`, "utf8").trim() !== comm) continue;
      if (keep && !keep(fs.readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " "))) continue;
      out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export type CpuGroups = Record<string, () => number[]>;
export interface CpuSnapshot {
  at: number;
  perPid: Map<number, number>;
  groups: Record<string, number[]>;
  machine: { busy: number; total: number } | undefined;
}

export function cpuSnapshot(groups: CpuGroups): CpuSnapshot {
  const perPid = new Map<number, number>();
  const g: Record<string, number[]> = {};
  for (const [name, pids] of Object.entries(groups)) {
    g[name] = pids();
    for (const pid of g[name]!) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) perPid.set(pid, ms);
    }
  }
  return { at: now(), perPid, groups: g, machine: machineTicks() };
}

/**
 * CPU used per group between two snapshots, in % of one core; `machine` is the whole machine in
 * % of all cores, and `other` what the machine spent outside the groups (other workloads), in %
 * of one core.
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const wall = b.at - a.at;
  const out: Record<string, number> = {};
  if (wall <= 0) return out;
  for (const [name, pids] of Object.entries(b.groups)) {
    let used = 0;
    for (const pid of new Set([...pids, ...(a.groups[name] ?? [])])) {
      const end = b.perPid.get(pid);
      if (end === undefined) continue;
      used += end - (a.perPid.get(pid) ?? 0); // a process born during the interval counts whole
    }
    out[name] = Math.round((used / wall) * 1000) / 10;
  }
  if (a.machine && b.machine && b.machine.total > a.machine.total) {
    const busyShare = (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total);
    out.machine = Math.round(busyShare * 1000) / 10;
    const groupsTotal = Object.values(out).reduce((x, y) => x + y, 0) - out.machine;
    out.other = Math.max(0, Math.round((busyShare * os.availableParallelism() * 100 - groupsTotal) * 10) / 10);
  }
  return out;
}

// ---- processes and ports ---------------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  child: ChildProcess;
  /** The last lines it wrote, for error messages. */
  tail(): string;
  stop(timeoutMs?: number): Promise<void>;
}

/** Spawns a Node child (with tsx), keeping only the last lines of its output. */
/**
 * The hub as users run it (`npm start`): the compiled build, made or refreshed first when the
 * sources are newer (scripts/ensure-build.mjs). Running src/ through tsx instead costs the hub
 * the transform's helpers on hot paths (esbuild's keepNames wraps every closure made per request).
 */
export const HUB_SCRIPT = "dist/src/main.js";
/** The Node options `npm start` gives the hub (package.json), so the benchmark runs it the same way. */
export const HUB_NODE_ARGS: string[] = (
  (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start.split(/\s+/)
).filter((a) => a.startsWith("--"));
let built = false;
export function ensureHubBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "ensure-build.mjs")], { cwd: ROOT, stdio: "inherit" });
  built = true;
}

export function spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Child {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  return { name, child, tail: captureTail(child), stop: (t) => stopChild(child, t) };
}

/** Keeps the last `maxLines` lines a child writes (stdout and stderr), for error messages. */
export function captureTail(child: ChildProcess, maxLines = 50): () => string {
  const lines: string[] = [];
  const keep = (d: Buffer) => {
    for (const l of String(d).split("\n")) if (l) lines.push(l.length > 2000 ? `${l.slice(0, 2000)}…` : l);
    if (lines.length > maxLines) lines.splice(0, lines.length - maxLines);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => lines.join("\n");
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, timeoutMs);
  await Promise.race([exited, sleep(timeoutMs + 2000)]);
  clearTimeout(timer);
}

/** Polls GET {url}/healthz until it answers 200 (fails if the child exits first). */
export async function waitHealthy(url: string, c: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      throw new Error(`${c.name} exited (${c.child.exitCode ?? c.child.signalCode}) before it was healthy:\n${c.tail()}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${c.name} was not healthy within ${timeoutMs} ms:\n${c.tail()}`);
}
