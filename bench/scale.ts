/**
 * Scenario scale (issue 16): what one agenthub node holds and how fast it appends and replays.
 *
 *   append   REST publish throughput on one node (closed loop, --append-in-flight requests at a
 *            time, --appends per round, three rounds alternating after one unmeasured each) against bench/bare-koa.ts, a bare
 *            Koa + pg server inserting the same row with the same statement. Goal >= 0.8x.
 *   replay   --replay missed messages (~200 B each) of one channel read back by a fresh socket
 *            through channel:watch {since: 0} and its pages (`more: true`), 5 times. Goal < 1 s.
 *   memory   (first, on the fresh process) resident memory per connected authenticated socket (an agent key whose agent is
 *            subscribed to one channel) at --sockets sockets: RSS after a forced GC with them
 *            connected, less RSS after a forced GC before. The sockets come from several
 *            subscriber processes (bench/subscribers.ts). Goal <= 30 KB. The same for bare
 *            Socket.IO (bench/bare-server.ts) as a reference of what Socket.IO itself costs.
 *
 * Every server runs with --expose-gc and bench/hub-probe.ts (its /gc answers process.memoryUsage()
 * after a full GC).
 */
import http from "node:http";
import { io as connectClient, type Socket } from "socket.io-client";
import { api } from "../test/support/api.js";
import { atExit, Cleanups } from "./cleanup.js";
import { startSubscribers } from "./ipc.js";
import { freePort, Histogram, HUB_NODE_ARGS, HUB_SCRIPT, now, processCpuMs, round, ROOT, sleep, spawnNode, waitHealthy, type Child } from "./lib.js";
import { cfg, REDIS_PREFIX, REDIS_URL } from "./options.js";
import { BENCH_DB_URL, freshDatabase } from "./postgres.js";
import { median } from "./report.js";
import { readProbes, resetProbes, type HubInternals } from "./internals.js";
import { agenthubEnv, postOk } from "./stacks.js";

/** Append rounds per server, alternating (after one unmeasured round each). */
const APPEND_ROUNDS = 3;

interface Proc {
  url: string;
  port: number;
  probePort: number;
  proc: Child;
}

async function start(name: string, script: string, env: Record<string, string>, cleanups: Cleanups, nodeArgs: string[] = []): Promise<Proc> {
  const [port, probePort] = [await freePort(), await freePort()];
  const proc = spawnNode(name, [...nodeArgs, ...cfg.serverNodeArgs, "--expose-gc", "--import", "./bench/hub-probe.ts", script], {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    PROBE_PORT: String(probePort),
    ...env,
  }, ROOT);
  cleanups.add(() => proc.stop(8000));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, 60_000);
  return { url, port, probePort, proc };
}

/** Memory after a full GC (twice, so what the first freed is returned too). */
async function memoryAfterGc(p: Proc): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }> {
  await fetch(`http://127.0.0.1:${p.probePort}/gc`);
  await sleep(200);
  return (await fetch(`http://127.0.0.1:${p.probePort}/gc`)).json() as Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }>;
}

// ---- append -------------------------------------------------------------------------------

interface AppendRun {
  target: string;
  perSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** Inside the server (bench/hub-probe.ts): the request in the process, the insert, the event loop, GC. */
  internals?: HubInternals | undefined;
  /** The server process's CPU time (user + system) over the round, per request, in µs. */
  cpuUsPerRequest?: number | undefined;
}

/** One line of what the server's probe saw during an append round: p50/p99 in ms. */
function formatAppendInternals(x: HubInternals, cpuUsPerRequest: number | undefined): string {
  const pq = (q: { n: number; p50: number; p99: number }) => (q.n ? `${q.p50}/${q.p99}` : "-");
  return `      in process: CPU ${cpuUsPerRequest ?? "-"} µs per request · p50/p99 ms: request ${pq(x.http)} · insert ${pq(x.pgInsert)} · rest of the request ${
    x.http.n && x.pgInsert.n ? round(x.http.p50 - x.pgInsert.p50) : "-"
  } (p50 difference) · event loop delay p99 ${x.eld.p99} · gc ${x.gc.count}, ${x.gc.sumMs} ms`;
}

