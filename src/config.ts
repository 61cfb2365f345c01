/**
 * Configuration: the environment parsed and checked once at start, then frozen.
 * Every setting is declared once, in SETTINGS (variable, place in Config, parser with its range,
 * default, one-line doc); the Config type, loadConfig and the README table all come from it, so
 * they cannot drift. Every bad value is reported with its variable name so an operator can fix
 * them all at once.
 */
import path from "node:path";

/** A bad value; its message starts with the variable's name. */
class Problem extends Error {}

/** One environment variable: how to read it, and how the README describes it. */
class Setting<T> {
  constructor(
    readonly env: string,
    /** The default, as the README's table shows it. */
    readonly shown: string,
    readonly doc: string,
    /** `raw` is trimmed, and undefined when unset or blank: an empty value means "the default". */
    readonly read: (raw: string | undefined) => T,
  ) {}

  /** The same setting with its value (default included) transformed after reading. */
  map<U>(fn: (value: T) => U): Setting<U> {
    return new Setting(this.env, this.shown, this.doc, (raw) => fn(this.read(raw)));
  }
}

const code = (v: unknown) => `\`${v}\``;
const SIZES = { b: 1, kb: 1024, mb: 1024 * 1024 };
type Rule = [{ test(v: string): boolean }, need: string];

function int(env: string, min: number, max: number, fallback: number, doc: string): Setting<number> {
  return new Setting(env, code(fallback), doc, (raw) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Problem(`${env} must be a whole number from ${min} to ${max}`);
    return n;
  });
}

/** A size in bytes, written `1048576`, `512kb` or `1mb`. */
function bytes(env: string, fallback: number, doc: string): Setting<number> {
  const shown = fallback % SIZES.mb === 0 ? `${fallback / SIZES.mb}mb` : fallback % SIZES.kb === 0 ? `${fallback / SIZES.kb}kb` : fallback;
  return new Setting(env, code(shown), doc, (raw) => {
    if (raw === undefined) return fallback;
    const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw);
    if (!m) throw new Problem(`${env} must be a size like 1048576, 512kb or 1mb`);
    return Number(m[1]) * SIZES[(m[2] ?? "b").toLowerCase() as keyof typeof SIZES];
  });
}

/** A string that may stay unset; `unset` says what that means. */
function optional(env: string, unset: string, doc: string, rule?: Rule): Setting<string | undefined> {
  return new Setting(env, unset, doc, (raw) => {
    if (raw !== undefined && rule && !rule[0].test(raw)) throw new Problem(`${env} must be ${rule[1]}`);
    return raw;
  });
}

function text(env: string, fallback: string, doc: string, rule?: Rule): Setting<string> {
  return optional(env, code(fallback), doc, rule).map((v) => v ?? fallback);
}

function url(env: string, protocols: string[], unset: string, doc: string): Setting<string | undefined> {
  const isUrl = (v: string) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  };
  return optional(env, unset, doc, [{ test: isUrl }, `a URL (${protocols.join(" or ")})`]);
}

function oneOf<const V extends readonly string[]>(env: string, values: V, fallback: V[number], doc: string): Setting<V[number]> {
  return new Setting(env, code(fallback), doc, (raw) => {
    if (raw === undefined) return fallback;
    if (!values.includes(raw)) throw new Problem(`${env} must be one of ${values.join(", ")}`);
    return raw as V[number];
  });
}

function flag(env: string, fallback: boolean, doc: string): Setting<boolean> {
  return new Setting(env, code(fallback ? 1 : 0), doc, (raw) => {
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new Problem(`${env} must be 1 or 0 (or true/false, yes/no, on/off)`);
  });
}

/**
 * Text-search configurations every Postgres (15+) and the embedded PGlite ship with. A custom
 * one must be schema-qualified (`schema.name`); the database itself is asked at first use.
 */
const TS_CONFIGS = [
  "simple", "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish", "french", "german", "greek", "hindi",
  "hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian", "portuguese", "romanian", "russian",
  "serbian", "spanish", "swedish", "tamil", "turkish", "yiddish",
] as const;

function tsConfig(env: string, fallback: (typeof TS_CONFIGS)[number], doc: string): Setting<string> {
  const valid = (v: string) => (TS_CONFIGS as readonly string[]).includes(v) || /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(v);
  return text(env, fallback, doc, [{ test: (v) => valid(v.toLowerCase()) }, `one of ${TS_CONFIGS.join(", ")}, or a custom configuration written schema.name`])
    .map((v) => v.toLowerCase());
}

