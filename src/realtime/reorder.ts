/**
 * Puts each stream's events back in seq order once per node, before they fan out.
 *
 * Two processes publishing to one stream race to Redis, so a node sometimes receives seq n+1
 * just before n. Each socket would then hold n+1 and be served one by one (streams.ts); holding
 * it here for a moment instead lets the whole room take the single encoded broadcast. This is
 * only an optimisation: per-socket ordering in streams.ts stays the guarantee, so an event that
 * arrives after its successors were released is still passed on, and a gap that stays open past
 * HOLD_MS is released as it is (the sockets fill it from Postgres).
 */
const HOLD_MS = 100;
const IDLE_MS = 60_000;

interface NodeStream {
  cursor: number;
  held: Map<number, () => void>;
  timer: NodeJS.Timeout | undefined;
  seenAt: number;
}

export class Reorderer {
  private readonly streams = new Map<string, NodeStream>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), IDLE_MS);
    this.sweeper.unref();
  }

  /** Runs `deliver` for seq now, or once every earlier seq of the stream has been delivered. */
  push(stream: string, seq: number, deliver: () => void): void {
    let st = this.streams.get(stream);
    if (!st) {
      st = { cursor: seq - 1, held: new Map(), timer: undefined, seenAt: 0 };
      this.streams.set(stream, st);
    }
    st.seenAt = Date.now();
    if (seq <= st.cursor) return deliver(); // late: the sockets sort it out
    if (seq !== st.cursor + 1) {
      st.held.set(seq, deliver);
      // When the timer fires, give the event loop one I/O pass first (setImmediate runs after
      // the poll phase): under load the missing event is often already in the socket buffer.
      if (!st.timer) {
        const stream = st;
        const timer = setTimeout(() => setImmediate(() => stream.timer === timer && this.releaseAll(stream)), HOLD_MS);
        stream.timer = timer;
      }
      return;
    }
    st.cursor = seq;
    deliver();
    this.releaseContiguous(st);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const st of this.streams.values()) this.releaseAll(st);
    this.streams.clear();
  }

  private releaseContiguous(st: NodeStream): void {
    let next: (() => void) | undefined;
    while ((next = st.held.get(st.cursor + 1))) {
      st.held.delete(st.cursor + 1);
      st.cursor++;
      next();
    }
    if (st.held.size === 0 && st.timer) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
  }

  /** The gap did not close in time: release what is held, in order, gap and all. */
  private releaseAll(st: NodeStream): void {
    if (st.timer) clearTimeout(st.timer);
    st.timer = undefined;
    for (const seq of [...st.held.keys()].sort((a, b) => a - b)) {
      const deliver = st.held.get(seq)!;
      st.held.delete(seq);
      st.cursor = Math.max(st.cursor, seq);
      deliver();
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [key, st] of this.streams) if (st.seenAt < cutoff && st.held.size === 0) this.streams.delete(key);
  }
}
