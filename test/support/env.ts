/** Where the tests find the real Postgres and Redis (override with TEST_DATABASE_URL / TEST_REDIS_URL). */
export const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/test";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
import { createHash } from "node:crypto";

/**
 * Per checkout and per run (the pid of the vitest process, handed to its workers through the
 * environment), so two working trees, or two runs in one tree, can run their suites at once on
 * one Postgres without dropping each other's databases.
 */
const checkout = createHash("sha256").update(process.cwd()).digest("hex").slice(0, 8);
export const RUN_ID = (process.env.AGENTHUB_TEST_RUN ??= String(process.pid));
/** Every test database of this checkout starts with one of these, followed by `<run>_`. */
export const CHECKOUT_DB_PREFIXES = [`agenthub_tpl_${checkout}_`, `agenthub_t_${checkout}_`];
export const TEMPLATE_DB = `agenthub_tpl_${checkout}_${RUN_ID}`;
export const FILE_DB_PREFIX = `agenthub_t_${checkout}_${RUN_ID}_`;
export const JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
