/**
 * Once per run: (re)create a template database with every migration applied. Each test file
 * then clones it (CREATE DATABASE … TEMPLATE …), which takes milliseconds. And build the web app
 * (dist/web) from the current sources, once, before any hub serves it (test/e2e).
 */
import { execFileSync } from "node:child_process";
import pg from "pg";
import { createDb, migrateLatest } from "../../src/db.js";
import { CHECKOUT_DB_PREFIXES, PG_ADMIN_URL, TEMPLATE_DB, databaseUrl } from "./env.js";

export default async function setup(): Promise<() => Promise<void>> {
  execFileSync(process.execPath, ["web/build.mjs"], { stdio: "inherit" });
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

/** Databases left by an interrupted earlier run of this checkout: those whose run's process is gone. */
async function dropStale(admin: pg.Client): Promise<void> {
  for (const prefix of CHECKOUT_DB_PREFIXES) {
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [prefix]);
    for (const { datname } of rows as Array<{ datname: string }>) {
      const run = Number(datname.slice(prefix.length).split("_")[0]);
      if (!Number.isInteger(run) || !isAlive(run)) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
