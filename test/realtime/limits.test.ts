/** Per-socket limits: incoming payload size and event rate. */
import { pino } from "pino";
import type { Socket } from "socket.io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketLimits } from "../../src/realtime/limits.js";
import type { Hub } from "../../src/server.js";
import { makeWorkspace, type TestWorkspace } from "../support/factories.js";
import { startTestHub } from "../support/hub.js";
import { connect } from "../support/sockets.js";

let hub: Hub;
let ws: TestWorkspace;

beforeAll(async () => {
  hub = await startTestHub({ redis: false, env: { SOCKET_EVENTS_PER_10S: "5", SOCKET_MAX_PAYLOAD: "2kb" } });
  ws = await makeWorkspace(hub.db);
});
afterAll(() => hub?.close());

describe("socket limits", () => {
  it("refuses events over the rate with a 429 ack, then disconnects at twice the rate", async () => {
    const c = await connect(hub.url, await ws.token("chatty"));
    const acks = [];
    for (let i = 0; i < 7; i++) acks.push(await c.emitAck("channel:watch", { channelId: "ch_none" }));
    expect(acks.slice(0, 5).every((a) => a.error?.status === 404)).toBe(true);
    expect(acks[5]).toMatchObject({ ok: false, error: { status: 429 } });
    for (let i = 0; i < 5; i++) c.socket.emit("channel:watch", { channelId: "ch_none" }, () => {});
    await c.until(() => c.of("disconnect").length > 0, "disconnect");
    expect(c.of("hub:closing")[0]).toEqual({ reason: "rate limit exceeded" });
    c.close();
  });

  it("closes a socket that sends a packet over the payload limit", async () => {
    const c = await connect(hub.url, await ws.token("bulky"));
    c.socket.emit("channel:watch", { channelId: "x".repeat(10_000) });
    await c.until(() => c.of("disconnect").length > 0, "disconnect");
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
  const limits = new SocketLimits({ eventsPer10s: 100, maxBuffered: 1024 }, pino({ level: "silent" }));

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
