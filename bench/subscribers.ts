/**
 * A subscriber process of the fan-out benchmark: holds N socket.io-client connections (one
 * engine per socket, websocket transport) and records, for every `channel:message`, whether this
 * (socket, message) pair was seen before and its publish-to-delivery latency. The same code is
 * used against agenthub and against the bare Socket.IO baseline. In the turns scenario
 * (bench/turns.ts) the sockets are watchers: each `content_delta` of a `turn:event` carries its
 * emit time, step and index in its text, and every turn's seqs are checked from 1 to `done`.
 *
 * Driven over IPC by bench/fanout.ts (see ToSubscribers in bench/ipc.ts). Latency is measured on
 * the orchestrator's clock: `offset` (this process's clock minus the orchestrator's, estimated
 * from IPC round trips) is subtracted from every receive time.
 */
import { io as connectClient, type Socket } from "socket.io-client";
import type { ConnectReport, StatusReport, StepReport, ToSubscribers, WatchReport } from "./ipc.js";
import { Histogram, now, sleep } from "./lib.js";

/** One stream (a channel, or a turn) as one socket receives it. */
interface Stream {
  /** Highest message index of the current step this socket has received of the stream. */
  lastIndex: number;
  /** Highest seq received (channels: with `checkSeq`; -1: none yet, any start is fine; a turn starts at 0). */
  lastSeq: number;
  /** A turn: the step of its deltas (-1 until the first), and whether its seqs so far were 1, 2, 3… with each delta in place. */
  step: number;
  clean: boolean;
}

interface Sub {
  socket: Socket;
  index: number;
  /** `c:<channelId>` and `t:<turnId>`; a turn's entry is dropped at the next step. */
  streams: Map<string, Stream>;
}

interface Sample {
  t?: unknown;
  s?: unknown;
  i?: unknown;
}

const subs: Sub[] = [];
let offsetMs = 0;
let disconnects = 0;
/** Check `seq` order per socket (agenthub promises it; the bare baseline has no such seq). */
let checkSeq = false;

// Current step: message indexes 0..messages-1, one "seen" byte per (socket, message).
let step = -1;
let messages = 0;
let seen = new Uint8Array(0);
let hist = new Histogram();
let unique = 0;
let duplicates = 0;
let reordered = 0;
let seqBackwards = 0;
let seqGaps = 0;
let stale = 0;
let turnsClean = 0;
let turnsEnded = 0;
let turnsFailed = 0;
let turnError: string | undefined;
let firstRecv = Infinity;
let lastRecv = 0;
/** Deltas per turn in the turns scenario (index i is delta i % dPerTurn of its turn). */
let dPerTurn = 1;

function streamOf(sub: Sub, key: string, lastSeq: number): Stream {
  let st = sub.streams.get(key);
  if (!st) sub.streams.set(key, (st = { lastIndex: -1, lastSeq, step: -1, clean: true }));
  return st;
}

/** Counts a seq that is not the stream's next one; answers whether it is in order (above the last). */
function checkOrder(st: Stream, seq: number): boolean {
  if (st.lastSeq >= 0 && seq <= st.lastSeq) {
    seqBackwards++;
    st.clean = false;
    return false;
  }
  if (st.lastSeq >= 0 && seq > st.lastSeq + 1) {
    seqGaps++;
    st.clean = false;
  }
  st.lastSeq = seq;
  return true;
}

/** A timed delivery: first receipt of (socket, index) or a duplicate, its latency and order in its stream. */
function record(sub: Sub, st: Stream, md: Sample, t: number): void {
  if (typeof md.t !== "number" || typeof md.i !== "number") return;
  if (md.s !== step) {
    stale++;
    return;
  }
  const i = md.i;
  if (i < 0 || i >= messages) return;
  const k = sub.index * messages + i;
  if (seen[k]) {
    duplicates++;
    return;
  }
  seen[k] = 1;
  unique++;
  if (i < st.lastIndex) reordered++;
  else st.lastIndex = i;
  hist.add(t - md.t);
  if (t < firstRecv) firstRecv = t;
  if (t > lastRecv) lastRecv = t;
}

function onMessage(sub: Sub, payload: unknown): void {
  const t = now() - offsetMs;
  const p = payload as { channelId?: unknown; seq?: unknown; metadata?: Sample } | null;
  const st = streamOf(sub, `c:${String(p?.channelId ?? "")}`, -1);
  if (checkSeq && typeof p?.seq === "number") checkOrder(st, p.seq);
  if (p?.metadata) record(sub, st, p.metadata, t);
}

/**
 * The bench agent sends message_start, `deltas` content_deltas `{"t":…,"s":…,"i":…}` (index i =
 * turn × deltas + d, the turn's event d + 2), message_end; the hub adds done.
 */
function onTurnEvent(sub: Sub, payload: unknown): void {
  const t = now() - offsetMs;
  const p = payload as { turnId?: unknown; seq?: unknown; event?: { type?: unknown; delta?: unknown } } | null;
  if (typeof p?.turnId !== "string" || typeof p.seq !== "number") return;
  const st = streamOf(sub, `t:${p.turnId}`, 0);
  const inOrder = checkOrder(st, p.seq);
  const event = p.event;
  if (event?.type === "content_delta" && typeof event.delta === "string") {
    let md: Sample;
    try {
      md = JSON.parse(event.delta) as Sample;
    } catch {
      st.clean = false;
      return;
    }
    if (st.step === -1 && typeof md.s === "number") st.step = md.s;
    if (typeof md.i === "number" && md.s === step && (md.i % dPerTurn) + 2 !== p.seq) st.clean = false; // not where it was sent
    record(sub, st, md, t);
  } else if (event?.type === "done" && inOrder && st.step === step && st.step !== -1) {
    // message_start, the deltas, message_end, done: seq deltas + 3.
    if (st.clean && st.lastIndex >= 0 && p.seq === dPerTurn + 3) turnsClean++;
  }
}

