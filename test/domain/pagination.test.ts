/** Pages bounded in count and bytes (src/domain/pagination.ts). */
import { describe, expect, it } from "vitest";
import { decodeActivityCursor, decodeSeqCursor, encodeActivityCursor, encodeSeqCursor, takePage } from "../../src/domain/pagination.js";

const rows = (n: number, bytes = 10) => Array.from({ length: n }, (_, i) => ({ seq: i + 1, body: "x".repeat(bytes) }));
const after = (last: { seq: number }) => encodeSeqCursor(last.seq);

describe("takePage", () => {
  it("serves limit rows and a cursor when one more was fetched, none at the end", () => {
    expect(takePage(rows(3), 2, after)).toEqual({ items: rows(2), next: encodeSeqCursor(2) });
    expect(takePage(rows(2), 2, after)).toEqual({ items: rows(2), next: null });
  });

  it("ends a page before the row that would pass the byte bound, always serving one", () => {
    const big = rows(5, 1000); // each about 1 KB as JSON
    const page = takePage(big, 5, after, 2500);
    expect(page.items.map((r) => r.seq)).toEqual([1, 2]);
    expect(decodeSeqCursor(page.next!)).toBe(2);
    expect(takePage(rows(3, 5000), 3, after, 100).items.map((r) => r.seq)).toEqual([1]);
    expect(takePage(rows(2, 10), 5, after, 1_000_000)).toEqual({ items: rows(2, 10), next: null });
  });

  it("refuses cursors it did not give out, and seqs past Postgres integers", () => {
    expect(() => decodeSeqCursor("nonsense")).toThrow(/cursor/);
    expect(() => decodeSeqCursor(encodeSeqCursor(2 ** 31))).toThrow(/cursor/);
  });

  it("refuses activity cursors with times Postgres cannot hold (found by the fuzz suite: a 500 before)", () => {
    const far = Buffer.from(JSON.stringify(["-271821-04-20T00:00:00.000Z", "ses_x"])).toString("base64url");
    expect(() => decodeActivityCursor(far)).toThrow(/cursor/);
    const key = { activityAt: new Date("2026-12-07T12:00:00.000Z"), id: "ses_x" };
    expect(decodeActivityCursor(encodeActivityCursor(key))).toEqual(key);
  });
});
