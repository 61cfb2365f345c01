/**
 * Ordered, gap-free, duplicate-free delivery of seq-numbered streams (channel and session
 * messages) to each socket.
 *
 * Every node receives every committed message once, but not necessarily in seq order (two
 * publishers on two nodes race to Redis), and a socket that watches with `since` is replayed
 * from Postgres while live messages keep arriving. So each socket keeps, per stream, the last
 * seq it was sent (`cursor`):
 *   - seq <= cursor: already sent (by replay or live): dropped;
 *   - seq == cursor + 1: sent, then any held successors follow;
 *   - seq > cursor + 1: held; if the gap is still open after a short wait, the missing
 *     messages are read from Postgres (they are committed: seqs are assigned under a row lock,
 *     so seq n+1 exists only after n committed).
 * While a watch replays from Postgres the stream is "catching up": live messages are held and
 * released after the replay ack, so nothing is sent twice and nothing falls between the two.
 */
import type { Logger } from "pino";
import type { Socket } from "socket.io";

export interface StreamState {
  cursor: number;
  /** The first seq actually sent on this socket (sent ones are then sentFrom..cursor). */
  sentFrom?: number | undefined;
  catchingUp: boolean;
  /** Messages above the cursor waiting for their turn. */
  pending: Map<number, unknown>;
  /** Joined by an explicit watch (kept when an agent is unsubscribed). */
  explicit: boolean;
  repairTimer: NodeJS.Timeout | undefined;
  /** Where the stream's access comes from, for re-checks (a session's agent). */
  agentId?: string | undefined;
}

export interface StreamSource {
  /** Committed messages with seq > afterSeq, oldest first, as clients receive them. */
  after(id: string, afterSeq: number, limit: number): Promise<Array<{ seq: number }>>;
  /** Sends one message of stream `id` to the socket. */
  send(socket: Socket, id: string, message: unknown): void;
  /**
   * Sends one message, encoded once, to `ready`: the sockets that receive the stream here less
   * `skipped` (which were handled one by one), so the stream's room can be addressed directly.
   */
  broadcast(ready: Socket[], skipped: Socket[], id: string, message: unknown): void;
}

export type StreamKind = "channel" | "session";

const streamKey = (kind: StreamKind, id: string) => `${kind}:${id}`;

/** How long a gap may stay open before it is filled from Postgres. */
const GAP_WAIT_MS = 200;
/** Held messages per socket and stream before holding stops and Postgres fills in later. */
const MAX_PENDING = 2000;
const REPAIR_BATCH = 500;

export class Streams {
  private readonly inflight = new Map<string, Promise<Array<{ seq: number }>>>();

  constructor(
    private readonly sources: Record<StreamKind, StreamSource>,
    private readonly log: Logger,
  ) {}

  private states(socket: Socket): Map<string, StreamState> {
    return (socket.data.streams ??= new Map());
  }

  get(socket: Socket, kind: StreamKind, id: string): StreamState | undefined {
    return this.states(socket).get(streamKey(kind, id));
  }

  /** Starts live delivery after `head` (messages up to head are not sent). */
  init(socket: Socket, kind: StreamKind, id: string, head: number, options: { explicit: boolean; agentId?: string }): void {
    const key = streamKey(kind, id);
    const states = this.states(socket);
    if (states.has(key)) return;
    states.set(key, { cursor: head, catchingUp: false, pending: new Map(), repairTimer: undefined, ...options });
  }

  /**
   * Holds live messages while a replay runs; ends with finishCatchUp. Returns the seq to
   * replay after: `since`, or later when this socket was already sent everything after `since`
   * up to some seq (a live message that crossed the client's watch request on the wire).
   */
  beginCatchUp(socket: Socket, kind: StreamKind, id: string, since: number, options: { explicit: boolean; agentId?: string }): number {
    const key = streamKey(kind, id);
    const states = this.states(socket);
    const old = states.get(key);
    if (old?.repairTimer) clearTimeout(old.repairTimer);
    const from = old?.sentFrom !== undefined && !old.catchingUp && since >= old.sentFrom - 1 ? Math.max(since, old.cursor) : since;
    states.set(key, {
      cursor: from,
      sentFrom: old?.sentFrom,
      catchingUp: true,
      pending: old ? new Map([...old.pending].filter(([seq]) => seq > from)) : new Map(),
      repairTimer: undefined,
      explicit: options.explicit || !!old?.explicit,
      agentId: options.agentId ?? old?.agentId,
    });
    return from;
  }

  /**
   * The replay up to `cursor` has been acked. With `more`, the client will ask again, so live
   * messages stay held; otherwise held messages after the cursor are released in order.
   */
  finishCatchUp(socket: Socket, kind: StreamKind, id: string, cursor: number, more: boolean): void {
    const st = this.get(socket, kind, id);
    if (!st) return;
    st.cursor = Math.max(st.cursor, cursor);
    if (more) return;
    st.catchingUp = false;
    this.drain(socket, kind, id, st);
  }

