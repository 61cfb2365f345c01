/**
 * Lists a page at a time. Cursors are opaque to clients (base64url of the sort key of the last
 * item served); a cursor that does not decode answers 422 on the `cursor` field. Repositories
 * fetch `limit + 1` rows and `takePage` turns them into the page and the next cursor.
 */
import type { Knex } from "knex";
import { Invalid } from "../errors.js";
import { MAX_SEQ } from "../schemas.js";

export interface Page<T> {
  items: T[];
  /** Where the next page starts; null on the last page. */
  next: string | null;
}

/** A list response of message bodies stops at about this many bytes (always at least one item), with a cursor for the rest. */
export const PAGE_MAX_BYTES = 4 * 1024 * 1024;

/** An item's size as JSON, for pages bounded in bytes. */
export const jsonBytes = (item: unknown): number => Buffer.byteLength(JSON.stringify(item));

/**
 * Rows fetched with `limit + 1`: the page, and a cursor after its last item when there is more.
 * With `maxBytes`, the page also ends before the item that would take it past that size.
 */
export function takePage<T>(rows: T[], limit: number, cursorAfter: (last: T) => string, maxBytes?: number): Page<T> {
  let end = Math.min(rows.length, limit);
  if (maxBytes !== undefined) {
    let bytes = 0;
    for (let i = 0; i < end; i++) {
      bytes += jsonBytes(rows[i]);
      if (i > 0 && bytes > maxBytes) end = i;
    }
  }
  if (end === rows.length) return { items: rows, next: null };
  const items = rows.slice(0, end);
  return { items, next: cursorAfter(items[items.length - 1]!) };
}

/**
 * "After t" means after the millisecond t names: times leave the API with millisecond
 * precision while Postgres keeps microseconds, so a client that passes back a time it was
 * given gets nothing it already has.
 */
export function afterMillisecond<Q extends Knex.QueryBuilder>(query: Q, column: string, since: Date | undefined): Q {
  if (since) query.andWhere(column, ">=", new Date(since.getTime() + 1));
  return query;
}

/** Sessions: newest activity first, ties broken by id. */
export interface ActivityKey {
  activityAt: Date;
  id: string;
}

export function encodeActivityCursor(key: ActivityKey): string {
  return encode([key.activityAt.toISOString(), key.id]);
}

export function decodeActivityCursor(cursor: string): ActivityKey {
  const value = decode(cursor);
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string") {
    const activityAt = new Date(value[0]);
    // Dates JavaScript takes but Postgres does not (year -271821) were never given out.
    const year = activityAt.getUTCFullYear();
    if (!Number.isNaN(activityAt.getTime()) && year >= 1 && year <= 9999) return { activityAt, id: value[1] };
  }
  throw badCursor();
}

/** Lists ordered by a text id (agents). */
export const encodeIdCursor = (id: string): string => encode({ id });

export function decodeIdCursor(cursor: string): string {
  const value = decode(cursor) as { id?: unknown } | undefined;
  if (value && typeof value === "object" && typeof value.id === "string") return value.id;
  throw badCursor();
}

/** Messages: oldest first, by seq. */
export const encodeSeqCursor = (seq: number): string => encode({ seq });

export function decodeSeqCursor(cursor: string): number {
  const value = decode(cursor) as { seq?: unknown } | undefined;
  if (value && typeof value === "object" && Number.isInteger(value.seq) && (value.seq as number) >= 0 && (value.seq as number) <= MAX_SEQ) return value.seq as number;
  throw badCursor();
}

const badCursor = () => Invalid.field("cursor", "not a cursor this list gave out");
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A cursor's value; undefined when it is not JSON or carries a NUL (which no key of ours has, and Postgres refuses). */
function decode(cursor: string): unknown {
  try {
    const text = Buffer.from(cursor, "base64url").toString("utf8");
    return text.includes("\\u0000") || text.includes("\u0000") ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
