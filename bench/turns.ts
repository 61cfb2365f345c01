/**
 * The turns scenario (`npm run bench -- --scenario turns`, the usage is in bench/fanout.ts):
 * live agent turns against channel broadcast at the same deliveries/s, on the same two agenthub
 * processes and the same watcher sockets.
 *
 * Setup: a fresh bench database, two hubs (bench/stacks.ts), one user who owns everything, his
 * agent served by --serving sockets (src/agent-client `serveTurns`, in this process, split over
 * the hubs), --watchers sockets of the user split over the hubs (bench/subscribers.ts), and
 * --turns channels every watcher watches.
 *
 * A turns step starts --turns turns at once, one per fresh session of the user (POST …/turns,
 * alternating between the hubs): each serving socket that gets one answers message_start,
 * --deltas content_deltas at --delta-rate per turn (open loop), message_end; the agent client
 * adds done. Every watcher receives every turn through the owner's room. Each delta's text is
 * `{"t":<emit time>,"s":<step>,"i":<index>}`, so latency is agent emit to watcher receive on this
 * process's clock (the watcher processes' offsets are measured and removed).
 * A channel step publishes turns × deltas channel messages through REST at turns × delta-rate
 * messages/s, channel i % turns, open loop: the same deliveries to the same sockets at the same
 * rate. Both measure CPU from the first send until the last delivery (and, for turns, every
 * turn:ended), and check every delivery: per watcher and stream, seq 1..n (channels: from the
 * head) with no gap, duplicate or misplaced item, every turn ended `completed`, every stored
 * answer equal to what the agent sent. Each round runs both kinds (in turns, the order reversed
 * every other round), each measured step after a --warmup-second step of the same kind.
 */
import { serveTurns, type ServedAgent, type TurnHandler, type TurnRequest } from "../src/agent-client/index.js";
import { mintUserToken } from "../src/auth/jwt.js";
import { api, type Api } from "../test/support/api.js";
import { JWT_SECRET } from "../test/support/env.js";
import { atExit, Cleanups } from "./cleanup.js";
import { startSubscribers, statusAll, type StepReport, type SubscriberProc, type WatchReport } from "./ipc.js";
import { cpuBetween, cpuSnapshot, Histogram, now, openLoop, round, sleep, type CpuGroups } from "./lib.js";
import { cfg } from "./options.js";
import { freshDatabase, type PgActivity } from "./postgres.js";
import { HTTP_TIMEOUT_MS, publishOpenLoop, type PublishTarget } from "./publisher.js";
import { fmt, line, median, type Columns } from "./report.js";
import { postOk, startStack, type Stack } from "./stacks.js";
import { benchCpuGroups, drain, latencyOf, merge, orderCounts, settle, waitConnected, waitQuiet } from "./step.js";

/** The issue's goal: turn-delta p99 at most this × the channel p99 at the same deliveries/s. */
const P99_RATIO_GOAL = 1.5;
/** Channel message text: with its metadata, a frame about the size of a turn:event delta's. */
const CHANNEL_TEXT_BYTES = 16;
const AGENT_ID = "bench-turns";
/** Waits for turn:ended at the watchers after the last delivery, at most. */
const ENDED_WAIT_MS = 10_000;

type Kind = "turns" | "channel";

interface Row {
  kind: Kind;
  warmup: boolean;
  round: number;
  streams: number;
  /** Items (deltas or messages) per stream, and per second per stream. */
  items: number;
  ratePerStream: number;
  watchers: number;
  expected: number;
  delivered: number;
  deliveredRatio: number;
  targetDeliveriesPerSec: number;
  deliveriesPerSec: number;
  latencyMs: ReturnType<typeof latencyOf>;
  /** CPU of each process group in % of one core from the first send to the last delivery; hub CPU per delivered item. */
  cpu: Record<string, number>;
  hubCpuUsPerDelivery: number;
  duplicates: number;
  reordered: number;
  seqBackwards: number;
  seqGaps: number;
  stale: number;
  disconnects: number;
  /** The sender (agent or publisher) fell this far behind its schedule at worst. */
  maxSendLagMs: number;
  turns: TurnFigures | undefined;
  http: { ok: number; errors: number; errorSample: string | undefined; p50: number; p99: number } | undefined;
  /** The bench database's sessions while sending (see PgSampler). */
  pg: PgActivity | undefined;
  /** Every item delivered to every watcher, in order, every turn clean and stored. */
  allDelivered: boolean;
  disturbed: boolean;
  wallS: number;
}

