/**
 * The database: knex over Postgres (pg) when DATABASE_URL is set, otherwise the embedded
 * PGlite database kept under DATA_DIR. Both run the same migrations.
 */
import fs from "node:fs";
import path from "node:path";
import knexFactory, { type Knex } from "knex";
import ClientPgLite from "knex-pglite";
import pg from "pg";
import * as m20261123000100 from "../migrations/20261123000100_foundation.js";
import * as m20261123000200 from "../migrations/20261123000200_sessions.js";
import * as m20261123000300 from "../migrations/20261123000300_sharing_groups.js";
import * as m20261123000400 from "../migrations/20261123000400_channels.js";
import * as m20261124000100 from "../migrations/20261124000100_key_expiry_and_link_owners.js";
import * as m20261124000200 from "../migrations/20261124000200_turns.js";
import * as m20261124000300 from "../migrations/20261124000300_rbac.js";
import * as m20261124000400 from "../migrations/20261124000400_knowledge.js";
import * as m20261124000500 from "../migrations/20261124000500_backplane.js";
import * as m20261124000600 from "../migrations/20261124000600_group_conversations.js";
import * as m20261207131500 from "../migrations/20261207131500_key_roles.js";
import * as m20261207160000 from "../migrations/20261207160000_agent_endpoints.js";
import * as m20261207170000 from "../migrations/20261207170000_pending_members.js";
import * as m20261207180000 from "../migrations/20261207180000_approvals.js";
import * as m20261207183000 from "../migrations/20261207183000_people_in_channels.js";

// int8 (bigint) ids fit in a JS number (< 2^53); the contract sends user ids as JSON numbers.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

/**
 * While Postgres is unreachable a request fails within seconds (503), never hangs: a new
 * connection gives up after CONNECT_TIMEOUT_MS, a query waits at most ACQUIRE_TIMEOUT_MS for a
 * pooled one, and a query on a connection that went silent fails after QUERY_TIMEOUT_MS.
 */
const CONNECT_TIMEOUT_MS = 2000;
const ACQUIRE_TIMEOUT_MS = 3000;
const QUERY_TIMEOUT_MS = 15_000;

/**
 * The pool stays warm: POOL_MIN connections are opened at start (warmPool) and never closed for
 * being idle, and connections opened for a burst are kept for POOL_IDLE_MS. Opening one on the
 * request path costs a TCP connect, a Postgres backend and its cold caches (20–500 ms on a busy
 * 2-core machine, bench/RESULTS.md), which was the hub's slowness after a quiet spell: the pool
 * (tarn's default 30 s idle timeout) had closed everything.
 */
const POOL_MIN = 2;
const POOL_IDLE_MS = 10 * 60_000;

/** Where knex's own warnings go (JSON logs, not its plain-text console lines). */
export interface DbLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface DbOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolMax?: number;
  log?: DbLogger | undefined;
}

function knexLog(log: DbLogger | undefined): Knex.Config["log"] {
  if (!log) return undefined;
  const text = (m: unknown) => (typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m));
  return {
    warn: (m: unknown) => log.warn({ detail: text(m) }, "database warning"),
    error: (m: unknown) => log.error({ detail: text(m) }, "database error"),
    deprecate: (m: unknown) => log.debug({ detail: text(m) }, "database deprecation"),
    debug: (m: unknown) => log.debug({ detail: text(m) }, "database debug"),
  };
}

export function isEmbedded(options: Pick<DbOptions, "databaseUrl">): boolean {
  return !options.databaseUrl;
}

export function createDb(options: DbOptions): Db {
  if (options.databaseUrl) {
    return knexFactory({
      client: "pg",
      connection: { connectionString: options.databaseUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS } as Knex.PgConnectionConfig,
      pool: { min: Math.min(POOL_MIN, options.poolMax ?? 10), max: options.poolMax ?? 10, idleTimeoutMillis: POOL_IDLE_MS },
      acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
      log: knexLog(options.log),
    });
  }
  const dir = path.join(options.dataDir, "pglite");
  // The database's files: only the hub's user may enter (DATA_DIR itself is created the same
  // way, but an existing one, which may be shared, is left as it is).
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  return knexFactory({
    client: ClientPgLite as unknown as typeof knexFactory.Client,
    dialect: "postgres",
    connection: { filename: dir } as Knex.StaticConnectionConfig,
    useNullAsDefault: false,
    log: knexLog(options.log),
  });
}

/** Opens the pool's minimum of connections now, so the first requests find them open (Postgres only). */
export async function warmPool(db: Db): Promise<void> {
  if (db.client.config.client !== "pg") return;
  const min = (db.client.config.pool as { min?: number } | undefined)?.min ?? 0;
  const conns = await Promise.all(Array.from({ length: min }, () => db.client.acquireConnection()));
  await Promise.all(conns.map((c) => db.client.releaseConnection(c)));
}

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * The ordered list of migrations. An explicit list (rather than a directory scan) works the
 * same under tsx, compiled JS and the embedded PGlite database. Add new migrations here.
 */
const migrations: ReadonlyArray<readonly [name: string, migration: Migration]> = [
  ["20261123000100_foundation", m20261123000100],
  ["20261123000200_sessions", m20261123000200],
  ["20261123000300_sharing_groups", m20261123000300],
  ["20261123000400_channels", m20261123000400],
  ["20261124000100_key_expiry_and_link_owners", m20261124000100],
  ["20261124000200_turns", m20261124000200],
  ["20261124000300_rbac", m20261124000300],
  ["20261124000400_knowledge", m20261124000400],
  ["20261124000500_backplane", m20261124000500],
  ["20261124000600_group_conversations", m20261124000600],
  ["20261207131500_key_roles", m20261207131500],
  ["20261207160000_agent_endpoints", m20261207160000],
  ["20261207170000_pending_members", m20261207170000],
  ["20261207180000_approvals", m20261207180000],
  ["20261207183000_people_in_channels", m20261207183000],
];

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => migrations.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = migrations.find(([n]) => n === name);
    if (!found) throw new Error(`Unknown migration ${name}`);
    return found[1];
  },
};

// Any constant shared by every agenthub process; only used for pg_advisory_lock.
const MIGRATION_LOCK_KEY = 727_001;

/**
 * Applies pending migrations. Safe when several processes start at once: on Postgres they
 * queue on an advisory lock, and each finds nothing left to do after the first.
 */
export async function migrateLatest(db: Db): Promise<string[]> {
  const run = async () => {
    const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
    return applied;
  };
  if (db.client.config.client !== "pg") return run();
  const conn = await db.client.acquireConnection();
  try {
    await db.raw("select pg_advisory_lock(?)", [MIGRATION_LOCK_KEY]).connection(conn);
    try {
      return await run();
    } finally {
      await db.raw("select pg_advisory_unlock(?)", [MIGRATION_LOCK_KEY]).connection(conn);
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}

export async function migrateRollbackAll(db: Db): Promise<void> {
  await db.migrate.rollback({ migrationSource }, true);
}
