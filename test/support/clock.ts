/** A clock the test moves by hand. Each reading also advances it by 1 ms, so writes stay ordered. */
import type { Clock } from "../../src/domain/time.js";

export interface TestClock extends Clock {
  advance(ms: number): void;
}

export function testClock(start = Date.parse("2026-01-01T00:00:00.000Z")): TestClock {
  let t = start;
  return {
    now: () => new Date(++t),
    advance: (ms) => {
      t += ms;
    },
  };
}
