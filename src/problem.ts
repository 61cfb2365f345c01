/** Maps any thrown error to an RFC 9457 problem: the body of HTTP errors and of socket ack errors alike. Never leaks a stack trace. */
import { AppError, PayloadTooLarge, ServiceUnavailable, TooManyRequests, isUnavailable } from "./errors.js";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extra: string]: unknown;
}

export function problemType(id: string): string {
  return `urn:agenthub:problem:${id}`;
}

/** Errors from Koa and its parsers carry `status`/`expose`; everything else is a 500. */
export function toProblem(err: unknown, bodyLimit: number): { problem: Problem; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  let e: AppError;
  if (err instanceof AppError) {
    e = err;
  } else if (isUnavailable(err)) {
    e = new ServiceUnavailable();
  } else {
    const status = (err as { status?: number; statusCode?: number })?.status ?? (err as { statusCode?: number })?.statusCode;
    const type = (err as { type?: string })?.type;
    const code = (err as { code?: unknown })?.code;
    const message = String((err as Error)?.message ?? "");
    if (status === 413 || type === "entity.too.large") e = new PayloadTooLarge(bodyLimit);
    else if (/forbidden prototype property/i.test(message))
      e = new AppError(422, "validation", "Unprocessable Content", "The body must not contain __proto__ or constructor.prototype keys", {
        errors: [{ field: "body", message: "has a key that is not allowed: __proto__" }],
      });
    // zlib's codes (Z_DATA_ERROR …) and brotli's (ERR__ERROR_FORMAT_… and the like).
    else if (typeof code === "string" && /^(Z_|ERR__|ERR_BROTLI|ERR_ZLIB)/.test(code))
      e = new AppError(400, "http-400", "Bad Request", "The body does not decode as its Content-Encoding says");
    else if (type === "entity.parse.failed" || (status === 400 && /json/i.test(message)))
      e = new AppError(422, "validation", "Unprocessable Content", "The body is not valid JSON", {
        errors: [{ field: "body", message: "not valid JSON" }],
      });
    else if (typeof status === "number" && status >= 400 && status < 500)
      e = new AppError(status, `http-${status}`, httpTitle(status), message || httpTitle(status));
    else e = new AppError(500, "internal", "Internal Server Error", "Something went wrong on our side; it has been logged");
  }
  if (e instanceof TooManyRequests || e instanceof ServiceUnavailable) headers["Retry-After"] = String(e.retryAfterSeconds);
  return {
    problem: { type: problemType(e.type), title: e.title, status: e.status, detail: e.detail, ...e.extra },
    headers,
  };
}

function httpTitle(status: number): string {
  return (
    { 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 415: "Unsupported Media Type" } as Record<number, string>
  )[status] ?? "Error";
}
