/** Where the tests find the real Postgres and Redis (override with TEST_DATABASE_URL / TEST_REDIS_URL). */
export const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/test";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
import { createHash } from "node:crypto";

/** Per checkout, so two working trees can run their suites at once on one Postgres. */
const checkout = createHash("sha256").update(process.cwd()).digest("hex").slice(0, 8);
export const TEMPLATE_DB = `agenthub_tpl_${checkout}`;
export const FILE_DB_PREFIX = `agenthub_t_${checkout}_`;
export const JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
