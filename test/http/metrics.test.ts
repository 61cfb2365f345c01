/**
 * Operability: `GET /metrics` (Prometheus text, per hub, behind METRICS_TOKEN when set) moves
 * when its events happen (a socket connects, a channel message is delivered, turns run and fail,
 * a rate limit refuses), and `GET /readyz` reports each dependency and fails while draining.
 * Two hubs run in this process: their registries must not clash.
 */
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { HubMetrics } from "../../src/observability/metrics.js";
import { cutSocket } from "../../src/realtime/sockets.js";
import { api, type Api } from "../support/api.js";
import { startAgentServer, type AgentServer } from "../support/agent-server.js";
import { makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { spawnHub, startTestHub, useHub } from "../support/hub.js";
import { expectProblem, problemType } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { connect, type Client } from "../support/sockets.js";
import { pollUntil } from "../support/waiters.js";

const TOKEN = "metrics-token-0123456789";
/** On Redis, with the metrics token set. */
const hub = useHub({ env: { METRICS_TOKEN: TOKEN, AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
/**
 * Without Redis, with tight limits for the 429s. A hub on Postgres keeps /metrics off without
 * METRICS_TOKEN (test/security/edge.test.ts), so this one has the token too.
 */
const limited = useHub({ redis: false, env: { METRICS_TOKEN: TOKEN, RATE_LIMIT_PER_10S: "3", SOCKET_EVENTS_PER_10S: "2" } });

const clients: Client[] = [];
const agents: SocketAgent[] = [];
const servers: AgentServer[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...agents.map((a) => a.close()), ...servers.map((s) => s.close())]);
});

async function open(url: string, token: string): Promise<Client> {
  const c = await connect(url, token);
  clients.push(c);
  return c;
}

/** The hub's metrics as Prometheus text. */
async function scrape(url = hub.url, token: string | undefined = TOKEN): Promise<string> {
  const res = await api(url, token).raw("/metrics", { method: "GET" });
  expect(res.status).toBe(200);
  return res.text;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there are none). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Scrapes until `predicate` holds over the text (for what settles after the client's view, like a disconnect). */
function scrapeUntil(predicate: (text: string) => boolean, what: string, url = hub.url, token: string | undefined = TOKEN): Promise<string> {
  return pollUntil(() => scrape(url, token), predicate, what);
}

const FAMILIES = [
  ["agenthub_sockets_connected", "gauge"],
  ["agenthub_rooms", "gauge"],
  ["agenthub_events_routed_total", "counter"],
  ["agenthub_events_delivered_total", "counter"],
  ["agenthub_delivery_lag_seconds", "histogram"],
  ["agenthub_turns_running", "gauge"],
  ["agenthub_approvals_total", "counter"],
  ["agenthub_approval_wait_seconds", "histogram"],
  ["agenthub_turns_finished_total", "counter"],
  ["agenthub_turn_duration_seconds", "histogram"],
  ["agenthub_agent_request_errors_total", "counter"],
  ["agenthub_http_requests_total", "counter"],
  ["agenthub_http_request_duration_seconds", "histogram"],
  ["agenthub_db_pool_connections", "gauge"],
  ["agenthub_db_pool_pending_acquires", "gauge"],
  ["agenthub_redis_connected", "gauge"],
  ["agenthub_rate_limit_refusals_total", "counter"],
  ["agenthub_slow_consumer_disconnects_total", "counter"],
  ["process_cpu_user_seconds_total", "counter"],
  ["nodejs_heap_size_used_bytes", "gauge"],
] as const;

describe("GET /metrics", () => {
  it("requires the metrics token when METRICS_TOKEN is set", async () => {
    const none = await api(hub.url).get("/metrics");
    expectProblem(none, "unauthorized");
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expectProblem(await api(hub.url, "not-the-token").get("/metrics"), "unauthorized");
    // Another credential of the hub is no metrics token.
    expectProblem(await api(hub.url, hub.ws.masterKey).get("/metrics"), "unauthorized");
    const ok = await api(hub.url, TOKEN).raw("/metrics", { method: "GET" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expectProblem(await api(limited.url).get("/metrics"), "unauthorized");
  });

  it("names every family as Prometheus expects, each hub with its own registry", async () => {
    const text = await scrape();
    for (const [name, type] of FAMILIES) expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
    expect(value(text, "agenthub_redis_connected", { client: "pub" })).toBe(1);
    expect(text).toMatch(/^agenthub_db_pool_connections\{state="used"\} \d+$/m);
    // The hub without Redis has no Redis clients to report, and counts on its own.
    const other = await scrape(limited.url);
    expect(other).not.toContain('agenthub_redis_connected{client="pub"}');
    expect(other).toContain("# TYPE agenthub_http_requests_total counter\n");
  });

  it("ships a Grafana dashboard over exactly the hub's own families", async () => {
    const dashboard = readFileSync(new URL("../../ops/grafana-dashboard.json", import.meta.url), "utf8");
    const used = new Set([...dashboard.matchAll(/\b(agenthub_\w+?)(?:_bucket|_count|_sum)?\b/g)].map((m) => m[1]));
    const served = new Set([...(await scrape()).matchAll(/^# TYPE (agenthub_\w+) /gm)].map((m) => m[1]));
    expect([...used].sort()).toEqual([...served].sort());
    expect(JSON.parse(dashboard).templating.list[0]).toMatchObject({ type: "datasource", query: "prometheus" });
  });

  it("counts HTTP requests by route pattern and status, never by raw path", async () => {
    const alice = api(hub.url, await hub.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("routes"));
    expect((await alice.get(`/api/agents/${agentId}`)).status).toBe(200);
    expectProblem(await alice.get("/api/agents/no-such-agent"), "not-found");
    expectProblem(await alice.get(`/nowhere/${agentId}`), "not-found");
    const text = await scrape();
    expect(value(text, "agenthub_http_requests_total", { method: "GET", route: "/api/agents/:agentId", status: "200" })).toBeGreaterThanOrEqual(1);
    expect(value(text, "agenthub_http_requests_total", { method: "GET", route: "/api/agents/:agentId", status: "404" })).toBeGreaterThanOrEqual(1);
    expect(value(text, "agenthub_http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBeGreaterThanOrEqual(1);
    expect(value(text, "agenthub_http_request_duration_seconds_count", { method: "GET", route: "/api/agents/:agentId" })).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain(agentId);
  });

  it("counts sockets by credential kind and their rooms, up on connect and down on disconnect", async () => {
    const before = await scrape();
    const users = value(before, "agenthub_sockets_connected", { kind: "user" });
    const alice = await open(hub.url, await hub.ws.token(uniq("alice")));
    const master = await open(hub.url, hub.ws.masterKey);
    const during = await scrape();
    expect(value(during, "agenthub_sockets_connected", { kind: "user" })).toBe(users + 1);
    expect(value(during, "agenthub_sockets_connected", { kind: "master" })).toBe(value(before, "agenthub_sockets_connected", { kind: "master" }) + 1);
    expect(value(during, "agenthub_rooms")).toBeGreaterThan(value(before, "agenthub_rooms"));
    alice.close();
    master.close();
    await scrapeUntil((t) => value(t, "agenthub_sockets_connected", { kind: "user" }) === users, "the user socket to be gone");
  });

  it("counts a channel message routed and delivered, and observes its publish-to-socket lag", async () => {
    const token = await hub.ws.token("alice");
    const alice = api(hub.url, token);
    const agentId = await makeAgent(alice, uniq("chan-agent"));
    const channelId = (await alice.post("/team-channels", { name: uniq("chan") })).body.id as string;
    const watcher = await open(hub.url, token);
    expect((await watcher.emitAck("channel:watch", { channelId })).ok).toBe(true);
    const before = await scrape();

    expect((await alice.post(`/team-channels/${channelId}/messages`, { agentId, message: "hello" })).status).toBe(201);
    await watcher.until(() => watcher.of("channel:message").some((m) => m.channelId === channelId), "the channel message");

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(moved("agenthub_events_routed_total", { type: "channel.message" })).toBeGreaterThanOrEqual(1);
    expect(moved("agenthub_events_delivered_total", { event: "channel:message" })).toBeGreaterThanOrEqual(1);
    expect(moved("agenthub_delivery_lag_seconds_count")).toBeGreaterThanOrEqual(1);
  });

  it("follows turns: running while they run, finished by outcome with their durations", async () => {
    const token = await hub.ws.token("alice");
    const alice = api(hub.url, token);
    const agentId = await makeAgent(alice, uniq("turn-agent"));
    // The first turn waits (until it is cancelled); the second answers at once.
    const agent = startSocketAgent(hub.url, await makeKey(alice, agentId, ["turns:serve"]), (_request, index) =>
      index === 0
        ? { kind: "events", events: [{ event: { type: "message_start", role: "assistant", model: "test-agent" }, delayMs: 60_000 }], onCancel: "end" }
        : { kind: "events", events: scriptedAnswer("All quiet.") },
    );
    agents.push(agent);
    await agent.served;
    const session = await makeSession(alice, agentId);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const watcher = await open(hub.url, token);
    await watcher.emitAck("session:watch", { sessionId: session.id });
    const ended = (id: string) => watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === id), `turn ${id} to end`);
    const before = await scrape();
    const running = value(before, "agenthub_turns_running");

    const waiting = (await alice.post(`${path}/turns`, { content: "wait" })).body.turn;
    expect(value(await scrape(), "agenthub_turns_running")).toBe(running + 1);
    expect((await alice.post(`${path}/turns/${waiting.id}/cancel`)).status).toBe(202);
    await ended(waiting.id);
    const answered = (await alice.post(`${path}/turns`, { content: "how is it?" })).body.turn;
    await ended(answered.id);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(value(after, "agenthub_turns_running")).toBe(running);
    expect(moved("agenthub_turns_finished_total", { outcome: "cancelled" })).toBe(1);
    expect(moved("agenthub_turns_finished_total", { outcome: "completed" })).toBe(1);
    expect(moved("agenthub_turn_duration_seconds_count", { outcome: "completed" })).toBe(1);
    expect(moved("agenthub_turn_duration_seconds_count", { outcome: "cancelled" })).toBe(1);
    expect(moved("agenthub_events_routed_total", { type: "turn.event" })).toBeGreaterThanOrEqual(1);
    expect(moved("agenthub_events_delivered_total", { event: "turn:event" })).toBeGreaterThanOrEqual(1);
  });

  it("counts a failed call to an HTTP agent server", async () => {
    const server = await startAgentServer({ status: 400, body: '{"error":"no"}' });
    servers.push(server);
    const token = await hub.ws.token("alice");
    const alice = api(hub.url, token);
    const agentId = uniq("http-agent");
    expect((await alice.post("/api/agents", { id: agentId, name: "HTTP agent", server_url: server.url })).status).toBe(201);
    const session = await makeSession(alice, agentId);
    const watcher = await open(hub.url, token);
    await watcher.emitAck("session:watch", { sessionId: session.id });
    const before = await scrape();
    const { turn } = (await alice.post(`/api/agents/${agentId}/sessions/${session.id}/turns`, { content: "hi" })).body;
    await watcher.until(() => watcher.of("turn:ended").some((e) => e.turn.id === turn.id), "the failed turn");
    const after = await scrape();
    expect(watcher.of("turn:ended").find((e) => e.turn.id === turn.id).turn.status).toBe("failed");
    expect(value(after, "agenthub_agent_request_errors_total", { phase: "request" }) - value(before, "agenthub_agent_request_errors_total", { phase: "request" })).toBe(1);
    expect(value(after, "agenthub_turns_finished_total", { outcome: "failed" }) - value(before, "agenthub_turns_finished_total", { outcome: "failed" })).toBe(1);
  });

  it("counts a slow consumer cut off, in that hub's registry only", async () => {
    const [mine, other] = [new HubMetrics(), new HubMetrics()];
    const socket = { emit: () => true, disconnect: () => socket, conn: {} } as unknown as Parameters<typeof cutSocket>[0];
    cutSocket(socket, "slow consumer: too much undelivered data", mine);
    expect(value(await mine.registry.metrics(), "agenthub_slow_consumer_disconnects_total")).toBe(1);
    expect(value(await other.registry.metrics(), "agenthub_slow_consumer_disconnects_total")).toBe(0);
  });

  it("counts rate-limit refusals: a REST 429 and a socket event's 429", async () => {
    const busy: Api = api(limited.url, await limited.ws.token(uniq("busy")));
    const before = await scrape(limited.url);
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) refused = (await busy.get("/api/me")).status === 429;
    expect(refused).toBe(true);
    const socket = await open(limited.url, await limited.ws.token(uniq("chatty")));
    let acked: { ok: boolean; error?: { type: string } } | undefined;
    for (let i = 0; i < 4 && acked?.error?.type !== problemType("rate-limited"); i++) acked = await socket.emitAck("session:unwatch", { sessionId: "ses_nope" });
    expect(acked?.error?.type).toBe(problemType("rate-limited"));

    const after = await scrape(limited.url);
    const moved = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(moved("agenthub_rate_limit_refusals_total", { transport: "http" })).toBeGreaterThanOrEqual(1);
    expect(moved("agenthub_rate_limit_refusals_total", { transport: "socket" })).toBeGreaterThanOrEqual(1);
    expect(moved("agenthub_http_requests_total", { route: "/api/me", status: "429" })).toBeGreaterThanOrEqual(1);
  });
});

describe("GET /readyz", () => {
  it("reports each dependency: Postgres and Redis up, or Redis embedded without it", async () => {
    const res = await api(hub.url).get("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: "ready",
      checks: { postgres: { status: "up", latency_ms: expect.any(Number) }, redis: { status: "up", latency_ms: expect.any(Number) } },
    });
    expect((await api(limited.url).get("/readyz")).body).toEqual({
      status: "ready",
      checks: { postgres: { status: "up", latency_ms: expect.any(Number) }, redis: { status: "embedded" } },
    });
  });

  it("fails (503) as soon as the hub drains, while the hub still serves", async () => {
    const draining = await startTestHub();
    try {
      draining.drain();
      const res = await api(draining.url).get("/readyz");
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({
        type: problemType("not-ready"),
        title: "Service Unavailable",
        status: 503,
        detail: "The hub is shutting down",
        readiness: "draining",
        checks: { postgres: { status: "up", latency_ms: expect.any(Number) }, redis: { status: "up", latency_ms: expect.any(Number) } },
      });
      expect((await api(draining.url).get("/healthz")).status).toBe(200);
    } finally {
      await draining.close();
    }
  });

  it("fails on SIGTERM for SHUTDOWN_DELAY_MS before the process stops taking connections", async () => {
    const proc = await spawnHub({ env: { SHUTDOWN_DELAY_MS: "60000" } });
    try {
      expect((await api(proc.url).get("/readyz")).status).toBe(200);
      proc.child.kill("SIGTERM");
      const deadline = Date.now() + 10_000;
      let res = await api(proc.url).get("/readyz");
      while (res.status === 200 && Date.now() < deadline) res = await api(proc.url).get("/readyz");
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ type: problemType("not-ready"), readiness: "draining", checks: { postgres: { status: "up" } } });
    } finally {
      await proc.stop("SIGKILL");
    }
  }, 30_000);
});