interface TurnFigures {
  started: number;
  startErrors: number;
  startErrorSample: string | undefined;
  /** POST …/turns sent to turn:request received by the agent, ms. */
  requestMs: { p50: number; max: number };
  /** Turns whose turn:request never reached a serving socket. */
  neverRequested: number;
  /** (watcher, turn) pairs: with every event 1..done in place, and with turn:ended. */
  cleanPairs: number;
  endedPairs: number;
  failedPairs: number;
  failure: string | undefined;
  expectedPairs: number;
  /** Stored answers equal to the deltas the agent sent. */
  storedOk: number;
  storedSample: string | undefined;
}

// ---- the agent ---------------------------------------------------------------------------------

/** One turn as the bench agent plays it. */
interface Plan {
  step: number;
  index: number;
  sessionId: string;
  deltas: number;
  posted: number;
  requested: number | undefined;
  /** The hub the turn was started on (POST) and the hub of the agent socket that served it. */
  postedTo: number;
  servedOn: number | undefined;
  firstSend: number;
  maxLagMs: number;
  content: string[];
  finished: Promise<void>;
  finish(): void;
}

/** The agent's serving sockets, answering the turns planned for each session. */
class BenchAgent {
  private readonly plans = new Map<string, Plan>();
  private readonly served: ServedAgent[] = [];
  private serving = 0;
  private problems: string[] = [];

  constructor(urls: string[], key: string, count: number, cleanups: Cleanups) {
    for (let i = 0; i < count; i++) {
      this.served.push(
        serveTurns({
          url: urls[i % urls.length]!,
          key,
          handler: (turn, emit, signal) => this.play(i % urls.length, turn, emit, signal),
          log: (e) => {
            if (e.event === "serving") this.serving++;
            else if (e.level !== "info" && this.problems.push(`${e.event}: ${e.message}`) <= 5) console.log(`  ! agent socket ${i}: ${e.event}: ${e.message}`);
          },
        }),
      );
    }
    cleanups.add(async () => {
      await Promise.all(this.served.map((s) => s.close()));
    });
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = now() + timeoutMs;
    while (this.serving < this.served.length && now() < deadline) await sleep(50);
    if (this.serving < this.served.length) throw new Error(`only ${this.serving}/${this.served.length} agent sockets serving: ${this.problems.join("; ")}`);
  }

  plan(step: number, sessionIds: string[], deltas: number): Plan[] {
    this.plans.clear();
    return sessionIds.map((sessionId, index) => {
      let finish = () => {};
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const p: Plan = { step, index, sessionId, deltas, posted: 0, requested: undefined, postedTo: 0, servedOn: undefined, firstSend: 0, maxLagMs: 0, content: [], finished, finish };
      this.plans.set(sessionId, p);
      return p;
    });
  }

  private async play(hub: number, turn: TurnRequest, emit: Parameters<TurnHandler>[1], signal: AbortSignal): Promise<void> {
    const p = this.plans.get(turn.sessionId);
    if (!p) return; // not this step's: the client ends it with done
    p.requested = now();
    p.servedOn = hub;
    try {
      emit({ type: "message_start", model: "bench" });
      const run = await openLoop(
        p.deltas,
        1000 / cfg.deltaRate,
        (d, t) => {
          const delta = JSON.stringify({ t, s: p.step, i: p.index * p.deltas + d });
          emit({ type: "content_delta", delta });
          p.content.push(delta);
        },
        () => signal.aborted,
      );
      Object.assign(p, { firstSend: run.firstSend, maxLagMs: run.maxLagMs });
      emit({ type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 1, outputTokens: p.deltas, totalTokens: p.deltas + 1 } });
    } finally {
      p.finish();
    }
  }
}