function onTurnEnded(sub: Sub, payload: unknown): void {
  const p = payload as { turn?: { id?: unknown; status?: unknown; error?: unknown } } | null;
  const st = sub.streams.get(`t:${String(p?.turn?.id)}`);
  if (!st || st.step !== step || step === -1) return;
  turnsEnded++;
  if (p?.turn?.status !== "completed") {
    turnsFailed++;
    turnError ??= `${String(p?.turn?.status)}: ${String(p?.turn?.error ?? "")}`.slice(0, 300);
  }
}

function connectOne(url: string, token: string, timeoutMs: number): Promise<Socket> {
  const socket = connectClient(url, {
    path: "/socket.io",
    transports: ["websocket"],
    auth: { token },
    forceNew: true, // one engine (one TCP connection) per subscriber, as real clients have
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error("connect timed out"));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

async function connectAll(msg: Extract<ToSubscribers, { cmd: "connect" }>): Promise<ConnectReport> {
  const started = now();
  const errors: string[] = [];
  let failed = 0;
  checkSeq = msg.checkSeq;
  const deadline = Date.now() + msg.timeoutMs;
  for (let start = 0; start < msg.targets.length && Date.now() < deadline; start += msg.batch) {
    const batch = msg.targets.slice(start, start + msg.batch);
    const results = await Promise.allSettled(batch.map((t) => connectOne(t.url, msg.token, Math.max(1000, deadline - Date.now()))));
    for (const r of results) {
      if (r.status === "rejected") {
        failed++;
        if (errors.length < 5) errors.push(String((r.reason as Error)?.message ?? r.reason));
        continue;
      }
      const sub: Sub = { socket: r.value, index: subs.length, streams: new Map() };
      subs.push(sub);
      r.value.on("channel:message", (payload: unknown) => onMessage(sub, payload));
      r.value.on("turn:event", (payload: unknown) => onTurnEvent(sub, payload));
      r.value.on("turn:ended", (payload: unknown) => onTurnEnded(sub, payload));
      r.value.on("disconnect", () => disconnects++);
    }
  }
  failed += Math.max(0, msg.targets.length - subs.length - failed);
  return { connected: subs.filter((s) => s.socket.connected).length, failed, errors, ms: now() - started };
}

/** Each socket watches every channel (channel:watch, from its head); answers how many watches were refused. */
async function watchAll(channels: string[]): Promise<WatchReport> {
  const out: WatchReport = { ok: 0, failed: 0, errors: [] };
  await Promise.all(
    subs.map(async (sub) => {
      for (const channelId of channels) {
        const ack = (await sub.socket.timeout(10_000).emitWithAck("channel:watch", { channelId }).catch((err: Error) => ({ ok: false, error: err.message }))) as { ok?: boolean; error?: unknown };
        if (ack?.ok) out.ok++;
        else {
          out.failed++;
          if (out.errors.length < 5) out.errors.push(JSON.stringify(ack?.error ?? ack).slice(0, 300));
        }
      }
    }),
  );
  return out;
}

function begin(s: number, m: number, deltasPerTurn: number): void {
  step = s;
  messages = m;
  dPerTurn = deltasPerTurn;
  seen = new Uint8Array(subs.length * m);
  hist = new Histogram();
  unique = duplicates = reordered = seqBackwards = seqGaps = stale = turnsClean = turnsEnded = turnsFailed = 0;
  turnError = undefined;
  firstRecv = Infinity;
  lastRecv = 0;
  for (const sub of subs) {
    for (const [key, st] of sub.streams) {
      if (key.startsWith("t:")) sub.streams.delete(key);
      else st.lastIndex = -1;
    }
  }
}

function report(): StepReport {
  return {
    step, sockets: subs.length, unique, duplicates, reordered, seqBackwards, seqGaps, stale, turnsClean, turnsEnded, turnsFailed, turnError, firstRecv, lastRecv, hist: hist.data(),
  };
}

async function handle(msg: ToSubscribers): Promise<unknown> {
  switch (msg.cmd) {
    case "ping":
      return now();
    case "offset":
      offsetMs = msg.offsetMs;
      return true;
    case "connect":
      return connectAll(msg);
    case "status":
      return {
        connected: subs.reduce((n, s) => n + (s.socket.connected ? 1 : 0), 0),
        unique,
        turnsEnded,
        disconnects,
        lastRecv,
      } satisfies StatusReport;
    case "watch":
      return watchAll(msg.channels);
    case "begin":
      begin(msg.step, msg.messages, msg.deltasPerTurn ?? 1);
      return true;
    case "end": {
      const r = report();
      step = -1;
      seen = new Uint8Array(0);
      return r;
    }
    case "close":
      for (const s of subs) s.socket.close();
      setTimeout(() => process.exit(0), 200).unref();
      return true;
  }
}

process.on("message", (msg: ToSubscribers) => {
  handle(msg).then(
    (result) => process.send?.({ id: msg.id, ok: true, result }),
    (err) => process.send?.({ id: msg.id, ok: false, error: String((err as Error)?.stack ?? err) }),
  );
});
// The orchestrator went away: do not linger.
process.on("disconnect", () => {
  for (const s of subs) s.socket.close();
  void sleep(100).then(() => process.exit(0));
});
