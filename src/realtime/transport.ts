/**
 * Carries committed domain events to every hub process. The process that committed an event
 * routes it to its own sockets at once; with Redis it also publishes it on one pub/sub
 * channel, and every other process routes it on receipt (a process skips its own echo).
 * Without Redis there is only the local route.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { DomainEvent } from "../domain/events.js";

export interface EventTransport {
  publish(event: DomainEvent): void;
  onEvent(handler: (event: DomainEvent) => void): void;
}

interface Envelope {
  origin: string;
  event: DomainEvent;
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
  const origin = randomUUID();
  let handler: ((event: DomainEvent) => void) | undefined;
  sub.on("message", (ch: string, raw: string) => {
    if (ch !== channel) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw);
    } catch (err) {
      log.error({ err }, "unreadable event on the events channel");
      return;
    }
    if (envelope.origin !== origin) handler?.(envelope.event);
  });
  // ioredis re-subscribes by itself after a reconnect. If Redis is down at start, start anyway
  // (readiness reports it) rather than hang; delivery begins once Redis answers.
  const subscribed = sub.subscribe(channel);
  const waited = await Promise.race([
    subscribed.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
  ]);
  if (!waited) {
    log.warn({ channel }, "Redis is not answering; live events start once it does");
    subscribed.catch((err) => log.error({ err }, "could not subscribe to the events channel"));
  }
  return {
    publish: (event) => {
      const envelope: Envelope = { origin, event };
      pub.publish(channel, JSON.stringify(envelope)).catch((err) => log.error({ err, event: event.type }, "could not publish event"));
      queueMicrotask(() => handler?.(event));
    },
    onEvent: (h) => {
      handler = h;
    },
  };
}
