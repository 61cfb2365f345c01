/**
 * The input primitives every family shares: `parse` (a failure becomes a 422 naming each bad field)
 * and `plainJsonProblem`, ids, names, and page and history queries. Each family's schemas are beside
 * it (http/routes/<family>/schema.ts, realtime/schema.ts, domain/knowledge/schema.ts). A rule
 * written here once holds on every path. It imports nothing from the domain (the domain imports it).
 */
import { z } from "zod";
import { Invalid } from "./errors.js";

/** Deeper JSON than this is refused: nothing the API takes nests so deep, and walking it costs stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * Refuses input no schema should have to think about and Postgres cannot store: NUL characters
 * (text and jsonb reject them), nesting deeper than MAX_JSON_DEPTH, and prototype keys. Walks
 * iteratively, so hostile depth cannot overflow the stack. Answers the first problem, with the
 * path (keys from `data`) of the value it is in.
 */
export function plainJsonProblem(data: unknown): { path: string[]; message: string } | undefined {
  const stack: Array<[value: unknown, path: string[]]> = [[data, []]];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) return { path, message: "must not contain NUL characters" };
    } else if (value !== null && typeof value === "object") {
      if (path.length >= MAX_JSON_DEPTH) return { path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
      for (const [key, child] of Object.entries(value)) {
        if (key === "__proto__" || key.includes("\u0000")) return { path, message: `has a key that is not allowed: ${JSON.stringify(key)}` };
        stack.push([child, [...path, key]]);
      }
    }
  }
  return undefined;
}

function assertPlainJson(data: unknown, root: string): void {
  const problem = plainJsonProblem(data);
  if (problem) throw Invalid.field(problem.path.length ? problem.path.join(".") : root, problem.message);
}

/** `root` names the input itself when the error is about the whole of it. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, root = "body"): z.output<S> {
  assertPlainJson(data, root);
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
  if (!value || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(Number(value))) throw Invalid.field(field, "must be a positive integer");
  return Number(value);
}

// ---- ids and names --------------------------------------------------------------------------

/** An agent's slug id, chosen at creation and used to refer to it everywhere. */
export const AgentId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit");

/** A UUID in the 8-4-4-4-12 hex form, any version (test ids like 1111…-1111 included), answered in lower case. */
export const Uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID")
  .transform((v) => v.toLowerCase());

/** A name or title people read: trimmed, not empty, at most 200 characters. */
export const Title = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters");

/** An agent server's URL: http(s) only (the SSRF guard decides the rest, in the service). */
export const ServerUrl = z
  .string()
  .max(2000)
  .refine((v) => /^https?:\/\//i.test(v) && URL.canParse(v), "must be an http(s) URL")
  .nullable();

// ---- queries --------------------------------------------------------------------------------

/** The largest seq there can be (seqs are Postgres `integer`s): larger ones are refused at the edge. */
export const MAX_SEQ = 2 ** 31 - 1;

/** Parses a `since` value: ISO 8601 or Unix milliseconds. Returns undefined when it is neither. */
function parseSince(value: string): Date | undefined {
  const trimmed = value.trim();
  if (/^\d{1,15}$/.test(trimmed)) return new Date(Number(trimmed));
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined;
  const d = new Date(trimmed);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

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

/** A seq to resume after, in a query string. */
const SeqQuery = z
  .string()
  .regex(/^\d{1,10}$/, "must be a non-negative integer")
  .transform(Number)
  .refine((n) => n <= MAX_SEQ, `must be at most ${MAX_SEQ}`)
  .optional();

/** `?limit=` (default 50; larger than 200 is served as 200) and an opaque `?cursor=`. */
export const PageQuery = z.object({ limit: limitQuery(50, 200), cursor: CursorQuery });
/** `?since=`: only what changed after that millisecond. */
export const SessionListQuery = PageQuery.extend({ since: SinceQuery });
export const MessagesQuery = PageQuery.extend({ since: SinceQuery, after_seq: SeqQuery }).refine(
  (q) => q.cursor === undefined || q.after_seq === undefined,
  { message: "send cursor or after_seq, not both", path: ["after_seq"] },
);
