/**
 * Loaded into every benchmark server process (both stacks) with `--import ./bench/hub-probe.ts`:
 * measures from inside the process where a step's time went, without changing the server's code.
 * GET /reset on 127.0.0.1:PROBE_PORT starts a measurement; GET /stats answers it (ProbeStats).
 *
 *   eld      event-loop delay (perf_hooks.monitorEventLoopDelay, sampled every 10 ms as prom-client
 *            does; what a sample exceeds the 10 ms by)
 *   gc       GC pauses (PerformanceObserver 'gc'): count, sum, longest
 *   http     request event to response finish, in the process
 *   pg       every Postgres round trip (pg Client#query), by kind: the API-key lookup, the channel
 *            insert, anything else; and new connections (Client#connect) with their time
 *   redis    PUBLISH (SPUBLISH on a Redis Cluster) call to reply (the event transport, the adapter's broadcasts)
 *   hop      bench send time (the message's metadata.t) to the event's arrival for routing on this
 *            node (agenthub: HubMetrics#routed, right where the Redis message was read)
 *   reorder  events held by the per-node reorderer (agenthub), and for how long
 *   emit     each local broadcast's synchronous cost (encode + write to every socket of this node
 *            in the room; agenthub: the sockets written at once, and the rest queued), and send
 *            time to the last socket's write ("written": the time the message took to leave this
 *            process, up to the kernel)
 *
 * Only the bench loads this; the hub does not know of it. Patches are on prototypes of modules
 * shared through Node's module cache (pg, ioredis, socket.io-adapter's Adapter; for agenthub
 * also the hub's classes, imported from the build or src/ as its main module is).
 */
import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { Histogram, ROOT, type HistogramData } from "./lib.js";

const port = Number(process.env.PROBE_PORT ?? 0);
const require = createRequire(path.join(ROOT, "package.json"));
const t = () => performance.now();
/** The bench's clock (bench/lib.ts `now`): wall time with sub-millisecond resolution. */
const wall = () => performance.timeOrigin + performance.now();

type HistName = "eldMs" | "gcMs" | "httpMs" | "pgKeyMs" | "pgInsertMs" | "pgOtherMs" | "pgConnectMs" | "redisPublishMs" | "hopMs" | "reorderHoldMs" | "emitMs" | "writtenMs";
const NAMES: HistName[] = ["eldMs", "gcMs", "httpMs", "pgKeyMs", "pgInsertMs", "pgOtherMs", "pgConnectMs", "redisPublishMs", "hopMs", "reorderHoldMs", "emitMs", "writtenMs"];

let h = fresh();
function fresh(): Record<HistName, Histogram> {
  return Object.fromEntries(NAMES.map((n) => [n, new Histogram()])) as Record<HistName, Histogram>;
}

/** A histogram as sent over HTTP: only its non-empty buckets. */
export interface SparseHistogram {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  max: number;
  min: number;
}
export type ProbeStats = Record<HistName, SparseHistogram> & { pid: number; rssBytes: number; heapUsedBytes: number };

function sparse(x: HistogramData): SparseHistogram {
  const buckets: Array<[number, number]> = [];
  x.counts.forEach((c, i) => c && buckets.push([i, c]));
  return { buckets, count: x.count, sum: x.sum, max: x.max, min: x.min };
}

// ---- event loop and GC ---------------------------------------------------------------------

const ELD_RESOLUTION_MS = 10;
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
eld.enable();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) h.gcMs.add(e.duration);
}).observe({ entryTypes: ["gc"] });

// ---- HTTP ----------------------------------------------------------------------------------

const serverEmit = http.Server.prototype.emit;
http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
  if (event === "request") {
    const started = t();
    (args[1] as http.ServerResponse).once("finish", () => h.httpMs.add(t() - started));
  }
  return (serverEmit as (this: http.Server, e: string, ...a: unknown[]) => boolean).call(this, event, ...args);
} as typeof serverEmit;

// ---- Postgres ------------------------------------------------------------------------------

