/**
 * Validation at the edge (REST bodies and queries, socket payloads): one zod schema each;
 * failures are 422 with per-field errors.
 */
import { z } from "zod";
import { Invalid } from "../errors.js";
import { parseSince } from "../domain/time.js";

/** `root` names the input itself when the error is about the whole of it. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, root = "body"): z.output<S> {
  const result = schema.safeParse(data ?? {});
  if (result.success) return result.data;
  throw new Invalid(
    result.error.issues.map((i) => ({
      field: i.path.length ? i.path.join(".") : root,
      message: i.message,
    })),
  );
}

/** Path parameters that must be positive int64-safe integers (user ids). */
export function parseIntId(value: string | undefined, field: string): number {
  if (!value || !/^\d{1,15}$/.test(value)) throw Invalid.field(field, "must be a positive integer");
  return Number(value);
}

/**
 * A UUID in the 8-4-4-4-12 hex form, any version (test ids like 1111…-1111 included), answered
 * in lower case.
 */
export const UuidSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID")
  .transform((v) => v.toLowerCase());

/** `?limit=`: a positive whole number, served at most `max` (larger asks are capped, not refused). */
export function limitQuery(fallback: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      if (!/^\d+$/.test(v) || Number(v) < 1) {
        ctx.addIssue({ code: "custom", message: "must be a positive whole number" });
        return z.NEVER;
      }
      return Math.min(Number(v), max);
    });
}

/** `?cursor=`: opaque; empty means absent. */
export const CursorQuery = z
  .string()
  .max(500)
  .optional()
  .transform((v) => (v === "" ? undefined : v));

/** `?since=`: ISO 8601 or Unix milliseconds, as a Date (absent or empty: undefined). */
export const SinceQuery = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === "") return undefined;
    const d = parseSince(v);
    if (!d) ctx.addIssue({ code: "custom", message: "must be an ISO 8601 time or Unix milliseconds" });
    return d;
  });
