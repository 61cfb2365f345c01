/**
 * Per-socket limits: incoming event rate (a fixed 10 s window) and outgoing queued data. Payload
 * size is capped by Socket.IO's maxHttpBufferSize. An over-rate event is refused with a 429
 * ack; a socket that keeps going at twice the rate is disconnected with a reason.
 *
 * Outgoing data waits at two layers: engine.io's writeBuffer (packets not yet handed to the
 * transport, e.g. while a websocket write is in flight or between long-polls) and the websocket
 * itself (bytes not yet taken by the kernel). A consumer that stops reading makes both grow, so
 * both are counted, on every packet queued for the socket, and the socket is disconnected as
 * soon as their sum passes the bound (a slow consumer).
 */
import type { Logger } from "pino";
import type { Socket } from "socket.io";
import { TooManyRequests } from "../errors.js";
import { systemClock, type Clock } from "../domain/time.js";
import type { HubMetrics } from "../observability/metrics.js";
import { toProblem } from "../problem.js";
import type { HubSocket } from "./protocol.js";
import { closeSocket, cutSocket } from "./sockets.js";

export interface LimitSettings {
  eventsPer10s: number;
  /** `agent:event`s a serving socket may send per 10 s (a streaming answer sends many). */
  agentEventsPer10s: number;
  maxBuffered: number;
}

const WINDOW_MS = 10_000;
const SLOW_CONSUMER = "slow consumer: too much undelivered data";

interface EnginePacket {
  data?: unknown;
}

interface EngineConnection {
  writeBuffer?: EnginePacket[];
  transport?: { socket?: { bufferedAmount?: number } };
  on?(event: "packetCreate", listener: (packet: EnginePacket) => void): unknown;
}

/** Bytes a queued packet will take. A broadcast queues one string for many sockets in a row: measured once. */
let lastData: unknown;
let lastSize = 0;
function packetBytes(packet: EnginePacket): number {
  const data = packet.data;
  if (data === lastData) return lastSize;
  lastData = data;
  lastSize = typeof data === "string" ? Buffer.byteLength(data) : data instanceof Uint8Array ? data.byteLength : 1;
  return lastSize;
}

const bufferedInSocket = (conn: EngineConnection) => conn.transport?.socket?.bufferedAmount ?? 0;

/**
 * Bytes queued in each connection's engine.io buffer since it was last empty: every packet is
 * counted as it is queued (before it joins the buffer), and an empty buffer was flushed.
 */
const queuedBytes = new WeakMap<object, number>();
/** Sockets being disconnected by a limit (once each). */
const closing = new WeakSet<Socket>();

export class SocketLimits {
  constructor(
    private readonly settings: LimitSettings,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly metrics?: Pick<HubMetrics, "rateLimit" | "slowConsumer">,
  ) {}

  private closeOnce(socket: Socket, reason: string, details: object, end: typeof closeSocket): void {
    if (closing.has(socket)) return;
    closing.add(socket);
    this.log.warn({ socket: socket.id, ...details }, `${reason}; disconnecting`);
    end(socket as HubSocket, reason);
  }

  attach(socket: Socket): void {
    const closeOnce = (reason: string, details: object, end: typeof closeSocket) => this.closeOnce(socket, reason, details, end);
    let windowStart = this.clock.now().getTime();
    let count = 0;
    let agentEvents = 0;
    socket.use((packet, next) => {
      const now = this.clock.now().getTime();
      if (now - windowStart >= WINDOW_MS) {
        windowStart = now;
        count = 0;
        agentEvents = 0;
      }
      // A serving agent's answer streams many events: they have their own, larger budget (a
      // turn's size is bounded on its own), and never take the budget of the socket's requests.
      if (packet[0] === "agent:event") {
        if (++agentEvents <= this.settings.agentEventsPer10s) return next();
        return closeOnce("agent event rate exceeded", { events: agentEvents }, closeSocket);
      }
      count++;
      if (count <= this.settings.eventsPer10s) return next();
      if (count > 2 * this.settings.eventsPer10s) return closeOnce("rate limit exceeded", { events: count }, closeSocket);
      const ack = packet[packet.length - 1];
      const retryAfter = Math.ceil((windowStart + WINDOW_MS - now) / 1000);
      this.metrics?.rateLimit("socket");
      if (typeof ack === "function") ack({ ok: false, error: toProblem(new TooManyRequests(retryAfter), 0).problem });
    });

    // Packets Socket.IO queues one by one; broadcasts (writes.ts) call `queued` themselves.
    (socket.conn as unknown as EngineConnection).on?.("packetCreate", (packet) => this.queued(socket, packetBytes(packet)));
  }

  /** A packet of `bytes` is about to be queued for the socket: past the bound, it is disconnected (a slow consumer). */
  queued(socket: Socket, bytes: number): void {
    const conn = socket.conn as unknown as EngineConnection;
    const queued = (conn.writeBuffer?.length ? (queuedBytes.get(conn) ?? 0) : 0) + bytes;
    queuedBytes.set(conn, queued);
    const buffered = queued + bufferedInSocket(conn);
    if (buffered > this.settings.maxBuffered) {
      this.closeOnce(socket, SLOW_CONSUMER, { buffered }, (s, reason) => cutSocket(s, reason, this.metrics));
    }
  }

  /** The same bound, measured from scratch (a periodic sweep catches what no packet revealed). */
  checkBuffered(socket: Socket): void {
    const conn = socket.conn as unknown as EngineConnection;
    const queued = (conn.writeBuffer ?? []).reduce((n, p) => n + packetBytes(p), 0);
    const buffered = queued + bufferedInSocket(conn);
    if (buffered > this.settings.maxBuffered) {
      this.log.warn({ socket: socket.id, buffered }, `${SLOW_CONSUMER}; disconnecting`);
      cutSocket(socket as HubSocket, SLOW_CONSUMER, this.metrics);
    }
  }
}