  drop(socket: Socket, kind: StreamKind, id: string): void {
    const key = streamKey(kind, id);
    const st = this.states(socket).get(key);
    if (st?.repairTimer) clearTimeout(st.repairTimer);
    this.states(socket).delete(key);
  }

  /** The stream is no longer explicitly watched; it goes on while a subscription delivers it. */
  release(socket: Socket, kind: StreamKind, id: string): void {
    const st = this.get(socket, kind, id);
    if (st) st.explicit = false;
  }

  /** The streams of one kind that this socket receives. */
  list(socket: Socket, kind: StreamKind): Array<{ id: string; state: StreamState }> {
    const prefix = streamKey(kind, "");
    return [...this.states(socket)]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, state]) => ({ id: key.slice(prefix.length), state }));
  }

  dropAll(socket: Socket): void {
    for (const st of this.states(socket).values()) if (st.repairTimer) clearTimeout(st.repairTimer);
    this.states(socket).clear();
  }

  /**
   * A live message for every socket that receives this stream on this node. Sockets for which
   * it is simply the next message (the common case) get it in one broadcast; the others go
   * through `offer`.
   */
  offerAll(sockets: Socket[], kind: StreamKind, id: string, seq: number, message: unknown): void {
    const key = streamKey(kind, id);
    const ready: Socket[] = [];
    const skipped: Socket[] = [];
    for (const socket of sockets) {
      const st = this.states(socket).get(key);
      if (st && !st.catchingUp && st.pending.size === 0 && seq === st.cursor + 1) {
        st.cursor = seq;
        st.sentFrom ??= seq;
        ready.push(socket);
      } else {
        skipped.push(socket);
        this.offer(socket, kind, id, seq, message);
      }
    }
    if (!ready.length) return;
    this.sources[kind].broadcast(ready, skipped, id, message);
  }

  /** A live message for a socket that receives this stream. */
  offer(socket: Socket, kind: StreamKind, id: string, seq: number, message: unknown): void {
    const key = streamKey(kind, id);
    const states = this.states(socket);
    let st = states.get(key);
    if (!st) {
      // First message of a stream this socket gets without having watched it (an owner's
      // other tab, a group member): start from here.
      st = { cursor: seq - 1, catchingUp: false, pending: new Map(), repairTimer: undefined, explicit: false };
      states.set(key, st);
    }
    if (seq <= st.cursor) return;
    if (st.catchingUp || seq !== st.cursor + 1) {
      if (st.pending.size < MAX_PENDING) st.pending.set(seq, message);
      if (!st.catchingUp) this.scheduleRepair(socket, kind, id, st);
      return;
    }
    this.send(socket, kind, id, st, seq, message);
    if (st.pending.size) this.drain(socket, kind, id, st);
  }

  private send(socket: Socket, kind: StreamKind, id: string, st: StreamState, seq: number, message: unknown): void {
    st.cursor = seq;
    st.sentFrom ??= seq;
    this.sources[kind].send(socket, id, message);
  }

  private drain(socket: Socket, kind: StreamKind, id: string, st: StreamState): void {
    for (const seq of [...st.pending.keys()]) if (seq <= st.cursor) st.pending.delete(seq);
    let next: unknown;
    while ((next = st.pending.get(st.cursor + 1)) !== undefined && socket.connected) {
      st.pending.delete(st.cursor + 1);
      this.send(socket, kind, id, st, st.cursor + 1, next);
    }
    if (st.pending.size) this.scheduleRepair(socket, kind, id, st);
    else if (st.repairTimer) {
      clearTimeout(st.repairTimer);
      st.repairTimer = undefined;
    }
  }

  private scheduleRepair(socket: Socket, kind: StreamKind, id: string, st: StreamState): void {
    if (st.repairTimer) return;
    st.repairTimer = setTimeout(() => {
      st.repairTimer = undefined;
      void this.repair(socket, kind, id, st);
    }, GAP_WAIT_MS);
    st.repairTimer.unref();
  }

  /** Fills a gap that stayed open from Postgres; sockets on the same gap share one query. */
  private async repair(socket: Socket, kind: StreamKind, id: string, st: StreamState): Promise<void> {
    if (!socket.connected || st.catchingUp || !st.pending.size) return;
    const from = st.cursor;
    const key = `${kind}:${id}@${from}`;
    let rows = this.inflight.get(key);
    if (!rows) {
      rows = this.sources[kind].after(id, from, REPAIR_BATCH);
      this.inflight.set(key, rows);
      void rows.finally(() => this.inflight.delete(key)).catch(() => {});
    }
    try {
      const fetched = await rows;
      if (this.get(socket, kind, id) !== st || st.catchingUp) return;
      for (const row of fetched) {
        if (row.seq === st.cursor + 1) this.send(socket, kind, id, st, row.seq, row);
      }
      if (!fetched.length && st.pending.size) {
        // The missing seqs are gone from Postgres (their stream was deleted): skip them.
        st.cursor = Math.min(...st.pending.keys()) - 1;
      }
      this.drain(socket, kind, id, st);
    } catch (err) {
      this.log.warn({ err, stream: key }, "could not fill a stream gap; will retry");
      this.scheduleRepair(socket, kind, id, st);
    }
  }
}
