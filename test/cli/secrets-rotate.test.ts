/**
 * `agenthub secrets rotate`: every sealed value (a model agent's API key, an MCP server's
 * headers) is sealed anew under the current SECRETS_KEY, with counts printed; values already
 * current are left alone; a value no key opens is reported, and the command fails.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../src/auth/secrets.js";
import type { Api } from "../support/api.js";
import { uniq } from "../support/factories.js";
import { JWT_SECRET } from "../support/env.js";
import { useHub } from "../support/hub.js";

const OLD = "old-secrets-key-old-secrets-key-0123456789";
const NEW = "new-secrets-key-new-secrets-key-0123456789";
const LOST = "lost-secrets-key-lost-secrets-key-012345678";

const hub = useHub({ redis: false, env: { SECRETS_KEY: OLD, AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
let master: Api;
let agentId: string;
let serverId: string;

/** Runs the CLI as an operator would, on this file's database; answers its exit code and output. */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
    env: { ...process.env, DATABASE_URL: process.env.TEST_FILE_DATABASE_URL!, JWT_SECRET, LOG_LEVEL: "silent", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  child.stderr.on("data", (d) => (stderr += String(d)));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const row = (table: string, where: Record<string, string>) => hub.db(table).where(where).first();

beforeAll(async () => {
  master = hub.anon.as(hub.ws.masterKey);
  agentId = uniq("model");
  const agent = await master.post("/api/agents", { id: agentId, name: "Model", endpoint: { protocol: "model", url: "https://models.example.com/v1", model: "m", apiKey: "sk-rotate-me" } });
  expect(agent.status, agent.text).toBe(201);
  const server = await master.post("/api/mcp-servers", { name: "rotating", url: "http://127.0.0.1:9/mcp", headers: { Authorization: "Bearer rotate-me" } });
  expect(server.status, server.text).toBe(201);
  serverId = server.body.id;
}, 60_000);

describe("agenthub secrets rotate", () => {
  it("re-seals every value under SECRETS_KEY, then finds nothing left to do", async () => {
    const before = { key: (await row("agents", { id: agentId })).endpoint_api_key, headers: (await row("mcp_servers", { id: serverId })).headers };
    const old = new SecretBox(OLD);
    expect(old.isStale(before.key)).toBe(false);

    const run = await cli(["secrets", "rotate"], { SECRETS_KEY: NEW, SECRETS_KEY_PREVIOUS: OLD });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      "agents.endpoint_api_key": { resealed: 1, current: 0, unreadable: 0 },
      "mcp_servers.headers": { resealed: 1, current: 0, unreadable: 0 },
    });

    // The new key alone opens them now; the old one no longer does.
    const fresh = new SecretBox(NEW);
    const after = { key: (await row("agents", { id: agentId })).endpoint_api_key, headers: (await row("mcp_servers", { id: serverId })).headers };
    expect(fresh.open(after.key)).toBe("sk-rotate-me");
    expect(fresh.openJson(after.headers)).toEqual({ Authorization: "Bearer rotate-me" });
    expect(fresh.isStale(after.headers)).toBe(false);
    expect(() => old.open(after.key)).toThrow(/SECRETS_KEY/);

    const again = await cli(["secrets", "rotate"], { SECRETS_KEY: NEW });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      "agents.endpoint_api_key": { resealed: 0, current: 1, unreadable: 0 },
      "mcp_servers.headers": { resealed: 0, current: 1, unreadable: 0 },
    });
    expect((await row("mcp_servers", { id: serverId })).headers).toBe(after.headers);
  }, 120_000);

  it("reports values no key opens, leaves them as they are, and fails", async () => {
    const lost = new SecretBox(LOST).sealJson({ "X-Lost": "1" });
    await hub.db("mcp_servers").insert({ id: `mcp_${"l".repeat(25)}`, workspace_id: hub.ws.id, name: "lost", url: "http://127.0.0.1:9/mcp", headers: lost });
    const run = await cli(["secrets", "rotate"], { SECRETS_KEY: NEW, SECRETS_KEY_PREVIOUS: OLD });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)["mcp_servers.headers"]).toEqual({ resealed: 0, current: 1, unreadable: 1 });
    expect(run.stderr).toMatch(/1 in mcp_servers\.headers could not be opened/);
    expect((await row("mcp_servers", { name: "lost" })).headers).toBe(lost);
  }, 120_000);
});
