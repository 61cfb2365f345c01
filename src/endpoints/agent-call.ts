/**
 * One call to an agent server, as its parts share it: why it failed (the first reason wins),
 * the total deadline, the live request to destroy when it is cut, and a backoff sleep that a cut
 * wakes. Its errors say what went wrong in words a user can be shown as the turn's error.
 */
import type { ClientRequest } from "node:http";

/** Why a call failed, said so that it can be shown to the user as the turn's error. */
export class AgentCallError extends Error {
  constructor(
    readonly reason: string,
    /** True when nothing of an event stream arrived: the agent produced no output. */
    readonly beforeFirstByte: boolean,
    /** Worth another attempt (connection trouble, timeouts before the answer, 5xx, 429). */
    readonly retryable = false,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
    this.name = "AgentCallError";
  }
}

/** Thrown when request.signal aborts; `cause` is the signal's reason. */
export class AbortError extends Error {
  constructor(cause?: unknown) {
    super("the agent call was aborted", { cause });
    this.name = "AbortError";
  }
}

export const isAbortError = (err: unknown): boolean => err instanceof Error && err.name === "AbortError";

/** One call's shared state: the live request, the deadline, and the first reason it was cut short. */
export class Call {
  failure?: Error;
  sawBody = false;
  private current?: ClientRequest;
  private wake?: () => void;
  private readonly deadline: number;
  private readonly totalTimer: NodeJS.Timeout;
  private readonly onAbort = () => this.cut(new AbortError(this.signal?.reason));

  constructor(
    private readonly signal: AbortSignal | undefined,
    totalMs: number,
  ) {
    this.deadline = Date.now() + totalMs;
    this.totalTimer = setTimeout(() => this.cut(new AgentCallError(`no complete answer within ${totalMs} ms`, !this.sawBody)), totalMs);
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  remainingMs(): number {
    return this.deadline - Date.now();
  }

  attach(req: ClientRequest): void {
    this.current = req;
    if (this.failure) req.destroy(this.failure);
  }

  /** Ends the call for `err` (the first reason wins): the request dies, a backoff wakes. */
  cut(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.current?.destroy(err);
    this.wake?.();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  close(): void {
    clearTimeout(this.totalTimer);
    this.signal?.removeEventListener("abort", this.onAbort);
    this.current?.destroy();
  }
}
