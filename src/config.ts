/**
 * Configuration: the environment parsed and checked once at start, then frozen.
 * Every bad value is reported with its variable name so an operator can fix it at once.
 */
import path from "node:path";
import { z } from "zod";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const intInRange = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `${name} must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const byteSize = (name: string, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(v.trim());
      if (!m) {
        ctx.addIssue({ code: "custom", message: `${name} must be a size like 1048576, 512kb or 1mb` });
        return z.NEVER;
      }
      const unit = (m[2] ?? "b").toLowerCase();
      return Number(m[1]) * (unit === "mb" ? 1024 * 1024 : unit === "kb" ? 1024 : 1);
    });

const urlString = (name: string, protocols: string[]) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `${name} must be a URL (${protocols.join(" or ")})` },
  );

const EnvSchema = z.object({
  PORT: intInRange("PORT", 0, 65535, 3000),
  HOST: optionalString.transform((v) => v ?? "0.0.0.0"),
  PUBLIC_URL: urlString("PUBLIC_URL", ["http:", "https:"]),
  DATABASE_URL: urlString("DATABASE_URL", ["postgres:", "postgresql:"]),
  DATABASE_POOL_MAX: intInRange("DATABASE_POOL_MAX", 2, 200, 10),
  REDIS_URL: urlString("REDIS_URL", ["redis:", "rediss:"]),
  REDIS_PREFIX: optionalString
    .refine((v) => v === undefined || /^[\w:.-]{1,64}$/.test(v), { message: "REDIS_PREFIX must be 1-64 letters, digits or _:.-" })
    .transform((v) => v ?? "agenthub"),
  JWT_SECRET: optionalString,
  JWT_JWKS_URL: urlString("JWT_JWKS_URL", ["http:", "https:"]),
  JWT_PUBLIC_KEY: optionalString.refine((v) => v === undefined || v.includes("BEGIN PUBLIC KEY"), {
    message: "JWT_PUBLIC_KEY must be a PEM (SPKI) public key: -----BEGIN PUBLIC KEY-----…",
  }),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  DATA_DIR: optionalString.transform((v) => path.resolve(v ?? "data")),
  LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS).optional()).transform((v) => v ?? "info"),
  BODY_LIMIT: byteSize("BODY_LIMIT", 1024 * 1024),
  MESSAGE_MAX_BYTES: byteSize("MESSAGE_MAX_BYTES", 256 * 1024),
  SOCKET_MAX_PAYLOAD: byteSize("SOCKET_MAX_PAYLOAD", 64 * 1024),
  SOCKET_EVENTS_PER_10S: intInRange("SOCKET_EVENTS_PER_10S", 1, 100000, 100),
  SOCKET_MAX_BUFFERED: byteSize("SOCKET_MAX_BUFFERED", 8 * 1024 * 1024),
  RATE_LIMIT_PER_10S: intInRange("RATE_LIMIT_PER_10S", 0, 10_000_000, 6000),
  SHUTDOWN_TIMEOUT_MS: intInRange("SHUTDOWN_TIMEOUT_MS", 0, 600000, 10000),
});

export interface Config {
  /** TCP port the HTTP server and Socket.IO listen on. @default 3000 */
  readonly port: number;
  /** @default "0.0.0.0" */
  readonly host: string;
  /** Base URL of share links and the start banner. @default http://localhost:<the port listened on> */
  readonly publicUrl: string | undefined;
  /** Postgres connection string; undefined selects the embedded PGlite database under dataDir. */
  readonly databaseUrl: string | undefined;
  readonly databasePoolMax: number;
  /** Redis URL; undefined selects Socket.IO's in-process adapter (one process only). */
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis channel and key, so several hubs can share one Redis. @default "agenthub" */
  readonly redisPrefix: string;
  readonly jwt: {
    readonly secret: string | undefined;
    readonly jwksUrl: string | undefined;
    readonly publicKey: string | undefined;
    readonly issuer: string | undefined;
    readonly audience: string | undefined;
  };
  readonly dataDir: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Largest accepted request body, in bytes; larger answers 413. @default 1 MiB */
  readonly bodyLimit: number;
  /** Largest accepted session message (its JSON), in bytes; larger answers 422. @default 256 KiB */
  readonly messageMaxBytes: number;
  readonly socket: {
    /** Largest accepted incoming Socket.IO packet, in bytes. @default 64 KiB */
    readonly maxPayload: number;
    /** Client events allowed per socket per 10 seconds. @default 100 */
    readonly eventsPer10s: number;
    /** Outgoing bytes a slow consumer may have buffered before it is disconnected. @default 8 MiB */
    readonly maxBuffered: number;
  };
  /** API requests one credential may make per 10 seconds (all processes together); 0 turns it off. @default 6000 */
  readonly rateLimitPer10s: number;
  readonly shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? "");
        return i.message.startsWith(name) ? i.message : `${name}: ${i.message}`;
      }),
    );
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    jwt: Object.freeze({
      secret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      publicKey: e.JWT_PUBLIC_KEY?.replace(/\\n/g, "\n"),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    }),
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    bodyLimit: e.BODY_LIMIT,
    messageMaxBytes: e.MESSAGE_MAX_BYTES,
    socket: Object.freeze({
      maxPayload: e.SOCKET_MAX_PAYLOAD,
      eventsPer10s: e.SOCKET_EVENTS_PER_10S,
      maxBuffered: e.SOCKET_MAX_BUFFERED,
    }),
    rateLimitPer10s: e.RATE_LIMIT_PER_10S,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  });
}