/** `host:port` (an IPv6 host in brackets). */
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):(\d{1,5})$/;
function hostPort(v: string): { host: string; port: number } {
  const m = HOST_PORT.exec(v)!;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const HTTP = ["http:", "https:"];

/** Keys are the Config's field names (nesting included), in the README's order. */
const SETTINGS = {
  port: int("PORT", 0, 65535, 3000, "HTTP and Socket.IO port"),
  host: text("HOST", "0.0.0.0", "interface to listen on"),
  publicUrl: url("PUBLIC_URL", HTTP, "`http://localhost:<port listened on>`",
    "base of share-link URLs (`…/shared/{token}`, which the hub also serves)").map((v) => v?.replace(/\/+$/, "")),
  databaseUrl: url("DATABASE_URL", ["postgres:", "postgresql:"], "unset: embedded PGlite", "Postgres connection string (`postgres://…`)"),
  databasePoolMax: int("DATABASE_POOL_MAX", 2, 200, 10, "Postgres pool size per process"),
  redisUrl: url("REDIS_URL", ["redis:", "rediss:"], "unset: in-process adapter",
    "Redis for the Socket.IO adapter and cross-node events; required to run more than one process"),
  redisClusterNodes: optional("REDIS_CLUSTER_NODES", "unset: one Redis (REDIS_URL)",
    "a Redis Cluster (7+) to run on instead of one Redis: some of its nodes as `host:port,host:port,…` (the rest are discovered); broadcasts go through sharded pub/sub; not with REDIS_URL",
    [{ test: (v) => v.split(",").every((n) => HOST_PORT.test(n.trim())) }, "a comma-separated list of host:port"])
    .map((v) => (v ? v.split(",").map((n) => n.trim()).filter(Boolean).map(hostPort) : undefined)),
  redisPrefix: text("REDIS_PREFIX", "agenthub", "prefix of every Redis channel and key, so hubs can share a Redis",
    [/^[\w:.-]{1,64}$/, "1-64 letters, digits or _:.-"]),
  jwt: {
    // A short HS256 secret can be brute-forced offline from any one token it signed: refused, not warned about.
    secret: optional("JWT_SECRET", "unset: a generated development secret kept in the database",
      "HS256 secret for user tokens: at least 32 random characters (a shorter one stops the start)",
      [{ test: (v) => v.length >= 32 }, "at least 32 characters (random ones): a shorter HS256 secret is easier to forge tokens with"]),
    jwksUrl: url("JWT_JWKS_URL", HTTP, "unset", "JWKS endpoint of your identity provider (asymmetric algorithms)"),
    // Written `\n` in one-line environments (.env files, PaaS dashboards): turned back into newlines.
    publicKey: optional("JWT_PUBLIC_KEY", "unset", "PEM (SPKI) public key instead of a JWKS URL; `\\n` stands for a newline",
      [{ test: (v) => v.includes("BEGIN PUBLIC KEY") }, "a PEM (SPKI) public key: -----BEGIN PUBLIC KEY-----…"],
    ).map((v) => v?.replace(/\\n/g, "\n")),
    issuer: optional("JWT_ISSUER", "unset", "token issuer (`iss`), checked when set"),
    audience: optional("JWT_AUDIENCE", "unset", "token audience (`aud`), checked when set"),
    adminClaim: text("JWT_ADMIN_CLAIM", "role", "the claim that makes a user a workspace admin (a string, or an array of strings)"),
    adminValue: text("JWT_ADMIN_VALUE", "admin", "the value of JWT_ADMIN_CLAIM that makes a user a workspace admin"),
    maxAgeSeconds: int("JWT_MAX_AGE", 0, 31_536_000, 0, "refuse user tokens issued (`iat`) longer ago than this many seconds, whatever their `exp`; `0` turns it off"),
  },
  production: text("NODE_ENV", "development", "`production` refuses the generated development JWT secret and `http:` JWKS URLs").map((v) => v === "production"),
  dataDir: text("DATA_DIR", "./data", "where the embedded database lives").map((dir) => path.resolve(dir)),
  logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, "info", `pino level: ${LOG_LEVELS.join(", ")}`),
  bodyLimit: bytes("BODY_LIMIT", 1024 * 1024, "largest request body; larger answers 413"),
  messageMaxBytes: bytes("MESSAGE_MAX_BYTES", 256 * 1024, "largest session message (its JSON); larger answers 422"),
  socket: {
    maxPayload: bytes("SOCKET_MAX_PAYLOAD", 64 * 1024, "largest incoming Socket.IO packet"),
    eventsPer10s: int("SOCKET_EVENTS_PER_10S", 1, 100_000, 100, "client events a socket may send per 10 s (`agent:event` not counted)"),
    agentEventsPer10s: int("SOCKET_AGENT_EVENTS_PER_10S", 1, 1_000_000, 20_000, "`agent:event`s a serving agent socket may send per 10 s; past it the socket is disconnected"),
    maxBuffered: bytes("SOCKET_MAX_BUFFERED", 8 * 1024 * 1024, "outgoing bytes a slow socket (in engine.io and the websocket together), or a slow reader of a turn stream (SSE: Sharely, AG-UI, AI SDK, A2A), may have queued before it is disconnected"),
    maxStreams: int("SOCKET_MAX_STREAMS", 1, 100_000, 1000, "streams (channels, sessions) one socket may watch; one more answers 409"),
    perCredential: int("SOCKETS_PER_CREDENTIAL", 1, 1_000_000, 1000, "sockets one credential (key or user) may hold open on one hub process; one more is refused (`connect_error` `too many connections`)"),
    handshakesPer10sPerIp: int("HANDSHAKES_PER_10S_PER_IP", 1, 1_000_000, 1000, "socket handshakes one address may start per 10 s on one hub process; more are refused (`connect_error` `rate limited`)"),
    recheckMs: int("SOCKET_RECHECK_MS", 1000, 3_600_000, 30_000, "how often every live socket's credential and memberships are checked against Postgres again: the longest a socket keeps access whose revocation event its node missed"),
    failedAuthPer10sPerIp: int("FAILED_AUTH_PER_10S_PER_IP", 1, 1_000_000, 100, "refused credentials (REST 401s and socket handshakes) one address may cause per 10 s on one hub process before its requests answer 429"),
  },
  keyCacheMs: int("KEY_CACHE_MS", 0, 60_000, 5000,
    "how long a hub process authenticates an API key from memory after reading it from Postgres; a revocation clears it on every node at once (through Redis), so this bounds only a node that missed that message; `0` reads Postgres on every request"),
  rateLimitPer10s: int("RATE_LIMIT_PER_10S", 0, 10_000_000, 6000,
    "API requests one credential (key or user) may make per 10 s across all processes (through Redis); over it, 429 with `Retry-After`; `0` turns it off"),
  publicPer10sPerIp: int("PUBLIC_RATE_LIMIT_PER_10S", 0, 10_000_000, 600,
    "requests one address may make per 10 s to routes that need no credential (the shared view), across all processes; `0` turns it off"),
  trustProxy: flag("TRUST_PROXY", false, "take the client address (per-address limits, REST and sockets) and protocol from `X-Forwarded-For`/`-Proto`: set it only behind a proxy that sets them; it also turns the embedded default's local sign-in off"),
  trustedProxyHops: int("TRUSTED_PROXY_HOPS", 1, 32, 1,
    "with TRUST_PROXY, how many proxies in front of the hub append to `X-Forwarded-For`: the client address is the entry this many places from the right (entries further left are whatever the client sent)"),
  agents: {
    allowPrivate: flag("AGENT_SERVER_ALLOW_PRIVATE", false, "let agent `server_url`s reach loopback and private addresses (always allowed in the embedded default; cloud-metadata addresses never are)"),
    allowHttp: flag("AGENT_SERVER_ALLOW_HTTP", false, "let agent `server_url`s be plain `http:` (otherwise only `https:`: the turn token and the message travel in them; always allowed in the embedded default)"),
    connectTimeoutMs: int("AGENT_CONNECT_TIMEOUT_MS", 100, 120_000, 5000, "an agent server's connection must be up within this"),
    firstByteTimeoutMs: int("AGENT_FIRST_BYTE_TIMEOUT_MS", 100, 600_000, 30_000, "an agent server must start answering within this (retried before it does)"),
    idleTimeoutMs: int("AGENT_IDLE_TIMEOUT_MS", 100, 3_600_000, 60_000, "the longest silence between an agent's events"),
    turnTimeoutMs: int("AGENT_TURN_TIMEOUT_MS", 1000, 86_400_000, 600_000, "the longest a whole turn may take"),
    leaseMs: int("AGENT_TURN_LEASE_MS", 1000, 600_000, 30_000, "a running turn's lease, renewed by its hub process; a turn whose lease lapsed (its process died) is failed by another"),
    maxPerAsk: int("ASK_MAX_AGENTS", 1, 100, 8, "the most agents one group ask may route to (their turns run at once); an ask routed to more answers 422"),
  },
  knowledgeTsConfig: tsConfig("KNOWLEDGE_TS_CONFIG", "english",
    "Postgres text-search configuration that knowledge search (RAG, tools) stems and ranks with: `simple` (no stemming), `english`, `german`, … or a custom `schema.name`; items are re-indexed when it changes"),
  shutdownTimeoutMs: int("SHUTDOWN_TIMEOUT_MS", 0, 600_000, 10_000, "how long SIGTERM waits for requests to finish"),
  shutdownDelayMs: int("SHUTDOWN_DELAY_MS", 0, 600_000, 0,
    "how long SIGTERM keeps serving with `/readyz` answering 503 (draining) before it stops taking connections, so load balancers stop sending traffic first"),
  secrets: {
    key: optional("SECRETS_KEY", "unset: a key kept in the database (a warning outside the embedded default)",
      "key (at least 32 random characters) that write-only secrets (model API keys, MCP server headers) are encrypted with at rest; to rotate, see README",
      [{ test: (v) => v.length >= 32 }, "at least 32 characters (random ones)"]),
    previous: optional("SECRETS_KEY_PREVIOUS", "unset", "earlier SECRETS_KEYs, comma-separated: secrets sealed with them are still read (until `agenthub secrets rotate` re-seals them)")
      .map((v) => (v ? v.split(",").map((k) => k.trim()).filter(Boolean) : [])),
  },
  metricsToken: optional("METRICS_TOKEN", "unset: `/metrics` is off (403), except on the embedded default, where it is open",
    "bearer token `GET /metrics` requires (`Authorization: Bearer …`)"),
  banner: flag("AGENTHUB_BANNER", true, "print the start banner (URL and next steps) even when stdout is not a terminal; `0` hides it there"),
} satisfies Tree;