/** `count` POSTs, `inFlight` at a time, over keep-alive connections; every answer must be 201. */
async function appendRun(
  target: string,
  server: Proc,
  path: string,
  headers: Record<string, string>,
  agentId: string,
  count: number,
  inFlight: number,
): Promise<AppendRun> {
  const port = server.port;
  await resetProbes([server]);
  const cpuBefore = processCpuMs(server.proc.child.pid!);
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  const hist = new Histogram();
  let errors = 0;
  let next = 0;
  const filler = "m".repeat(120);
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = JSON.stringify({ agentId, message: filler, metadata: { i } });
      const started = now();
      const req = http.request(
        { host: "127.0.0.1", port, path, method: "POST", agent, headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } },
        (res) => {
          res.resume();
          res.on("end", () => {
            hist.add(now() - started);
            if (res.statusCode !== 201) errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const started = now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await one(next++);
    }),
  );
  const seconds = (now() - started) / 1000;
  agent.destroy();
  const cpuAfter = processCpuMs(server.proc.child.pid!);
  const internals = await readProbes([server], count);
  const cpuUsPerRequest = cpuBefore !== undefined && cpuAfter !== undefined ? round(((cpuAfter - cpuBefore) * 1000) / count) : undefined;
  return { target, perSec: round(count / seconds), p50: round(hist.quantile(0.5)), p99: round(hist.quantile(0.99)), errors, internals, cpuUsPerRequest };
}

// ---- replay -------------------------------------------------------------------------------

