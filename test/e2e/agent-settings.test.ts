/**
 * Agent settings in the web app, in a real browser (Debian's Chromium, driven by playwright-core):
 * an editor creates an agent and lands on its page, sets an A2A endpoint with a URL the hub
 * refuses (the error shows beside the URL field), then a good one, tests the connection against a
 * card served by `@a2a-js/sdk` (the card's name shows), and adds a teammate by email; that
 * teammate, a viewer, sees the settings read-only: no Save, no Test connection, no keys.
 */
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { serveAgentCard, type CardServer } from "../support/a2a-card.js";
import { describeInBrowser, launchChromium, runsBrowser } from "../support/browser.js";
import { useHub } from "../support/hub.js";
import { uniq } from "../support/factories.js";

const SHOTS = path.resolve("test/e2e/screenshots");
// Test peers listen on 127.0.0.1: this hub may call them.
const hub = useHub({ redis: false, env: { AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
let browser: Browser;
let card: CardServer;
let aliceToken: string;
let bobToken: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!runsBrowser) return;
  aliceToken = await hub.ws.token("alice", { name: "Alice" });
  bobToken = await hub.ws.token("bob", { name: "Bob", email: "bob@example.com" });
  // Bob signs in once, so he can be found by his email.
  expect((await hub.anon.as(bobToken).get("/api/me")).status).toBe(200);
  card = await serveAgentCard({ name: "Weather scout", description: "Knows the weather" });
  browser = await launchChromium();
}, 120_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail") return;
  const pages = contexts.flatMap((c) => c.pages()).slice(-2);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: path.join(SHOTS, `failed-agent-settings-${i}.png`) }).catch(() => undefined);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await card?.close();
});

async function signedIn(token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await page.goto(`${hub.url}/`);
  await page.getByRole("textbox", { name: "Token" }).fill(token);
  await page.getByRole("button", { name: "Sign in with token" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return page;
}

describeInBrowser("agent settings", () => {
  const agentId = uniq("scout");

  it("an editor creates an agent, sets an A2A endpoint (a refused URL, then a good one), tests the connection and adds a teammate by email", async () => {
    const page = await signedIn(aliceToken);
    await page.getByRole("link", { name: "+ New agent" }).click();
    await page.getByLabel(/^Id/).fill(agentId);
    await page.getByLabel("Name").fill("Scout");
    await page.getByRole("button", { name: "Create agent" }).click();
    // It lands on the agent's page.
    await page.getByRole("heading", { name: "Scout", level: 2 }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/agents/${agentId}`);

    const settings = page.getByRole("form", { name: "Agent settings" });
    await settings.getByLabel("Protocol").selectOption("a2a");
    const url = settings.getByRole("textbox", { name: /^URL/ });
    await url.fill("http://169.254.169.254/agent");
    await settings.getByRole("button", { name: "Save" }).click();
    const urlError = settings.locator("#err-endpoint-url");
    await expect.poll(() => urlError.innerText()).toContain("cloud metadata");
    expect(await url.getAttribute("aria-invalid")).toBe("true");

    await url.fill(card.url);
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByText("Saved.").waitFor();
    expect(await settings.locator("#err-endpoint-url").count()).toBe(0);
    await settings.getByRole("button", { name: "Test connection" }).click();
    const result = settings.locator(".check-result");
    await expect.poll(() => result.innerText(), { timeout: 10_000 }).toContain("Weather scout");
    expect(await result.getAttribute("class")).toContain("ok");
    await page.screenshot({ path: path.join(SHOTS, "agent-settings.png"), fullPage: true });

    const team = page.getByRole("form", { name: "Add a teammate" });
    await team.getByRole("textbox", { name: "Teammate's email" }).fill("newcomer@example.com");
    await team.getByRole("button", { name: "Add to team" }).click();
    await expect.poll(() => page.locator("ul.team").innerText()).toMatch(/newcomer@example\.com[\s\S]*pending/);
    await team.getByRole("textbox", { name: "Teammate's email" }).fill("bob@example.com");
    await team.getByRole("button", { name: "Add to team" }).click();
    await expect.poll(() => page.locator("ul.team").innerText()).toContain("bob@example.com");
  }, 60_000);

  it("a viewer sees the settings read-only, without Save, Test connection or keys", async () => {
    const page = await signedIn(bobToken);
    await page.getByRole("link", { name: "Settings of Scout" }).click();
    await page.getByRole("heading", { name: "Scout", level: 2 }).waitFor();
    const settings = page.getByRole("form", { name: "Agent settings" });
    expect(await settings.getByRole("textbox", { name: /^URL/ }).inputValue()).toBe(card.url);
    expect(await settings.getByRole("textbox", { name: /^URL/ }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Save" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Test connection" }).count()).toBe(0);
    expect(await page.getByRole("heading", { name: "Keys" }).count()).toBe(0);
    expect(await page.getByRole("form", { name: "Add a teammate" }).count()).toBe(0);
    await expect.poll(() => page.locator("ul.team").innerText()).toContain("alice@example.com");
  }, 60_000);
});
