/**
 * Per-socket limits: incoming event rate (token bucket per 10 s window) and outgoing buffered
 * data. Payload size is capped by Socket.IO's maxHttpBufferSize. An over-rate event is refused
 * with a 429 ack; a socket that keeps going at twice the rate, or whose unsent data passes
 * the bound (a slow consumer), is disconnected with a reason.
 */
import type { Logger } from "pino";
import type { Socket } from "socket.io";
import { TooManyRequests } from "../errors.js";
import { systemClock, type Clock } from "../domain/time.js";
import { toProblem } from "../problem.js";

export interface LimitSettings {
  eventsPer10s: number;
  maxBuffered: number;
}

const WINDOW_MS = 10_000;
/** Engine.IO packets queued while the transport is busy (long-polling) before it counts as slow. */
const MAX_QUEUED_PACKETS = 10_000;

export class SocketLimits {
  constructor(
    private readonly settings: LimitSettings,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  attach(socket: Socket, close: (reason: string) => void): void {
    let windowStart = this.clock.now().getTime();
    let count = 0;
    socket.use((packet, next) => {
      const now = this.clock.now().getTime();
      if (now - windowStart >= WINDOW_MS) {
        windowStart = now;
        count = 0;
      }
      count++;
      if (count <= this.settings.eventsPer10s) return next();
      if (count > 2 * this.settings.eventsPer10s) {
        this.log.warn({ socket: socket.id }, "socket over twice its event rate; disconnecting");
        close("rate limit exceeded");
        return;
      }
      const ack = packet[packet.length - 1];
      const retryAfter = Math.ceil((windowStart + WINDOW_MS - now) / 1000);
      if (typeof ack === "function") ack({ ok: false, error: toProblem(new TooManyRequests(retryAfter), 0).problem });
    });
  }

  /** Disconnects a socket that cannot keep up with what is sent to it. */
  checkBuffered(socket: Socket): void {
    const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { socket?: { bufferedAmount?: number } } };
    const buffered = conn.transport?.socket?.bufferedAmount ?? 0;
    const queued = conn.writeBuffer?.length ?? 0;
    if (buffered > this.settings.maxBuffered || queued > MAX_QUEUED_PACKETS) {
      this.log.warn({ socket: socket.id, buffered, queued }, "slow consumer; disconnecting");
      socket.emit("hub:closing", { reason: "slow consumer: too much undelivered data" });
      socket.disconnect(true);
    }
  }
}
