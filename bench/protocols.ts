/**
 * The protocols scenario (`npm run bench -- --scenario protocols [--rounds 3] [--deltas 200]
 * [--delta-rate 100] [--protocol-turns 3]`): for each agent protocol, the latency the hub adds from
 * the agent sending a content delta to a watcher on the OTHER hub process receiving it as a
 * `turn:event`, beside socket mode in the same run (issue 23's goal: each within 1.2× of socket
 * mode at p99, at the same delta rate).
 *
 * Setup: a fresh bench database, two agenthub processes (bench/stacks.ts), one user who owns an
 * agent per protocol, each answered by a peer built with that protocol's library (bench/peers.ts),
 * in a process of its own (bench/peer-proc.ts). Each turn is started on hub 0 (POST …/turns) and watched by one socket of the
 * user on hub 1. Every delta's text is `{"t":<send time>}`, stamped when the peer writes it, so
 * the latency is peer write to watcher receive on one clock. Protocols take turns within a round
 * (the order rotates each round); each protocol's p50/p99 is over all its rounds' deltas.
 */
import { io, type Socket } from "socket.io-client";
import { mintUserToken } from "../src/auth/jwt.js";
import { api, type Api } from "../test/support/api.js";
import { JWT_SECRET } from "../test/support/env.js";
import { atExit, type Cleanups } from "./cleanup.js";
import { Histogram, now, round } from "./lib.js";
import { createInterface } from "node:readline";
import { cfg } from "./options.js";
import { spawnNode, ROOT } from "./lib.js";
import type { PeerName, PeerPlan } from "./peers.js";
import { freshDatabase } from "./postgres.js";
import { postOk, startStack } from "./stacks.js";

/** The goal: each protocol's p99 at most this × socket mode's. */
const P99_GOAL = 1.2;
const TURN_WAIT_MS = 60_000;

