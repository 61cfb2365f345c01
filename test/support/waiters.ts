/**
 * Awaiting a condition over things that arrive (events, requests) without sleeping: `until`
 * resolves as soon as `wake()`, called on every arrival, finds the predicate true, and fails
 * after a timeout with what the caller says it saw.
 */
export interface Waiters {
  /** Call on every arrival. */
  wake(): void;
  until(predicate: () => boolean, what: string, timeoutMs: number, seen: () => string): Promise<void>;
}

export function waiters(): Waiters {
  const pending = new Set<() => void>();
  return {
    wake() {
      for (const check of [...pending]) check();
    },
    until(predicate, what, timeoutMs, seen) {
      if (predicate()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate()) return;
          pending.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          pending.delete(check);
          reject(new Error(`timed out waiting for ${what}; ${seen()}`));
        }, timeoutMs);
        pending.add(check);
      });
    },
  };
}

/** Asks `read` again every `everyMs` until `done` holds for its answer (for state read over REST); fails after `timeoutMs`. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last saw ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Checks `predicate` every `everyMs` until it holds (for state that changes without telling); fails after `timeoutMs`. */
export async function until(predicate: () => boolean, what = "a condition", timeoutMs = 5000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Waits until `moment` is `marginMs` past, by this machine's clock. Only for expiry itself under
 * test, where a real clock decides (a key's `expires_at` is compared with Postgres's now() and
 * this machine's, not with an injectable clock): callers make the moment the soonest the hub
 * allows (`expires_in_seconds: 1`), so the wait is the key's own life and no longer.
 */
export async function untilPast(moment: string | number, marginMs = 50): Promise<void> {
  const at = typeof moment === "number" ? moment : Date.parse(moment);
  if (!Number.isFinite(at)) throw new Error(`untilPast: not a moment: ${moment}`);
  const left = at + marginMs - Date.now();
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
}

/**
 * Per-address and per-credential limits count in fixed windows aligned to the clock
 * (src/rate-limit.ts): a test whose requests straddle a window's end would see its count
 * restart. With less than `needMs` of this window left, waits for the next one to begin.
 */
export async function freshWindow(windowMs: number, needMs = 5000): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 10));
}
