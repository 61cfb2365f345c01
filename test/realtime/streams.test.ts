/**
 * The per-socket ordering rules of src/realtime/streams.ts, with the interleavings that are
 * hard to force across processes made deterministic: a live message during a replay, messages
 * out of order, a gap that only Postgres can fill.
 */
import { pino } from "pino";
import type { Socket } from "socket.io";
import { describe, expect, it, vi } from "vitest";
import { Streams, type StreamSource } from "../../src/realtime/streams.js";

interface Msg {
  seq: number;
}

function setup(committed: number[] = []) {
  const store: Msg[] = committed.map((seq) => ({ seq }));
  const sent: number[] = [];
  const socket = { connected: true, data: {} } as unknown as Socket;
  const source: StreamSource = {
    after: async (_id, afterSeq, limit) => store.filter((m) => m.seq > afterSeq).slice(0, limit),
    send: (_s, _id, message) => sent.push((message as Msg).seq),
    broadcast: (ready, _id, message) => ready.forEach(() => sent.push((message as Msg).seq)),
  };
  const streams = new Streams({ channel: source, session: source, turn: source }, pino({ level: "silent" }));
  return { store, sent, socket, streams, commit: (seq: number) => store.push({ seq }) };
}

describe("ordered stream delivery", () => {
  it("holds live messages during a replay and sends only those after it", () => {
    const { sent, socket, streams } = setup();
    streams.beginCatchUp(socket, "channel", "c", 3, { explicit: true });
    // Live 4, 5 and 6 arrive while the replay query (which will return 4 and 5) runs.
    streams.offer(socket, "channel", "c", 4, { seq: 4 });
    streams.offer(socket, "channel", "c", 5, { seq: 5 });
    streams.offer(socket, "channel", "c", 6, { seq: 6 });
    expect(sent).toEqual([]);
    streams.finishCatchUp(socket, "channel", "c", 3, 5, false);
    expect(sent).toEqual([6]);
    streams.offer(socket, "channel", "c", 6, { seq: 6 });
    streams.offer(socket, "channel", "c", 7, { seq: 7 });
    expect(sent).toEqual([6, 7]);
  });

  it("replays after what this socket was already sent live when the watch crossed it", () => {
    const { sent, socket, streams } = setup();
    // The owner's socket gets seq 2 through its user room while its watch (since 1) is in flight.
    streams.offer(socket, "session", "s", 2, { seq: 2 });
    expect(streams.beginCatchUp(socket, "session", "s", 1, { explicit: true })).toEqual({ from: 2, skip: undefined });
    // A watch for older history than what was sent live still replays from since.
    const other = { connected: true, data: {} } as unknown as Socket;
    streams.offer(other, "session", "s", 5, { seq: 5 });
    expect(streams.beginCatchUp(other, "session", "s", 1, { explicit: true })).toEqual({ from: 1, skip: { from: 5, to: 5 } });
    // A stream started at a head without sending anything replays from since.
    const fresh = { connected: true, data: {} } as unknown as Socket;
    streams.init(fresh, "channel", "c", 9, { explicit: false });
    expect(streams.beginCatchUp(fresh, "channel", "c", 3, { explicit: true })).toEqual({ from: 3, skip: undefined });
    expect(sent).toEqual([2, 5]);
  });

  it("keeps holding while the client pages with more: true", () => {
    const { sent, socket, streams } = setup();
    streams.beginCatchUp(socket, "channel", "c", 0, { explicit: true });
    streams.offer(socket, "channel", "c", 501, { seq: 501 });
    streams.finishCatchUp(socket, "channel", "c", 0, 500, true);
    expect(sent).toEqual([]);
    expect(streams.beginCatchUp(socket, "channel", "c", 500, { explicit: true })).toEqual({ from: 500, skip: undefined });
    streams.finishCatchUp(socket, "channel", "c", 500, 500, false);
    expect(sent).toEqual([501]);
  });

  it("leaves out of a replay what the socket was already sent live (the reconnect race), and sends nothing twice", () => {
    const { sent, socket, streams } = setup();
    // The socket joined its channel at head 304 and was sent 305 live before the client asked
    // for everything after 300.
    streams.init(socket, "channel", "c", 304, { explicit: false });
    streams.offer(socket, "channel", "c", 305, { seq: 305 });
    const { from, skip } = streams.beginCatchUp(socket, "channel", "c", 300, { explicit: true });
    expect({ from, skip }).toEqual({ from: 300, skip: { from: 305, to: 305 } });
    // A duplicate live 305 and a new 306 arrive during the replay (301..306 in Postgres).
    streams.offer(socket, "channel", "c", 305, { seq: 305 });
    streams.offer(socket, "channel", "c", 306, { seq: 306 });
    streams.finishCatchUp(socket, "channel", "c", from, 306, false);
    expect(sent).toEqual([305]); // 306 came in the replay; nothing live was released twice
    expect(streams.get(socket, "channel", "c")?.sent).toEqual({ from: 301, to: 306 });
    // A later watch from an older seq replays nothing the socket already has.
    expect(streams.beginCatchUp(socket, "channel", "c", 302, { explicit: true })).toEqual({ from: 306, skip: undefined });
  });

  it("carries what to leave out across the pages of a replay", () => {
    const { socket, streams } = setup();
    streams.offer(socket, "channel", "c", 1000, { seq: 1000 });
    const first = streams.beginCatchUp(socket, "channel", "c", 0, { explicit: true });
    expect(first).toEqual({ from: 0, skip: { from: 1000, to: 1000 } });
    streams.finishCatchUp(socket, "channel", "c", 0, 500, true);
    expect(streams.beginCatchUp(socket, "channel", "c", 500, { explicit: true })).toEqual({ from: 500, skip: { from: 1000, to: 1000 } });
    streams.finishCatchUp(socket, "channel", "c", 500, 1000, true);
    expect(streams.beginCatchUp(socket, "channel", "c", 1000, { explicit: true })).toEqual({ from: 1000, skip: undefined });
    streams.finishCatchUp(socket, "channel", "c", 1000, 1003, false);
    expect(streams.get(socket, "channel", "c")?.sent).toEqual({ from: 1, to: 1003 });
  });

  it("holds at most 4 MiB per stream while catching up; the rest is read back from Postgres", async () => {
    vi.useFakeTimers();
    try {
      const big = (seq: number) => ({ seq, body: "x".repeat(1024 * 1024) });
      const { sent, socket, streams, store } = setup();
      streams.beginCatchUp(socket, "channel", "c", 0, { explicit: true });
      for (let seq = 1; seq <= 8; seq++) streams.offer(socket, "channel", "c", seq, big(seq));
      const st = streams.get(socket, "channel", "c")!;
      expect(st.pending.size).toBe(3);
      expect(st.pendingBytes).toBeLessThanOrEqual(4 * 1024 * 1024);
      for (let seq = 1; seq <= 8; seq++) store.push({ seq });
      streams.finishCatchUp(socket, "channel", "c", 0, 0, false);
      await vi.advanceTimersByTimeAsync(250);
      expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("lets a catch-up lapse when the client stops paging: nothing more is held until it watches again", async () => {
    vi.useFakeTimers();
    try {
      const { sent, socket, streams } = setup();
      streams.beginCatchUp(socket, "channel", "c", 0, { explicit: true });
      streams.finishCatchUp(socket, "channel", "c", 0, 500, true);
      streams.offer(socket, "channel", "c", 600, { seq: 600 });
      await vi.advanceTimersByTimeAsync(30_001);
      const st = streams.get(socket, "channel", "c")!;
      expect([st.lapsed, st.pending.size]).toEqual([true, 0]);
      streams.offer(socket, "channel", "c", 601, { seq: 601 });
      expect(st.pending.size).toBe(0);
      expect(streams.beginCatchUp(socket, "channel", "c", 500, { explicit: true })).toEqual({ from: 500, skip: undefined });
      expect(streams.get(socket, "channel", "c")!.lapsed).toBe(false);
      expect(sent).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("puts messages that arrive out of order back in order", () => {
    const { sent, socket, streams } = setup();
    streams.init(socket, "channel", "c", 10, { explicit: false });
    streams.offer(socket, "channel", "c", 12, { seq: 12 });
    streams.offer(socket, "channel", "c", 13, { seq: 13 });
    expect(sent).toEqual([]);
    streams.offer(socket, "channel", "c", 11, { seq: 11 });
    expect(sent).toEqual([11, 12, 13]);
  });

  it("broadcasts to the sockets in order and routes the others through their own state", () => {
    const { sent, streams } = setup();
    const inOrder = { connected: true, data: {} } as unknown as Socket;
    const behind = { connected: true, data: {} } as unknown as Socket;
    streams.init(inOrder, "channel", "c", 4, { explicit: false });
    streams.init(behind, "channel", "c", 3, { explicit: false });
    streams.offerAll([inOrder, behind], "channel", "c", 5, { seq: 5 });
    expect(sent).toEqual([5]); // only inOrder; behind holds 5 until 4 arrives
    streams.offerAll([inOrder, behind], "channel", "c", 4, { seq: 4 });
    expect(sent).toEqual([5, 4, 5]);
    expect(streams.get(behind, "channel", "c")?.cursor).toBe(5);
  });

  it("drops what was already sent", () => {
    const { sent, socket, streams } = setup();
    streams.init(socket, "channel", "c", 0, { explicit: false });
    for (const seq of [1, 2, 1, 2, 3]) streams.offer(socket, "channel", "c", seq, { seq });
    expect(sent).toEqual([1, 2, 3]);
  });

  it("fills a gap that stays open from the committed store", async () => {
    vi.useFakeTimers();
    try {
      const { sent, socket, streams } = setup([1, 2, 3]);
      streams.init(socket, "channel", "c", 1, { explicit: false });
      // seq 2's event was lost (its publisher died after commit); 3 arrives.
      streams.offer(socket, "channel", "c", 3, { seq: 3 });
      expect(sent).toEqual([]);
      await vi.advanceTimersByTimeAsync(250);
      expect(sent).toEqual([2, 3]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("starts a stream it never watched at the first message it gets", () => {
    const { sent, socket, streams } = setup();
    streams.offer(socket, "session", "s", 7, { seq: 7 });
    streams.offer(socket, "session", "s", 8, { seq: 8 });
    expect(sent).toEqual([7, 8]);
  });
});

describe("per-node reordering", () => {
  it("releases a stream's events in seq order, and a gap that stays open after a moment", async () => {
    const { Reorderer } = await import("../../src/realtime/reorder.js");
    vi.useFakeTimers();
    const r = new Reorderer();
    try {
      const out: number[] = [];
      const push = (seq: number) => r.push("s", seq, () => out.push(seq));
      push(1);
      push(3);
      push(2);
      expect(out).toEqual([1, 2, 3]);
      push(5); // 4 never comes
      expect(out).toEqual([1, 2, 3]);
      await vi.advanceTimersByTimeAsync(150);
      expect(out).toEqual([1, 2, 3, 5]);
      push(4); // late: passed on, the sockets sort it out
      expect(out).toEqual([1, 2, 3, 5, 4]);
    } finally {
      r.close();
      vi.useRealTimers();
    }
  });
});
