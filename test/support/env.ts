/** Where the tests find the real Postgres and Redis (override with TEST_DATABASE_URL / TEST_REDIS_URL). */
export const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/test";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const TEMPLATE_DB = "agenthub_test_template";
export const JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
