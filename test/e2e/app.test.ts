/**
 * The web app in a real browser (Debian's Chromium, driven by playwright-core) against two hub
 * processes on real Postgres and Redis: sign in, start a session and watch the demo agent's
 * answer stream, the same turn live in a second browser on the other node, share / open / clone,
 * a group ask answered by two agents side by side, a channel message arriving live, a
 * keyboard-only pass, and a phone-width layout. Screenshots of the main views go to
 * test/e2e/screenshots/ (the README shows them).
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { serveTurns, type ServedAgent } from "../../src/agent-client/index.js";
import { demoHandler } from "../../src/cli/demo-agent.js";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { spawnHub } from "../support/hub.js";
import { makeKey } from "../support/factories.js";
import { describeInBrowser, launchChromium, runsBrowser } from "../support/browser.js";

const SHOTS = path.resolve("test/e2e/screenshots");
const cluster = useCluster();
let browser: Browser;
let alice: Api;
let token: string;
const served: ServedAgent[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!runsBrowser) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  token = await cluster.ws.token("alice", { name: "Alice" });
  alice = api(cluster.a.url, token);
  for (const [id, name] of [["demo", "Demo"], ["helper", "Helper"]] as const) {
    expect((await alice.post("/api/agents", { id, name, description: `${name} answers everything` })).status).toBe(201);
    const key = await makeKey(alice, id, ["turns:serve", "knowledge:read", "tools:execute"]);
    served.push(serveTurns({ url: cluster.b.url, key, handler: demoHandler({ url: cluster.b.url, key, pace: 0.4, workspaceId: cluster.ws.id }) }));
  }
  browser = await launchChromium();
}, 120_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail") return;
  // What each page of the failed test showed, for the failure's reader.
  const pages = contexts.flatMap((c) => c.pages()).slice(-3);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: path.join(SHOTS, `failed-${i}.png`) }).catch(() => undefined);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await Promise.all(served.map((s) => s.close()));
});

async function open(baseUrl: string, options: { viewport?: { width: number; height: number } } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await page.goto(`${baseUrl}/`);
  return page;
}

async function signIn(page: Page): Promise<void> {
  await page.getByRole("textbox", { name: "Token" }).fill(token);
  await page.getByRole("button", { name: "Sign in with token" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** A port nothing listens on right now (for a hub restarted on the same address). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
const sessionIdOf = (page: Page) => new URL(page.url()).hash.split("/").pop()!;

describeInBrowser("the web app", () => {
  let sessionUrl: string;

  it("signs in, starts a session, and streams the demo agent's answer live, also to a second browser on the other node", async () => {
    const a = await open(cluster.a.url);
    await shot(a, "sign-in");
    await signIn(a);
    await a.getByRole("button", { name: "New session with Demo" }).click();
    await a.getByRole("textbox", { name: "Message the agent" }).waitFor();
    sessionUrl = a.url();

    // The same session, open on node B before the question is asked.
    const b = await open(cluster.b.url);
    await signIn(b);
    await b.goto(`${cluster.b.url}/${new URL(sessionUrl).hash}`);
    await b.getByRole("textbox", { name: "Message the agent" }).waitFor();

    await a.getByRole("textbox", { name: "Message the agent" }).fill("What can you do?");
    await a.keyboard.press("Enter");
    await a.locator(".message.live").waitFor();
    await b.locator(".message.live").waitFor(); // streaming on the other node too
    await shot(a, "turn-streaming");
    const answer = a.locator(".message.assistant:not(.live)");
    await answer.waitFor({ timeout: 20_000 });
    await expect.poll(() => answer.innerText()).toContain('You asked: "What can you do?"');
    await expect.poll(() => b.locator(".message.assistant:not(.live)").innerText(), { timeout: 20_000 }).toContain('You asked: "What can you do?"');
    expect(await answer.getByText("Tool call: semantic_search").count()).toBe(1);
    expect(await b.locator(".message").count()).toBe(2); // the question and the answer, once each
    await shot(a, "session");
    // The first test also pays the browser's and the page's cold start: on a busy 2-core machine that alone took over 10 s.
  }, 60_000);

  it("shares the session: a fresh browser reads the link, a signed-in one clones it", async () => {
    const a = await open(cluster.a.url);
    await signIn(a);
    await a.goto(sessionUrl);
    await a.getByRole("button", { name: "Share" }).click();
    await a.getByRole("button", { name: "Create link" }).click();
    const link = await a.getByLabel(/Share link/).inputValue();
    expect(link).toMatch(/\/shared\/[A-Za-z0-9_-]{43}$/);
    const shareUrl = `${cluster.a.url}${new URL(link).pathname}`;

    const anon = await open(cluster.b.url);
    await anon.goto(`${cluster.b.url}${new URL(link).pathname}`);
    await anon.getByRole("heading", { level: 1 }).waitFor();
    await expect.poll(() => anon.locator(".message").count()).toBe(2);
    expect(await anon.getByRole("link", { name: "Sign in to clone it" }).count()).toBe(1);
    await shot(anon, "shared");

    const cloner = await open(cluster.a.url);
    await signIn(cloner);
    await cloner.goto(shareUrl);
    await cloner.getByRole("button", { name: "Clone into my conversations" }).click();
    await cloner.getByRole("textbox", { name: "Message the agent" }).waitFor();
    expect(sessionIdOf(cloner)).not.toBe(new URL(sessionUrl).hash.split("/").pop());
    await expect.poll(() => cloner.locator(".message").count()).toBe(2);

    // JSON stays for API clients at the same path.
    const json = await fetch(shareUrl, { headers: { accept: "application/json" } });
    expect(((await json.json()) as { messages: unknown[] }).messages).toHaveLength(2);
  });

  it("asks a group of two agents and shows their answers side by side, live", async () => {
    const a = await open(cluster.a.url);
    await signIn(a);
    await a.getByRole("link", { name: "+ New group" }).click();
    await a.getByLabel("Name").fill("Support pair");
    await a.getByLabel(/^Demo/).check();
    await a.getByLabel(/^Helper/).check();
    await a.getByRole("button", { name: "Create group" }).click();
    await a.getByRole("heading", { name: "Support pair", level: 2 }).waitFor();
    await a.getByRole("button", { name: "New conversation" }).click();
    const ask = a.getByRole("textbox", { name: "Ask the group" });
    await ask.fill("Who can help with billing?");
    await a.getByRole("button", { name: "Ask", exact: true }).click();
    await a.locator(".answers .message.live").first().waitFor();
    const answers = a.locator(".answers .message.assistant:not(.live)");
    await expect.poll(() => answers.count(), { timeout: 20_000 }).toBe(2);
    expect((await answers.evaluateAll((els) => els.map((e) => e.getAttribute("data-agent")))).sort()).toEqual(["demo", "helper"]);
    await expect.poll(() => a.locator(".ask-status").innerText()).toMatch(/Demo: completed[\s\S]*Helper: completed|Helper: completed[\s\S]*Demo: completed/);
    await shot(a, "group-ask");
  });

  it("shows a channel message live on both nodes, with the channel's history", async () => {
    const a = await open(cluster.a.url);
    await signIn(a);
    await a.getByRole("link", { name: "+ New channel" }).click();
    await a.getByLabel("Name").fill("incidents");
    await a.getByRole("button", { name: "Create channel" }).click();
    await a.getByRole("heading", { name: "# incidents" }).waitFor();
    await a.getByLabel("Agent", { exact: true }).selectOption("demo");
    await a.getByRole("button", { name: "Subscribe" }).click();
    await a.getByRole("button", { name: "Unsubscribe" }).waitFor();
    const channelId = new URL(a.url()).hash.split("/").pop()!;
    expect((await alice.post(`/team-channels/${channelId}/messages`, { agentId: "demo", message: "before anyone watched" })).status).toBe(201);

    const b = await open(cluster.b.url);
    await signIn(b);
    await b.goto(`${cluster.b.url}/#/channels/${channelId}`);
    await b.getByText("before anyone watched").waitFor(); // history
    expect((await alice.post(`/team-channels/${channelId}/messages`, { agentId: "demo", message: "disk full on db-3" })).status).toBe(201);
    await a.getByText("disk full on db-3").waitFor();
    await b.getByText("disk full on db-3").waitFor();
    expect(await b.locator(".channel-message").count()).toBe(2);
    await shot(a, "channel");
  });

  it("resumes after its hub restarts, showing every message once", async () => {
    const port = await freePort();
    let hub = await spawnHub({ env: { PORT: String(port) } });
    try {
      const url = `http://127.0.0.1:${port}`;
      const channel = await alice.post("/team-channels", { name: "restarts" });
      const post = async (message: string) => expect((await alice.post(`/team-channels/${channel.body.id}/messages`, { agentId: "demo", message })).status).toBe(201);
      await post("one");
      const page = await open(url);
      await signIn(page);
      await page.goto(`${url}/#/channels/${channel.body.id}`);
      await page.getByText("one", { exact: true }).waitFor();
      await post("two");
      await page.getByText("two", { exact: true }).waitFor();

      await hub.stop();
      await page.getByRole("status").filter({ hasText: "Reconnecting…" }).waitFor();
      await post("three"); // through node A while this page's hub is down
      await post("four");
      hub = await spawnHub({ env: { PORT: String(port) } });
      await page.getByRole("status").filter({ hasText: "Live" }).waitFor({ timeout: 30_000 });
      await page.getByText("four", { exact: true }).waitFor();
      expect(await page.locator(".channel-message .content").allInnerTexts()).toEqual(["one", "two", "three", "four"]);
    } finally {
      await hub.stop();
    }
  }, 90_000);

  it("offers no local sign-in on a hub with Postgres", async () => {
    expect((await fetch(`${cluster.a.url}/api/local/sign-in`)).status).toBe(404);
    expect((await fetch(`${cluster.a.url}/api/local/demo-agent`, { method: "POST" })).status).toBe(404);
  });

  it("fits a phone's width", async () => {
    const page = await open(cluster.a.url, { viewport: { width: 390, height: 844 } });
    await signIn(page);
    const session = await alice.post("/api/agents/demo/sessions", { title: "On the phone" });
    await page.goto(`${cluster.a.url}/#/agents/demo/sessions/${session.body.id}`);
    await page.getByRole("textbox", { name: "Message the agent" }).waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")).toBe(true);
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: "+ New group" }).waitFor();
    await shot(page, "phone");
  });
});
