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

// int8 (bigint) ids fit in a JS number (< 2^53); the contract sends user ids as JSON numbers.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

/** A query waits at most this long for a pooled connection before it fails. */
const ACQUIRE_TIMEOUT_MS = 10_000;

export interface DbOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolMax?: number;
}

export function isEmbedded(options: Pick<DbOptions, "databaseUrl">): boolean {
  return !options.databaseUrl;
}

export function createDb(options: DbOptions): Db {
  if (options.databaseUrl) {
    return knexFactory({
      client: "pg",
      connection: { connectionString: options.databaseUrl },
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
    });
  }
  const dir = path.join(options.dataDir, "pglite");
  fs.mkdirSync(dir, { recursive: true });
  return knexFactory({
    client: ClientPgLite as unknown as typeof knexFactory.Client,
    dialect: "postgres",
    connection: { filename: dir } as Knex.StaticConnectionConfig,
    useNullAsDefault: false,
  });
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
