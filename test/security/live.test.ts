/**
 * Issue 21's attacks on live delivery, replayed against two hub processes on Postgres (the
 * handshake race does not show on PGlite): a socket gets nothing of a stream before its access
 * is confirmed, whatever its handshake names; role binding (RBAC) applies to live pushes as to
 * REST reads; and a serving socket's made-up turn ids cost the hub no database lookup.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../../src/db.js";
import { api, type Api } from "../support/api.js";
import { appendMessage, makeAgent, makeKey, makeSession, makeWorkspace, uniq, type TestWorkspace } from "../support/factories.js";
import { spawnHub, useHub, type HubProcess } from "../support/hub.js";
import { ackProblem, expectProblem } from "../support/problem.js";
import { startSocketAgent, scriptedAnswer, type ScriptStep, type SocketAgent } from "../support/socket-agent.js";
import { connect, type Client } from "../support/sockets.js";
import { pollUntil, until } from "../support/waiters.js";

/** Two hub processes on this file's Postgres database and Redis, with every line they log. */
let a: HubProcess;
let b: HubProcess;
let db: Db;
let ws: TestWorkspace;
let other: TestWorkspace;
const logged: Array<Record<string, unknown>> = [];
/** An in-process hub on the same database and Redis, where queries can be counted; sockets may receive 50 streams. */
const hub = useHub({ env: { SOCKET_MAX_STREAMS: "50" } });
const clients: Client[] = [];
const agents: SocketAgent[] = [];

const onOutput = (text: string) => {
  for (const line of text.split("\n")) {
    try {
      const entry = JSON.parse(line);
      if (entry && typeof entry === "object") logged.push(entry);
    } catch {
      // not a log line
    }
  }
};

beforeAll(async () => {
  [a, b] = await Promise.all([spawnHub({ onOutput }), spawnHub({ onOutput })]);
  db = createDb({ databaseUrl: process.env.TEST_FILE_DATABASE_URL, dataDir: "/nonexistent" });
  [ws, other] = [await makeWorkspace(db), await makeWorkspace(db)];
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(agents.map((x) => x.close()));
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.destroy();
});

async function open(url: string, token: string, since?: Record<string, unknown>): Promise<Client> {
  const c = await connect(url, token, since ? { since } : {});
  clients.push(c);
  return c;
}

function serve(url: string, key: string, events: ScriptStep[]): SocketAgent {
  const agent = startSocketAgent(url, key, { kind: "events", events, onCancel: "stop" });
  agents.push(agent);
  return agent;
}

/** Everything a socket received about one session: its messages, updates and turns. */
const ofSession = (c: Client, sessionId: string) =>
  c.events.filter((e) => (e.event.startsWith("turn:") || e.event.startsWith("session:")) && e.payload?.sessionId === sessionId);
const turnEvents = (c: Client, sessionId: string) => c.of("turn:event").filter((e) => e.sessionId === sessionId);

/** A long answer: one content_delta every couple of milliseconds, for several seconds. */
const longAnswer = (n: number): ScriptStep[] => [
  { type: "message_start", role: "assistant", model: "long" },
  ...Array.from({ length: n }, (_, i) => ({ event: { type: "content_delta", delta: `w${i} ` }, delayMs: 2 })),
  { type: "message_end", finishReason: "stop" },
  { type: "done" },
];

/** The token each REST client was made with, for that user's sockets. */
const tokens = new WeakMap<Api, string>();
const apiWith = (url: string, token: string) => {
  const c = api(url, token);
  tokens.set(c, token);
  return c;
};

