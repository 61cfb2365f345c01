/**
 * The link between the orchestrator (bench/fanout.ts) and its subscriber processes
 * (bench/subscribers.ts): the messages both ways, and the orchestrator's handle on one process
 * (request/answer calls with a timeout, clock calibration, shutdown).
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { Cleanups } from "./cleanup.js";
import { captureTail, now, round, ROOT, stopChild, type HistogramData } from "./lib.js";

export type ToSubscribers =
  | { id: number; cmd: "ping" }
  | { id: number; cmd: "offset"; offsetMs: number }
  | { id: number; cmd: "connect"; targets: Array<{ url: string }>; token: string; batch: number; timeoutMs: number; checkSeq: boolean }
  | { id: number; cmd: "status" }
  | { id: number; cmd: "watch"; channels: string[] }
  /** `messages`: indexes 0..messages-1 expected per socket (for turns: turns × deltasPerTurn, index turn × deltasPerTurn + delta). */
  | { id: number; cmd: "begin"; step: number; messages: number; deltasPerTurn?: number }
  | { id: number; cmd: "end" }
  | { id: number; cmd: "close" };

export interface StepReport {
  step: number;
  sockets: number;
  /** First receipt of (socket, message) pairs of this step. */
  unique: number;
  duplicates: number;
  /** Deliveries whose publish index was lower than one this socket had already seen of the same stream (channel or turn) in the step. */
  reordered: number;
  /** With checkSeq (always for turns): deliveries whose seq was not above the last seq this socket got of the stream (order broken). */
  seqBackwards: number;
  /** With checkSeq (always for turns): deliveries that skipped seqs after the last one this socket got of the stream (for a turn, from 0). */
  seqGaps: number;
  /** (socket, turn) pairs of this step that received `done` after seq 1..n with no gap, duplicate or misplaced delta. */
  turnsClean: number;
  /** `turn:ended` received for this step's turns, and how many of them did not end `completed` (with a sample). */
  turnsEnded: number;
  turnsFailed: number;
  turnError: string | undefined;
  /** Deliveries of earlier steps that arrived during this one. */
  stale: number;
  firstRecv: number;
  lastRecv: number;
  hist: HistogramData;
}

export interface StatusReport {
  connected: number;
  unique: number;
  turnsEnded: number;
  disconnects: number;
  lastRecv: number;
}

export interface WatchReport {
  ok: number;
  failed: number;
  errors: string[];
}

export interface ConnectReport {
  connected: number;
  failed: number;
  errors: string[];
  ms: number;
}

export type FromSubscribers =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One subscriber process, forked with tsx and driven over IPC. */
export class SubscriberProc {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly child: ChildProcess;

  constructor(readonly name: string) {
    this.child = fork(path.join(ROOT, "bench", "subscribers.ts"), [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const tail = captureTail(this.child, 30);
    this.child.on("message", (m: FromSubscribers) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error}`));
    });
    this.child.on("exit", (code, signal) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${this.name} exited (${code ?? signal}):\n${tail()}`));
      }
      this.pending.clear();
    });
  }

  call<T>(msg: DistributiveOmit<ToSubscribers, "id">, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to ${msg.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ ...msg, id } as ToSubscribers);
    });
  }

  /** Measures this process's clock minus ours (min-RTT ping) and tells it to subtract it. */
  async calibrate(): Promise<{ offsetMs: number; rttMs: number }> {
    let best = { offsetMs: 0, rttMs: Infinity };
    for (let i = 0; i < 30; i++) {
      const t0 = now();
      const remote = await this.call<number>({ cmd: "ping" });
      const t1 = now();
      if (t1 - t0 < best.rttMs) best = { offsetMs: remote - (t0 + t1) / 2, rttMs: t1 - t0 };
    }
    await this.call({ cmd: "offset", offsetMs: best.offsetMs });
    return best;
  }

  async close(): Promise<void> {
    await this.call({ cmd: "close" }, 3000).catch(() => {});
    await stopChild(this.child, 3000);
  }
}

/** The status of all subscriber processes, added up. */
export async function statusAll(subs: SubscriberProc[]): Promise<StatusReport> {
  const all = await Promise.all(subs.map((s) => s.call<StatusReport>({ cmd: "status" })));
  return all.reduce(
    (a, b) => ({
      connected: a.connected + b.connected,
      unique: a.unique + b.unique,
      turnsEnded: a.turnsEnded + b.turnsEnded,
      disconnects: a.disconnects + b.disconnects,
      lastRecv: Math.max(a.lastRecv, b.lastRecv),
    }),
    { connected: 0, unique: 0, turnsEnded: 0, disconnects: 0, lastRecv: 0 },
  );
}

export interface Subscribers {
  subs: SubscriberProc[];
  connect: { connected: number; failed: number; ms: number; errors: string[] };
  clockOffsetsMs: number[];
}

/**
 * `count` sockets from `procs` subscriber processes (stopped by `cleanups`), socket g connecting
 * to urls[g % urls.length] (process w holds a contiguous block of g), their clocks calibrated
 * against ours. Prints a line; fails unless every socket connected.
 */
export async function startSubscribers(
  name: string,
  o: { urls: string[]; count: number; procs: number; token: string; batch: number; checkSeq: boolean },
  cleanups: Cleanups,
): Promise<Subscribers> {
  const subs = Array.from({ length: o.procs }, (_, i) => new SubscriberProc(`${name}-subscribers-${i}`));
  cleanups.add(async () => {
    await Promise.all(subs.map((s) => s.close()));
  });
  const clocks = await Promise.all(subs.map((s) => s.calibrate()));
  const targets = Array.from({ length: o.count }, (_, g) => ({ url: o.urls[g % o.urls.length]! }));
  const connectStarted = now();
  const per = Math.ceil(o.count / subs.length);
  const reports = await Promise.all(
    subs.map((s, w) =>
      s.call<ConnectReport>({ cmd: "connect", targets: targets.slice(w * per, (w + 1) * per), token: o.token, batch: o.batch, timeoutMs: 120_000, checkSeq: o.checkSeq }, 130_000),
    ),
  );
  const connect = {
    connected: reports.reduce((n, r) => n + r.connected, 0),
    failed: reports.reduce((n, r) => n + r.failed, 0),
    ms: Math.round(now() - connectStarted),
    errors: reports.flatMap((r) => r.errors).slice(0, 5),
  };
  console.log(
    `  ${connect.connected}/${o.count} subscribers connected in ${connect.ms} ms from ${subs.length} process(es)` +
      `${connect.failed ? ` (${connect.failed} failed: ${connect.errors.join("; ")})` : ""}; clock offsets ${clocks.map((c) => `${round(c.offsetMs)}±${round(c.rttMs / 2)}`).join(", ")} ms`,
  );
  if (connect.connected < o.count) throw new Error(`${name}: only ${connect.connected}/${o.count} subscribers connected`);
  return { subs, connect, clockOffsetsMs: clocks.map((c) => round(c.offsetMs)) };
}
