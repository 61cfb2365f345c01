/**
 * What one socket knows about one seq-numbered stream (streams.ts decides what to do with it):
 * its cursor, the range it was sent, and the bounded hold of messages that came early. The
 * operations here touch only that state, never a socket, so the delivery rules stay in one place.
 */

export interface SeqRange {
  from: number;
  to: number;
}

export interface StreamState {
  /** The last seq delivered in order. */
  cursor: number;
  /** Seqs this socket has been sent (live or in a replay), one contiguous range. */
  sent?: SeqRange | undefined;
  /** During a catch-up: seqs sent before it began that its replay must leave out. */
  skip?: SeqRange | undefined;
  catchingUp: boolean;
  /** A catch-up the client stopped paging through: live messages are dropped, not held. */
  lapsed: boolean;
  /** Messages above the cursor waiting for their turn, and their size. */
  pending: Map<number, unknown>;
  pendingBytes: number;
  /** Messages past the hold's bound were dropped: read them back from Postgres once in order. */
  overflowed?: boolean | undefined;
  /** Joined by an explicit watch (kept when an agent is unsubscribed). */
  explicit: boolean;
  repairTimer: NodeJS.Timeout | undefined;
  catchUpTimer?: NodeJS.Timeout | undefined;
  /** Where the stream's access comes from, for re-checks (a session's agent). */
  agentId?: string | undefined;
}

/** Held messages per socket and stream, in count and bytes, before holding stops and Postgres fills in later. */
const MAX_PENDING = 2000;
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** A message's size as JSON, measured once however many sockets hold it. */
const sizes = new WeakMap<object, number>();
export function messageBytes(message: unknown): number {
  if (typeof message !== "object" || message === null) return JSON.stringify(message ?? null).length;
  let n = sizes.get(message);
  if (n === undefined) sizes.set(message, (n = Buffer.byteLength(JSON.stringify(message))));
  return n;
}

export const contains = (r: SeqRange | undefined, seq: number) => !!r && seq >= r.from && seq <= r.to;

/** The union of two ranges when they touch or overlap. */
export function union(a: SeqRange | undefined, b: SeqRange | undefined): SeqRange | undefined {
  if (!a || !b) return a ?? b;
  if (b.from > a.to + 1 || a.from > b.to + 1) return undefined;
  return { from: Math.min(a.from, b.from), to: Math.max(a.to, b.to) };
}

export function freshState(cursor: number, options: { explicit: boolean; agentId?: string | undefined }): StreamState {
  return { cursor, catchingUp: false, lapsed: false, pending: new Map(), pendingBytes: 0, repairTimer: undefined, ...options };
}

/** Holds a message that came early; past the bounds it is dropped and the stream marked to be read back. */
export function hold(st: StreamState, seq: number, message: unknown): void {
  if (st.pending.has(seq)) return;
  const bytes = messageBytes(message);
  if (st.pending.size >= MAX_PENDING || st.pendingBytes + bytes > MAX_PENDING_BYTES) {
    st.overflowed = true;
    return;
  }
  st.pending.set(seq, message);
  st.pendingBytes += bytes;
}

export function unhold(st: StreamState, seq: number): void {
  const m = st.pending.get(seq);
  if (m === undefined) return;
  st.pending.delete(seq);
  st.pendingBytes -= messageBytes(m);
}

/** `seq` was sent: it is the new cursor and joins the sent range. */
export function markSent(st: StreamState, seq: number): void {
  st.cursor = seq;
  st.sent = union(st.sent, { from: seq, to: seq }) ?? { from: seq, to: seq };
}