// ---- the testbed -------------------------------------------------------------------------------

interface Bed {
  stack: Stack;
  subs: SubscriberProc[];
  cpuGroups: CpuGroups;
  /** The user (owner of every session and watcher) through each hub. */
  users: Api[];
  agent: BenchAgent;
  channels: PublishTarget;
}

async function openBed(cleanups: Cleanups): Promise<Bed & { watch: WatchReport; clockOffsetsMs: number[] }> {
  const ws = await freshDatabase();
  const stack = await startStack("agenthub", ws.masterKey, cleanups);
  console.log(`  ${stack.note}, SOCKET_EVENTS_PER_10S=${cfg.socketEventsPer10s}; servers ${stack.servers.map((s) => s.url).join(", ")}`);
  const token = await mintUserToken({ secret: JWT_SECRET, workspace: ws.id, sub: "bench-watcher", email: "bench-watcher@example.com", name: "Bench watcher", ttlSeconds: 6 * 3600 });
  const users = stack.servers.map((s) => api(s.url, token));
  const user = users[0]!;
  await postOk(user, "/api/agents", { id: AGENT_ID, name: "Bench turns agent" });
  const serveKey = (await postOk<{ key: string }>(user, `/api/agents/${AGENT_ID}/keys`, { name: "serve", scopes: ["turns:serve"] })).key;
  const publishKey = (await postOk<{ key: string }>(user, `/api/agents/${AGENT_ID}/keys`, { name: "publish", scopes: ["channels:publish"] })).key;
  const channelIds: string[] = [];
  for (let k = 0; k < cfg.turns; k++) channelIds.push((await postOk<{ id: string }>(user, "/team-channels", { name: `bench-${k}` })).id);

  const urls = stack.servers.map((s) => s.url);
  const agent = new BenchAgent(urls, serveKey, cfg.serving, cleanups);
  await agent.ready();
  const { subs, clockOffsetsMs } = await startSubscribers("turns", { urls, count: cfg.watchers, procs: Math.min(cfg.clientProcs, cfg.watchers), token, batch: cfg.connectBatch, checkSeq: true }, cleanups);
  const watches = await Promise.all(subs.map((s) => s.call<WatchReport>({ cmd: "watch", channels: channelIds }, 120_000)));
  const watch = { ok: watches.reduce((n, w) => n + w.ok, 0), failed: watches.reduce((n, w) => n + w.failed, 0), errors: watches.flatMap((w) => w.errors).slice(0, 3) };
  console.log(`  ${cfg.serving} agent sockets serving; every watcher watches ${channelIds.length} channels (${watch.ok} watches${watch.failed ? `, ${watch.failed} refused: ${watch.errors.join("; ")}` : ""})`);
  if (watch.failed) throw new Error("channel:watch refused");
  const channels: PublishTarget = {
    servers: stack.servers,
    publishPaths: channelIds.map((id) => `/team-channels/${id}/messages`),
    publishHeaders: { authorization: `Bearer ${publishKey}` },
    agentId: AGENT_ID,
  };
  return { stack, subs, cpuGroups: benchCpuGroups(stack, subs), users, agent, channels, watch, clockOffsetsMs };
}

// ---- steps ---------------------------------------------------------------------------------------

interface Sending {
  firstSend: number;
  maxLagMs: number;
  turns?: Omit<TurnFigures, "cleanPairs" | "endedPairs" | "failedPairs" | "failure" | "expectedPairs" | "storedOk" | "storedSample">;
  http?: Row["http"];
  /** Resolves once what was sent can have been delivered (turns: emitted; channel: answered). */
  done: Promise<void>;
  /** After the step: checks what the hub stored (turns' answers). */
  verify?: () => Promise<Pick<TurnFigures, "storedOk" | "storedSample">>;
}

