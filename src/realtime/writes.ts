/**
 * Broadcasts to a list of sockets, lean and fair to the rest of the event loop.
 *
 * Lean: the message is encoded once, with its websocket frame (as Socket.IO's own broadcasts
 * do), and the same engine.io packet is queued on every socket's connection, without the
 * per-socket work a Socket.IO broadcast adds on top (room lookups, argument arrays for its
 * disabled debug logging, one `packetCreate` event per socket).
 *
 * Fair: the expensive part of a broadcast is the writes, one `writev` into the kernel per socket.
 * Written all at once, a broadcast to 500 sockets held the event loop for 15–20 ms, and a
 * request, a Postgres reply or a Redis message that arrived meanwhile waited for all of it (and
 * the next message's durable insert is exactly such a reply). So a broadcast queues its message
 * on every socket (cheap), writes the first `perTurn` of them at once, and leaves the rest to
 * later turns of the event loop, `perTurn` a turn, with whatever I/O is ready handled in
 * between. Nothing waits to build a batch: an idle node writes to the first `perTurn` sockets at
 * once, and a connection still waiting for its turn when the next message comes sends both in
 * one write (see coalesce.ts).
 *
 * Bounds: the queue holds each waiting connection once (at most one entry per socket); the
 * messages themselves wait in engine.io's buffers, which the slow-consumer bound (`onQueue`,
 * limits.ts) caps in bytes per socket.
 *
 * Order is kept per socket: whatever else Socket.IO sends a socket (an ack, a replay) goes into
 * the same engine.io buffer behind what a broadcast queued there, and whoever flushes first
 * writes both, in order.
 */
import { createRequire } from "node:module";
import type { Socket } from "socket.io";

/** ws's frame builder (the one Socket.IO's adapter uses for its pre-encoded frames). */
const { Sender } = createRequire(import.meta.url)("ws") as {
  Sender: { frame(data: Buffer, options: { readOnly: boolean; mask: boolean; rsv1: boolean; opcode: number; fin: boolean }): unknown };
};

/** Sockets written at once by one callback, and in each later turn of the event loop. */
export const WRITES_PER_TURN = 64;

/** Socket.IO's EVENT packet type, and its encoder (the server's, `io.encoder`). */
const EVENT = 2;
interface Encoder {
  encode(packet: { type: number; data: unknown[]; nsp: string }): unknown[];
}

interface EnginePacket {
  type: "message";
  data: string;
  options: { compress: boolean; wsPreEncodedFrame?: unknown };
}

/** The engine.io connection under a Socket.IO socket, as far as writing to it goes. */
interface EngineConnection {
  readyState: string;
  writeBuffer: EnginePacket[];
  flush(): void;
}

const connectionOf = (socket: Socket) => socket.conn as unknown as EngineConnection;

export class FairWrites<S extends Socket = Socket> {
  /** Connections with a queued message, waiting for their turn to be flushed: each once, so at most one per socket. */
  private due: EngineConnection[] = [];
  private readonly waiting = new Set<EngineConnection>();
  private scheduled = false;
  private budget: number;
  private refilling = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly encoder: Encoder,
    /** Told of every message queued on a socket, before it is queued (the slow-consumer bound). */
    private readonly onQueue: (socket: S, bytes: number) => void = () => {},
    private readonly perTurn = WRITES_PER_TURN,
  ) {
    this.budget = perTurn;
  }

  /** Queues `event` with `payload` for every socket, encoded once; returns how many it was queued for. */
  send(sockets: S[], event: string, payload: unknown): number {
    const encoded = this.encoder.encode({ type: EVENT, data: [event, payload], nsp: "/" });
    if (encoded.length !== 1 || typeof encoded[0] !== "string") {
      // Binary attachments: Socket.IO's own path (nothing here sends them).
      for (const s of sockets) s.emit(event, payload);
      return sockets.length;
    }
    const data = encoded[0];
    // The engine.io message ("4" + the Socket.IO packet) as it goes on the wire, and its websocket frame.
    const wire = Buffer.from(`4${data}`);
    const packet: EnginePacket = {
      type: "message",
      data,
      options: { compress: true, wsPreEncodedFrame: Sender.frame(wire, { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true }) },
    };
    let queued = 0;
    for (const socket of sockets) {
      const conn = connectionOf(socket);
      // As engine.io's sendPacket: nothing is queued on a connection that is closing.
      if (!socket.connected || conn.readyState === "closing" || conn.readyState === "closed") continue;
      this.onQueue(socket, wire.length);
      if (!socket.connected) continue; // cut as a slow consumer just now
      conn.writeBuffer.push(packet);
      queued++;
      if (this.spend()) conn.flush();
      else if (!this.waiting.has(conn)) {
        this.waiting.add(conn);
        this.due.push(conn);
      }
    }
    if (this.due.length) this.schedule();
    return queued;
  }

  /** Runs `fn` once everything queued so far has been handed to the sockets. */
  afterQueued(fn: () => void): void {
    if (!this.due.length) fn();
    else this.idle.push(fn);
  }

  /** One write from the current callback's budget, renewed once the callback ends. */
  private spend(): boolean {
    if (this.budget === 0) return false;
    this.budget--;
    if (!this.refilling) {
      this.refilling = true;
      queueMicrotask(() => {
        this.refilling = false;
        this.budget = this.perTurn;
      });
    }
    return true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.writeDue());
  }

  private writeDue(): void {
    this.scheduled = false;
    const batch = this.due.length > this.perTurn ? this.due.splice(0, this.perTurn) : this.due;
    if (batch === this.due) this.due = [];
    // A connection flushed meanwhile (by Socket.IO's own next write) has nothing left: a no-op.
    for (const conn of batch) {
      this.waiting.delete(conn);
      conn.flush();
    }
    if (this.due.length) this.schedule();
    else for (const fn of this.idle.splice(0)) fn();
  }
}
