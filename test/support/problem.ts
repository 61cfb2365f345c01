/**
 * Pins error answers to their exact shape: problem+json (RFC 9457) on REST, and the same
 * problem under `error` in a socket ack. Each kind of problem has a stable URN and title.
 */
import { expect } from "vitest";
import { toProblem } from "../../src/problem.js";
import type { Res } from "./api.js";

const KINDS = {
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not Found" },
  "method-not-allowed": { status: 405, title: "Method Not Allowed" },
  conflict: { status: 409, title: "Conflict" },
  "payload-too-large": { status: 413, title: "Payload Too Large" },
  validation: { status: 422, title: "Unprocessable Content" },
  "rate-limited": { status: 429, title: "Too Many Requests" },
  internal: { status: 500, title: "Internal Server Error" },
  "not-ready": { status: 503, title: "Service Unavailable" },
} as const;

/** What the hub answers other 4xx errors from Koa and its parsers with. */
const HTTP_TITLES: Record<number, string> = { 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 415: "Unsupported Media Type" };

export type ProblemKind = keyof typeof KINDS | `http-${number}`;

function kindOf(kind: ProblemKind): { status: number; title: string } {
  if (kind in KINDS) return KINDS[kind as keyof typeof KINDS];
  const status = Number(kind.slice("http-".length));
  return { status, title: HTTP_TITLES[status] ?? "Error" };
}

export interface ProblemOptions {
  /** The exact detail, or a pattern it matches; by default any non-empty string. */
  detail?: string | RegExp;
  /** For `validation`: the fields its `errors` name, each once, in order (a field may have several errors). */
  fields?: string[];
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

export const problemType = (kind: ProblemKind) => `urn:agenthub:problem:${kind}`;

const isFieldError = (e: unknown) => {
  const { field, message, ...rest } = (e ?? {}) as Record<string, unknown>;
  return typeof field === "string" && typeof message === "string" && /\S/.test(message) && Object.keys(rest).length === 0;
};

/** Matches a 422's `errors`: one or more `{field, message}`, naming `fields` (if given) in order. */
function fieldErrors(fields?: string[]): Problem["errors"] {
  const named = (errors: Array<{ field: string }>) => [...new Set(errors.map((e) => e.field))];
  const matcher = {
    $$typeof: Symbol.for("jest.asymmetricMatcher"),
    asymmetricMatch: (errors: unknown) =>
      Array.isArray(errors) &&
      errors.length > 0 &&
      errors.every(isFieldError) &&
      (!fields || JSON.stringify(named(errors)) === JSON.stringify(fields)),
    toString: () => "FieldErrors",
    toAsymmetricMatcher: () => `FieldErrors naming ${fields ? JSON.stringify(fields) : "any field"}`,
  };
  return matcher as unknown as Problem["errors"];
}

/** A matcher for a whole problem body: `{type, title, status, detail}`, and `errors` for 422 only. */
export function problem(kind: ProblemKind, options: ProblemOptions = {}): Problem {
  const { status, title } = kindOf(kind);
  const { detail = /\S/ } = options;
  return {
    type: problemType(kind),
    title,
    status,
    detail: typeof detail === "string" ? detail : expect.stringMatching(detail),
    ...(kind === "validation" ? { errors: fieldErrors(options.fields) } : {}),
  };
}

/** Asserts a REST answer is exactly this problem, as problem+json, and returns its body. */
export function expectProblem(res: Res, kind: ProblemKind, options: ProblemOptions = {}): Problem {
  expect({ status: res.status, contentType: res.headers.get("content-type"), body: res.body }).toEqual({
    status: kindOf(kind).status,
    contentType: expect.stringMatching(/^application\/problem\+json\b/),
    body: problem(kind, options),
  });
  return res.body;
}

/** A matcher for a refused socket ack: `{ok: false, error: <problem>}`. */
export const ackProblem = (kind: ProblemKind, options: ProblemOptions = {}) => ({ ok: false, error: problem(kind, options) });

/** For services called directly: the promise is refused with an error that maps to this problem. */
export async function rejectsWith(promise: Promise<unknown>, kind: ProblemKind, options: ProblemOptions = {}): Promise<void> {
  const err = await promise.then(
    () => expect.unreachable("expected a refusal"),
    (e: unknown) => e,
  );
  expect(toProblem(err, 0).problem).toEqual(problem(kind, options));
}
