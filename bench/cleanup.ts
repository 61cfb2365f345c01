/**
 * What the benchmark must undo (server and subscriber processes to stop, the bench database to
 * drop), run newest first: a stack's own list when it closes, `atExit` at the end of the run or
 * on SIGINT/SIGTERM, so nothing outlives the run even when it fails half-way.
 */
/** How long one cleanup may take before the next one runs anyway. */
const CAP_MS = 15_000;

export class Cleanups {
  private readonly fns: Array<() => Promise<void>> = [];
  private running: Promise<void> | undefined;

  add(fn: () => Promise<void>): void {
    this.fns.push(fn);
  }

  /** Runs every cleanup once, newest first; a failure is reported and the others still run. */
  run(): Promise<void> {
    return (this.running ??= (async () => {
      while (this.fns.length) {
        const fn = this.fns.pop()!;
        let timer: NodeJS.Timeout | undefined;
        const capped = new Promise<void>((resolve) => (timer = setTimeout(resolve, CAP_MS)));
        await Promise.race([fn().catch((err) => console.error(`cleanup: ${(err as Error).message}`)), capped]);
        clearTimeout(timer);
      }
    })());
  }
}

/** Everything still to undo when the process ends. */
export const atExit = new Cleanups();