/** A fresh session per turn (no history to load; not measured). */
async function newSessions(bed: Bed, step: number): Promise<string[]> {
  const sessions: string[] = [];
  for (let k = 0; k < cfg.turns; k++) sessions.push((await postOk<{ id: string }>(bed.users[k % bed.users.length]!, `/api/agents/${AGENT_ID}/sessions`, { title: `s${step}-${k}` })).id);
  return sessions;
}

/** Starts one turn per session, alternating between the hubs; the agent plays them. */
async function sendTurns(bed: Bed, step: number, deltas: number, sessions: string[]): Promise<Sending> {
  const { users, agent } = bed;
  const plans = agent.plan(step, sessions, deltas);
  const started = new Map<string, { turnId: string; messageId: string }>();
  let startErrors = 0;
  let startErrorSample: string | undefined;
  await Promise.all(
    plans.map(async (p, k) => {
      p.posted = now();
      p.postedTo = k % users.length;
      const res = await users[k % users.length]!.post<{ turn: { id: string; message_id: string } }>(`/api/agents/${AGENT_ID}/sessions/${p.sessionId}/turns`, { content: `turn ${k}` }).catch((err: Error) => ({ status: 0, text: err.message, body: undefined }));
      if (res.status === 202 && res.body) started.set(p.sessionId, { turnId: res.body.turn.id, messageId: res.body.turn.message_id });
      else {
        startErrors++;
        startErrorSample ??= `${res.status} ${res.text.slice(0, 300)}`;
        p.finish();
      }
    }),
  );
  /** Each turn's stored answer against what the agent sent; for a wrong one, what the turn's log (GET …/turns/{id}) holds. */
  const verify = async () => {
    let storedOk = 0;
    let sample: string | undefined;
    const wrong = { sameHub: 0, otherHub: 0, logMissing: 0, deltasMissing: 0, logReordered: 0 };
    await Promise.all(
      plans.map(async (p, k) => {
        const turn = started.get(p.sessionId);
        if (!turn) return;
        const client = users[k % users.length]!;
        const path = `/api/agents/${AGENT_ID}/sessions/${p.sessionId}`;
        const res = await client.get<{ messages: Array<{ id: string; content: unknown }> }>(`${path}/messages`);
        const stored = res.body?.messages?.find((m) => m.id === turn.messageId);
        const want = p.content.join("");
        if (stored && stored.content === want) return void storedOk++;
        wrong[p.servedOn === p.postedTo ? "sameHub" : "otherHub"]++;
        const log = String((await client.get<{ snapshot?: { content?: unknown } }>(`${path}/turns/${turn.turnId}`)).body?.snapshot?.content ?? "");
        const logged = new Set(log.split(/(?<=\})(?=\{)/));
        const missing = p.content.filter((d) => !logged.has(d)).length;
        if (missing) wrong.logMissing++;
        else if (log !== want) wrong.logReordered++;
        wrong.deltasMissing += missing;
        sample ??= stored
          ? `session ${p.sessionId}: stored ${String(stored.content).length} chars, sent ${want.length}${String(stored.content).length === want.length ? " in another order" : ""}, log ${log.length}`
          : `session ${p.sessionId}: no stored answer (${res.status})`;
      }),
    );
    const otherHub = plans.filter((p) => p.servedOn !== undefined && p.servedOn !== p.postedTo).length;
    const storedSample =
      sample &&
      `${sample}; wrong: ${wrong.otherHub} of the ${otherHub} turns served on another hub than the POST's, ${wrong.sameHub} of the ${started.size - otherHub} on the same hub; ` +
        `their logs: ${wrong.logMissing} miss ${wrong.deltasMissing} deltas, ${wrong.logReordered} hold every delta in another order`;
    return { storedOk, storedSample };
  };
  const sending: Sending = { firstSend: 0, maxLagMs: 0, done: Promise.resolve(), verify };
  // Every turn played (or refused), bounded: a turn no agent socket got would wait forever.
  sending.done = Promise.race([Promise.all(plans.map((p) => p.finished)), sleep((deltas / cfg.deltaRate) * 1000 + 35_000)]).then(() => {
    const requestMs = new Histogram();
    for (const p of plans) if (p.requested) requestMs.add(p.requested - p.posted);
    sending.firstSend = Math.min(...plans.map((p) => p.firstSend || Infinity));
    sending.maxLagMs = Math.max(0, ...plans.map((p) => p.maxLagMs));
    sending.turns = {
      started: started.size,
      startErrors,
      startErrorSample,
      requestMs: { p50: round(requestMs.quantile(0.5)), max: round(requestMs.count ? requestMs.max : NaN) },
      neverRequested: plans.filter((p) => started.has(p.sessionId) && p.requested === undefined).length,
    };
  });
  return sending;
}

