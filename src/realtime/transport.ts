/**
 * Carries committed domain events to every hub process. With Redis: one pub/sub channel (on a
 * Redis Cluster a sharded channel: SPUBLISH/SSUBSCRIBE on the shard that owns its slot),
 * published after commit by the process that committed and received once by every other
 * process; the committing process hands its own events to its router at once rather than
 * waiting for Redis to echo them (each event carries its process's origin, so the echo is
 * dropped). Streams stay in seq order on every node all the same: the router puts each stream
 * back in seq order (reorder.ts). Without Redis: delivered in-process.
 *
 * While Redis is away, events wait in a backlog bounded in count and bytes and are published in
 * order once it is back. Past the bound the oldest are dropped: stream messages dropped so are
 * still in Postgres (sockets fill seq gaps from there, and resuming clients replay with since),
 * and access changes are caught by the periodic re-check of live sockets.
 *
 * Each event travels with the time it was published (wall clock, ms), so receivers can measure
 * how long it took to reach their sockets.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { DomainEvent } from "../domain/events.js";
import { publishTo, subscribeTo, type RedisClient } from "../redis.js";
import { withTimeout } from "../timeout.js";

/** How long start waits for the events subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 5000;
const BACKLOG_MAX_EVENTS = 10_000;
const BACKLOG_MAX_BYTES = 16 * 1024 * 1024;
/**
 * Events the other nodes confirm having routed before `settled()` resolves: a revoked key must
 * be refused by every node once the revocation has answered, and a PUBLISH answered by Redis
 * is not yet an event read by every subscriber (the answer can be read first).
 */
const CONFIRMED_TYPES: ReadonlySet<string> = new Set(["key.revoked"]);
const CONFIRM_TIMEOUT_MS = 2000;

/** `publishedAt` is undefined for events sent without it (an older hub, the CLI). */
export type EventHandler = (event: DomainEvent, publishedAt: number | undefined) => void;

export interface EventTransport {
  publish(event: DomainEvent): void;
  onEvent(handler: EventHandler): void;
  /**
   * Resolves once every event published so far has been handed to Redis (or is held in the
   * backlog while Redis is away, or a cluster's retries took CONFIRM_TIMEOUT_MS), and every key
   * revocation among them has been routed by every other node that received it: each such node
   * answers with an ack once its handler has run (or CONFIRM_TIMEOUT_MS passed: a node that died
   * meanwhile, or one too old to answer).
   */
  settled(): Promise<void>;
}

export function localTransport(): EventTransport {
  let handler: EventHandler | undefined;
  return {
    publish: (event) => {
      const publishedAt = Date.now();
      queueMicrotask(() => handler?.(event, publishedAt));
    },
    onEvent: (h) => {
      handler = h;
    },
    // Handlers run in a microtask: one more turn of the queue and they have run.
    settled: () => new Promise<void>((resolve) => queueMicrotask(resolve)),
  };
}

