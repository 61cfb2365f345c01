/**
 * Ordered, gap-free, duplicate-free delivery of seq-numbered streams (channel and session
 * messages) to each socket.
 *
 * Every node receives every committed message once, but not necessarily in seq order (two
 * publishers on two nodes race to Redis), and a socket that resumes with `since` is replayed
 * from Postgres while live messages keep arriving. So each socket keeps, per stream, the last
 * seq delivered in order (`cursor`) and the range of seqs it has been sent at all (`sent`):
 *   - seq <= cursor: already delivered (by replay or live): dropped;
 *   - seq == cursor + 1: sent, then any held successors follow;
 *   - seq > cursor + 1: held; if the gap is still open after a short wait, the missing
 *     messages are read from Postgres (they are committed: seqs are assigned under a row lock,
 *     so seq n+1 exists only after n committed).
 * While a stream catches up (a replay from Postgres) live messages are held and released after
 * it, so nothing is sent twice and nothing falls between the two; a replay leaves out what the
 * socket was already sent. Holds are bounded in count and bytes (past them, messages are
 * dropped and later read back from Postgres), and a catch-up the client stops paging through
 * lapses after a while: nothing more is held for it until it watches again. The state itself
 * and its bounded hold are in stream-state.ts.
 */
import type { Logger } from "pino";
import type { Socket } from "socket.io";
import { contains, freshState, hold, markSent, union, unhold, type SeqRange, type StreamState } from "./stream-state.js";

export { messageBytes, type SeqRange, type StreamState } from "./stream-state.js";

export interface StreamSource {
  /** Committed messages with seq > afterSeq, oldest first, as clients receive them. */
  after(id: string, afterSeq: number, limit: number): Promise<Array<{ seq: number }>>;
  /** Sends one message of stream `id` to the socket. */
  send(socket: Socket, id: string, message: unknown): void;
  /** Sends one message, encoded once, to `ready`: the sockets for which it is simply the next one. */
  broadcast(ready: Socket[], id: string, message: unknown): void;
}

/** Channel and session messages by seq; a turn's events by seq (stream id `<sessionId>/<turnId>`). */
export type StreamKind = "channel" | "session" | "turn";

/** Where a catch-up starts, and what its replay must leave out. */
export interface CatchUp {
  from: number;
  skip: SeqRange | undefined;
}

const streamKey = (kind: StreamKind, id: string) => `${kind}:${id}`;