/** turns × deltas channel messages at turns × delta-rate per second, message i to channel i % turns. */
async function sendChannel(bed: Bed, step: number, deltas: number): Promise<Sending> {
  const sent = await publishOpenLoop(bed.channels, step, cfg.turns * deltas, cfg.turns * cfg.deltaRate, CHANNEL_TEXT_BYTES);
  const sending: Sending = { firstSend: sent.firstSend, maxLagMs: sent.maxLagMs, done: Promise.resolve() };
  sending.done = Promise.race([sent.answered, sleep(HTTP_TIMEOUT_MS + 5000)]).then(() => {
    sending.http = { ok: sent.ok, errors: sent.errors, errorSample: sent.errorSample, p50: round(sent.http.quantile(0.5)), p99: round(sent.http.quantile(0.99)) };
  });
  return sending;
}

let stepCounter = 0;
const shownLogLines = new Set<string>();

async function runStep(bed: Bed, kind: Kind, round_: number, warmup: boolean): Promise<Row> {
  const { subs, cpuGroups } = bed;
  const step = ++stepCounter;
  const deltas = warmup ? Math.max(1, Math.round(cfg.deltaRate * cfg.warmupS)) : cfg.deltas;
  const quiet = await waitQuiet(cpuGroups);
  const status = await waitConnected(subs, cfg.watchers);
  const watchers = status.connected;
  const sessions = kind === "turns" ? await newSessions(bed, step) : [];
  await Promise.all(subs.map((s) => s.call({ cmd: "begin", step, messages: cfg.turns * deltas, deltasPerTurn: deltas })));
  const stepStarted = now();

  await bed.stack.pgSampler?.start();
  const cpu0 = cpuSnapshot(cpuGroups);
  const sending = await (kind === "turns" ? sendTurns(bed, step, deltas, sessions) : sendChannel(bed, step, deltas));
  await sending.done;
  const pg = bed.stack.pgSampler?.stop();
  const expected = cfg.turns * deltas * cfg.watchers;
  await drain(subs, cfg.turns * deltas * watchers);
  if (kind === "turns") {
    const wantEnded = (sending.turns?.started ?? 0) * watchers;
    for (const until = now() + ENDED_WAIT_MS; now() < until && (await statusAll(subs)).turnsEnded < wantEnded; ) await sleep(100);
  }
  const cpu1 = cpuSnapshot(cpuGroups);

  for (const s of bed.stack.servers) {
    const c = s.proc.child;
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`hub ${s.proc.name} (${s.url}) exited (${c.exitCode ?? c.signalCode}) during the ${kind} step:\n${s.proc.tail()}`);
  }
  const seen = merge(await Promise.all(subs.map((s) => s.call<StepReport>({ cmd: "end" }))));
  const statusAfter = await statusAll(subs);
  const stored = await sending.verify?.();
  const cpu = cpuBetween(cpu0, cpu1);
  const hubCpuMs = ((cpu.servers ?? 0) / 100) * (cpu1.at - cpu0.at);
  const turns: TurnFigures | undefined = sending.turns && {
    ...sending.turns,
    cleanPairs: seen.turnsClean,
    endedPairs: seen.turnsEnded,
    failedPairs: seen.turnsFailed,
    failure: seen.turnError,
    expectedPairs: cfg.turns * cfg.watchers,
    storedOk: stored?.storedOk ?? 0,
    storedSample: stored?.storedSample,
  };
  // A turn's deltas leave one socket in order, so emit order is the order to keep; concurrent
  // REST publishes to a channel have none: its order is the seq order the commits gave.
  const orderClean = !seen.duplicates && !(kind === "turns" && seen.reordered) && !seen.seqBackwards && !seen.seqGaps;
  const row: Row = {
    kind,
    warmup,
    round: round_,
    streams: cfg.turns,
    items: deltas,
    ratePerStream: cfg.deltaRate,
    watchers: cfg.watchers,
    expected,
    delivered: seen.unique,
    deliveredRatio: expected ? Math.round((seen.unique / expected) * 100_000) / 100_000 : 0,
    targetDeliveriesPerSec: round(cfg.turns * cfg.deltaRate * cfg.watchers),
    deliveriesPerSec: Math.round(seen.lastRecv > sending.firstSend ? seen.unique / ((seen.lastRecv - sending.firstSend) / 1000) : 0),
    latencyMs: latencyOf(seen.hist),
    cpu,
    hubCpuUsPerDelivery: round(seen.unique ? (hubCpuMs * 1000) / seen.unique : NaN),
    ...orderCounts(seen),
    disconnects: statusAfter.disconnects - status.disconnects,
    maxSendLagMs: round(sending.maxLagMs),
    turns,
    http: sending.http,
    pg,
    allDelivered:
      seen.unique === expected &&
      orderClean &&
      (!turns || (turns.started === cfg.turns && turns.cleanPairs === turns.expectedPairs && turns.endedPairs === turns.expectedPairs && !turns.failedPairs && turns.storedOk === cfg.turns)) &&
      (!sending.http || !sending.http.errors),
    disturbed: (cpu.other ?? 0) > 40,
    wallS: round((now() - stepStarted + quiet) / 1000),
  };
  printRow(row);
  if (!row.allDelivered) {
    // What the hubs logged (LOG_LEVEL=warn: only problems), new since the last time.
    for (const s of bed.stack.servers) {
      const lines = s.proc.tail().split("\n").filter((l) => l && !shownLogLines.has(l));
      for (const l of lines) shownLogLines.add(l);
      if (lines.length) console.log(`         ${s.proc.name} logged:\n${lines.slice(-5).map((l) => `           ${l.slice(0, 3000)}`).join("\n")}`);
    }
    await settle(subs);
  }
  else await sleep(500);
  return row;
}

