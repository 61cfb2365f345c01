/**
 * The hub's Prometheus metrics, one registry per hub (several hubs in one process do not clash),
 * served at `GET /metrics`. The rest of the hub reports through the thin hooks below; the domain
 * knows nothing of this: turns are counted from the committed events on the EventBus, and sockets,
 * rooms, the database pool and Redis are read when Prometheus scrapes.
 *
 * Counts are per process: sum them over processes (the Grafana dashboard in ops/ does).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Db } from "../db.js";
import type { DomainEvent, EventBus } from "../domain/events.js";
import type { RedisClients } from "../redis.js";

/** The fields of a committed event that reach sockets as (part of) a payload, by identity. */
const CARRIED = ["message", "event", "session", "turn"] as const;

const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const TURN_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** What the sockets gauges read at scrape time (Socket.IO's main namespace). */
export interface SocketsView {
  sockets: Map<string, { data: { principal?: { kind: string } } }>;
  adapter: { rooms: Map<string, unknown> };
}

export class HubMetrics {
  readonly registry = new Registry();
  /** Publish times of live events, keyed by the objects they carry to sockets (see stamp). */
  private readonly stamps = new WeakMap<object, number>();

  private readonly eventsRouted = this.counter("agenthub_events_routed_total", "Committed events received for routing to this process's sockets, by event type", ["type"]);
  private readonly eventsDelivered = this.counter("agenthub_events_delivered_total", "Events written to sockets (one per socket), by socket event", ["event"]);
  private readonly deliveryLag = new Histogram({
    name: "agenthub_delivery_lag_seconds",
    help: "From an event's publication after commit to its write on the sockets",
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });
  private readonly turnsRunning = new Gauge({
    name: "agenthub_turns_running",
    help: "Turns started minus turns ended by this process (summed over processes: the turns running)",
    registers: [this.registry],
  });
  private readonly turnsFinished = this.counter("agenthub_turns_finished_total", "Turns ended, by outcome", ["outcome"]);
  private readonly turnDuration = new Histogram({
    name: "agenthub_turn_duration_seconds",
    help: "How long ended turns ran (started to ended), by outcome",
    labelNames: ["outcome"],
    buckets: TURN_BUCKETS,
    registers: [this.registry],
  });
  private readonly approvals = this.counter(
    "agenthub_approvals_total",
    "Approvals committed by this process: asked (`asked`), then settled, by outcome (approved, rejected, expired, cancelled)",
    ["status"],
  );
  private readonly approvalWait = new Histogram({
    name: "agenthub_approval_wait_seconds",
    help: "From an approval being asked to its settlement, by outcome: how long turns wait for people",
    labelNames: ["status"],
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
    registers: [this.registry],
  });
  private readonly agentErrors = this.counter(
    "agenthub_agent_request_errors_total",
    "Failed calls to HTTP agent servers (after retries), by phase: before the answer streamed, or while it did",
    ["phase"],
  );
  private readonly httpRequests = this.counter("agenthub_http_requests_total", "HTTP requests answered, by method, route pattern and status", ["method", "route", "status"]);
  private readonly httpDuration = new Histogram({
    name: "agenthub_http_request_duration_seconds",
    help: "HTTP request latency, by method and route pattern",
    labelNames: ["method", "route"],
    registers: [this.registry],
  });
  private readonly rateLimited = this.counter("agenthub_rate_limit_refusals_total", "Requests refused by a rate limit: REST 429s, socket events and handshakes", [
    "transport",
  ]);
  private readonly protocolStreamsTotal = this.counter("agenthub_protocol_streams_total", "Turn streams answered over HTTP (SSE), by format (sharely, agui, ui-message; a2a, mcp for those protocols' streams) and whether they resumed", [
    "format",
    "resumed",
  ]);
  private readonly protocolStreamsOpen = new Gauge({
    name: "agenthub_protocol_streams_open",
    help: "Turn streams (SSE) open on this process, by format",
    labelNames: ["format"],
    registers: [this.registry],
  });
  private readonly protocolStreamCuts = this.counter("agenthub_protocol_stream_cuts_total", "Turn streams (SSE) cut because their reader fell behind, by format", ["format"]);
  private readonly slowConsumers = this.counter("agenthub_slow_consumer_disconnects_total", "Sockets cut off because they did not read what they were sent", []);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Known label values start at 0, so the first increase shows in rate() and increase().
    for (const outcome of ["completed", "failed", "cancelled"]) this.turnsFinished.inc({ outcome }, 0);
    for (const phase of ["request", "stream"]) this.agentErrors.inc({ phase }, 0);
    for (const transport of ["http", "socket"]) this.rateLimited.inc({ transport }, 0);
  }

  // --- hooks -----------------------------------------------------------------------------

  /**
   * A committed event arrived for routing. Its publish time is kept against the objects it
   * carries to sockets (its message, turn event, session or turn), so the write can be timed.
   */
  routed(event: DomainEvent, publishedAt: number | undefined): void {
    this.eventsRouted.inc({ type: event.type });
    if (publishedAt === undefined) return;
    for (const field of CARRIED) {
      const carried = (event as Record<string, unknown>)[field];
      if (carried && typeof carried === "object") this.stamps.set(carried, publishedAt);
    }
  }

  /** `payload` was written as `event` to `sockets` sockets. A live event's lag is observed once per write. */
  wrote(event: string, payload: unknown, sockets: number): void {
    if (sockets <= 0) return;
    this.eventsDelivered.inc({ event }, sockets);
    const publishedAt = this.publishedAt(payload);
    if (publishedAt !== undefined) this.deliveryLag.observe(Math.max(0, Date.now() - publishedAt) / 1000);
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  rateLimit(transport: "http" | "socket"): void {
    this.rateLimited.inc({ transport });
  }

  slowConsumer(): void {
    this.slowConsumers.inc();
  }

  /** A turn stream (SSE) opened; answers what to call when it closes. */
  streamOpened(format: string, resumed: boolean): () => void {
    this.protocolStreamsTotal.inc({ format, resumed: String(resumed) });
    this.protocolStreamsOpen.inc({ format });
    return () => this.protocolStreamsOpen.dec({ format });
  }

  /** A turn stream was cut: its reader did not read what it was sent. */
  streamCut(format: string): void {
    this.protocolStreamCuts.inc({ format });
  }

  /** Hooks for one protocol's streams (A2A, MCP), counted as turn streams of that format. */
  protocolStreams(protocol: string): { opened(): void; closed(): void; slowReader(): void } {
    return {
      opened: () => void this.streamOpened(protocol, false),
      closed: () => this.protocolStreamsOpen.dec({ format: protocol }),
      slowReader: () => this.streamCut(protocol),
    };
  }

  agentError(beforeFirstByte: boolean): void {
    this.agentErrors.inc({ phase: beforeFirstByte ? "request" : "stream" });
  }

  // --- what is read at scrape time, or followed from the event bus -------------------------

  /** Turns started and ended by this process, and approvals asked and settled, from its committed events. */
  followTurns(bus: EventBus): () => void {
    return bus.subscribe((event) => {
      if (event.type === "turn.approval") return this.followApproval(event.approval as { status: string; decisions: unknown[]; created_at: string; decided_at: string | null });
      if (event.type === "turn.started") this.turnsRunning.inc();
      if (event.type !== "turn.ended") return;
      this.turnsRunning.dec();
      const turn = event.turn as { status?: string; started_at?: string | null; created_at?: string; ended_at?: string | null };
      const outcome = turn.status ?? "unknown";
      this.turnsFinished.inc({ outcome });
      const from = Date.parse(turn.started_at ?? turn.created_at ?? "");
      const to = Date.parse(turn.ended_at ?? "");
      if (Number.isFinite(from) && Number.isFinite(to)) this.turnDuration.observe({ outcome }, Math.max(0, to - from) / 1000);
    });
  }

  private followApproval(a: { status: string; decisions: unknown[]; created_at: string; decided_at: string | null }): void {
    if (a.status === "pending") {
      if (!a.decisions.length) this.approvals.inc({ status: "asked" });
      return;
    }
    this.approvals.inc({ status: a.status });
    const waited = Date.parse(a.decided_at ?? "") - Date.parse(a.created_at);
    if (Number.isFinite(waited)) this.approvalWait.observe({ status: a.status }, Math.max(0, waited) / 1000);
  }

  /** Sockets by credential kind, and rooms, on this process. */
  watchSockets(nsp: SocketsView): void {
    new Gauge({
      name: "agenthub_sockets_connected",
      help: "Sockets connected to this process, by credential kind (user, agent, master)",
      labelNames: ["kind"],
      registers: [this.registry],
      collect() {
        this.reset();
        const kinds: Record<string, number> = { user: 0, agent: 0, master: 0 };
        for (const socket of nsp.sockets.values()) {
          const kind = socket.data.principal?.kind ?? "unknown";
          kinds[kind] = (kinds[kind] ?? 0) + 1;
        }
        for (const [kind, n] of Object.entries(kinds)) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: "agenthub_rooms",
      help: "Rooms with at least one socket on this process (each socket's own room left out)",
      registers: [this.registry],
      collect() {
        this.set(Math.max(0, nsp.adapter.rooms.size - nsp.sockets.size));
      },
    });
  }

  /** The knex pool: connections in use and idle, and queries waiting for one. */
  watchPool(db: Db): void {
    const pool = () =>
      (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
    new Gauge({
      name: "agenthub_db_pool_connections",
      help: "Postgres pool connections, by state (used, free)",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        const p = pool();
        this.set({ state: "used" }, p?.numUsed() ?? 0);
        this.set({ state: "free" }, p?.numFree() ?? 0);
      },
    });
    new Gauge({
      name: "agenthub_db_pool_pending_acquires",
      help: "Queries waiting for a Postgres pool connection",
      registers: [this.registry],
      collect() {
        this.set(pool()?.numPendingAcquires() ?? 0);
      },
    });
  }

  /** 1 while a Redis client is connected and ready, 0 otherwise; one series per client. */
  watchRedis(clients: RedisClients): void {
    new Gauge({
      name: "agenthub_redis_connected",
      help: "Whether each Redis client is connected and ready (1) or not (0)",
      labelNames: ["client"],
      registers: [this.registry],
      collect() {
        for (const [client, redis] of Object.entries(clients)) this.set({ client }, redis.status === "ready" ? 1 : 0);
      },
    });
  }

  private publishedAt(payload: unknown): number | undefined {
    if (!payload || typeof payload !== "object") return undefined;
    const direct = this.stamps.get(payload);
    if (direct !== undefined) return direct;
    for (const field of CARRIED) {
      const carried = (payload as Record<string, unknown>)[field];
      if (carried && typeof carried === "object") {
        const at = this.stamps.get(carried);
        if (at !== undefined) return at;
      }
    }
    return undefined;
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** Whether `authorization` carries the metrics token; compared in constant time. */
export function metricsTokenMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (!m) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(m[1]!.trim()), digest(token));
}