/** How long a gap may stay open before it is filled from Postgres. */
const GAP_WAIT_MS = 200;
const REPAIR_BATCH = 500;
/** A client that was told `more: true` and does not ask again within this lets its catch-up lapse. */
export const CATCH_UP_TIMEOUT_MS = 30_000;

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

  /** Committed messages of a stream with seq > afterSeq, oldest first (its source's). */
  after(kind: StreamKind, id: string, afterSeq: number, limit: number): Promise<Array<{ seq: number }>> {
    return this.sources[kind].after(id, afterSeq, limit);
  }

  /** How many streams the socket receives. */
  count(socket: Socket): number {
    return this.states(socket).size;
  }

  /** Starts live delivery after `head` (messages up to head are not sent). */
  init(socket: Socket, kind: StreamKind, id: string, head: number, options: { explicit: boolean; agentId?: string }): void {
    const key = streamKey(kind, id);
    const states = this.states(socket);
    if (!states.has(key)) states.set(key, freshState(head, options));
  }

  /**
   * Holds live messages while a replay runs; ends with finishCatchUp. Returns the seq to replay
   * after and the range the replay must leave out: `since`, or later when this socket was
   * already sent everything from `since` on (a live message that crossed the client's request).
   */
  beginCatchUp(socket: Socket, kind: StreamKind, id: string, since: number, options: { explicit: boolean; agentId?: string }): CatchUp {
    const key = streamKey(kind, id);
    const states = this.states(socket);
    const old = states.get(key);
    this.clearTimers(old);
    const sent = old?.sent;
    const carriedSkip = old?.catchingUp && old.skip && old.skip.to > since ? old.skip : undefined;
    const from = sent && since >= sent.from - 1 ? Math.max(since, sent.to) : since;
    const skip = carriedSkip ?? (sent && from < sent.to ? sent : undefined);
    const st: StreamState = {
      ...freshState(from, { explicit: options.explicit || !!old?.explicit, agentId: options.agentId ?? old?.agentId }),
      sent,
      skip,
      catchingUp: true,
    };
    if (old) for (const [seq, m] of old.pending) if (seq > from) hold(st, seq, m);
    states.set(key, st);
    return { from, skip };
  }

  /**
   * A replay has covered every seq up to `cursor` (sent now, or before and left out). With
   * `more`, more replay follows, so live messages stay held (for at most CATCH_UP_TIMEOUT_MS
   * when the client is the one to ask); otherwise held messages after the cursor are released.
   */
  finishCatchUp(socket: Socket, kind: StreamKind, id: string, replayedFrom: number, cursor: number, more: boolean, clientPaged = true): void {
    const st = this.get(socket, kind, id);
    if (!st) return;
    st.cursor = Math.max(st.cursor, cursor);
    const replayed = cursor > replayedFrom ? { from: replayedFrom + 1, to: cursor } : undefined;
    const merged = union(st.sent, replayed);
    if (merged) st.sent = merged;
    else if (replayed) st.sent = replayed; // st.sent stays left out through `skip` until the replay reaches it
    if (more) {
      if (clientPaged) this.lapseLater(socket, kind, id, st);
      return;
    }
    st.sent = union(st.sent, st.skip) ?? st.sent;
    st.skip = undefined;
    st.catchingUp = false;
    this.drain(socket, kind, id, st);
  }

  drop(socket: Socket, kind: StreamKind, id: string): void {
    const key = streamKey(kind, id);
    this.clearTimers(this.states(socket).get(key));
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
    for (const st of this.states(socket).values()) this.clearTimers(st);
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
    for (const socket of sockets) {
      const st = this.states(socket).get(key);
      if (st && !st.catchingUp && st.pending.size === 0 && seq === st.cursor + 1) {
        markSent(st, seq);
        ready.push(socket);
      } else this.offer(socket, kind, id, seq, message);
    }
    if (!ready.length) return;
    this.sources[kind].broadcast(ready, id, message);
  }

  /** A live message for a socket that receives this stream. */
  offer(socket: Socket, kind: StreamKind, id: string, seq: number, message: unknown): void {
    const key = streamKey(kind, id);
    const states = this.states(socket);
    let st = states.get(key);
    if (!st) {
      // First message of a stream this socket gets without having watched it (an owner's
      // other tab, a group member): a channel or session starts from here; a turn from its
      // first event (seq 1), so events that reached this node late, or not at all (pub/sub
      // drops what arrives while a subscriber reconnects), are repaired from the turn log.
      st = freshState(kind === "turn" ? 0 : seq - 1, { explicit: false });
      states.set(key, st);
    }
    if (seq <= st.cursor || contains(st.skip, seq)) return;
    if (st.catchingUp || seq !== st.cursor + 1) {
      if (!st.lapsed) hold(st, seq, message);
      if (!st.catchingUp) this.scheduleRepair(socket, kind, id, st);
      return;
    }
    this.send(socket, kind, id, st, seq, message);
    if (st.pending.size) this.drain(socket, kind, id, st);
  }

  private send(socket: Socket, kind: StreamKind, id: string, st: StreamState, seq: number, message: unknown): void {
    markSent(st, seq);
    this.sources[kind].send(socket, id, message);
  }

  private drain(socket: Socket, kind: StreamKind, id: string, st: StreamState): void {
    for (const seq of [...st.pending.keys()]) if (seq <= st.cursor) unhold(st, seq);
    let next: unknown;
    while ((next = st.pending.get(st.cursor + 1)) !== undefined && socket.connected) {
      unhold(st, st.cursor + 1);
      this.send(socket, kind, id, st, st.cursor + 1, next);
    }
    if (st.pending.size || st.overflowed) this.scheduleRepair(socket, kind, id, st);
    else if (st.repairTimer) {
      clearTimeout(st.repairTimer);
      st.repairTimer = undefined;
    }
  }

  private lapseLater(socket: Socket, kind: StreamKind, id: string, st: StreamState): void {
    if (st.catchUpTimer) clearTimeout(st.catchUpTimer);
    st.catchUpTimer = setTimeout(() => {
      if (this.get(socket, kind, id) !== st || !st.catchingUp) return;
      st.lapsed = true;
      st.pending.clear();
      st.pendingBytes = 0;
    }, CATCH_UP_TIMEOUT_MS);
    st.catchUpTimer.unref();
  }

  private clearTimers(st: StreamState | undefined): void {
    if (st?.repairTimer) clearTimeout(st.repairTimer);
    if (st?.catchUpTimer) clearTimeout(st.catchUpTimer);
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
    if (!socket.connected || st.catchingUp || (!st.pending.size && !st.overflowed)) return;
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
      if (fetched.length < REPAIR_BATCH) st.overflowed = false;
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