// ---- report --------------------------------------------------------------------------------------

const COLS: Columns = [
  ["kind", 8], ["step", 8], ["streams", 7], ["items", 5], ["delivered/expected", 19], ["%", 7], ["deliv/s", 7], ["p50", 7], ["p95", 7], ["p99", 7], ["max", 7],
  ["hub cpu", 7], ["us/deliv", 8], ["pg", 5], ["redis", 5], ["clients", 7], ["bench", 5], ["other", 5], ["in order", 8],
];

function printHeader(): void {
  console.log(line(COLS.map(([h]) => h), COLS));
  console.log("  (latency in ms, send to watcher receive; cpu in % of one core from the first send to the last delivery; us/deliv = hub CPU µs per delivered item)");
}

function printRow(r: Row): void {
  const cpu = (g: string) => fmt(r.cpu[g] ?? NaN, 0);
  const order = r.duplicates + (r.kind === "turns" ? r.reordered : 0) + r.seqBackwards + r.seqGaps;
  console.log(
    line(
      [
        r.kind, r.warmup ? "warmup" : `round ${r.round}`, String(r.streams), String(r.items), `${r.delivered}/${r.expected}`, fmt(r.deliveredRatio * 100, 2), String(r.deliveriesPerSec),
        fmt(r.latencyMs.p50), fmt(r.latencyMs.p95), fmt(r.latencyMs.p99), fmt(r.latencyMs.max), cpu("servers"), fmt(r.hubCpuUsPerDelivery, 1),
        cpu("postgres"), cpu("redis"), cpu("clients"), cpu("bench"), cpu("other"), (order ? `NO ${order}` : "yes") + (r.allDelivered ? "" : " !"),
      ],
      COLS,
    ),
  );
  const notes: string[] = [];
  const t = r.turns;
  if (t) {
    if (t.startErrors) notes.push(`${t.startErrors} turns not started (${t.startErrorSample})`);
    if (t.neverRequested) notes.push(`${t.neverRequested} turns never reached an agent socket`);
    if (t.cleanPairs < t.expectedPairs) notes.push(`clean (watcher, turn) pairs ${t.cleanPairs}/${t.expectedPairs}`);
    if (t.endedPairs < t.expectedPairs) notes.push(`turn:ended ${t.endedPairs}/${t.expectedPairs}`);
    if (t.failedPairs) notes.push(`${t.failedPairs} turn:ended not completed (${t.failure})`);
    if (t.storedOk < t.started) notes.push(`stored answers right ${t.storedOk}/${t.started} (${t.storedSample})`);
    notes.push(`turn:request ${fmt(t.requestMs.p50)} ms after POST (max ${fmt(t.requestMs.max)})`);
  }
  if (r.http) notes.push(`http p50/p99 ${fmt(r.http.p50)}/${fmt(r.http.p99)} ms${r.http.errors ? `, ${r.http.errors} errors (${r.http.errorSample})` : ""}`);
  if (r.pg) notes.push(`Postgres sessions: ${fmt(r.pg.lockWaitersAvg)} waiting on a lock, ${fmt(r.pg.activeAvg)} active (averages)`);
  if (r.duplicates) notes.push(`${r.duplicates} duplicates`);
  if (r.reordered) notes.push(`${r.reordered} out of ${r.kind === "turns" ? "emit order (deltas not at seq d + 2)" : "publish order (concurrent requests; seq order is commit order)"}`);
  if (r.seqBackwards) notes.push(`${r.seqBackwards} seq backwards`);
  if (r.seqGaps) notes.push(`${r.seqGaps} seq gaps`);
  if (r.stale) notes.push(`${r.stale} from earlier steps`);
  if (r.disconnects) notes.push(`${r.disconnects} watcher disconnects`);
  if (r.maxSendLagMs > 50) notes.push(`${r.kind === "turns" ? "agent" : "publisher"} fell ${fmt(r.maxSendLagMs, 0)} ms behind schedule`);
  if (r.disturbed) notes.push(`other workloads used ${fmt(r.cpu.other!, 0)}% of a core: figures disturbed`);
  if (notes.length) console.log(`         ${notes.join("; ")}`);
}