describe("a socket gets nothing of a stream before its access is confirmed", () => {
  let turn: Awaited<ReturnType<typeof runningTurn>>;
  beforeAll(async () => {
    turn = await runningTurn();
  }, 30_000);

  /** Alice's agent answering a long turn over a socket on node A; her sockets on both nodes receive it as its owner. */
  async function runningTurn() {
    const token = await ws.token(uniq("alice"));
    const alice = apiWith(a.url, token);
    const agentId = await makeAgent(alice, uniq("agent"));
    const agent = serve(a.url, await makeKey(alice, agentId, ["turns:serve"]), longAnswer(8000));
    await agent.served;
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    await appendMessage(alice, agentId, session.id, { content: "earlier" });
    const owner = { a: await open(a.url, token), b: await open(b.url, token) };
    const started = await alice.post(`${path}/turns`, { content: "talk for a while" });
    expect(started.status).toBe(202);
    for (const o of [owner.a, owner.b]) await o.until(() => turnEvents(o, session.id).length >= 5, "the turn streaming to its owner");
    return { alice, agentId, sessionId: session.id as string, path, owner, turnId: started.body.turn.id as string };
  }

  /**
   * Connects an attacker with `since`, keeps it while the owner's socket on the same node
   * receives `more` further turn events (the stream flowed during the whole access check and
   * after it), and answers what the attacker got of the victim's session.
   */
  async function attempt(url: string, token: string, since: Record<string, unknown>, more = 8, ready?: (c: Client) => boolean) {
    const observer = url === a.url ? turn.owner.a : turn.owner.b;
    const before = turnEvents(observer, turn.sessionId).length;
    const attacker = await connect(url, token, { since });
    try {
      if (ready) await attacker.until(() => ready(attacker), "the attacker's own stream resumed");
      await observer.until(() => turnEvents(observer, turn.sessionId).length >= before + more, "the turn still streaming");
      return ofSession(attacker, turn.sessionId);
    } finally {
      attacker.close();
    }
  }

  it("another workspace's user naming a running turn's session in auth.since receives none of it, over many connections", async () => {
    const mallory = await other.token(uniq("mallory"));
    // Mallory's own session resumes through the same check: once it replays, the check is over.
    const mine = apiWith(a.url, mallory);
    const ownAgent = await makeAgent(mine, uniq("own"));
    const own = await makeSession(mine, ownAgent);
    await appendMessage(mine, ownAgent, own.id, { content: "mine" });
    const resumedOwn = (c: Client) => c.of("session:message").some((m) => m.sessionId === own.id);
    for (let i = 0; i < 20; i++) {
      const url = i % 2 ? b.url : a.url;
      expect(await attempt(url, mallory, { sessions: { [turn.sessionId]: 0, [own.id]: 0 } }, 8, resumedOwn)).toEqual([]);
    }
  });

  it("receives none of it with auth.since padded with 999 made-up session ids either", async () => {
    const mallory = await other.token(uniq("mallory"));
    const padded: Record<string, number> = { [turn.sessionId]: 0 };
    for (let i = 0; i < 999; i++) padded[`ses_fake_${i}_${uniq("x")}`] = 0;
    for (let i = 0; i < 10; i++) {
      const url = i % 2 ? b.url : a.url;
      expect(await attempt(url, mallory, { sessions: padded }, 15)).toEqual([]);
    }
  });

  it("a user of the same workspace who may not read the session gets nothing from auth.since or session:watch", async () => {
    const bob = await ws.token(uniq("bob"));
    for (let i = 0; i < 6; i++) {
      const url = i % 2 ? b.url : a.url;
      expect(await attempt(url, bob, { sessions: { [turn.sessionId]: 0 } })).toEqual([]);
    }
    for (const [url, token] of [
      [b.url, bob],
      [a.url, await other.token(uniq("mallory"))],
    ] as const) {
      const observer = url === a.url ? turn.owner.a : turn.owner.b;
      const watcher = await open(url, token);
      expect(await watcher.emitAck("session:watch", { sessionId: turn.sessionId, since: 0 })).toEqual(ackProblem("not-found"));
      const before = turnEvents(observer, turn.sessionId).length;
      await observer.until(() => turnEvents(observer, turn.sessionId).length >= before + 8, "the turn still streaming");
      expect(ofSession(watcher, turn.sessionId)).toEqual([]);
    }
  });

  it("still resumes a session its reader names in auth.since: what was missed, then the live turn", async () => {
    const reader = await open(b.url, tokens.get(turn.alice)!, { sessions: { [turn.sessionId]: 0 } });
    await reader.until(() => reader.of("session:message").some((m) => m.sessionId === turn.sessionId && m.message.seq === 1), "the missed message");
    await reader.until(() => turnEvents(reader, turn.sessionId).length >= 5, "the live turn");
  });

});

