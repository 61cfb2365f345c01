/**
 * The quick start: with no DATABASE_URL and no REDIS_URL the hub runs on embedded PGlite and
 * the in-process adapter, and the CLI works against it while it runs.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { spawnHub, type HubProcess } from "../support/hub.js";
import { freshWindow } from "../support/waiters.js";
import { WINDOW_MS } from "../../src/rate-limit.js";

const run = promisify(execFile);
const dataDir = mkdtempSync(path.join(tmpdir(), "agenthub-embedded-"));
// A low refused-credential limit, for the built-in demo's test (the last before SIGTERM: it locks this address out).
const env = { DATABASE_URL: "", REDIS_URL: "", JWT_SECRET: "", PUBLIC_URL: "", DATA_DIR: dataDir, FAILED_AUTH_PER_10S_PER_IP: "3" };
let hub: HubProcess;

const cli = async (...args: string[]) => {
  const { stdout } = await run(process.execPath, ["bin/agenthub.js", ...args], {
    env: { ...process.env, ...env },
  });
  return stdout.trim();
};

beforeAll(async () => {
  hub = await spawnHub({ redis: false, env });
}, 60_000);
afterAll(async () => {
  await hub?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("embedded default", () => {
  it("serves /healthz and /readyz", async () => {
    expect((await api(hub.url).get("/healthz")).status).toBe(200);
    expect((await api(hub.url).get("/readyz")).status).toBe(200);
  });

  it("creates a workspace and mints a token through the running hub, then serves a first agent", async () => {
    const created = JSON.parse(await cli("workspace", "create", "--name", "demo"));
    expect(created.workspace_id).toMatch(/^ws_/);
    expect(created.master_key).toMatch(/^g_master_/);
    const token = await cli("token", "--workspace", created.workspace_id, "--sub", "alice", "--email", "alice@example.com");
    const alice = api(hub.url, token);
    const agent = await alice.post("/api/agents", { id: "logs-agent", name: "Logs" });
    expect(agent.status).toBe(201);
    expect((await alice.get("/api/agents/logs-agent/team")).body.members).toHaveLength(1);
    expect((await api(hub.url, created.master_key).get("/api/agents")).body.agents).toHaveLength(1);

    // The single-statement publish and a session append on PGlite too.
    const channel = await alice.post("/team-channels", { name: "ops" });
    const published = await alice.post(`/team-channels/${channel.body.id}/messages`, { agentId: "logs-agent", message: "hi", metadata: { a: 1 } });
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({ seq: 1, metadata: { a: 1 } });
    const session = await alice.post("/api/agents/logs-agent/sessions", { title: "first" });
    const turn = await alice.post(`/api/agents/logs-agent/sessions/${session.body.id}/messages`, { role: "user", content: "hello" });
    expect(turn.body).toMatchObject({ seq: 1, role: "user", content: "hello" });

    // With PORT=0 and no PUBLIC_URL, share links name the port actually listened on.
    const link = await alice.post(`/api/agents/logs-agent/sessions/${session.body.id}/share`, {});
    expect(new URL(link.body.url).port).toBe(String(hub.port));
    expect((await api(hub.url).get(new URL(link.body.url).pathname)).status).toBe(200);

  });

  it("reads group membership in SQL on PGlite too: by creator, email in any case, IdP group", async () => {
    const created = JSON.parse(await cli("workspace", "create", "--name", "groups"));
    const tokenFor = (...args: string[]) => cli("token", "--workspace", created.workspace_id, ...args);
    const [aliceToken, bobToken, samToken, carolToken] = await Promise.all([
      tokenFor("--sub", "alice", "--email", "alice@example.com"),
      tokenFor("--sub", "bob", "--email", "BOB@example.com"),
      tokenFor("--sub", "sam", "--email", "sam@example.com", "--groups", "dev,sre"),
      tokenFor("--sub", "carol", "--email", "carol@example.com", "--groups", "dev"),
    ]);
    const alice = api(hub.url, aliceToken);
    for (const id of ["one", "two"]) expect((await alice.post("/api/agents", { id, name: id })).status).toBe(201);
    const group = await alice.post("/api/groups", { name: "g", agentIds: ["one", "two"], allowed_users: ["Bob@Example.com"], allowed_groups: ["sre"] });
    expect(group.status).toBe(201);
    const groupsOf = async (token: string) => (await api(hub.url, token).get("/api/groups")).body.groups.map((g: { id: string }) => g.id);
    expect(await groupsOf(aliceToken)).toEqual([group.body.id]);
    expect(await groupsOf(bobToken)).toEqual([group.body.id]);
    expect(await groupsOf(samToken)).toEqual([group.body.id]);
    expect(await groupsOf(carolToken)).toEqual([]);
  }, 60_000);

  it("starts the built-in demo once when several tabs ask at once: one key, one serving socket", async () => {
    const created = JSON.parse(await cli("workspace", "create", "--name", "two-tabs"));
    const token = await cli("token", "--workspace", created.workspace_id, "--sub", "dana", "--email", "dana@example.com");
    const dana = api(hub.url, token);
    const answers = await Promise.all(Array.from({ length: 4 }, () => dana.post("/api/local/demo-agent", {})));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201]);
    const keys = (await dana.get("/api/agents/demo-agent/keys")).body.keys.filter((k: { name: string }) => k.name === "built-in demo (web app)");
    expect(keys).toHaveLength(1);
    expect((await dana.post("/api/local/demo-agent", {})).status).toBe(201);
    expect((await dana.get("/api/agents/demo-agent/keys")).body.keys.filter((k: { name: string }) => k.name === "built-in demo (web app)")).toHaveLength(1);
  }, 30_000);

  it("takes the built-in demo's credential through the one authentication middleware: refused ones count against the same limit", async () => {
    await freshWindow(WINDOW_MS); // the five requests must fall in one window
    const bad = api(hub.url, "not-a-token");
    for (let i = 0; i < 3; i++) expect((await bad.post("/api/local/demo-agent", {})).status).toBe(401);
    expect((await bad.post("/api/local/demo-agent", {})).status).toBe(429);
    // The API's limit, not one of its own: the address is refused there too, before any credential is read.
    expect((await api(hub.url, "another-bad-token").get("/api/me")).status).toBe(429);
  });

  it("stops cleanly on SIGTERM", async () => {
    expect(await hub.stop("SIGTERM")).toBe(0);
  });
});