export async function redisTransport(pub: RedisClient, sub: RedisClient, channel: string, log: Logger): Promise<EventTransport> {
  let handler: EventHandler | undefined;
  /** This process, on the events it publishes: their echo from Redis is not handled again. */
  const origin = randomUUID();
  // Events carry their origin first (`{"origin":"…",`), so this process's own echo is dropped
  // before it is parsed.
  const ownPrefix = `{"origin":${JSON.stringify(origin)},`;
  const received = (raw: string) => {
    if (raw.startsWith(ownPrefix)) return;
    let event: DomainEvent & { publishedAt?: unknown; origin?: unknown; confirm?: unknown; ack?: { origin?: unknown; n?: unknown } };
    try {
      event = JSON.parse(raw);
    } catch (err) {
      log.error({ err }, "unreadable event on the events channel");
      return;
    }
    const { publishedAt, origin: from, confirm, ack, ...rest } = event;
    if (ack) {
      if (ack.origin === origin && typeof ack.n === "number") confirmations.acked(ack.n);
      return;
    }
    handler?.(rest as DomainEvent, typeof publishedAt === "number" ? publishedAt : undefined);
    if (typeof confirm === "number" && typeof from === "string") {
      publishTo(pub, channel, JSON.stringify({ origin, ack: { origin: from, n: confirm } })).catch((err) => log.warn({ err }, "could not confirm an event"));
    }
  };
  // ioredis re-subscribes by itself after a reconnect (and, on a cluster, after a failover moved
  // the channel's slot). If Redis is down at start, start anyway (readiness reports it) rather
  // than hang; delivery begins once Redis answers.
  const subscribed = subscribeTo(sub, channel, received);
  const waited = await Promise.race([
    subscribed.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS).unref()),
  ]);
  if (!waited) {
    log.warn({ channel }, "Redis is not answering; live events start once it does");
    subscribed.catch((err) => log.error({ err }, "could not subscribe to the events channel"));
  }

  const backlog: string[] = [];
  let backlogBytes = 0;
  let dropped = 0;
  /** The last PUBLISH sent: Redis answers in order, so once it is answered all before it are. */
  let lastSent: Promise<unknown> = Promise.resolve();
  const confirmations = new Confirmations(CONFIRM_TIMEOUT_MS, log);
  const send = (raw: string, confirm?: number) => {
    const sent = publishTo(pub, channel, raw);
    lastSent = sent.catch((err) => log.error({ err }, "could not publish event"));
    // Every subscriber but this process's own connection answers.
    if (confirm !== undefined) sent.then((receivers) => confirmations.expect(confirm, receivers - 1), () => confirmations.expect(confirm, 0));
  };
  pub.on("ready", () => {
    if (!backlog.length) return;
    log.info({ events: backlog.length, dropped }, "Redis is back; publishing the events held meanwhile");
    for (const raw of backlog.splice(0)) void send(raw);
    backlogBytes = 0;
    dropped = 0;
  });

  return {
    publish: (event) => {
      const publishedAt = Date.now();
      // This process's own sockets at once (in publish order, like the in-process transport), in
      // a microtask: after the PUBLISH below has been written, so the other nodes' copy is on
      // its way before this node spends its time writing to its sockets.
      queueMicrotask(() => handler?.(event, publishedAt));
      const confirm = CONFIRMED_TYPES.has(event.type) ? confirmations.next() : undefined;
      const raw = JSON.stringify({ origin, publishedAt, ...(confirm !== undefined ? { confirm } : {}), ...event });
      if (pub.status === "ready" && !backlog.length) return void send(raw, confirm);
      // Held for later: nobody can confirm it now (the key cache's age bound covers the nodes).
      if (confirm !== undefined) confirmations.expect(confirm, 0);
      if (!backlog.length) log.warn("Redis is unavailable; holding events until it is back");
      backlog.push(raw);
      backlogBytes += Buffer.byteLength(raw);
      while (backlog.length > BACKLOG_MAX_EVENTS || backlogBytes > BACKLOG_MAX_BYTES) {
        backlogBytes -= Buffer.byteLength(backlog.shift()!);
        if (dropped++ === 0) log.warn({ maxEvents: BACKLOG_MAX_EVENTS, maxBytes: BACKLOG_MAX_BYTES }, "event backlog full; dropping the oldest");
      }
    },
    onEvent: (h) => {
      handler = h;
    },
    settled: async () => {
      // Bounded like the confirmations: on a Redis Cluster failing over, a PUBLISH is retried
      // until the replica takes over (seconds), and a revocation must not wait for it.
      await withTimeout(lastSent, CONFIRM_TIMEOUT_MS).catch(() => undefined);
      await confirmations.all();
    },
  };
}

/** This process's events awaiting acks from the other nodes, by number. */
class Confirmations {
  private seq = 0;
  private readonly waiting = new Map<number, { expected: number | undefined; acks: number; done: () => void; promise: Promise<void> }>();

  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** A new number to confirm; waited for from now. */
  next(): number {
    const n = ++this.seq;
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(() => {
      const w = this.waiting.get(n);
      if (w) this.log.warn({ confirm: n, expected: w.expected, acks: w.acks }, "not every node confirmed an event in time");
      finish();
    }, this.timeoutMs);
    timer.unref();
    const finish = () => {
      clearTimeout(timer);
      this.waiting.delete(n);
      done();
    };
    this.waiting.set(n, { expected: undefined, acks: 0, done: finish, promise });
    return n;
  }

  /** How many acks `n` needs (known once Redis says how many subscribers it reached). */
  expect(n: number, count: number): void {
    const w = this.waiting.get(n);
    if (!w) return;
    w.expected = count;
    if (w.acks >= count) w.done();
  }

  acked(n: number): void {
    const w = this.waiting.get(n);
    if (!w) return;
    w.acks++;
    if (w.expected !== undefined && w.acks >= w.expected) w.done();
  }

  all(): Promise<unknown> {
    return Promise.all([...this.waiting.values()].map((w) => w.promise));
  }
}
