/**
 * The public MCP conformance suite (`@modelcontextprotocol/conformance`, which needs Node 22:
 * run through `npx -y -p node@22`) against the hub's /mcp: the generic server scenarios, those
 * that need none of the suite's own fixture tools. The suite sends no credential, so a small
 * local proxy adds one and forwards everything else as it came (Host and Origin included, for
 * the DNS-rebinding scenario). Each scenario runs in its own process, bounded in time.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "../support/cluster.js";

const SUITE = "@modelcontextprotocol/conformance@0.1.16";
const SCENARIOS = [
  "server-initialize",
  "ping",
  "tools-list",
  "resources-list",
  "resources-subscribe",
  "resources-unsubscribe",
  "server-sse-multiple-streams",
  "dns-rebinding-protection",
];
/** The first run downloads Node 22 and the suite. */
const SCENARIO_TIMEOUT_MS = 180_000;

const cluster = useCluster();
let proxy: http.Server;
let proxyUrl: string;
let workDir: string;

/** Forwards to the hub with `Authorization: Bearer <credential>` added; everything else as it came. */
function credentialProxy(target: URL, credential: string): http.Server {
  return http.createServer((req, res) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${credential}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
}

/** The suite's summary line, `Passed: 2/2, 0 failed, 0 warnings` (colours stripped). */
const SUMMARY = /Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/;

/** Runs one scenario in its own process; answers its exit code, output and summary. */
function runScenario(scenario: string): Promise<{ code: number | null; output: string; summary: { passed: number; total: number; failed: number; warnings: number } | undefined }> {
  const cwd = mkdtempSync(path.join(workDir, `${scenario}-`));
  return new Promise((resolve) => {
    const child = spawn("npx", ["-y", "-p", "node@22", "-p", SUITE, "--", "conformance", "server", "--url", `${proxyUrl}/mcp`, "--scenario", scenario], {
      cwd,
      env: { ...process.env, npm_config_yes: "true", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), SCENARIO_TIMEOUT_MS - 5000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      // eslint-disable-next-line no-control-regex
      const m = SUMMARY.exec(output.replace(/\u001b\[[0-9;]*m/g, ""));
      const summary = m ? { passed: Number(m[1]), total: Number(m[2]), failed: Number(m[3]), warnings: Number(m[4]) } : undefined;
      resolve({ code, output, summary });
    });
  });
}

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), "mcp-conformance-"));
  const hub = new URL(cluster.a.url);
  proxy = credentialProxy(hub, await cluster.ws.token("conformance"));
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("the MCP conformance suite's generic server scenarios", () => {
  it.each(SCENARIOS)("%s passes", { timeout: SCENARIO_TIMEOUT_MS }, async (scenario) => {
    const { code, output, summary } = await runScenario(scenario);
    expect(summary, output).toBeDefined();
    expect(summary!.total, output).toBeGreaterThan(0);
    expect({ ...summary, code }, output).toEqual({ passed: summary!.total, total: summary!.total, failed: 0, warnings: 0, code: 0 });
  });
});
