/**
 * Once per run: (re)create a template database with every migration applied. Each test file
 * then clones it (CREATE DATABASE … TEMPLATE …), which takes milliseconds.
 */
import pg from "pg";
import { createDb, migrateLatest } from "../../src/db.js";
import { FILE_DB_PREFIX, PG_ADMIN_URL, TEMPLATE_DB, databaseUrl } from "./env.js";

export default async function setup(): Promise<() => Promise<void>> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await dropStale(admin);
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  const db = createDb({ databaseUrl: databaseUrl(TEMPLATE_DB), dataDir: "/nonexistent" });
  await migrateLatest(db);
  await db.destroy();
  await admin.end();
  return async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await c.end();
  };
}

/** Databases left by an interrupted earlier run. */
async function dropStale(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [FILE_DB_PREFIX]);
  for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
}
