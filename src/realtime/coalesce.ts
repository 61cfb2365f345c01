/**
 * One TCP write per flush instead of one per message.
 *
 * A busy node fans each message out to hundreds of sockets, and the cost of that is mostly the
 * kernel's: one `writev` (one loopback or network packet, one wakeup of the reader) per message
 * per socket. engine.io already gathers what a connection is sent while its previous write is
 * in flight and hands it to the transport in one `send`, but the websocket transport still
 * writes each frame separately. Corking the connection's TCP socket around that `send` (between
 * the engine's `flush` and `drain` events, which engine.io emits synchronously around it) turns
 * the batch into a single write.
 *
 * Batches form by themselves under load, when the event loop is behind and several messages
 * for a socket are routed in one pass; an idle node sends each message at once, as before. So
 * nothing is delayed to build a batch and the busier the node, the fewer writes per message.
 */
import type { Socket as TcpSocket } from "node:net";

interface EngineConnection {
  transport?: { name?: string; socket?: { _socket?: unknown } };
}

interface EngineServer {
  on(event: "flush", listener: (conn: EngineConnection, buffer: unknown[]) => void): unknown;
  on(event: "drain", listener: (conn: EngineConnection) => void): unknown;
}

/**
 * The TCP socket under a websocket connection, whether it opened as a websocket or was
 * upgraded from polling (as browsers' connections are): the `ws` socket's own, the field
 * engine.io itself reads for the remote address. If a future `ws` hides it, writes are simply
 * no longer coalesced (and test/realtime/coalesce.test.ts says so).
 */
function tcpSocketOf(conn: EngineConnection): TcpSocket | undefined {
  if (conn.transport?.name !== "websocket") return undefined;
  const tcp = conn.transport.socket?._socket as TcpSocket | undefined;
  return typeof tcp?.cork === "function" && !tcp.destroyed ? tcp : undefined;
}

export function coalesceWrites(engine: EngineServer): void {
  const corked = new Set<EngineConnection>();
  engine.on("flush", (conn, buffer) => {
    if (buffer.length < 2) return; // one frame is one write already
    const tcp = tcpSocketOf(conn);
    if (!tcp) return;
    tcp.cork();
    corked.add(conn);
  });
  engine.on("drain", (conn) => {
    if (corked.delete(conn)) tcpSocketOf(conn)?.uncork();
  });
}
