/**
 * A subscriber process of the fan-out benchmark: holds N socket.io-client connections (one
 * engine per socket, websocket transport) and records, for every `channel:message`, whether this
 * (socket, message) pair was seen before and its publish-to-delivery latency. The same code is
 * used against agenthub and against the bare Socket.IO baseline.
 *
 * Driven over IPC by bench/fanout.ts (see ToSubscribers in bench/ipc.ts). Latency is measured on
 * the orchestrator's clock: `offset` (this process's clock minus the orchestrator's, estimated
 * from IPC round trips) is subtracted from every receive time.
 */
import { io as connectClient, type Socket } from "socket.io-client";
import type { ConnectReport, StatusReport, StepReport, ToSubscribers } from "./ipc.js";
import { Histogram, now, sleep } from "./lib.js";

interface Sub {
  socket: Socket;
  index: number;
  /** Highest message index of the current step this socket has received. */
  lastIndex: number;
  /** Highest channel seq this socket has received (with `checkSeq`). */
  lastSeq: number;
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
let firstRecv = Infinity;
let lastRecv = 0;

function onMessage(sub: Sub, payload: unknown): void {
  const t = now() - offsetMs;
  const p = payload as { seq?: unknown; metadata?: { t?: unknown; s?: unknown; i?: unknown } } | null;
  if (checkSeq && typeof p?.seq === "number") {
    if (sub.lastSeq >= 0 && p.seq <= sub.lastSeq) seqBackwards++;
    else {
      if (sub.lastSeq >= 0 && p.seq > sub.lastSeq + 1) seqGaps++;
      sub.lastSeq = p.seq;
    }
  }
  const md = p?.metadata;
  if (!md || typeof md.t !== "number" || typeof md.i !== "number") return;
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
  if (i < sub.lastIndex) reordered++;
  else sub.lastIndex = i;
  hist.add(t - md.t);
  if (t < firstRecv) firstRecv = t;
  if (t > lastRecv) lastRecv = t;
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
      const sub: Sub = { socket: r.value, index: subs.length, lastIndex: -1, lastSeq: -1 };
      subs.push(sub);
      r.value.on("channel:message", (payload: unknown) => onMessage(sub, payload));
      r.value.on("disconnect", () => disconnects++);
    }
  }
  failed += Math.max(0, msg.targets.length - subs.length - failed);
  return { connected: subs.filter((s) => s.socket.connected).length, failed, errors, ms: now() - started };
}

function begin(s: number, m: number): void {
  step = s;
  messages = m;
  seen = new Uint8Array(subs.length * m);
  hist = new Histogram();
  unique = duplicates = reordered = seqBackwards = seqGaps = stale = 0;
  firstRecv = Infinity;
  lastRecv = 0;
  for (const sub of subs) sub.lastIndex = -1;
}

function report(): StepReport {
  return { step, sockets: subs.length, unique, duplicates, reordered, seqBackwards, seqGaps, stale, firstRecv, lastRecv, hist: hist.data() };
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
        disconnects,
        lastRecv,
      } satisfies StatusReport;
    case "begin":
      begin(msg.step, msg.messages);
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
