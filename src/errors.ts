/**
 * Typed errors, defined once. The HTTP layer maps them to problem+json (RFC 9457) and the
 * socket layer to ack errors; domain code throws them without knowing either.
 */
export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = new.target.name;
  }
  get detail(): string {
    return this.message;
  }
}

export class Unauthorized extends AppError {
  constructor(detail = "A valid credential is required") {
    super(401, "unauthorized", "Unauthorized", detail);
  }
}

export class Forbidden extends AppError {
  constructor(detail = "You may not do this") {
    super(403, "forbidden", "Forbidden", detail);
  }
}

export class NotFound extends AppError {
  constructor(what = "Resource") {
    super(404, "not-found", "Not Found", `${what} not found`);
  }
}

export class Conflict extends AppError {
  constructor(detail: string) {
    super(409, "conflict", "Conflict", detail);
  }
}

export class Invalid extends AppError {
  constructor(
    readonly errors: FieldError[],
    detail = errors.map((e) => `${e.field}: ${e.message}`).join("; ") || "Invalid input",
  ) {
    super(422, "validation", "Unprocessable Content", detail, { errors });
  }
  static field(field: string, message: string): Invalid {
    return new Invalid([{ field, message }]);
  }
}

export class PayloadTooLarge extends AppError {
  constructor(limit: number) {
    super(413, "payload-too-large", "Payload Too Large", `The body is larger than ${limit} bytes`);
  }
}

export class TooManyRequests extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, "rate-limited", "Too Many Requests", `Slow down; retry after ${retryAfterSeconds}s`);
  }
}

/** A dependency (Postgres) cannot be reached right now: try again shortly. */
export class ServiceUnavailable extends AppError {
  constructor(
    readonly retryAfterSeconds = 5,
    detail = "The database is not reachable right now; try again shortly",
  ) {
    super(503, "unavailable", "Service Unavailable", detail);
  }
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Whether an error means the database could not be reached or the connection was lost, rather
 * than that the request was wrong: refused or dropped connections, pool timeouts, Postgres
 * shutting down or not accepting connections (SQLSTATE classes 08 and 57P0x).
 */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : "";
  return (
    CONNECTION_CODES.has(code) ||
    /^08|^57P0[1-3]$/.test(code) ||
    e.name === "KnexTimeoutError" ||
    /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|^timeout expired$|Query read timeout/i.test(message)
  );
}

/** Postgres unique violation (23505) on a named constraint, for mapping to Conflict in one place. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return !!e && e.code === "23505" && (constraint === undefined || e.constraint === constraint);
}
