/**
 * Operations against real Postgres: several hub processes migrating one empty database at once,
 * and the `agenthub` CLI (migrate, workspace create, token) with DATABASE_URL.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { JWT_SECRET, PG_ADMIN_URL, databaseUrl, FILE_DB_PREFIX } from "../support/env.js";
import { spawnHub, type HubProcess } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const run = promisify(execFile);
const emptyDb = `${FILE_DB_PREFIX}empty_${randomBytes(4).toString("hex")}`;
const url = databaseUrl(emptyDb);
const hubs: HubProcess[] = [];

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(() => admin(`CREATE DATABASE ${emptyDb}`));
afterAll(async () => {
  await Promise.all(hubs.map((h) => h.stop()));
  await admin(`DROP DATABASE IF EXISTS ${emptyDb} WITH (FORCE)`);
});

const cli = async (...args: string[]) =>
  (await run(process.execPath, ["bin/agenthub.js", ...args], { env: { ...process.env, DATABASE_URL: url, JWT_SECRET } })).stdout.trim();

describe("operations", () => {
  it("lets three processes start on one empty database at once, migrating it exactly once", async () => {
    hubs.push(...(await Promise.all([1, 2, 3].map(() => spawnHub({ redis: false, env: { DATABASE_URL: url } })))));
    for (const h of hubs) expect((await api(h.url).get("/readyz")).status).toBe(200);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const { rows } = await c.query("select name, count(*)::int as n from knex_migrations group by name");
    await c.end();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  }, 90_000);

  it("runs migrate, workspace create and token from the CLI", async () => {
    expect(JSON.parse(await cli("migrate"))).toEqual({ applied: [] });
    const created = JSON.parse(await cli("workspace", "create", "--name", "ops"));
    expect(created).toEqual({ workspace_id: expect.stringMatching(/^ws_/), master_key: expect.stringMatching(/^g_master_/) });
    const token = await cli("token", "--workspace", created.workspace_id, "--sub", "u1", "--email", "U1@Example.com", "--groups", "a,b", "--role", "admin", "--ttl", "120");
    const me = await api(hubs[0]!.url, token).get("/api/me");
    expect(me.body).toMatchObject({ kind: "user", email: "u1@example.com", groups: ["a", "b"], role: "admin" });
  });

  it("explains bad CLI usage", async () => {
    await expect(cli("workspace", "create")).rejects.toMatchObject({ stderr: expect.stringContaining("--name is required") });
    await expect(cli("frobnicate")).rejects.toMatchObject({ code: 2 });
  });

  it("refuses to start with a bad configuration, naming the variable", async () => {
    await expect(
      run(process.execPath, ["--import", "tsx", "src/main.ts"], { env: { ...process.env, PORT: "nope" } }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("PORT") });
  });
});

describe("readiness", () => {
  it("reports not ready (503) while Redis is unreachable, and stays up", async () => {
    const hub = await spawnHub({ env: { REDIS_URL: "redis://127.0.0.1:6399" } });
    hubs.push(hub);
    expect((await api(hub.url).get("/healthz")).status).toBe(200);
    expectProblem(await api(hub.url).get("/readyz"), "not-ready", { detail: "A dependency is not reachable" });
  }, 30_000);
});
