/**
 * The workload of the fault suite: clients that resume after any disconnect and record every
 * channel seq they receive, a publisher at a steady rate that records what it got a 201 for,
 * a /readyz poller, and RSS readings of hub processes. Every loop here is bounded in time or
 * count, and stops when told.
 */
import { readFileSync } from "node:fs";
import { io, type Socket } from "socket.io-client";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resident set size of a process, in MB (from /proc), or undefined when it is gone. */
export function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

// ---- clients ----------------------------------------------------------------------------------

/**
 * How a client resumes on every (re)connect: `auth` passes its position in the handshake
 * (`auth.since`, for agent sockets joined to their channels at connect); `watch` asks
 * `channel:watch {channelId, since}` once connected, paging while the ack says `more`.
 */
export type ResumeMode = "auth" | "watch";

export interface Receipt {
  seq: number;
  at: number;
  via: "live" | "replay";
}

export interface ResumingClientOptions {
  name: string;
  token: string;
  channelId: string;
  mode: ResumeMode;
  /** The hub to (re)connect to; `attempt` counts connections tried so far. Undefined: none up, retry later. */
  pickUrl: (attempt: number) => string | undefined;
}

const ACK_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;
const MAX_PAGES = 200;

export class ResumingClient {
  readonly received: Receipt[] = [];
  /** Connection history, for figures and failure messages (bounded). */
  readonly history: string[] = [];
  readonly hubClosing: string[] = [];
  connects = 0;
  disconnects = 0;
  connectErrors = 0;
  watchErrors = 0;
  lastSeq = 0;
  url: string | undefined;
  private socket: Socket | undefined;
  private attempts = 0;
  private failures = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private resumed = false;
  private readonly waiters = new Set<() => void>();

  constructor(readonly options: ResumingClientOptions) {}

  get name(): string {
    return this.options.name;
  }

  get mode(): ResumeMode {
    return this.options.mode;
  }

  /** Connected and resumed (its replay complete). */
  get ready(): boolean {
    return this.resumed && !!this.socket?.connected;
  }

  seqs(): number[] {
    return this.received.map((r) => r.seq);
  }

  /** Connects and resumes; resolves once the first connection is resumed. */
  async start(timeoutMs = 15_000): Promise<void> {
    this.connect();
    await this.whenReady(timeoutMs);
  }

  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!this.ready) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new Error(`${this.name} not connected and resumed after ${timeoutMs} ms: ${this.history.slice(-5).join("; ")}`));
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  /**
   * The final catch-up the suite allows once the dust settles: a watch from the last seq seen
   * (paging), on the current connection.
   */
  async catchUp(timeoutMs = 10_000): Promise<void> {
    await this.whenReady(timeoutMs);
    await this.watchFrom(this.socket!, 5);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close();
  }

  private note(what: string): void {
    this.history.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
    if (this.history.length > 100) this.history.shift();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private record(message: { channelId?: string; seq?: number } | undefined, via: Receipt["via"]): void {
    if (!message || message.channelId !== this.options.channelId || typeof message.seq !== "number") return;
    this.received.push({ seq: message.seq, at: Date.now(), via });
    if (message.seq > this.lastSeq) this.lastSeq = message.seq;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    const delay = Math.min(2000, 150 * 1.5 ** Math.min(this.failures, 10));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }

  private connect(): void {
    if (this.stopped) return;
    const url = this.options.pickUrl(this.attempts++);
    if (!url) {
      this.failures++;
      return this.scheduleReconnect();
    }
    const { token, channelId, mode } = this.options;
    const auth = mode === "auth" ? { token, since: { channels: { [channelId]: this.lastSeq } } } : { token };
    const socket = io(url, {
      path: "/socket.io",
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
      auth,
    });
    this.socket = socket;
    this.resumed = false;
    socket.on("channel:message", (m) => this.record(m, "live"));
    socket.on("hub:closing", (p: { reason?: string } | undefined) => {
      this.hubClosing.push(String(p?.reason));
      this.note(`hub:closing ${p?.reason}`);
    });
    socket.on("connect", () => {
      this.connects++;
      this.url = url;
      this.note(`connected to ${url} (${mode}, since ${this.lastSeq})`);
      if (mode === "auth") {
        this.failures = 0;
        this.resumed = true;
        this.wake();
      } else {
        void this.watchFrom(socket, Infinity).then((ok) => {
          if (!ok || socket !== this.socket) return;
          this.failures = 0;
          this.resumed = true;
          this.wake();
        });
      }
    });
    socket.on("connect_error", (err) => {
      this.connectErrors++;
      this.failures++;
      this.note(`connect_error ${url}: ${err.message}`);
      socket.close();
      if (socket === this.socket) this.scheduleReconnect();
    });
    socket.on("disconnect", (reason) => {
      this.disconnects++;
      this.resumed = false;
      this.note(`disconnect ${url}: ${reason}`);
      if (socket === this.socket && reason !== "io client disconnect") this.scheduleReconnect();
    });
  }

  /**
   * `channel:watch` from the last seq seen until the ack says no more. A refused ack (e.g. a
   * 503 while the database is cut) is asked again after a pause, `retries` times at most.
   */
  private async watchFrom(socket: Socket, retries: number): Promise<boolean> {
    let refused = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      if (this.stopped || socket !== this.socket || !socket.connected) return false;
      // The ack's replay is recorded in the ack's callback, not after an `await`: the hub writes
      // the live messages it held during the replay right behind the ack, `ws` can hand them
      // over in the same tick, and a promise would let them be recorded before the replay.
      const ack = await new Promise<WatchAck>((resolve) =>
        socket.timeout(ACK_TIMEOUT_MS).emit("channel:watch", { channelId: this.options.channelId, since: this.lastSeq }, (err: unknown, ack: WatchAck) => {
          if (err || !ack?.ok) return resolve(err ? { ok: false, error: { detail: "no ack" } } : ack);
          for (const m of ack.missed ?? []) this.record(m, "replay");
          resolve(ack);
        }),
      );
      if (!ack?.ok) {
        this.watchErrors++;
        this.note(`watch refused: ${ack?.error?.status} ${ack?.error?.detail}`);
        if (++refused > retries) return false;
        await sleep(500);
        continue;
      }
      if (!ack.more) return true;
    }
    return false;
  }
}

