/** Structured JSON logs (pino). Request and socket logs are children carrying their ids. */
import { pino, type Logger } from "pino";

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["req.headers.authorization", "token", "key", "*.token", "*.key"], censor: "[redacted]" },
  });
}