function timed<F extends (...a: any[]) => any>(orig: F, record: (ms: number, args: unknown[]) => void): F {
  return function (this: unknown, ...args: unknown[]) {
    const started = t();
    const cbAt = args.findIndex((a) => typeof a === "function");
    if (cbAt >= 0) {
      const cb = args[cbAt] as (...x: unknown[]) => unknown;
      args[cbAt] = function (this: unknown, ...r: unknown[]) {
        record(t() - started, args);
        return cb.apply(this, r);
      };
      return orig.apply(this, args);
    }
    const out = orig.apply(this, args);
    if (out && typeof (out as Promise<unknown>).then === "function") {
      (out as Promise<unknown>).then(
        () => record(t() - started, args),
        () => record(t() - started, args),
      );
    }
    return out;
  } as F;
}

try {
  const pg = require("pg") as typeof import("pg");
  const sqlOf = (q: unknown) => (typeof q === "string" ? q : ((q as { text?: string })?.text ?? ""));
  pg.Client.prototype.query = timed(pg.Client.prototype.query, (ms, args) => {
    const sql = sqlOf(args[0]);
    (sql.includes('"api_keys"') ? h.pgKeyMs : sql.includes("INSERT INTO team_channel_messages") ? h.pgInsertMs : h.pgOtherMs).add(ms);
  });
  pg.Client.prototype.connect = timed(pg.Client.prototype.connect, (ms) => h.pgConnectMs.add(ms));
} catch {
  // the bare stack may run without pg installed
}

// ---- Redis ---------------------------------------------------------------------------------

const { Redis } = require("ioredis") as typeof import("ioredis");
Redis.prototype.publish = timed(Redis.prototype.publish, (ms) => h.redisPublishMs.add(ms));
// On a Redis Cluster: SPUBLISH, on the Cluster client (which sends it to the channel's shard).
const { Cluster } = require("ioredis") as typeof import("ioredis");
Cluster.prototype.spublish = timed(Cluster.prototype.spublish, (ms) => h.redisPublishMs.add(ms));

// ---- socket writes -------------------------------------------------------------------------

/** The bench's send time in a channel message (its metadata.t), if it is one. */
function sentAt(payload: unknown): number | undefined {
  const at = (payload as { metadata?: { t?: unknown } } | null)?.metadata?.t;
  return typeof at === "number" ? at : undefined;
}

// Every local broadcast, both stacks and both nodes, ends in the in-memory adapter's broadcast
// (the Redis adapter publishes first, then calls it; a node receiving from Redis calls it too).
const { Adapter } = require("socket.io-adapter") as { Adapter: { prototype: { broadcast(packet: { data?: unknown[] }, opts: unknown): void } } };
const broadcast = Adapter.prototype.broadcast;
Adapter.prototype.broadcast = function (this: unknown, packet, opts) {
  const started = t();
  broadcast.call(this, packet, opts);
  const ended = t();
  if (packet.data?.[0] === "channel:message") {
    h.emitMs.add(ended - started);
    const sent = sentAt(packet.data[1]);
    if (sent !== undefined) h.writtenMs.add(wall() - sent);
  }
};

// ---- agenthub's own stages -----------------------------------------------------------------

