/**
 * Opaque list cursors: base64url of the sort key of the last item served. Clients must not
 * build them; a cursor that does not decode answers 422 on the `cursor` field.
 */
import { Invalid } from "../errors.js";

/** Sessions: newest activity first, ties broken by id. */
export interface ActivityKey {
  activityAt: Date;
  id: string;
}

export function encodeActivityCursor(key: ActivityKey): string {
  return Buffer.from(JSON.stringify([key.activityAt.toISOString(), key.id])).toString("base64url");
}

export function decodeActivityCursor(cursor: string): ActivityKey {
  const value = decode(cursor);
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string") {
    const activityAt = new Date(value[0]);
    if (!Number.isNaN(activityAt.getTime())) return { activityAt, id: value[1] };
  }
  throw Invalid.field("cursor", "not a cursor this list gave out");
}

/** Lists ordered by a text id (agents). */
export function encodeIdCursor(id: string): string {
  return Buffer.from(JSON.stringify({ id })).toString("base64url");
}

export function decodeIdCursor(cursor: string): string {
  const value = decode(cursor) as { id?: unknown } | undefined;
  if (value && typeof value === "object" && typeof value.id === "string") return value.id;
  throw Invalid.field("cursor", "not a cursor this list gave out");
}

/** Messages: oldest first, by seq. */
export function encodeSeqCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ seq })).toString("base64url");
}

export function decodeSeqCursor(cursor: string): number {
  const value = decode(cursor) as { seq?: unknown } | undefined;
  if (value && typeof value === "object" && Number.isSafeInteger(value.seq) && (value.seq as number) >= 0) return value.seq as number;
  throw Invalid.field("cursor", "not a cursor this list gave out");
}

function decode(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}
