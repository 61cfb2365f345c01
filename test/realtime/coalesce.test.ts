/**
 * Write coalescing (src/realtime/coalesce.ts): what queues up for a connection while its
 * previous write is in flight leaves in one TCP write, in order. Counted on the server side of
 * real connections, against a server without coalescing as the control.
 */
import http from "node:http";
import type { AddressInfo, Socket as TcpSocket } from "node:net";
import { Server, type Socket } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { coalesceWrites } from "../../src/realtime/coalesce.js";
import { until } from "../support/waiters.js";

interface Rig {
  io: Server;
  clients: ClientSocket[];
  /** Server-side sockets, with the number of writes their TCP socket has made. */
  conns: Array<{ socket: Socket; writes: () => number }>;
  countWrites(i: number): void;
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  await Promise.all(rigs.splice(0).map((r) => r.close()));
});

/** The TCP socket under a server-side websocket connection. */
const tcpOf = (socket: Socket) => (socket.conn.transport as unknown as { socket: { _socket: TcpSocket } }).socket._socket;

/** Counts the writes (each one `write`/`writev` call into the kernel) a TCP socket makes. */
function countWrites(tcp: TcpSocket): () => number {
  let n = 0;
  const t = tcp as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = t._write.bind(tcp);
  const writev = t._writev.bind(tcp);
  t._write = (...a) => (n++, write(...a));
  t._writev = (...a) => (n++, writev(...a));
  return () => n;
}

async function rig(options: { coalesce: boolean; clients: number; transports?: string[] }): Promise<Rig> {
  const server = http.createServer();
  const io = new Server(server);
  if (options.coalesce) coalesceWrites(io.engine);
  const conns: Rig["conns"] = [];
  io.on("connection", (socket) => {
    conns.push({ socket, writes: () => 0 });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: ClientSocket[] = [];
  for (let i = 0; i < options.clients; i++) {
    const c = connectClient(url, { transports: options.transports ?? ["websocket"], forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      c.once("connect", resolve);
      c.once("connect_error", reject);
    });
    clients.push(c);
  }
  await until(() => conns.length === options.clients);
  const r: Rig = {
    io,
    clients,
    conns,
    countWrites: (i) => {
      conns[i]!.writes = countWrites(tcpOf(conns[i]!.socket));
    },
    close: async () => {
      for (const c of clients) c.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
  rigs.push(r);
  return r;
}


function received(client: ClientSocket, event: string): number[] {
  const got: number[] = [];
  client.on(event, (n: number) => got.push(n));
  return got;
}

/** Writes made while `send` runs and its messages reach every client. */
async function writesFor(r: Rig, expected: number, send: () => void): Promise<{ writes: number[]; got: number[][] }> {
  const got = r.clients.map((c) => received(c, "m"));
  const before = r.conns.map((c) => c.writes());
  send();
  await until(() => got.every((g) => g.length === expected));
  return { writes: r.conns.map((c, i) => c.writes() - before[i]!), got };
}

const burst = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("write coalescing", () => {
  it("sends a burst to one socket in two writes, in order (one per message without it)", async () => {
    for (const coalesce of [true, false]) {
      const r = await rig({ coalesce, clients: 1 });
      r.countWrites(0);
      const { writes, got } = await writesFor(r, 20, () => {
        for (const i of burst(20)) r.conns[0]!.socket.emit("m", i);
      });
      expect(got[0]).toEqual(burst(20));
      // The first message goes out at once; the 19 queued behind it leave together.
      if (coalesce) expect(writes[0]).toBe(2);
      else expect(writes[0]).toBeGreaterThanOrEqual(20);
    }
  });

  it("coalesces room broadcasts (the pre-encoded frames) per socket", async () => {
    const r = await rig({ coalesce: true, clients: 3 });
    for (const i of [0, 1, 2]) r.countWrites(i);
    const { writes, got } = await writesFor(r, 10, () => {
      for (const i of burst(10)) r.io.emit("m", i);
    });
    for (const g of got) expect(g).toEqual(burst(10));
    expect(writes).toEqual([2, 2, 2]);
  });

  it("coalesces connections upgraded from polling to websocket too (as browsers connect)", async () => {
    const r = await rig({ coalesce: true, clients: 1, transports: ["polling", "websocket"] });
    await until(() => r.conns[0]!.socket.conn.transport.name === "websocket");
    r.countWrites(0);
    const { writes, got } = await writesFor(r, 10, () => {
      for (const i of burst(10)) r.conns[0]!.socket.emit("m", i);
    });
    expect(got[0]).toEqual(burst(10));
    expect(writes[0]).toBe(2);
  });

  it("leaves polling connections alone, and they still get everything in order", async () => {
    const r = await rig({ coalesce: true, clients: 1, transports: ["polling"] });
    const { got } = await writesFor(r, 10, () => {
      for (const i of burst(10)) r.conns[0]!.socket.emit("m", i);
    });
    expect(got[0]).toEqual(burst(10));
  });

  it("a single message is one write, sent at once", async () => {
    const r = await rig({ coalesce: true, clients: 1 });
    r.countWrites(0);
    const { writes } = await writesFor(r, 1, () => r.conns[0]!.socket.emit("m", 0));
    expect(writes[0]).toBe(1);
  });
});