describe("role binding (RBAC) applies to live delivery as to REST reads", () => {
  it("a role-bound session shared to a group reaches its role's members over their socket, not another role's", async () => {
    const rbacWs = await makeWorkspace(db);
    await db("workspaces").where({ id: rbacWs.id }).update({ rbac_enabled: true });
    const aliceToken = await rbacWs.token(uniq("alice"), { role: "support" });
    const alice = api(a.url, aliceToken);
    const [a1, a2] = [await makeAgent(alice, uniq("a")), await makeAgent(alice, uniq("b"))];
    const sue = uniq("sue");
    const fred = uniq("fred");
    const group = await alice.post("/api/groups", { name: uniq("group"), agentIds: [a1, a2], allowed_users: [`${sue}@example.com`, `${fred}@example.com`] });
    expect(group.status).toBe(201);
    const session = await makeSession(alice, a1);
    const path = `/api/agents/${a1}/sessions/${session.id}`;
    const agent = serve(a.url, await makeKey(alice, a1, ["turns:serve"]), scriptedAnswer("for support only", { delayMs: 2 }));
    await agent.served;
    const sueToken = await rbacWs.token(sue, { role: "support" });
    const fredToken = await rbacWs.token(fred, { role: "finance" });
    const sues = [await open(a.url, sueToken), await open(b.url, sueToken)];
    const freds = [await open(a.url, fredToken), await open(b.url, fredToken)];
    expect((await alice.post(`/api/groups/${group.body.id}/sessions/${session.id}`)).status).toBe(201);
    for (const s of sues) await s.until(() => s.of("group:session").some((e) => e.sessionId === session.id), "group:session for the same role");

    // REST: the same member rule, role binding included.
    expect((await api(b.url, sueToken).get(path)).status).toBe(200);
    expectProblem(await api(b.url, fredToken).get(path), "not-found");
    const listed = async (token: string) => (await api(b.url, token).get(`/api/groups/${group.body.id}/sessions`)).body.sessions.map((x: { id: string }) => x.id);
    expect(await listed(sueToken)).toContain(session.id);
    expect(await listed(fredToken)).not.toContain(session.id);
    for (const f of freds) expect(await f.emitAck("session:watch", { sessionId: session.id })).toEqual(ackProblem("not-found"));

    await appendMessage(alice, a1, session.id, { content: "support matter" });
    expect((await alice.patch(path, { title: "Renamed" })).status).toBeLessThan(300);
    const started = await alice.post(`${path}/turns`, { content: "answer it" });
    expect(started.status).toBe(202);
    for (const s of sues) {
      await s.until(() => s.of("turn:ended").some((e) => e.sessionId === session.id), "the turn's end for the same role");
      await s.until(() => s.of("session:message").filter((m) => m.sessionId === session.id).length >= 3, "the messages for the same role");
      expect(s.of("session:updated").some((e) => e.sessionId === session.id)).toBe(true);
      expect(turnEvents(s, session.id).length).toBeGreaterThan(3);
    }
    // A sentinel on the same path: another group session of no role, pushed to Fred after all of the above.
    const master = api(a.url, rbacWs.masterKey);
    const unbound = await makeSession(master, a1);
    expect((await master.post(`/api/groups/${group.body.id}/sessions/${unbound.id}`)).status).toBe(201);
    await appendMessage(master, a1, unbound.id, { content: "for everyone" });
    for (const f of freds) {
      await f.until(() => f.of("session:message").some((m) => m.sessionId === unbound.id), "the sentinel");
      expect(ofSession(f, session.id)).toEqual([]);
      expect(f.of("group:session").map((e) => e.sessionId)).toEqual([unbound.id]);
    }
  });
});

