/**
 * Carries committed domain events to every hub process. With Redis: one pub/sub channel,
 * published after commit by the process that committed, received once by every process
 * (itself included). Without Redis: delivered in-process.
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { DomainEvent } from "../domain/events.js";

/** How long start waits for the events subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 5000;

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
  return {
    publish: (event) => {
      pub.publish(channel, JSON.stringify(event)).catch((err) => log.error({ err, event: event.type }, "could not publish event"));
    },
    onEvent: (h) => {
      handler = h;
    },
  };
}
