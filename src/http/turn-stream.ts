/**
 * One turn as a resumable server-sent event stream, whatever the format (Sharely, AG-UI, the AI
 * SDK's UI message stream): a format (formats/*.ts) turns each turn event into that format's
 * events, this writes them. Every SSE event carries `id: <turnId>:<seq>` (the turn event it
 * comes from; 0 for what opens the stream), so a client that lost the connection asks any node
 * for the rest with `Last-Event-ID` and gets every event once and in order.
 *
 * The turn log (every process's) is the truth: the stream reads it from the start (a format
 * rebuilds its state from the events a resumed client already has, writing nothing for them),
 * then follows this process's live feed, repairing any gap from the log, until the turn's
 * `done` or its end. A reader that falls behind by more than `maxBufferedBytes` is cut (never
 * buffered without end); a client that goes away stops only its stream, never the turn.
 */
import { PassThrough } from "node:stream";
import type { Context } from "koa";
import type { TurnFeedItem, Turns } from "../domain/turns/service.js";
import { isActive, type TurnView } from "../domain/turns/repository.js";

/** Comment lines keep proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** Every event a turn can have (MAX_TURN_EVENTS) and its end. */
const LOG_READ_LIMIT = 100_000;

export type TurnEvent = { type: string } & Record<string, unknown>;
export type FormatName = "sharely" | "agui" | "ui-message";

/**
 * A format's view of one turn, made per stream. Each method answers complete SSE events (text
 * ending in a blank line, without `id:`: the writer adds it). It is fed every event from seq 1
 * even when the client resumes later, so it may keep state (open messages, ids).
 */
export interface TurnFormat {
  /** What opens the stream (seq 0), e.g. AG-UI's RUN_STARTED. */
  open(): string[];
  /** One turn event; for `done`, `ended` is the turn as it ended (its status). */
  event(event: TurnEvent, ended?: TurnView): string[];
}

export interface StreamFormat {
  name: FormatName;
  /** Response headers beyond the SSE ones (e.g. `x-vercel-ai-ui-message-stream: v1`). */
  headers: Record<string, string>;
  create(turn: TurnView): TurnFormat;
}

/** What the metrics count of protocol streams (observability/metrics.ts). */
export interface StreamMetrics {
  /** A stream opened; answers what to call when it closes. */
  streamOpened(format: FormatName, resumed: boolean): () => void;
  /** A stream was cut because its reader fell behind. */
  streamCut(format: FormatName): void;
}

export interface TurnStreamOptions {
  /** Bytes a stream may have queued (unread by the client) before it is cut. */
  maxBufferedBytes: number;
  metrics?: StreamMetrics | undefined;
  keepAliveMs?: number;
}

/** `<turnId>:<seq>` as sent in `id:` and received in `Last-Event-ID`; undefined when it is not one. */
export function parseEventId(value: string): { turnId: string; seq: number } | undefined {
  const m = /^([A-Za-z0-9_-]{1,100}):(\d{1,9})$/.exec(value.trim());
  return m ? { turnId: m[1]!, seq: Number(m[2]) } : undefined;
}

type Reader = Pick<Turns, "listen" | "eventsAfter">;

export class TurnStreams {
  constructor(
    private readonly turns: Reader,
    private readonly options: TurnStreamOptions,
  ) {}

  /**
   * Answers the request (200, text/event-stream) with the turn's events after `afterSeq` (-1:
   * from the opening events on). `reload` answers the turn as it is now (read at its `done`,
   * for formats that tell how it ended).
   */
  async answer(ctx: Context, format: StreamFormat, turn: TurnView, afterSeq: number, reload: () => Promise<TurnView> = async () => turn): Promise<void> {
    const stream = new PassThrough();
    const view = format.create(turn);
    const closed = this.options.metrics?.streamOpened(format.name, afterSeq >= 0);
    let last = 0; // the last turn event taken in (written, or skipped as already had)
    let finished = false;
    const pending: Array<TurnFeedItem | { kind: "poll" }> = [];
    let wake: (() => void) | undefined;

    const buffered = () => stream.writableLength + stream.readableLength + (ctx.res.writableLength ?? 0);
    const write = (seq: number, frames: string[]) => {
      if (finished || seq <= afterSeq || !frames.length) return;
      // One write per turn event, its id on the last frame: a cut falls between turn events
      // (after its fields: readers that look for `event:` at a frame's start still find it).
      const lastFrame = `${frames.at(-1)!.slice(0, -1)}id: ${turn.id}:${seq}\n\n`;
      stream.write(frames.slice(0, -1).join("") + lastFrame);
      if (buffered() > this.options.maxBufferedBytes) {
        this.options.metrics?.streamCut(format.name);
        stop();
        ctx.res.destroy();
      }
    };
    const take = async (seq: number, event: TurnEvent) => {
      last = seq;
      const ended = event.type === "done" ? await reload().catch(() => turn) : undefined;
      write(seq, view.event(event, ended));
      if (event.type === "done") stop();
    };
    const fill = async (upTo: number) => {
      while (!finished && last < upTo) {
        const entries = await this.turns.eventsAfter(turn.id, last, Math.min(LOG_READ_LIMIT, upTo - last));
        if (!entries.length) return;
        for (const e of entries) if (!finished && e.seq === last + 1) await take(e.seq, e.event as TurnEvent);
      }
    };

    // The turn ended: what the log still holds, then its `done` even if the log lost it (expired).
    const end = async () => {
      await fill(LOG_READ_LIMIT);
      if (!finished) await take(last + 1, { type: "done" });
    };

    // Each keep-alive also looks at the log and the turn: a live event or end this process
    // missed (a Redis hiccup) cannot leave the stream waiting for ever.
    const keepAlive = setInterval(() => {
      stream.write(": keep-alive\n\n");
      pending.push({ kind: "poll" });
      wake?.();
    }, this.options.keepAliveMs ?? KEEP_ALIVE_MS);
    const stopListening = this.turns.listen(turn.id, (item) => {
      pending.push(item);
      wake?.();
    });
    function stop() {
      if (finished) return;
      finished = true;
      clearInterval(keepAlive);
      stopListening();
      closed?.();
      wake?.();
      stream.end();
    }
    // The client going away ends the stream, not the turn.
    ctx.res.on("close", stop);
    stream.on("error", stop);
    ctx.status = 200;
    ctx.set({ "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", "X-Accel-Buffering": "no", ...format.headers });
    ctx.body = stream;
    write(0, view.open());

    void (async () => {
      await fill(LOG_READ_LIMIT);
      if (!finished && !isActive(turn.status)) {
        await end();
        return;
      }
      while (!finished) {
        const item = pending.shift();
        if (!item) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (item.kind === "event") {
          if (item.seq <= last) continue;
          if (item.seq > last + 1) await fill(item.seq - 1);
          if (!finished && item.seq === last + 1) await take(item.seq, item.event as TurnEvent);
        } else if (item.kind === "ended") await end();
        else {
          await fill(LOG_READ_LIMIT);
          const now = finished ? undefined : await reload().catch(() => undefined);
          if (now && !isActive(now.status)) await end();
        }
      }
    })().catch(() => {
      stop();
      ctx.res.destroy();
    });
  }
}