if (process.env.PROBE_AGENTHUB === "1") {
  // Imported by the same URLs the hub's main module reaches them by (the build's, or src/ run
  // through tsx), so these are the hub's classes.
  const hubRoot = process.argv[1]?.includes(`${path.sep}dist${path.sep}`) ? "../dist/src" : "../src";
  const { HubMetrics } = (await import(`${hubRoot}/observability/metrics.js`)) as typeof import("../src/observability/metrics.js");
  const routed = HubMetrics.prototype.routed;
  HubMetrics.prototype.routed = function (this: InstanceType<typeof HubMetrics>, event, publishedAt) {
    const sent = sentAt((event as { message?: unknown }).message);
    if (sent !== undefined) h.hopMs.add(wall() - sent);
    return routed.call(this, event, publishedAt);
  };
  // agenthub's broadcasts go through its own writer: `emit` is the part written at once and the
  // queueing; `written` waits for the last socket's turn.
  const { FairWrites } = (await import(`${hubRoot}/realtime/writes.js`)) as typeof import("../src/realtime/writes.js");
  const send = FairWrites.prototype.send;
  FairWrites.prototype.send = function (this: InstanceType<typeof FairWrites>, sockets, event, payload) {
    const started = t();
    const n = send.call(this, sockets, event, payload);
    if (event === "channel:message") {
      h.emitMs.add(t() - started);
      const sent = sentAt(payload);
      if (sent !== undefined) this.afterQueued(() => h.writtenMs.add(wall() - sent));
    }
    return n;
  };
  const { Reorderer } = (await import(`${hubRoot}/realtime/reorder.js`)) as typeof import("../src/realtime/reorder.js");
  const push = Reorderer.prototype.push;
  Reorderer.prototype.push = function (this: InstanceType<typeof Reorderer>, stream: string, seq: number, deliver: () => void) {
    let now = true;
    const started = t();
    push.call(this, stream, seq, () => {
      if (!now) h.reorderHoldMs.add(t() - started);
      deliver();
    });
    now = false;
  };
}

// ---- the probe's own endpoint --------------------------------------------------------------

function stats(): ProbeStats {
  const out = Object.fromEntries(NAMES.filter((n) => n !== "eldMs").map((n) => [n, sparse(h[n].data())])) as Record<HistName, SparseHistogram>;
  // The event-loop histogram (ns) has its own buckets: rebuilt from its percentiles.
  const loop = new Histogram();
  let prevPct = 0;
  for (const [pct, ns] of [...eld.percentiles.entries()].sort((a, b) => a[0] - b[0])) {
    // Node records the whole interval between its timer's runs: the delay is what exceeds it.
    for (let i = Math.round(((pct - prevPct) / 100) * eld.count); i > 0; i--) loop.add(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS));
    prevPct = pct;
  }
  out.eldMs = sparse(loop.data());
  const mem = process.memoryUsage();
  return { ...out, pid: process.pid, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed };
}

if (port) {
  const server = http.createServer((req, res) => {
    if (req.url === "/reset") {
      h = fresh();
      eld.reset();
      res.end("{}");
    } else if (req.url === "/stats") res.end(JSON.stringify(stats()));
    else if (req.url === "/gc" && typeof globalThis.gc === "function") {
      globalThis.gc();
      res.end(JSON.stringify(process.memoryUsage()));
    } else res.writeHead(404).end();
  });
  // Not the server's own request path: requests here are not counted above.
  server.emit = serverEmit as typeof server.emit;
  server.listen(port, "127.0.0.1");
  server.unref();
}

// ---- allocation sampling (optional) ----------------------------------------------------------

/**
 * PROBE_ALLOC_DIR=/tmp/alloc: samples allocations from start until the process is told to stop
 * (SIGTERM/SIGINT), garbage included (what a `--heap-prof` profile leaves out), then writes
 * <dir>/alloc-<pid>.heapprofile for Chrome DevTools or a script to read.
 */
if (process.env.PROBE_ALLOC_DIR) {
  const { Session } = await import("node:inspector");
  const fs = await import("node:fs");
  const session = new Session();
  session.connect();
  session.post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const write = () => {
    // The in-process inspector answers synchronously, so this completes inside the signal handler.
    session.post("HeapProfiler.stopSampling", (err, result) => {
      if (err) return console.error(`[probe] allocation sampling failed: ${err.message}`);
      fs.mkdirSync(process.env.PROBE_ALLOC_DIR!, { recursive: true });
      fs.writeFileSync(path.join(process.env.PROBE_ALLOC_DIR!, `alloc-${process.pid}.heapprofile`), JSON.stringify(result.profile));
    });
  };
  process.once("SIGTERM", write);
  process.once("SIGINT", write);
}
