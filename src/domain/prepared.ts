/**
 * Hot statements as named prepared statements on Postgres.
 */
import type { Knex } from "knex";
import type pg from "pg";

/** `?` placeholders (knex's) numbered for pg (`$1`, `$2`, …), per statement name. */
const numbered = new Map<string, string>();

/**
 * Runs a hot statement as a named prepared statement on Postgres: parsed and planned once per
 * pooled connection, then only bound and executed (the channel publish, run per message). On
 * PGlite, or inside a transaction, it goes through `knex.raw` as any other statement. `sql`
 * uses knex's `?` placeholders and must hold no other `?`; it names its result columns (not
 * `RETURNING *`), so a migration that adds a column does not break the prepared plans of
 * processes already running.
 */
export async function preparedRaw<Row = Record<string, unknown>>(db: Knex, name: string, sql: string, bindings: readonly unknown[]): Promise<Row[]> {
  if (db.client.config.client !== "pg" || db.isTransaction) return (await db.raw(sql, bindings as Knex.RawBinding[])).rows as Row[];
  let text = numbered.get(name);
  if (text === undefined) {
    let i = 0;
    numbered.set(name, (text = sql.replace(/\?/g, () => `$${++i}`)));
  }
  const conn = (await db.client.acquireConnection()) as pg.Client;
  try {
    return (await conn.query({ name, text, values: bindings as unknown[] })).rows as Row[];
  } finally {
    await db.client.releaseConnection(conn);
  }
}
