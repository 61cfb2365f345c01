/**
 * The fault-suite test bed: hub processes (spawnHub) whose output is watched, a workspace with
 * an agent subscribed to a channel, clients split across the hubs that resume after any
 * disconnect, a publisher, a /readyz poller and RSS readings; and `runFault`, the timeline
 * every fault scenario shares (steady state, fault, restore, recovery, catch-up), which
 * returns what happened for the scenario's assertions and prints one line of figures.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { createDb, type Db } from "../../../src/db.js";
import { api } from "../api.js";
import { makeAgent, makeKey, makeWorkspace, uniq, type TestWorkspace } from "../factories.js";
import { spawnHub, type HubProcess } from "../hub.js";
import { Publisher, ReadyPoller, ResumingClient, rssMb, sleep, verdict, waitFor, type PublishResult, type ResumeMode } from "./workload.js";

/** Lines of hub output that mean an error escaped every handler. */
export const CRASH_LINE = /unhandled|uncaught/i;

export interface HubEntry {
  name: string;
  proc: HubProcess;
  url: string;
  pid: number;
  killed: boolean;
  /** Output lines matching CRASH_LINE. */
  crashLines: string[];
  /** The last output lines, for failure messages. */
  tail: string[];
  /** When output lines matching a pattern the test asked for (FaultBedOptions.count) came (at most 100 each). */
  counted: Map<string, number[]>;
  baselineRss?: number;
}

export interface FaultBedOptions {
  /** Environment for every hub (read when a hub starts, after the file's earlier beforeAll hooks). */
  env?: () => Record<string, string>;
  /** Output patterns to count per hub, e.g. { slow: /slow consumer/ }. */
  count?: Record<string, RegExp>;
}

export interface FaultBed {
  hubs: HubEntry[];
  live(): HubEntry[];
  spawn(name: string): Promise<HubEntry>;
  kill(hub: HubEntry): Promise<void>;
  db: Db;
  ws: TestWorkspace;
  userToken: string;
  agentId: string;
  agentKey: string;
  channelId: string;
  /** Clients split across the live hubs (round robin at first, any live hub on reconnect); closed after the file. */
  clients(count: number, mode: ResumeMode, kind: "agent" | "user"): Promise<ResumingClient[]>;
}

const STOP_TIMEOUT_MS = 12_000;