function connect(url: string, token: string): Promise<Socket> {
  const socket = connectClient(url, { transports: ["websocket"], auth: { token }, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** A fresh socket reads the channel from seq 0 through channel:watch pages; ms from the first watch to the last page. */
async function replayOnce(url: string, token: string, channelId: string, expected: number): Promise<{ ms: number; pages: number }> {
  const socket = await connect(url, token);
  try {
    const started = now();
    let since = 0;
    let pages = 0;
    for (;;) {
      const ack = (await socket.timeout(30_000).emitWithAck("channel:watch", { channelId, since })) as { ok: boolean; missed: Array<{ seq: number }>; more?: boolean; error?: unknown };
      if (!ack.ok) throw new Error(`channel:watch refused: ${JSON.stringify(ack.error)}`);
      pages++;
      for (const m of ack.missed) {
        if (m.seq !== since + 1) throw new Error(`replay skipped from seq ${since} to ${m.seq}`);
        since = m.seq;
      }
      if (!ack.more) break;
    }
    const ms = now() - started;
    if (since !== expected) throw new Error(`replay ended at seq ${since}, expected ${expected}`);
    return { ms: round(ms), pages };
  } finally {
    socket.close();
  }
}

// ---- memory -------------------------------------------------------------------------------

interface MemoryRun {
  stack: string;
  sockets: number;
  connectMs: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  kbPerSocket: number;
  heapKbPerSocket: number;
}

async function memoryRun(stack: string, p: Proc, token: string): Promise<MemoryRun> {
  const own = new Cleanups();
  try {
    const before = await memoryAfterGc(p);
    const procs = Math.max(cfg.clientProcs, Math.ceil(cfg.sockets / 2500));
    const { connect } = await startSubscribers(`${stack}-scale`, { urls: [p.url], count: cfg.sockets, procs, token, batch: cfg.connectBatch, checkSeq: false }, own);
    await sleep(2000);
    const after = await memoryAfterGc(p);
    const per = (a: number, b: number) => round((a - b) / cfg.sockets / 1024);
    return {
      stack,
      sockets: cfg.sockets,
      connectMs: connect.ms,
      rssBeforeMb: round(before.rss / 2 ** 20),
      rssAfterMb: round(after.rss / 2 ** 20),
      kbPerSocket: per(after.rss, before.rss),
      heapKbPerSocket: per(after.heapUsed, before.heapUsed),
    };
  } finally {
    await own.run();
  }
}

export async function runScale(): Promise<void> {
  const runStarted = now();
  console.log(
    `scale benchmark, one node: append ${cfg.appends} × ${APPEND_ROUNDS} rounds (${cfg.appendInFlight} in flight) vs bare Koa + pg; replay ${cfg.replay} missed messages ×5; ` +
      `memory per socket at ${cfg.sockets} sockets (agenthub, then bare Socket.IO)`,
  );
  const own = new Cleanups();
  atExit.add(() => own.run());
  const { masterKey } = await freshDatabase();
  const hub = await start("agenthub-scale", HUB_SCRIPT, {
    ...agenthubEnv(),
    SOCKETS_PER_CREDENTIAL: "1000000",
    HANDSHAKES_PER_10S_PER_IP: "1000000",
    PROBE_AGENTHUB: "1",
  }, own, HUB_NODE_ARGS);
  const koa = await start("bare-koa", "bench/bare-koa.ts", { DATABASE_URL: BENCH_DB_URL }, own);

  const admin = api(hub.url, masterKey);
  const agentId = "scale-agent";
  await postOk(admin, "/api/agents", { id: agentId, name: "Scale agent" });
  const { key } = await postOk<{ key: string }>(admin, `/api/agents/${agentId}/keys`, { name: "scale", scopes: ["channels:read", "channels:publish"] });
  const channel = async (name: string) => (await postOk<{ id: string }>(admin, "/team-channels", { name })).id;
  const [subscribed, replayCh, hubCh, koaCh] = [await channel("subscribed"), await channel("replay"), await channel("append-hub"), await channel("append-koa")];
  await postOk(admin, `/team-channels/${subscribed}/subscribe`, { agentId });

  // -- memory first, on the fresh process (appends and replays would have grown its heap already).
  console.log(`\n-- memory per connected socket at ${cfg.sockets} sockets`);
  const memory: MemoryRun[] = [await memoryRun("agenthub", hub, key)];
  const bareOwn = new Cleanups();
  atExit.add(() => bareOwn.run());
  const bare = await start("bare-scale", "bench/bare-server.ts", { REDIS_URL, REDIS_KEY: `${REDIS_PREFIX}-bare-scale` }, bareOwn);
  memory.push(await memoryRun("bare", bare, "bare"));
  await bareOwn.run();
  for (const m of memory) {
    console.log(
      `  ${m.stack.padEnd(9)} RSS ${m.rssBeforeMb} -> ${m.rssAfterMb} MB: ${m.kbPerSocket} KB per socket (JS heap ${m.heapKbPerSocket} KB), connected in ${m.connectMs} ms`,
    );
  }
  console.log(`  agenthub: ${memory[0]!.kbPerSocket} KB per socket   (goal: <= 30 KB)`);

  // -- append: warm both, then alternate.
  const hubAppend = (n: number) => appendRun("agenthub", hub, `/team-channels/${hubCh}/messages`, { authorization: `Bearer ${key}` }, agentId, n, cfg.appendInFlight);
  const koaAppend = (n: number) => appendRun("bare-koa", koa, `/channels/${koaCh}/messages`, {}, agentId, n, cfg.appendInFlight);
  await hubAppend(cfg.appends);
  await koaAppend(cfg.appends);
  const appends: AppendRun[] = [];
  for (let r = 0; r < APPEND_ROUNDS; r++) for (const run of r % 2 ? [koaAppend, hubAppend] : [hubAppend, koaAppend]) appends.push(await run(cfg.appends));
  const rate = (t: string) => median(appends.filter((a) => a.target === t).map((a) => a.perSec)) ?? NaN;
  const appendRatio = round(rate("agenthub") / rate("bare-koa"));
  console.log("\n-- append (REST publish, one node)");
  for (const a of appends) {
    console.log(`  ${a.target.padEnd(9)} ${String(a.perSec).padStart(8)} msg/s   p50 ${a.p50} ms   p99 ${a.p99} ms${a.errors ? `   ${a.errors} errors` : ""}`);
    if (a.internals) console.log(formatAppendInternals(a.internals, a.cpuUsPerRequest));
  }
  console.log(`  ratio agenthub/bare-koa (median of rounds): ${appendRatio}   (goal: >= 0.8)`);

  // -- replay: the missed messages go in through REST (16 in flight), then fresh sockets read them back.
  await appendRun("fill", hub, `/team-channels/${replayCh}/messages`, { authorization: `Bearer ${key}` }, agentId, cfg.replay, 16);
  const replays = [];
  for (let i = 0; i < 5; i++) replays.push(await replayOnce(hub.url, key, replayCh, cfg.replay));
  const replayMedian = median(replays.map((r) => r.ms));
  console.log(`\n-- replay of ${cfg.replay} missed messages through channel:watch paging (${replays[0]!.pages} pages)`);
  console.log(`  ${replays.map((r) => `${r.ms} ms`).join(", ")}; median ${replayMedian} ms   (goal: < 1000 ms)`);

  console.log(`\nrun took ${round((now() - runStarted) / 1000)} s`);
  console.log(JSON.stringify({ bench: "scale", config: cfg, appends, appendRatio, replays, replayMedianMs: replayMedian, memory }));
}
