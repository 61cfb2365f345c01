/**
 * A team in the web app (issue 27, part A), in Chromium against two hub processes: a teammate
 * given access by email from the share dialog signs in and sees the agent, and clones the
 * shared conversation; a person's channel post reaches a teammate on the other node live; a
 * new group and channel appear live in a member's sidebar; unread markers survive a reload
 * and are counted in the tab's title; content search finds a message, or says nothing matched.
 */
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { appendMessage, makeSession, uniq } from "../support/factories.js";
import { describeInBrowser, launchChromium, runsBrowser } from "../support/browser.js";

const SHOTS = path.resolve("test/e2e/screenshots");
const cluster = useCluster();
let browser: Browser;
let alice: Api;
let aliceToken: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!runsBrowser) return;
  aliceToken = await cluster.ws.token("alice", { name: "Alice" });
  alice = api(cluster.a.url, aliceToken);
  for (const [id, name] of [["demo", "Demo"], ["helper", "Helper"]] as const) {
    expect((await alice.post("/api/agents", { id, name })).status).toBe(201);
  }
  browser = await launchChromium();
}, 120_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail") return;
  const pages = contexts.flatMap((c) => c.pages()).slice(-3);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: path.join(SHOTS, `failed-team-${i}.png`) }).catch(() => undefined);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
});

/** A browser on `baseUrl`, signed in with `token`. */
async function signedIn(baseUrl: string, token: string, context?: BrowserContext): Promise<Page> {
  const ctx = context ?? (await browser.newContext({ viewport: { width: 1280, height: 800 } }));
  if (!context) contexts.push(ctx);
  const page = await ctx.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await page.goto(`${baseUrl}/`);
  await page.getByRole("textbox", { name: "Token" }).fill(token);
  await page.getByRole("button", { name: "Sign in with token" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return page;
}

const sidebar = (page: Page) => page.getByRole("navigation", { name: "Conversations" });

describeInBrowser("a team in the web app", () => {
  it("gives a teammate access by email from the share dialog; they sign in on the other node, see the agent and clone the conversation", async () => {
    const session = await makeSession(alice, "demo", { title: "Checkout latency" });
    await appendMessage(alice, "demo", session.id, { role: "user", content: "Why is checkout slow?" });
    const a = await signedIn(cluster.a.url, aliceToken);
    await a.goto(`${cluster.a.url}/#/agents/demo/sessions/${session.id}`);
    await a.getByRole("button", { name: "Share" }).click();
    await a.getByRole("button", { name: "Create link" }).click();
    const link = await a.getByRole("textbox", { name: /Share link/ }).inputValue();

    const email = `${uniq("bea")}@example.com`;
    const form = a.getByRole("form", { name: "Give a teammate access to Demo" });
    await form.getByRole("textbox", { name: "Give access by email" }).fill(email);
    await form.getByRole("button", { name: "Give access" }).click();
    await expect.poll(() => form.getByRole("status").innerText()).toContain("they get access to Demo when they sign in");
    await a.screenshot({ path: path.join(SHOTS, "give-access.png") });

    // Bea signs in for the first time, on node B: the invitation is hers, the agent is in her sidebar.
    const beaToken = await cluster.ws.token(uniq("bea"), { email, name: "Bea" });
    const b = await signedIn(cluster.b.url, beaToken);
    await sidebar(b).getByRole("link", { name: "Settings of Demo" }).waitFor();
    expect(await sidebar(b).getByRole("link", { name: "Settings of Helper" }).count()).toBe(0);

    // And she can clone what Alice shared.
    await b.goto(`${cluster.b.url}${new URL(link).pathname}`);
    await b.getByRole("button", { name: "Clone into my conversations" }).click();
    await b.waitForURL(/#\/agents\/demo\/sessions\//);
    await b.getByRole("textbox", { name: "Message the agent" }).waitFor();
  });

  it("shows a person's channel post, credited to them, live to a teammate on the other node", async () => {
    const channel = await alice.post("/team-channels", { name: uniq("ops") });
    const a = await signedIn(cluster.a.url, aliceToken);
    const b = await signedIn(cluster.b.url, await cluster.ws.token("bob", { name: "Bob" }));
    for (const page of [a, b]) {
      await page.goto(page.url().split("#")[0] + `#/channels/${channel.body.id}`);
      await page.getByRole("textbox", { name: "Post to the channel as yourself" }).waitFor();
    }
    await a.getByRole("textbox", { name: "Post to the channel as yourself" }).fill("I'm restarting db-2 now");
    await a.keyboard.press("Enter");
    const post = b.locator(".channel-message").filter({ hasText: "I'm restarting db-2 now" });
    await post.waitFor();
    expect(await post.locator(".who").innerText()).toBe("Alice");
    await b.screenshot({ path: path.join(SHOTS, "channel-person.png") });
  });

  it("shows a new group and channel live in a member's sidebar, keeps unread markers across a reload and counts them in the tab title", async () => {
    const bobToken = await cluster.ws.token("bob", { name: "Bob" });
    const b = await signedIn(cluster.b.url, bobToken);
    const groupName = uniq("On call");
    const made = await alice.post("/api/groups", { name: groupName, agentIds: ["demo", "helper"], allowed_users: ["bob@example.com"] });
    expect(made.status).toBe(201);
    await sidebar(b).getByRole("link", { name: groupName }).waitFor();

    const channelName = uniq("deploys");
    const channel = await alice.post("/team-channels", { name: channelName });
    await sidebar(b).getByRole("link", { name: `# ${channelName}` }).waitFor();
    // A post in the new channel marks it unread, and the tab's title counts it.
    expect((await alice.post(`/team-channels/${channel.body.id}/messages`, { message: "v2 is out" })).status).toBe(201);
    await expect.poll(() => b.title()).toBe("(1) agenthub");
    await b.reload();
    await sidebar(b).getByRole("link", { name: `# ${channelName}` }).waitFor();
    await expect.poll(() => b.title()).toBe("(1) agenthub");
    expect(await sidebar(b).getByRole("link", { name: `# ${channelName}` }).locator(".dot").count()).toBe(1);
    await sidebar(b).getByRole("link", { name: `# ${channelName}` }).click();
    await expect.poll(() => b.title()).toBe("agenthub");

    // Removed from the group: it leaves the sidebar, live.
    expect((await alice.put(`/api/groups/${made.body.id}`, { name: groupName, agentIds: ["demo", "helper"], allowed_users: [] })).status).toBe(200);
    await expect.poll(() => sidebar(b).getByRole("link", { name: groupName }).count()).toBe(0);
  });

  it("searches message content, and says when nothing matches", async () => {
    const word = uniq("flamingo");
    const session = await makeSession(alice, "helper", { title: "Unrelated title" });
    await appendMessage(alice, "helper", session.id, { role: "user", content: `Is the ${word} pipeline green?` });
    const a = await signedIn(cluster.a.url, aliceToken);
    const search = sidebar(a).getByRole("searchbox", { name: "Search conversations and channels" });
    await search.fill(word);
    const hit = sidebar(a).getByRole("link", { name: /Unrelated title/ });
    await hit.waitFor();
    expect(await hit.innerText()).toContain(`${word} pipeline green`);
    await a.screenshot({ path: path.join(SHOTS, "search.png") });
    await search.fill(uniq("nothing-like-this"));
    await sidebar(a).getByText(/No results for/).waitFor();
    await search.fill("");
    await sidebar(a).getByRole("heading", { name: "Sessions" }).waitFor();
  });
});