export function useFaultBed(options: FaultBedOptions = {}): FaultBed {
  const bed = { hubs: [] as HubEntry[] } as FaultBed;
  const opened: ResumingClient[] = [];
  let db: Db | undefined;
  const killAll = () => {
    for (const h of bed.hubs) h.proc.child.kill("SIGKILL");
  };

  bed.live = () => bed.hubs.filter((h) => !h.killed && h.proc.child.exitCode === null && h.proc.child.signalCode === null);
  bed.spawn = async (name) => {
    const entry = { name, killed: false, crashLines: [], tail: [], counted: new Map() } as unknown as HubEntry;
    const proc = await spawnHub({
      env: options.env?.() ?? {},
      onOutput: (text) => {
        if (CRASH_LINE.test(text)) entry.crashLines.push(text.slice(0, 2000));
        for (const [key, re] of Object.entries(options.count ?? {})) {
          const seen = entry.counted.get(key) ?? [];
          if (re.test(text) && seen.length < 100) entry.counted.set(key, [...seen, Date.now()]);
        }
        entry.tail.push(text.slice(0, 500));
        if (entry.tail.length > 50) entry.tail.shift();
      },
    });
    Object.assign(entry, { proc, url: proc.url, pid: proc.child.pid! });
    bed.hubs.push(entry);
    return entry;
  };
  bed.kill = async (hub) => {
    hub.killed = true;
    await hub.proc.stop("SIGKILL");
  };
  bed.clients = async (count, mode, kind) => {
    const made: ResumingClient[] = [];
    for (let i = 0; i < count; i++) {
      const token = kind === "agent" ? bed.agentKey : await bed.ws.token(uniq(`watcher${i}`));
      const client = new ResumingClient({
        name: `${kind}-${mode}-${i}`,
        token,
        channelId: bed.channelId,
        mode,
        pickUrl: (attempt) => {
          const live = bed.live();
          if (!live.length) return undefined;
          return (attempt === 0 ? live[i % live.length] : live[Math.floor(Math.random() * live.length)])?.url;
        },
      });
      opened.push(client);
      made.push(client);
    }
    await Promise.all(made.map((c) => c.start()));
    return made;
  };

  beforeAll(async () => {
    process.once("exit", killAll);
    await Promise.all([bed.spawn("A"), bed.spawn("B")]);
    db = createDb({ databaseUrl: process.env.TEST_FILE_DATABASE_URL, dataDir: "/nonexistent" });
    const ws = await makeWorkspace(db);
    const userToken = await ws.token("publisher-owner");
    const alice = api(bed.hubs[0]!.url, userToken);
    const agentId = await makeAgent(alice, uniq("agent"));
    const agentKey = await makeKey(alice, agentId, ["channels:read", "channels:publish"]);
    const channel = await alice.post("/team-channels", { name: uniq("faults") });
    if (channel.status !== 201) throw new Error(`create channel answered ${channel.status}: ${channel.text}`);
    const sub = await alice.post(`/team-channels/${channel.body.id}/subscribe`, { agentId });
    if (sub.status !== 200) throw new Error(`subscribe answered ${sub.status}: ${sub.text}`);
    Object.assign(bed, { db, ws, userToken, agentId, agentKey, channelId: channel.body.id });
  }, 60_000);

  afterAll(async () => {
    for (const c of opened) c.stop();
    await Promise.all(
      bed.live().map(async (h) => {
        const timer = setTimeout(() => h.proc.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await h.proc.stop().catch(() => {});
        clearTimeout(timer);
      }),
    );
    killAll();
    process.removeListener("exit", killAll);
    await db?.destroy();
  }, 60_000);

  return bed;
}

// ---- the shared timeline ------------------------------------------------------------------------

export interface FaultTimes {
  /** When the fault began. */
  faultAt: number;
  /** When it was undone (service restarted, network restored, replacement started). */
  restoredAt: number;
}

export interface RunOptions {
  scenario: string;
  agentSockets?: number;
  watchers?: number;
  ratePerSec?: number;
  /** Steady state before the fault. */
  warmupMs?: number;
  /** Publishing after every hub is ready again. */
  afterMs?: number;
  /** Does the fault and undoes it; resolves when it is undone. */
  fault(bed: FaultBed, run: RunState): Promise<FaultTimes>;
}

export interface RunState {
  publisher: Publisher;
  poller: ReadyPoller;
  clients: ResumingClient[];
}

export interface ClientFigures {
  name: string;
  mode: ResumeMode;
  received: number;
  missing: number[];
  duplicates: number;
  outOfOrder: number;
  connects: number;
  history: string[];
}

export interface RunResult extends FaultTimes, RunState {
  scenario: string;
  ok: number[];
  byClient: ClientFigures[];
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** From restore until every live hub's /readyz answered 200. */
  readyRecoveryMs: number | undefined;
  /** From restore until every client received a message published after the restore. */
  deliveryRecoveryMs: number | undefined;
  rss: Array<{ hub: string; baseline: number | undefined; peak: number | undefined; after: number | undefined }>;
  line: string;
}

const fmt = (ms: number | undefined) => (ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`);

/**
 * Steady state (clients on both hubs, publisher alternating hubs), the fault, recovery, more
 * publishing, then a final catch-up watch per client; every step bounded.
 */
export async function runFault(bed: FaultBed, options: RunOptions): Promise<RunResult> {
  // Agent sockets are joined to the channel at connect, so they resume through the handshake's
  // `auth.since` (a watch sent after connect would race live messages already flowing); users
  // watching the channel resume with `channel:watch {since}`.
  const clients = [
    ...(await bed.clients(options.agentSockets ?? 12, "auth", "agent")),
    ...(await bed.clients(options.watchers ?? 6, "watch", "user")),
  ];
  const publisher = new Publisher({
    channelId: bed.channelId,
    agentId: bed.agentId,
    token: bed.agentKey,
    ratePerSec: options.ratePerSec ?? 20,
    pickUrl: (i) => {
      const live = bed.live();
      return live[i % live.length]?.url;
    },
  });
  const poller = new ReadyPoller(() => bed.live().map((h) => ({ name: h.name, url: h.url })));
  const state: RunState = { publisher, poller, clients };
  const peaks = new Map<string, number>();
  const sampler = setInterval(() => {
    for (const h of bed.live()) peaks.set(h.name, Math.max(peaks.get(h.name) ?? 0, rssMb(h.pid) ?? 0));
  }, 250);

  try {
    poller.start();
    publisher.start();
    // The steady state before the fault, and the publishing after recovery, last a set time: they
    // are part of the scenario (load over time), not waits for something to happen.
    await sleep(options.warmupMs ?? 3000);
    for (const h of bed.live()) h.baselineRss = rssMb(h.pid);
    const times = await options.fault(bed, state);
    await waitFor(() => bed.live().every((h) => poller.firstReady(h.name, times.restoredAt) !== undefined), 20_000);
    await sleep(options.afterMs ?? 4000);
    await publisher.stop();
    // The last publishes arrive live, as they would have anyway (bounded as before); the
    // catch-up watch below repairs whatever did not.
    await waitFor(() => haveAll(clients, publisher.okSeqs()), 1500, 50);
    await Promise.allSettled(clients.map((c) => c.catchUp()));
    // Nothing more may arrive: a message published now reaches each client after anything its
    // hub still had to send it on the channel (one ordered stream per socket), so once every
    // client has it, a late duplicate would have shown.
    const marker = await publishMarker(bed);
    if (marker === undefined || !(await waitFor(() => haveAll(clients, [marker]), 10_000, 50))) await sleep(500);
    await poller.stop();

    const ok = publisher.okSeqs().sort((x, y) => x - y);
    const byClient = clients.map((c): ClientFigures => ({
      name: c.name,
      mode: c.mode,
      received: c.received.length,
      ...verdict(c.seqs(), ok),
      connects: c.connects,
      history: c.history.slice(-8),
    }));
    const lost = byClient.reduce((n, c) => n + c.missing.length, 0);
    const duplicated = byClient.reduce((n, c) => n + c.duplicates, 0);
    const outOfOrder = byClient.reduce((n, c) => n + c.outOfOrder, 0);

    const readyAt = bed.live().map((h) => poller.firstReady(h.name, times.restoredAt));
    const readyRecoveryMs = readyAt.every((t) => t !== undefined) ? Math.max(...(readyAt as number[])) - times.restoredAt : undefined;
    const firstAfter = publisher.results.filter((r) => r.status === 201 && r.start >= times.restoredAt).sort((x, y) => x.seq! - y.seq!)[0];
    let deliveryRecoveryMs: number | undefined;
    if (firstAfter) {
      const at = clients.map((c) => c.received.find((r) => r.seq >= firstAfter.seq!)?.at);
      if (at.every((t) => t !== undefined)) deliveryRecoveryMs = Math.max(...(at as number[])) - times.restoredAt;
    }
    const rss = bed.hubs.map((h) => ({ hub: h.name, baseline: h.baselineRss, peak: peaks.get(h.name), after: h.killed ? undefined : rssMb(h.pid) }));

    const statuses = countBy(publisher.results.map((r) => (r.status ? String(r.status) : (r.error ?? "error"))));
    const byMode = (mode: ResumeMode) => byClient.filter((c) => c.mode === mode).reduce((n, c) => n + c.missing.length, 0);
    const line =
      `[faults] ${options.scenario}: publishes ${publisher.results.length} (${Object.entries(statuses).map(([k, v]) => `${k}×${v}`).join(", ")}; ${publisher.skipped} ticks skipped)` +
      `, clients ${clients.length}, lost ${lost} of ${ok.length * clients.length} deliveries (auth.since ${byMode("auth")}, watch ${byMode("watch")})` +
      `, duplicated ${duplicated}, out of order ${outOfOrder}` +
      `, recovery: readyz ${fmt(readyRecoveryMs)}, first new delivery ${fmt(deliveryRecoveryMs)}` +
      `, RSS MB ${rss.map((r) => `${r.hub} ${r.baseline ?? "-"}→${r.after ?? "-"} (peak ${r.peak ?? "-"})`).join(", ")}`;
    console.log(line);
    // FAULTS_DEBUG=1: every receipt (seq, l(ive) or r(eplay)) of the clients that saw a disorder or a duplicate.
    if (process.env.FAULTS_DEBUG) {
      for (const [i, c] of clients.entries()) {
        if (!byClient[i]!.outOfOrder && !byClient[i]!.duplicates) continue;
        console.log(c.name, c.history.join(" | "), c.received.map((r) => `${r.seq}${r.via[0]}`).join(" "));
      }
    }
    return { scenario: options.scenario, ...times, ...state, ok, byClient, lost, duplicated, outOfOrder, readyRecoveryMs, deliveryRecoveryMs, rss, line };
  } finally {
    clearInterval(sampler);
    await publisher.stop();
    await poller.stop();
  }
}

export function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}

// ---- the assertions every scenario shares --------------------------------------------------------

/** Slack over a hub's baseline RSS once it has recovered. */
export const RSS_SLACK_MB = 60;

/**
 * Nothing acknowledged is missing for any client, nothing twice, order kept; every hub that
 * was not killed on purpose is alive and printed no unhandled error; RSS back near baseline.
 * Soft assertions, so a run reports every broken promise at once.
 */
export function expectDelivered(result: Pick<RunResult, "ok" | "byClient">): void {
  expect.soft(result.ok.length, "publishes answered 201").toBeGreaterThan(0);
  for (const c of result.byClient) {
    const where = `${c.name} (${c.received} received, ${c.connects} connects; ${c.history.join(" | ")})`;
    expect.soft(c.missing, `seqs with a 201 that ${where} never received`).toEqual([]);
    expect.soft(c.duplicates, `duplicates at ${c.name}`).toBe(0);
    expect.soft(c.outOfOrder, `out-of-order deliveries at ${c.name}`).toBe(0);
  }
}

export function expectHealthyHubs(bed: FaultBed, result?: RunResult): void {
  for (const h of bed.hubs) {
    expect.soft(h.crashLines, `hub ${h.name} printed unhandled/uncaught errors`).toEqual([]);
    if (h.killed) continue;
    const { exitCode, signalCode } = h.proc.child;
    expect.soft({ exitCode, signalCode }, `hub ${h.name} is still running; its last output:\n${h.tail.slice(-10).join("\n")}`).toEqual({ exitCode: null, signalCode: null });
  }
  for (const r of result?.rss ?? []) {
    if (r.after === undefined || r.baseline === undefined) continue;
    expect.soft(r.after, `RSS of hub ${r.hub} after recovery (baseline ${r.baseline} MB)`).toBeLessThan(r.baseline + RSS_SLACK_MB);
  }
}

/** Publishes whose request overlapped [from, to). */
export function publishesDuring(results: PublishResult[], from: number, to: number): PublishResult[] {
  return results.filter((r) => r.start < to && r.end >= from);
}

/** Every client has received every one of `seqs`. */
export function haveAll(clients: Array<{ seqs(): number[] }>, seqs: number[]): boolean {
  return clients.every((c) => {
    const got = new Set(c.seqs());
    return seqs.every((s) => got.has(s));
  });
}

/** Publishes one message outside the workload (on the first live hub); its seq, or undefined if refused. */
async function publishMarker(bed: FaultBed): Promise<number | undefined> {
  const url = bed.live()[0]?.url;
  if (!url) return undefined;
  const res = await api(url, bed.agentKey).post(`/team-channels/${bed.channelId}/messages`, { agentId: bed.agentId, message: "fault-suite marker" });
  return res.status === 201 && typeof res.body?.seq === "number" ? res.body.seq : undefined;
}