interface Figures {
  protocol: PeerName;
  turns: number;
  deltas: number;
  lost: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

export async function runProtocols(): Promise<void> {
  const cleanups = atExit;
  const ws = await freshDatabase();
  const stack = await startStack("agenthub", ws.masterKey, cleanups);
  const [a, b] = stack.servers;
  const token = await mintUserToken({ secret: JWT_SECRET, workspace: ws.id, sub: "bench-protocols", email: "bench-protocols@example.com", name: "Bench", ttlSeconds: 6 * 3600 });
  const user = api(a!.url, token);
  const watcher = await connectWatcher(b!.url, token, cleanups);
  const turns = cfg.protocolTurns;
  const plan = { deltas: cfg.deltas, ratePerS: cfg.deltaRate };
  console.log(`protocols: ${turns} turn(s) per protocol per round, ${plan.deltas} deltas at ${plan.ratePerS}/s each; turns start on ${a!.url}, watched on ${b!.url}`);

  for (const name of cfg.protocols) {
    const agentId = `bench-${name}`;
    await postOk(user, "/api/agents", { id: agentId, name: `Bench ${name}` });
    const key = name === "socket" ? (await postOk<{ key: string }>(user, `/api/agents/${agentId}/keys`, { name: "serve", scopes: ["turns:serve"] })).key : undefined;
    const endpoint = await startPeer(name, a!.url, plan, key, cleanups);
    if (endpoint) await patchOk(user, `/api/agents/${agentId}`, { endpoint });
  }

  const hist = new Map(cfg.protocols.map((p) => [p, new Histogram()]));
  const counts = new Map(cfg.protocols.map((p) => [p, { turns: 0, deltas: 0, lost: 0, failed: 0, max: 0 }]));
  for (let r = 0; r < cfg.rounds; r++) {
    const order = cfg.protocols.map((_, i) => cfg.protocols[(i + r) % cfg.protocols.length]!);
    for (const name of order) {
      for (let k = 0; k < turns; k++) {
        const result = await oneTurn(user, watcher, `bench-${name}`, plan.deltas);
        const c = counts.get(name)!;
        c.turns++;
        c.deltas += result.latencies.length;
        c.lost += plan.deltas - result.latencies.length;
        if (result.status !== "completed") c.failed++;
        for (const ms of result.latencies) hist.get(name)!.add(ms);
        c.max = Math.max(c.max, ...result.latencies);
      }
      const h = hist.get(name)!;
      console.log(`  round ${r + 1} ${name.padEnd(7)} p50 ${round(h.quantile(0.5))} ms  p99 ${round(h.quantile(0.99))} ms (cumulative)`);
    }
  }
  report([...hist].map(([protocol, h]) => ({ protocol, ...counts.get(protocol)!, p50: round(h.quantile(0.5)), p99: round(h.quantile(0.99)), max: round(counts.get(protocol)!.max) })));
}

function report(rows: Figures[]): void {
  const socket = rows.find((r) => r.protocol === "socket");
  console.log("\n== summary: agent delta → watcher on the other node ==");
  console.log("protocol  turns  deltas  lost  failed   p50 ms   p99 ms   max ms   p99 / socket");
  for (const r of rows) {
    const ratio = socket && socket.p99 > 0 ? round(r.p99 / socket.p99) : undefined;
    const verdict = ratio === undefined || r.protocol === "socket" ? "" : ratio <= P99_GOAL ? " (goal met)" : ` (goal ${P99_GOAL})`;
    console.log(
      `${r.protocol.padEnd(9)} ${String(r.turns).padStart(5)} ${String(r.deltas).padStart(7)} ${String(r.lost).padStart(5)} ${String(r.failed).padStart(7)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.max).padStart(8)}   ${ratio ?? "-"}${verdict}`,
    );
  }
  console.log(JSON.stringify({ bench: "protocols", config: { rounds: cfg.rounds, turns: cfg.protocolTurns, deltas: cfg.deltas, deltaRate: cfg.deltaRate, protocols: cfg.protocols }, results: rows }));
}

interface TurnResult {
  status: string;
  latencies: number[];
}

/** Starts one turn on hub 0 in a fresh session and collects its deltas' latencies at the watcher until it ends. */
async function oneTurn(user: Api, watcher: Socket, agentId: string, deltas: number): Promise<TurnResult> {
  const session = await postOk<{ id: string }>(user, `/api/agents/${agentId}/sessions`, {});
  const latencies: number[] = [];
  let turnId: string | undefined;
  const early: Array<{ turnId: string; at: number; event: { type: string; delta?: string } }> = [];
  const take = (event: { type: string; delta?: string }, at: number) => {
    if (event.type !== "content_delta" || !event.delta) return;
    const stamp = /"t":([\d.]+)/.exec(event.delta);
    if (stamp) latencies.push(at - Number(stamp[1]));
  };
  const ended = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${agentId}: the turn did not end within ${TURN_WAIT_MS} ms`)), TURN_WAIT_MS);
    const onEvent = (p: { sessionId: string; turnId: string; event: { type: string; delta?: string } }) => {
      if (p.sessionId !== session.id) return;
      if (turnId === undefined) early.push({ turnId: p.turnId, at: now(), event: p.event });
      else if (p.turnId === turnId) take(p.event, now());
    };
    const onEnded = (p: { sessionId: string; turn: { id: string; status: string; error?: string } }) => {
      if (p.sessionId !== session.id) return;
      clearTimeout(timer);
      watcher.off("turn:event", onEvent).off("turn:ended", onEnded);
      if (p.turn.status !== "completed") console.log(`  ! ${agentId}: turn ${p.turn.status}: ${p.turn.error ?? ""}`);
      resolve(p.turn.status);
    };
    watcher.on("turn:event", onEvent).on("turn:ended", onEnded);
  });
  const started = await postOk<{ turn: { id: string } }>(user, `/api/agents/${agentId}/sessions/${session.id}/turns`, { content: `bench ${deltas}` });
  turnId = started.turn.id;
  for (const e of early) if (e.turnId === turnId) take(e.event, e.at);
  return { status: await ended, latencies };
}

async function connectWatcher(url: string, token: string, cleanups: Cleanups): Promise<Socket> {
  const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
  cleanups.add(async () => void socket.close());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err) => reject(new Error(`watcher: ${err.message}`)));
  });
  return socket;
}

/** Starts a protocol's peer in its own process (bench/peer-proc.ts); resolves with the agent's endpoint once it answers. */
export async function startPeer(name: PeerName, hubUrl: string, plan: PeerPlan, key: string | undefined, cleanups: Cleanups): Promise<Record<string, unknown> | null> {
  const env = { ...process.env, PEER_NAME: name, PEER_HUB: hubUrl, PEER_PLAN: JSON.stringify(plan), ...(key ? { PEER_KEY: key } : {}) };
  const peer = spawnNode(`peer-${name}`, ["bench/peer-proc.ts"], env, ROOT);
  cleanups.add(() => peer.stop(5000));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${name} peer did not start within 60 s:\n${peer.tail()}`)), 60_000);
    peer.child.once("exit", (code) => reject(new Error(`the ${name} peer exited (${code}):\n${peer.tail()}`)));
    createInterface({ input: peer.child.stdout! }).on("line", (line) => {
      if (!line.startsWith("PEER_READY ")) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice("PEER_READY ".length)));
    });
  });
}

async function patchOk(client: Api, path: string, body: unknown): Promise<void> {
  const res = await client.patch(path, body);
  if (res.status !== 200) throw new Error(`PATCH ${path}: ${res.status} ${res.text}`);
}