describe("auth.since within bounds", () => {
  it("refuses a handshake naming more streams than a socket may receive (SOCKET_MAX_STREAMS), before looking any up", async () => {
    const named = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`ses_${i}_${uniq("x")}`, 0]));
    const token = await hub.other.token(uniq("mallory"));
    await expect(connect(hub.url, token, { since: { sessions: named(51) } })).rejects.toThrow("invalid auth.since: names more than 50 streams");
    await expect(connect(hub.url, token, { since: { sessions: named(30), channels: named(21) } })).rejects.toThrow("invalid auth.since: names more than 50 streams");
    const fine = await connect(hub.url, token, { since: { sessions: named(50) } });
    fine.close();
  });
});

describe("agent:event for turns not dispatched to the socket", () => {

  it("costs a flood of made-up turn ids no database lookup (in-process hub, every query counted)", async () => {
    const owner = hub.anon.as(await hub.ws.token(uniq("owner")));
    const agentId = await makeAgent(owner, uniq("agent"));
    const agent = startSocketAgent(hub.url, await makeKey(owner, agentId, ["turns:serve"]), { kind: "events", events: scriptedAnswer("still answers") });
    agents.push(agent);
    await agent.served;
    // The queries that name a made-up turn id: the lookup the flood must not cause. (Other
    // queries, such as the lease sweep's every few seconds, may run meanwhile and are no concern.)
    const queries: string[] = [];
    const count = (q: { sql?: string; bindings?: unknown[] }) => {
      if ((q.bindings ?? []).some((b) => typeof b === "string" && b.startsWith("trn_fake_"))) queries.push(q.sql ?? "");
    };
    hub.db.on("query", count);
    try {
      for (let i = 0; i < 2000; i++) agent.socket.emit("agent:event", { turnId: `trn_fake_${i}`, event: { type: "content_delta", delta: "x" } });
      // Packets are handled in order: once this ack is back, every flooded event has been.
      expect(await agent.socket.timeout(10_000).emitWithAck("agent:serve", {})).toEqual({ ok: true });
    } finally {
      hub.db.off("query", count);
    }
    expect(queries).toEqual([]);

    // The socket still answers a turn dispatched to it.
    const session = await makeSession(owner, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const started = await owner.post(`${path}/turns`, { content: "hello" });
    expect(started.status).toBe(202);
    await until(() => agent.sent.some((p) => (p as { event?: { type?: string } }).event?.type === "done"), "the answer sent");
    const done = await pollUntil(async () => (await owner.get(`${path}/turns/${started.body.turn.id}`)).body, (t) => t.status !== "queued" && t.status !== "running", "the turn to end");
    expect(done).toMatchObject({ status: "completed", snapshot: { content: "still answers" } });
  });

  it("drops them on a hub process in memory, counting them, while the socket answers its own turns on the other", async () => {
    const token = await ws.token(uniq("owner"));
    const owner = api(a.url, token);
    const agentId = await makeAgent(owner, uniq("agent"));
    const agent = serve(b.url, await makeKey(owner, agentId, ["turns:serve"]), scriptedAnswer("answered after the flood"));
    await agent.served;
    const socketId = agent.socket.id!;
    const N = 5000;
    for (let i = 0; i < N; i++) agent.socket.emit("agent:event", { turnId: `trn_fake_${i}`, event: { type: "content_delta", delta: "x" } });
    expect(await agent.socket.timeout(10_000).emitWithAck("agent:serve", {})).toEqual({ ok: true });

    // A turn started on node A is dispatched to the socket on node B and answered in full.
    const session = await makeSession(owner, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const watcher = await open(a.url, token);
    const started = await owner.post(`${path}/turns`, { content: "hello" });
    expect(started.status).toBe(202);
    await watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === started.body.turn.id), "the turn's end");
    expect(watcher.of("turn:ended").find((e) => e.turn.id === started.body.turn.id).turn.status).toBe("completed");

    await agent.close();
    const dropped = () => logged.filter((l) => l.socket === socketId && typeof l.ignoredAgentEvents === "number").reduce((n, l) => n + (l.ignoredAgentEvents as number), 0);
    await until(() => dropped() === N, `${N} dropped agent:events logged`, 10_000);
    // Logged at a bounded rate: the first one, then at most every 10 s, and the rest at disconnect.
    expect(logged.filter((l) => l.socket === socketId && typeof l.ignoredAgentEvents === "number").length).toBeLessThanOrEqual(3);
  });
});
