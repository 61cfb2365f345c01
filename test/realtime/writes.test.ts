/**
 * Fair broadcasts (src/realtime/writes.ts) on real Socket.IO connections: every socket gets the
 * message once and in order with whatever else it is sent; a broadcast writes `perTurn` sockets
 * at once and leaves the rest to later turns, so other work runs in between; each queued message
 * is reported (the slow-consumer bound); closed sockets are skipped.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { FairWrites } from "../../src/realtime/writes.js";
import { until } from "../support/waiters.js";

interface Rig {
  io: Server;
  clients: ClientSocket[];
  /** Server-side sockets, in the order the clients connected. */
  sockets: Socket[];
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  await Promise.all(rigs.splice(0).map((r) => r.close()));
});

async function rig(clients: number, transports = ["websocket"]): Promise<Rig> {
  const server = http.createServer();
  const io = new Server(server);
  const byId = new Map<string, Socket>();
  io.on("connection", (socket) => {
    byId.set(socket.id, socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r: Rig = {
    io,
    clients: [],
    sockets: [],
    close: async () => {
      for (const c of r.clients) c.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
  rigs.push(r);
  for (let i = 0; i < clients; i++) {
    const c = connectClient(url, { transports, forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      c.once("connect", resolve);
      c.once("connect_error", reject);
    });
    await until(() => byId.has(c.id!));
    r.clients.push(c);
    r.sockets.push(byId.get(c.id!)!);
  }
  return r;
}


/** Everything each client receives, as `event:n`. */
function record(r: Rig, events: string[]): string[][] {
  return r.clients.map((c) => {
    const got: string[] = [];
    for (const e of events) c.on(e, (p: { n: number }) => got.push(`${e}:${p.n}`));
    return got;
  });
}

const waiting = (s: Socket) => (s.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;

describe("fair broadcasts", () => {
  it("writes perTurn sockets at once and the rest in later turns, with other work in between", async () => {
    const r = await rig(6);
    const writes = new FairWrites(r.io.encoder, undefined, 2);
    const got = record(r, ["m"]);
    let seenBetween: number[] | undefined;
    setImmediate(() => (seenBetween = r.sockets.map(waiting)));
    expect(writes.send(r.sockets, "m", { n: 1 })).toBe(6);
    // Two written now; four queued on their connections.
    expect(r.sockets.map(waiting)).toEqual([0, 0, 1, 1, 1, 1]);
    let done = false;
    writes.afterQueued(() => (done = true));
    expect(done).toBe(false);
    await until(() => got.every((g) => g.length === 1));
    expect(done).toBe(true);
    // A callback queued behind the broadcast ran before its last sockets were written.
    expect(seenBetween?.filter((n) => n > 0).length).toBeGreaterThan(0);
    for (const g of got) expect(g).toEqual(["m:1"]);
  });

  it("queues a waiting connection once, however many messages wait on it, and writes them together", async () => {
    const r = await rig(3);
    const writes = new FairWrites(r.io.encoder, undefined, 1);
    const got = record(r, ["m"]);
    for (let n = 1; n <= 4; n++) writes.send(r.sockets, "m", { n });
    // The first message to the first socket was written at once; everything else waits, each
    // connection queued for one flush (11 entries without that).
    expect((writes as unknown as { due: unknown[] }).due).toHaveLength(3);
    await until(() => got.every((g) => g.length === 4), "every message");
    for (const g of got) expect(g).toEqual(["m:1", "m:2", "m:3", "m:4"]);
  });

  it("keeps each socket's order with what Socket.IO sends it meanwhile (acks, replays)", async () => {
    const r = await rig(5);
    const writes = new FairWrites(r.io.encoder, undefined, 1);
    const got = record(r, ["m", "direct"]);
    for (let n = 1; n <= 3; n++) {
      writes.send(r.sockets, "m", { n });
      // Sent to the last socket while its broadcasts still wait for their turn.
      r.sockets[4]!.emit("direct", { n });
    }
    writes.send(r.sockets, "m", { n: 4 });
    await until(() => got.every((g, i) => g.length === (i === 4 ? 7 : 4)));
    for (const g of got.slice(0, 4)) expect(g).toEqual(["m:1", "m:2", "m:3", "m:4"]);
    expect(got[4]).toEqual(["m:1", "direct:1", "m:2", "direct:2", "m:3", "direct:3", "m:4"]);
  });

  it("reports each queued message with its size, and skips sockets that are gone", async () => {
    const r = await rig(3);
    const queued: Array<[string, number]> = [];
    const writes = new FairWrites(r.io.encoder, (s, bytes) => queued.push([s.id, bytes]));
    r.sockets[1]!.disconnect(true);
    const got = record(r, ["m"]);
    expect(writes.send(r.sockets, "m", { n: 1, text: "x".repeat(100) })).toBe(2);
    expect(queued.map(([id]) => id)).toEqual([r.sockets[0]!.id, r.sockets[2]!.id]);
    // The message as it goes on the wire: "4" (engine.io message), "2" (Socket.IO event), the JSON array.
    const json = JSON.stringify(["m", { n: 1, text: "x".repeat(100) }]);
    expect(queued[0]![1]).toBe(2 + json.length);
    await until(() => got[0]!.length === 1 && got[2]!.length === 1);
    expect(got[1]).toEqual([]);
  });

  it("queues nothing on a socket that the report disconnects (a slow consumer cut)", async () => {
    const r = await rig(2);
    const writes = new FairWrites(r.io.encoder, (s) => {
      if (s === r.sockets[0]) s.disconnect(true);
    });
    const got = record(r, ["m"]);
    expect(writes.send(r.sockets, "m", { n: 1 })).toBe(1);
    await until(() => got[1]!.length === 1);
    // Its client sees the server's disconnect: anything queued before it would have arrived first.
    await until(() => !r.clients[0]!.connected, "the cut client to see its disconnect");
    expect(got[0]).toEqual([]);
  });

  it("reaches polling connections too (as browsers start)", async () => {
    const r = await rig(2, ["polling"]);
    const writes = new FairWrites(r.io.encoder, undefined, 1);
    const got = record(r, ["m"]);
    for (let n = 1; n <= 5; n++) writes.send(r.sockets, "m", { n });
    await until(() => got.every((g) => g.length === 5));
    for (const g of got) expect(g).toEqual(["m:1", "m:2", "m:3", "m:4", "m:5"]);
  });
});
