/** Per-socket limits: incoming payload size and event rate. */
import { pino } from "pino";
import type { Socket } from "socket.io";
import { describe, expect, it } from "vitest";
import { SocketLimits } from "../../src/realtime/limits.js";
import { testClock } from "../support/clock.js";
import { useHub } from "../support/hub.js";
import { ackProblem } from "../support/problem.js";
import { connect, type Client } from "../support/sockets.js";

/** Event-rate windows are read from this clock, so no test depends on where the wall clock is. */
const clock = testClock();
const hub = useHub({ redis: false, clock, env: { SOCKET_EVENTS_PER_10S: "5", SOCKET_MAX_PAYLOAD: "2kb" } });
const watchNothing = (c: Client) => c.emitAck("channel:watch", { channelId: "ch_none" });

describe("socket limits", () => {
  it("refuses events over the rate with a 429 ack, then disconnects at twice the rate", async () => {
    const c = await connect(hub.url, await hub.ws.token("chatty"));
    const acks = [];
    for (let i = 0; i < 7; i++) acks.push(await watchNothing(c));
    for (const ack of acks.slice(0, 5)) expect(ack).toEqual(ackProblem("not-found"));
    // The window opened when the socket connected, a few ticks of the test clock ago.
    expect(acks[5]).toEqual(ackProblem("rate-limited", { detail: "Slow down; retry after 10s" }));
    for (let i = 0; i < 5; i++) c.socket.emit("channel:watch", { channelId: "ch_none" }, () => {});
    await c.until(() => c.of("disconnect").length > 0, "disconnect");
    expect(c.of("hub:closing")[0]).toEqual({ reason: "rate limit exceeded" });
    expect(c.closed).toEqual({ reason: "io server disconnect", code: undefined });
    c.close();
  });

  it("lets events through again once their window has passed", async () => {
    const c = await connect(hub.url, await hub.ws.token("patient"));
    for (let i = 0; i < 5; i++) expect(await watchNothing(c)).toEqual(ackProblem("not-found"));
    expect(await watchNothing(c)).toEqual(ackProblem("rate-limited"));
    clock.advance(10_000);
    expect(await watchNothing(c)).toEqual(ackProblem("not-found"));
    expect(c.of("disconnect")).toEqual([]);
    c.close();
  });

  it("closes a socket that sends a packet over the payload limit", async () => {
    const c = await connect(hub.url, await hub.ws.token("bulky"));
    c.socket.emit("channel:watch", { channelId: "x".repeat(10_000) });
    await c.until(() => c.of("disconnect").length > 0, "disconnect");
    // maxHttpBufferSize is enforced by the WebSocket itself: it closes with 1009 (Message Too
    // Big), which the client sees as a transport close. The hub closes on purpose otherwise.
    expect(c.closed).toEqual({ reason: "transport close", code: 1009 });
    expect(c.of("hub:closing")).toEqual([]);
    c.close();
  });
});

describe("slow consumers", () => {
  const fakeSocket = (bufferedAmount: number) => {
    const calls: string[] = [];
    const socket = {
      id: "s1",
      conn: { writeBuffer: [], transport: { socket: { bufferedAmount } } },
      emit: (event: string, payload: { reason: string }) => calls.push(`${event}:${payload.reason}`),
      disconnect: () => calls.push("disconnect"),
    } as unknown as Socket;
    return { socket, calls };
  };
  const limits = new SocketLimits({ eventsPer10s: 100, agentEventsPer10s: 1000, maxBuffered: 1024 }, pino({ level: "silent" }), clock);

  it("leaves a socket that keeps up alone", () => {
    const { socket, calls } = fakeSocket(512);
    limits.checkBuffered(socket);
    expect(calls).toEqual([]);
  });

  it("disconnects a socket with more unsent data than the bound, with a reason", () => {
    const { socket, calls } = fakeSocket(4096);
    limits.checkBuffered(socket);
    expect(calls).toEqual(["hub:closing:slow consumer: too much undelivered data", "disconnect"]);
  });
});
