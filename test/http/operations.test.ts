/**
 * Operations against real Postgres: several hub processes migrating one empty database at once,
 * and the `agenthub` CLI (migrate, workspace create, rotate-key, token) with DATABASE_URL, and
 * rotate-key through a running embedded hub.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { JWT_SECRET, PG_ADMIN_URL, REDIS_URL, databaseUrl, FILE_DB_PREFIX } from "../support/env.js";
import { spawnHub, type HubProcess } from "../support/hub.js";
import { expectProblem, problem } from "../support/problem.js";
import { connect } from "../support/sockets.js";

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

const cliWith = async (env: Record<string, string>, ...args: string[]) =>
  (await run(process.execPath, ["bin/agenthub.js", ...args], { env: { ...process.env, DATABASE_URL: url, JWT_SECRET, ...env } })).stdout.trim();
const cli = (...args: string[]) => cliWith({}, ...args);

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

  it("rotates a workspace's master key from the CLI: old keys refused, their sockets closed on running hubs", async () => {
    // A hub on Redis, as in production: the CLI tells it over the events channel.
    const hub = await spawnHub({ env: { DATABASE_URL: url } });
    hubs.push(hub);
    const created = JSON.parse(await cli("workspace", "create", "--name", "rotating"));
    const first = api(hub.url, created.master_key);
    const second = await first.post("/api/workspace/master-keys", { name: "second" });
    expect(second.status).toBe(201);
    const socket = await connect(hub.url, second.body.key);
    try {
      const redisEnv = { REDIS_URL, REDIS_PREFIX: process.env.TEST_FILE_REDIS_PREFIX! };
      const rotated = JSON.parse(await cliWith(redisEnv, "workspace", "rotate-key", "--workspace", created.workspace_id));
      expect(rotated).toEqual({ workspace_id: created.workspace_id, master_key: expect.stringMatching(/^g_master_/) });
      const fresh = api(hub.url, rotated.master_key);
      const me = await fresh.get("/api/me");
      expect(me.body).toMatchObject({ kind: "master", workspace_id: created.workspace_id });
      expectProblem(await first.get("/api/agents"), "unauthorized");
      expectProblem(await api(hub.url, second.body.key).get("/api/agents"), "unauthorized");
      expect((await fresh.get("/api/workspace/master-keys")).body.keys.map((k: { id: string }) => k.id)).toEqual([me.body.key_id]);
      await socket.until(() => socket.closed !== undefined, "the old key's socket to close");
      expect(socket.of("hub:closing")).toEqual([{ reason: "key revoked" }]);
    } finally {
      socket.close();
    }
  }, 60_000);

  it("explains bad CLI usage", async () => {
    await expect(cli("workspace", "create")).rejects.toMatchObject({ stderr: expect.stringContaining("--name is required") });
    await expect(cli("workspace", "rotate-key")).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--workspace is required") });
    await expect(cli("workspace", "rotate-key", "--workspace", "ws_nope")).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("Workspace not found") });
    await expect(cli("frobnicate")).rejects.toMatchObject({ code: 2 });
  });

  it("refuses to start with a bad configuration, naming the variable", async () => {
    await expect(
      run(process.execPath, ["--import", "tsx", "src/main.ts"], { env: { ...process.env, PORT: "nope" } }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("PORT") });
  });
});

describe("rotate-key on the embedded default", () => {
  it("goes through the running hub, which closes the old key's sockets", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "agenthub-rotate-"));
    const env = { DATABASE_URL: "", REDIS_URL: "", JWT_SECRET: "", PUBLIC_URL: "", DATA_DIR: dataDir };
    const hub = await spawnHub({ redis: false, env });
    try {
      const created = JSON.parse(await cliWith(env, "workspace", "create", "--name", "embedded"));
      const socket = await connect(hub.url, created.master_key);
      try {
        const rotated = JSON.parse(await cliWith(env, "workspace", "rotate-key", "--workspace", created.workspace_id));
        expect(rotated).toEqual({ workspace_id: created.workspace_id, master_key: expect.stringMatching(/^g_master_/) });
        expect(rotated.master_key).not.toBe(created.master_key);
        await socket.until(() => socket.closed !== undefined, "the old key's socket to close");
        expect(socket.of("hub:closing")).toEqual([{ reason: "key revoked" }]);
        expectProblem(await api(hub.url, created.master_key).get("/api/agents"), "unauthorized");
        expect((await api(hub.url, rotated.master_key).get("/api/agents")).status).toBe(200);
        await expect(cliWith(env, "workspace", "rotate-key", "--workspace", "ws_nope")).rejects.toMatchObject({
          code: 1,
          stderr: expect.stringContaining("Workspace not found"),
        });
      } finally {
        socket.close();
      }
    } finally {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("readiness", () => {
  it("reports not ready (503) while Redis is unreachable, and stays up", async () => {
    const hub = await spawnHub({ env: { REDIS_URL: "redis://127.0.0.1:6399" } });
    hubs.push(hub);
    expect((await api(hub.url).get("/healthz")).status).toBe(200);
    const res = await api(hub.url).get("/readyz");
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      ...problem("not-ready", { detail: "A dependency is not reachable" }),
      readiness: "not-ready",
      checks: { postgres: { status: "up", latency_ms: expect.any(Number) }, redis: { status: "down" } },
    });
  }, 30_000);
});
