/**
 * The Redis event transport (src/realtime/transport.ts) on the real Redis: a process routes its
 * own events once, at once, and drops Redis's echo of them; every other process routes each
 * event once, in publish order, with the time it was published.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { DomainEvent } from "../../src/domain/events.js";
import { redisTransport } from "../../src/realtime/transport.js";
import { REDIS_URL } from "../support/env.js";
import { until } from "../support/waiters.js";

const log = pino({ level: "silent" });
const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
});

async function node(channel: string) {
  const [pub, sub] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
  clients.push(pub, sub);
  const transport = await redisTransport(pub, sub, channel, log);
  const received: Array<{ event: DomainEvent; publishedAt: number | undefined }> = [];
  transport.onEvent((event, publishedAt) => received.push({ event, publishedAt }));
  return { transport, received, pub };
}

const event = (i: number): DomainEvent =>
  ({ type: "channel.message", workspaceId: "ws", channelId: "ch", seq: i, message: { seq: i, message: `m${i}` } }) as unknown as DomainEvent;

describe("the Redis event transport", () => {
  it("routes a process's own events once and at once, and every other process's once, in order", async () => {
    const channel = `test:${randomUUID()}:events`;
    const [a, b] = [await node(channel), await node(channel)];
    const before = Date.now();
    for (let i = 1; i <= 20; i++) a.transport.publish(event(i));
    // Its own: in a microtask, before any answer from Redis.
    await Promise.resolve();
    expect(a.received.map((r) => (r.event as { seq: number }).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    await a.transport.settled();
    await until(() => b.received.length >= 20, "B to receive A's 20 events");
    // A third process publishes after all of them: once A and B have it from Redis, any echo of
    // A's events (to A) or second copy (to B) would have come before it on the same channel.
    const marker = await node(channel);
    marker.transport.publish(event(21));
    await until(() => a.received.length >= 21 && b.received.length >= 21, "A and B to receive a later event from Redis");

    const seqs = Array.from({ length: 21 }, (_, i) => i + 1);
    expect(a.received.map((r) => (r.event as { seq: number }).seq)).toEqual(seqs);
    expect(b.received.map((r) => (r.event as { seq: number }).seq)).toEqual(seqs);
    for (const r of b.received) {
      expect(r.event).not.toHaveProperty("origin");
      expect(r.event).not.toHaveProperty("publishedAt");
      expect(r.publishedAt).toBeGreaterThanOrEqual(before);
    }
    expect(b.received[0]!.event).toEqual(event(1));
  });

  it("answers settled() for a key revocation only once every other node has routed it", async () => {
    const channel = `test:${randomUUID()}:events`;
    const [a, b, c] = [await node(channel), await node(channel), await node(channel)];
    const revoked = { type: "key.revoked", workspaceId: "ws", keyId: "key_1" } as DomainEvent;
    a.transport.publish(revoked);
    await a.transport.settled();
    // No waiting: both other nodes had run their handler before settled() resolved.
    expect(b.received.map((r) => r.event)).toEqual([revoked]);
    expect(c.received.map((r) => r.event)).toEqual([revoked]);
  });

  it("stops waiting for a node that never confirms after a bound", async () => {
    const channel = `test:${randomUUID()}:events`;
    const a = await node(channel);
    // A subscriber that receives but never answers (a node that died, or an older hub).
    const mute = new Redis(REDIS_URL);
    clients.push(mute);
    await mute.subscribe(channel);
    a.transport.publish({ type: "key.revoked", workspaceId: "ws", keyId: "key_2" } as DomainEvent);
    const started = Date.now();
    await a.transport.settled();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("routes an event published without an origin (another tool on the channel) everywhere", async () => {
    const channel = `test:${randomUUID()}:events`;
    const a = await node(channel);
    await a.pub.publish(channel, JSON.stringify(event(7)));
    await until(() => a.received.length > 0, "the event from another tool");
    expect(a.received).toEqual([{ event: event(7), publishedAt: undefined }]);
  });
});
