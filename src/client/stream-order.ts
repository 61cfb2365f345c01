/**
 * Once each, in seq order: the realtime client's position in every stream (channel, session) it
 * has seen. A message is delivered when it is the next one, held when it comes early (until the
 * missing seq arrives or the gap is filled by watching again), dropped when already delivered.
 * The positions are also what a reconnect hands to the handshake (`auth.since`). Browser-safe.
 */
import type { HandshakeSince } from "./types.js";
import type { StreamKind } from "./realtime-options.js";

export interface OrderedStream {
  kind: StreamKind;
  id: string;
  /** The last seq delivered in order; undefined until the first message. */
  last: number | undefined;
  /** Watched explicitly (renewed on every connect). */
  watched: boolean;
  /** Messages that came early, by seq. */
  pending: Map<number, unknown>;
  gapSince: number | undefined;
  /** A watch in flight on the current connection. */
  watching: Promise<void> | undefined;
}

/** At most this many streams are named in `auth.since` (the hub's bound). */
const MAX_RESUMED = 1000;
/** Messages held per stream while waiting for a missing seq. */
const MAX_PENDING = 10_000;

const key = (kind: StreamKind, id: string) => `${kind}:${id}`;

export class StreamOrder {
  private readonly streams = new Map<string, OrderedStream>();

  /** `deliver` is called for each message in order, after the stream's position moved to it. */
  constructor(private readonly deliver: (st: OrderedStream, item: unknown) => void) {}

  get(kind: StreamKind, id: string): OrderedStream | undefined {
    return this.streams.get(key(kind, id));
  }

  /** The stream's state, made on first sight. */
  stream(kind: StreamKind, id: string): OrderedStream {
    let st = this.streams.get(key(kind, id));
    if (!st) {
      st = { kind, id, last: undefined, watched: false, pending: new Map(), gapSince: undefined, watching: undefined };
      this.streams.set(key(kind, id), st);
    }
    return st;
  }

  delete(kind: StreamKind, id: string): void {
    this.streams.delete(key(kind, id));
  }

  all(): IterableIterator<OrderedStream> {
    return this.streams.values();
  }

  /** A message of a stream, live or replayed: delivered if next, held if early, dropped if seen. */
  offer(kind: StreamKind, id: string | undefined, item: unknown): void {
    if (typeof id !== "string") return;
    const message = (kind === "channel" ? item : (item as { message?: unknown })?.message) as { seq?: unknown } | undefined;
    const seq = message?.seq;
    if (typeof seq !== "number") return;
    const st = this.stream(kind, id);
    if (st.last === undefined) st.last = seq - 1; // the first message of a stream seen from "now"
    if (seq <= st.last) return;
    if (seq > st.last + 1) {
      if (st.pending.size < MAX_PENDING) st.pending.set(seq, item);
      st.gapSince ??= Date.now();
      return;
    }
    this.next(st, seq, item);
    let next: unknown;
    while ((next = st.pending.get(st.last! + 1)) !== undefined) {
      st.pending.delete(st.last! + 1);
      this.next(st, st.last! + 1, next);
    }
    for (const s of [...st.pending.keys()]) if (s <= st.last!) st.pending.delete(s);
    st.gapSince = st.pending.size ? (st.gapSince ?? Date.now()) : undefined;
  }

  /** The gap can no longer be filled (the stream is not readable any more): deliver what was held, in order. */
  giveUpGap(st: OrderedStream): void {
    if (!st.pending.size) return;
    st.last = Math.min(...st.pending.keys()) - 1;
    this.offer(st.kind, st.id, st.pending.get(st.last + 1));
  }

  /** `auth.since`: every stream with a position (watched ones first), at most MAX_RESUMED. */
  since(): HandshakeSince | undefined {
    const known = [...this.streams.values()].filter((s) => s.last !== undefined).sort((a, b) => Number(b.watched) - Number(a.watched));
    if (!known.length) return undefined;
    const since: Required<HandshakeSince> = { channels: {}, sessions: {} };
    for (const s of known.slice(0, MAX_RESUMED)) (s.kind === "channel" ? since.channels : since.sessions)[s.id] = s.last!;
    return since;
  }

  private next(st: OrderedStream, seq: number, item: unknown): void {
    st.last = seq;
    this.deliver(st, item);
  }
}