function summarize(rows: Row[], elapsedS: number, setup: object): void {
  const measured = (k: Kind) => rows.filter((r) => r.kind === k && !r.warmup);
  const of = (k: Kind) => {
    const rs = measured(k);
    return {
      p50: median(rs.map((r) => r.latencyMs.p50)),
      p99: median(rs.map((r) => r.latencyMs.p99)),
      hubCpuUsPerDelivery: median(rs.map((r) => r.hubCpuUsPerDelivery)),
      deliveriesPerSec: median(rs.map((r) => r.deliveriesPerSec)),
      delivered: rs.reduce((n, r) => n + r.delivered, 0),
      expected: rs.reduce((n, r) => n + r.expected, 0),
      allDelivered: rs.every((r) => r.allDelivered),
      p99Rounds: rs.map((r) => r.latencyMs.p99),
    };
  };
  const turns = of("turns");
  const channel = of("channel");
  const ratio = turns.p99 !== null && channel.p99 ? round(turns.p99 / channel.p99) : null;
  const byRound = measured("turns").map((t) => {
    const c = measured("channel").find((x) => x.round === t.round);
    return c?.latencyMs.p99 ? round(t.latencyMs.p99 / c.latencyMs.p99) : null;
  });
  const pct = (x: { delivered: number; expected: number }) => fmt(x.expected ? (x.delivered / x.expected) * 100 : NaN, 3);
  console.log("\n== summary ==");
  console.log(`${cfg.turns} streams × ${cfg.deltaRate}/s to ${cfg.watchers} watchers on 2 hubs: ${round(cfg.turns * cfg.deltaRate * cfg.watchers)} deliveries/s asked (median over ${cfg.rounds} round(s))`);
  for (const [name, x] of [["turns", turns], ["channel", channel]] as const) {
    console.log(
      `  ${name.padEnd(8)} p50 ${fmt(x.p50 ?? NaN)} ms, p99 ${fmt(x.p99 ?? NaN)} ms (rounds: ${x.p99Rounds.map((v) => fmt(v)).join(", ")}); ${x.deliveriesPerSec} deliveries/s; hub CPU ${fmt(x.hubCpuUsPerDelivery ?? NaN, 1)} µs per delivery; ` +
        `delivered ${pct(x)}%, all in order and complete: ${x.allDelivered ? "yes" : "NO"}`,
    );
  }
  console.log(`  p99 ratio turns/channel: ${ratio ?? "-"} (goal: <= ${P99_RATIO_GOAL})${byRound.length > 1 ? `; round by round: ${byRound.join(", ")}` : ""}; goal met: ${ratio === null ? "-" : ratio <= P99_RATIO_GOAL}; run took ${fmt(elapsedS, 0)} s`);
  console.log(
    JSON.stringify({
      bench: "turns",
      config: { ...cfg, channelTextBytes: CHANNEL_TEXT_BYTES, hubLogLevel: "warn" },
      setup,
      rows,
      summary: { turns, channel, p99Ratio: ratio, p99RatioByRound: byRound, p99RatioGoal: P99_RATIO_GOAL, goalMet: ratio === null ? null : ratio <= P99_RATIO_GOAL },
      elapsedS,
    }),
  );
}