interface WatchAck {
  ok?: boolean;
  missed?: any[];
  more?: boolean;
  error?: { status?: number; detail?: string };
}

/** What one client's receipts say against the seqs the publisher got a 201 for. */
export interface Verdict {
  missing: number[];
  duplicates: number;
  outOfOrder: number;
}

export function verdict(received: number[], expected: Iterable<number>): Verdict {
  const seen = new Set<number>();
  let duplicates = 0;
  let outOfOrder = 0;
  let last = -Infinity;
  for (const seq of received) {
    if (seen.has(seq)) duplicates++;
    else if (seq < last) outOfOrder++;
    seen.add(seq);
    if (seq > last) last = seq;
  }
  const missing = [...expected].filter((s) => !seen.has(s));
  return { missing, duplicates, outOfOrder };
}

// ---- publisher --------------------------------------------------------------------------------

export interface PublishResult {
  i: number;
  url: string;
  start: number;
  end: number;
  status: number;
  seq?: number;
  contentType?: string | null;
  retryAfter?: string | null;
  body?: any;
  error?: string;
}

export interface PublisherOptions {
  channelId: string;
  agentId: string;
  token: string;
  /** The hub for publish number `i` (e.g. alternating); undefined: skip this tick. */
  pickUrl: (i: number) => string | undefined;
  ratePerSec?: number;
  /** Requests allowed in flight at once (default 100: 5 s at 20/s); a tick over it is skipped (counted). */
  maxInFlight?: number;
  /** A request is abandoned (recorded with status 0) after this. */
  timeoutMs?: number;
  message?: (i: number) => string;
}

/** Publishes at a steady rate (open loop), each request alone, and records every outcome. */
export class Publisher {
  readonly results: PublishResult[] = [];
  skipped = 0;
  private i = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: PublisherOptions) {}

  start(): void {
    const rate = this.options.ratePerSec ?? 20;
    this.timer = setInterval(() => this.tick(), 1000 / rate);
  }

  /** Stops publishing and waits for the requests in flight (each bounded by its timeout). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Seqs the publisher got a 201 for. */
  okSeqs(): number[] {
    return this.results.filter((r) => r.status === 201 && typeof r.seq === "number").map((r) => r.seq!);
  }

  private tick(): void {
    const i = this.i++;
    const url = this.options.pickUrl(i);
    if (!url || this.inFlight.size >= (this.options.maxInFlight ?? 100)) {
      this.skipped++;
      return;
    }
    const p = this.publish(i, url).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async publish(i: number, url: string): Promise<void> {
    const { channelId, agentId, token } = this.options;
    const message = this.options.message?.(i) ?? `fault-suite message ${i}`;
    const start = Date.now();
    const result: PublishResult = { i, url, start, end: start, status: 0 };
    try {
      const res = await fetch(`${url}/team-channels/${channelId}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ agentId, message }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      result.status = res.status;
      result.contentType = res.headers.get("content-type");
      result.retryAfter = res.headers.get("retry-after");
      try {
        result.body = text ? JSON.parse(text) : undefined;
      } catch {
        result.body = text.slice(0, 200);
      }
      if (res.status === 201) {
        result.seq = result.body?.seq;
        result.body = undefined; // keep memory flat for large messages
      }
    } catch (err) {
      result.error = (err as Error).name === "TimeoutError" ? "timeout" : String((err as Error).cause ?? (err as Error).message);
    }
    result.end = Date.now();
    this.results.push(result);
  }
}

// ---- readiness --------------------------------------------------------------------------------

export interface ReadySample {
  hub: string;
  start: number;
  end: number;
  /** 0: no answer (refused, reset or timed out). */
  status: number;
}

/** Polls every target's /readyz on its own (one request in flight per target). */
export class ReadyPoller {
  readonly samples: ReadySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly busy = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly targets: () => Array<{ name: string; url: string }>,
    private readonly intervalMs = 250,
    private readonly timeoutMs = 4000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      for (const t of this.targets()) {
        if (this.busy.has(t.name)) continue;
        this.busy.add(t.name);
        const p = this.probe(t.name, t.url).finally(() => {
          this.busy.delete(t.name);
          this.inFlight.delete(p);
        });
        this.inFlight.add(p);
      }
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  of(hub: string, from = 0, to = Infinity): ReadySample[] {
    return this.samples.filter((s) => s.hub === hub && s.start >= from && s.start < to);
  }

  /** The end of the first 200 for `hub` whose request started at or after `from`. */
  firstReady(hub: string, from: number): number | undefined {
    return this.samples.find((s) => s.hub === hub && s.start >= from && s.status === 200)?.end;
  }

  private async probe(hub: string, url: string): Promise<void> {
    const start = Date.now();
    let status = 0;
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(this.timeoutMs) });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = 0;
    }
    this.samples.push({ hub, start, end: Date.now(), status });
  }
}

/** Waits until `predicate` holds, checking every `stepMs`; false after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (predicate()) return true;
    await sleep(stepMs);
  }
  return predicate();
}