type Tree = { readonly [key: string]: Setting<unknown> | Tree };
type ValuesOf<T> = { readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : ValuesOf<T[K]> };

/** The settings' values, shaped like SETTINGS; see there (or README.md) for what each means. */
export type Config = ValuesOf<typeof SETTINGS>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const read = (tree: Tree): object =>
    Object.freeze(
      Object.fromEntries(
        Object.entries(tree).map(([key, node]) => {
          if (!(node instanceof Setting)) return [key, read(node)];
          try {
            return [key, node.read(env[node.env]?.trim() || undefined)];
          } catch (err) {
            if (!(err instanceof Problem)) throw err;
            problems.push(err.message);
            return [key, undefined];
          }
        }),
      ),
    );
  const config = read(SETTINGS) as Config;
  if (problems.length === 0 && config.redisUrl && config.redisClusterNodes) {
    problems.push("REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster");
  }
  if (problems.length === 0) problems.push(...productionProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What production must not run with: tokens anyone with the database could mint, or keys fetched in the clear. */
function productionProblems(c: Config): string[] {
  if (!c.production) return [];
  const problems: string[] = [];
  if (!c.jwt.secret && !c.jwt.jwksUrl && !c.jwt.publicKey) {
    problems.push("JWT_SECRET (or JWT_JWKS_URL / JWT_PUBLIC_KEY) must be set when NODE_ENV=production: the generated development secret is for local use only");
  }
  if (c.jwt.jwksUrl?.startsWith("http:")) problems.push("JWT_JWKS_URL must be https: when NODE_ENV=production");
  return problems;
}

/** The README's configuration table (markdown), one row per variable. */
export function settingsTable(): string {
  const rows = (tree: Tree): string[] =>
    Object.values(tree).flatMap((node) => (node instanceof Setting ? [`| \`${node.env}\` | ${node.shown} | ${node.doc} |`] : rows(node)));
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows(SETTINGS)].join("\n");
}
