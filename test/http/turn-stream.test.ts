/**
 * The turn stream writer (src/http/turn-stream.ts) on its own, deterministically: the log then
 * the live feed with a gap repaired from the log, ids `<turnId>:<seq>`, a resume after a seq
 * (the format still sees every event), the end, and a slow reader cut at the byte bound and
 * counted. The protocol tests (test/protocols/hub-*.test.ts) cover it through two hubs.
 */
import { EventEmitter } from "node:events";
import type { PassThrough } from "node:stream";
import type { Context } from "koa";
import { describe, expect, it } from "vitest";
import type { TurnFeedItem } from "../../src/domain/turns/runner.js";
import type { TurnView } from "../../src/domain/turns/repository.js";
import { sharelyFormat } from "../../src/http/formats/sharely.js";
import { TurnStreams, parseEventId, type StreamFormat } from "../../src/http/turn-stream.js";
import { until } from "../support/waiters.js";

const turn: TurnView = { id: "trn_1", session_id: "ses_1", agent_id: "a", status: "running", trigger_message_id: "m0", message_id: "m1", created_at: "", started_at: "", ended_at: null };

/** A turn log and live feed under the test's control. */
function feed(logged: unknown[]) {
  const listeners = new Set<(item: TurnFeedItem) => void>();
  return {
    logged,
    listeners,
    emit: (item: TurnFeedItem) => listeners.forEach((l) => l(item)),
    listen(_turnId: string, l: (item: TurnFeedItem) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async eventsAfter(_turnId: string, after: number, limit: number) {
      return logged.slice(after, after + limit).map((event, i) => ({ seq: after + i + 1, event }));
    },
  };
}

/** A Koa context enough for the writer: headers, status, body, and a response that may be backed up. */
function context(backedUpBytes = 0) {
  const res = Object.assign(new EventEmitter(), { writableLength: backedUpBytes, destroyed: false, destroy: () => {} });
  res.destroy = () => {
    res.destroyed = true;
    res.emit("close");
  };
  const headers: Record<string, string> = {};
  const ctx = { res, status: 0, body: undefined as PassThrough | undefined, set: (h: Record<string, string>) => Object.assign(headers, h) };
  const text = () => {
    let out = "";
    ctx.body!.on("data", (c: Buffer) => (out += c.toString()));
    return () => out;
  };
  return { ctx, res, headers, text };
}

/** A format that names each event by its type, to read the order off the wire. */
const plain: StreamFormat = {
  name: "agui",
  headers: { "x-test": "1" },
  create: () => {
    const seen: string[] = [];
    return { open: () => ["data: open\n\n"], event: (e, ended) => (seen.push(e.type), [`data: ${e.type}${ended ? `/${ended.status}` : ""}/${seen.length}\n\n`]) };
  },
};

const ev = (type: string) => ({ type });

describe("TurnStreams", () => {
  it("writes the log, then live events, repairing a gap from the log, each with id <turnId>:<seq>, until done", async () => {
    const f = feed([ev("message_start"), ev("content_delta")]);
    const { ctx, headers, text } = context();
    await new TurnStreams(f, { maxBufferedBytes: 1 << 20 }).answer(ctx as unknown as Context, plain, turn, -1, async () => ({ ...turn, status: "completed" }));
    const read = text();
    expect(headers["Content-Type"]).toBe("text/event-stream");
    expect(headers["x-test"]).toBe("1");
    await until(() => read().includes("content_delta"));
    // seq 4 arrives live before seq 3 reached this process: 3 comes from the log.
    f.logged.push(ev("content_end"), ev("message_end"));
    f.emit({ kind: "event", seq: 4, event: ev("message_end") });
    f.emit({ kind: "event", seq: 3, event: ev("content_end") });
    f.logged.push(ev("done"));
    f.emit({ kind: "event", seq: 5, event: ev("done") });
    await until(() => ctx.body!.writableEnded);
    await until(() => read().includes("done"));
    expect(read()).toBe(
      ["data: open\nid: trn_1:0", "data: message_start/1\nid: trn_1:1", "data: content_delta/2\nid: trn_1:2", "data: content_end/3\nid: trn_1:3", "data: message_end/4\nid: trn_1:4", "data: done/completed/5\nid: trn_1:5"]
        .map((f) => `${f}\n\n`)
        .join(""),
    );
    expect(f.listeners.size).toBe(0);
  });

  it("resumes after a seq: nothing before it is written, yet the format saw every event", async () => {
    const f = feed([ev("message_start"), ev("content_delta"), ev("content_delta"), ev("done")]);
    const { ctx, text } = context();
    await new TurnStreams(f, { maxBufferedBytes: 1 << 20 }).answer(ctx as unknown as Context, plain, { ...turn, status: "completed" }, 2);
    const read = text();
    await until(() => read().includes("done"));
    expect(read()).toBe("data: content_delta/3\nid: trn_1:3\n\ndata: done/completed/4\nid: trn_1:4\n\n");
  });

  it("ends a turn that ended without `done` in its log (expired) as it ended", async () => {
    const f = feed([ev("message_start")]);
    const { ctx, text } = context();
    await new TurnStreams(f, { maxBufferedBytes: 1 << 20 }).answer(ctx as unknown as Context, sharelyFormat, turn, 0);
    const read = text();
    f.emit({ kind: "ended", turn: { ...turn, status: "failed" } });
    await until(() => ctx.body!.writableEnded);
    await until(() => read().includes("done"));
    expect(read()).toBe(
      'event: message_start\ndata: {"threadId":"ses_1","messageId":"m1"}\nid: trn_1:1\n\nevent: done\ndata: {"threadId":"ses_1","messageId":"m1"}\nid: trn_1:2\n\n',
    );
  });

  it("finds what the live feed missed (events and the end) at its next keep-alive, from the log and the turn", async () => {
    const f = feed([ev("message_start")]);
    const { ctx, text } = context();
    let status: TurnView["status"] = "running";
    await new TurnStreams(f, { maxBufferedBytes: 1 << 20, keepAliveMs: 20 }).answer(ctx as unknown as Context, plain, turn, 0, async () => ({ ...turn, status }));
    const read = text();
    await until(() => read().includes("message_start"));
    f.logged.push(ev("content_delta")); // logged, never heard live
    await until(() => read().includes("content_delta"));
    status = "cancelled"; // ended, its end never heard live and its done not logged
    await until(() => ctx.body!.writableEnded);
    await until(() => read().includes("done"));
    expect(read().replace(/: keep-alive\n\n/g, "")).toBe("data: message_start/1\nid: trn_1:1\n\ndata: content_delta/2\nid: trn_1:2\n\ndata: done/cancelled/3\nid: trn_1:3\n\n");
  });

  it("cuts a reader that falls behind by more than the bound, counts it, and leaves the turn alone", async () => {
    const f = feed([ev("message_start")]);
    const { ctx, res } = context(10_000);
    const counted: string[] = [];
    const metrics = { streamOpened: (format: string, resumed: boolean) => (counted.push(`open ${format} ${resumed}`), () => counted.push(`close ${format}`)), streamCut: (format: string) => void counted.push(`cut ${format}`) };
    await new TurnStreams(f, { maxBufferedBytes: 5_000, metrics }).answer(ctx as unknown as Context, plain, turn, -1);
    await until(() => res.destroyed);
    expect(counted).toEqual(["open agui false", "cut agui", "close agui"]);
    expect(f.listeners.size).toBe(0);
  });

  it("reads ids as <turnId>:<seq>", () => {
    expect(parseEventId("trn_01J9:12")).toEqual({ turnId: "trn_01J9", seq: 12 });
    expect(parseEventId("nope")).toBeUndefined();
    expect(parseEventId("trn_1:-1")).toBeUndefined();
  });
});
