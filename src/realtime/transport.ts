/**
 * Carries committed domain events to every hub process. With Redis: one pub/sub channel,
 * published after commit by the process that committed, received once by every process
 * (itself included). Without Redis: delivered in-process.
 *
 * While Redis is away, events wait in a backlog bounded in count and bytes and are published in
 * order once it is back. Past the bound the oldest are dropped: stream messages dropped so are
 * still in Postgres (sockets fill seq gaps from there, and resuming clients replay with since),
 * and access changes are caught by the periodic re-check of live sockets.
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { DomainEvent } from "../domain/events.js";

/** How long start waits for the events subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 5000;
const BACKLOG_MAX_EVENTS = 10_000;
const BACKLOG_MAX_BYTES = 16 * 1024 * 1024;

export interface EventTransport {
  publish(event: DomainEvent): void;
  onEvent(handler: (event: DomainEvent) => void): void;
}

export function localTransport(): EventTransport {
  let handler: ((event: DomainEvent) => void) | undefined;
  return {
    publish: (event) => queueMicrotask(() => handler?.(event)),
    onEvent: (h) => {
      handler = h;
    },
  };
}

export async function redisTransport(pub: Redis, sub: Redis, channel: string, log: Logger): Promise<EventTransport> {
  let handler: ((event: DomainEvent) => void) | undefined;
  sub.on("message", (ch: string, raw: string) => {
    if (ch !== channel) return;
    let event: DomainEvent;
    try {
      event = JSON.parse(raw);
    } catch (err) {
      log.error({ err }, "unreadable event on the events channel");
      return;
    }
    handler?.(event);
  });
  // ioredis re-subscribes by itself after a reconnect. If Redis is down at start, start anyway
  // (readiness reports it) rather than hang; delivery begins once Redis answers.
  const subscribed = sub.subscribe(channel);
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
  const send = (raw: string) => pub.publish(channel, raw).catch((err) => log.error({ err }, "could not publish event"));
  pub.on("ready", () => {
    if (!backlog.length) return;
    log.info({ events: backlog.length, dropped }, "Redis is back; publishing the events held meanwhile");
    for (const raw of backlog.splice(0)) void send(raw);
    backlogBytes = 0;
    dropped = 0;
  });

  return {
    publish: (event) => {
      const raw = JSON.stringify(event);
      if (pub.status === "ready" && !backlog.length) return void send(raw);
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
  };
}
