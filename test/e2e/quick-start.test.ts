/**
 * The README's promise in a browser: on the embedded default (no DATABASE_URL, no REDIS_URL) a
 * new user opens the hub, signs in locally, tries the built-in demo agent and watches it answer.
 * Also the local sign-in's rules (loopback, embedded only) and the page's caching.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itInBrowser, launchChromium, runsBrowser } from "../support/browser.js";
import { api } from "../support/api.js";
import { spawnHub, type HubProcess } from "../support/hub.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "agenthub-quick-start-"));
let hub: HubProcess;
let browser: Browser;

beforeAll(async () => {
  hub = await spawnHub({ redis: false, env: { DATABASE_URL: "", REDIS_URL: "", JWT_SECRET: "", PUBLIC_URL: "", DATA_DIR: dataDir }, onOutput: (t) => /demo|warn|error/i.test(t) && console.log(t.slice(0, 400)) });
  if (runsBrowser) browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await hub?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the quick start in a browser", () => {
  itInBrowser("signs a new user in locally and shows the built-in demo agent answering live", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${hub.url}/`);
    await page.getByRole("heading", { name: "Sign in on this machine" }).waitFor();
    await page.getByLabel("Name").fill("Grace Hopper");
    await page.getByLabel("Email").fill("grace@example.com");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("button", { name: "Try the demo agent" }).click();
    const composer = page.getByRole("textbox", { name: "Message the agent" });
    await composer.fill("How do refunds work?");
    await composer.press("Enter");
    await page.locator(".message.live").waitFor({ timeout: 15_000 }).catch(async (err) => {
      await page.screenshot({ path: "test/e2e/screenshots/failed-quick-start.png" });
      throw err;
    });
    const answer = page.locator(".message.assistant:not(.live)");
    await answer.waitFor({ timeout: 20_000 });
    expect(await answer.innerText()).toContain('You asked: "How do refunds work?"');
    expect(await answer.locator(".tool .badge.error").count()).toBe(0); // its semantic_search ran
    expect(await page.title()).toBe("agenthub");

    // The user is now one the local sign-in offers.
    const offered = await api(hub.url).get("/api/local/sign-in");
    expect(offered.body.workspaces).toEqual([{ id: expect.stringMatching(/^ws_/), name: "local", users: [expect.objectContaining({ name: "Grace Hopper", email: "grace@example.com" })] }]);
  }, 60_000);

  it("refuses a local sign-in that names no user, and serves the page and its assets with the right caching", async () => {
    const bad = await api(hub.url).post("/api/local/sign-in", { sub: "nobody" });
    expect(bad.status).toBe(422);
    // A page of another site that resolves to 127.0.0.1 (DNS rebinding) is not local.
    const status = (headers: Record<string, string>, path = "/api/local/sign-in", method = "GET") =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`${hub.url}${path}`, { headers, method }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status({ host: "rebound.example" })).toBe(403);
    // A request that came through a proxy (any forwarding header) finds no local sign-in, nor the
    // demo agent: the proxy connects from loopback for everyone. The raw Host decides, never X-Forwarded-Host.
    for (const forwarded of <Array<Record<string, string>>>[
      { host: "hub.example", "x-forwarded-host": "localhost" },
      { "x-forwarded-for": "203.0.113.9" },
      { "x-forwarded-proto": "https" },
      { "x-real-ip": "203.0.113.9" },
      { forwarded: "for=203.0.113.9" },
    ]) {
      expect(await status(forwarded), JSON.stringify(forwarded)).toBe(404);
      expect(await status(forwarded, "/api/local/demo-agent", "POST"), JSON.stringify(forwarded)).toBe(404);
    }
    expect(await status({ host: `localhost:${hub.port}` })).toBe(200);
    expect(await status({ host: `[::1]:${hub.port}` })).toBe(200);
    const page = await fetch(`${hub.url}/`);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    // No PUBLIC_URL: the page talks to its own origin only.
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self';");
    const script = /src="(\/assets\/app-[^"]+\.js)"/.exec(await page.text())![1]!;
    const asset = await fetch(`${hub.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await fetch(`${hub.url}/assets/app-missing.js`)).status).toBe(404);
  });
});
