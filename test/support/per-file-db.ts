/** Per test file: a fresh database cloned from the migrated template, dropped afterwards. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { FILE_DB_PREFIX, PG_ADMIN_URL, TEMPLATE_DB, databaseUrl } from "./env.js";

const name = `${FILE_DB_PREFIX}${randomBytes(6).toString("hex")}`;
process.env.TEST_FILE_DATABASE_URL = databaseUrl(name);
process.env.TEST_FILE_REDIS_PREFIX = `agenthub-test-${name}`;

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`);
  await admin.end();
});

afterAll(async () => {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});