/** The whole scenario; what it starts is stopped at exit (bench/fanout.ts runs `atExit`). */
export async function runTurns(): Promise<void> {
  const started = now();
  console.log(
    `turns benchmark: ${cfg.turns} concurrent turns × ${cfg.deltas} deltas at ${cfg.deltaRate}/s each, ${cfg.watchers} watchers over 2 agenthub processes, ${cfg.serving} agent sockets; ` +
      `against ${cfg.turns} channels × ${cfg.deltas} messages at ${cfg.deltaRate}/s each to the same watchers; ${cfg.rounds} round(s), warm-up ${cfg.warmupS} s`,
  );
  const own = new Cleanups();
  atExit.add(() => own.run());
  const bed = await openBed(own);
  const rows: Row[] = [];
  const order: Kind[] = ["turns", "channel"];
  for (let r = 1; r <= cfg.rounds; r++) {
    console.log(`\n-- round ${r}/${cfg.rounds}`);
    printHeader();
    for (const kind of r % 2 ? order : [...order].reverse()) {
      if (cfg.warmupS > 0) rows.push(await runStep(bed, kind, r, true));
      rows.push(await runStep(bed, kind, r, false));
    }
  }
  await own.run();
  summarize(rows, round((now() - started) / 1000), { watch: bed.watch, clockOffsetsMs: bed.clockOffsetsMs, note: bed.stack.note });
}
