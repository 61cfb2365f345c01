/**
 * Approvals in the web app (CONTRACT.md, "People in the loop"), in a real browser (Debian's
 * Chromium, driven by playwright-core) against two hub processes: a socket agent served on node A
 * asks before it acts, in a group's conversation asked on node A; Bob, a member, signed in on node
 * B, sees the request live (the card, the top bar's count, the pending list with its context),
 * approves with a comment, and the agent's answer streams on in his page with the decision kept
 * as its audit trail, while the pending list empties. Then a request assigned to someone else:
 * Bob is told why he may not decide (also in a page opened while the turn waits, from the watch
 * ack), and sees the assignee's decision (made over REST on node A) arrive live. Last, an agent's
 * session: its owner rejects in the page, and the shared view shows the decision without names;
 * and a refused decision (409) said beside the card.
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { startApprovalAgent, type ApprovalAgent } from "../support/approval-agent.js";
import { describeInBrowser, launchChromium, runsBrowser } from "../support/browser.js";
import { useCluster } from "../support/cluster.js";
import { makeKey, uniq } from "../support/factories.js";

const SHOTS = path.resolve("test/e2e/screenshots");
const cluster = useCluster();
let browser: Browser;
let alice: Api;
let bobToken: string;
let agent: ApprovalAgent;
let agentId: string;
let groupId: string;
const contexts: BrowserContext[] = [];
/** What the agent asks on its next turn (the approval_request, without `type`). */
let nextRequest: Record<string, unknown> = {};

beforeAll(async () => {
  if (!runsBrowser) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  alice = api(cluster.a.url, await cluster.ws.token("alice", { name: "Alice" }));
  bobToken = await cluster.ws.token("bob", { name: "Bob" });
  agentId = uniq("release");
  const other = uniq("helper");
  for (const [id, name] of [[agentId, "Release bot"], [other, "Helper"]] as const) expect((await alice.post("/api/agents", { id, name })).status).toBe(201);
  agent = startApprovalAgent(cluster.a.url, await makeKey(alice, agentId, ["turns:serve"]), () => nextRequest);
  await agent.served;
  const group = await alice.post("/api/groups", { name: "Release team", agentIds: [agentId, other], allowed_users: ["bob@example.com", "carol@example.com"] });
  expect(group.status, group.text).toBe(201);
  groupId = group.body.id;
  browser = await launchChromium();
}, 120_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail") return;
  const pages = contexts.flatMap((c) => c.pages()).slice(-2);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: path.join(SHOTS, `failed-approvals-${i}.png`) }).catch(() => undefined);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  agent?.close();
});

async function signedIn(url: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await page.goto(`${url}/`);
  await page.getByRole("textbox", { name: "Token" }).fill(token);
  await page.getByRole("button", { name: "Sign in with token" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return page;
}

/** A conversation of the group, asked on node A so that only the release bot answers; its turn id. */
async function ask(conversationId: string, content: string): Promise<string> {
  const asked = await alice.post(`/api/groups/${groupId}/conversations/${conversationId}/ask`, { content, agentIds: [agentId], strategy: "all" });
  expect(asked.status, asked.text).toBe(202);
  return asked.body.ask.agents.find((a: { agentId: string }) => a.agentId === agentId).turnId;
}

const approvalsLink = (page: Page) => page.locator("a.approvals-link");

describeInBrowser("approvals in the web app", () => {
  it("a member on the other node sees the request live, approves it in the page, and the answer streams on; the pending list empties", async () => {
    nextRequest = { approvalId: "deploy", title: "Deploy v2 to production?", detail: "All checks passed.", input: { service: "api", version: "2.0.0" } };
    const conversation = (await alice.post(`/api/groups/${groupId}/conversations`, { title: "Friday release" })).body;
    const bob = await signedIn(cluster.b.url, bobToken);
    await expect.poll(() => approvalsLink(bob).getAttribute("aria-label")).toBe("Approvals: 0 pending");
    await bob.goto(`${cluster.b.url}/#/groups/${groupId}/conversations/${conversation.id}`);
    await bob.getByRole("textbox", { name: "Ask the group" }).waitFor();

    const turnId = await ask(conversation.id, "Ship v2");
    // The card, live on node B: the request, its input as JSON, and the decision form.
    const card = bob.getByRole("region", { name: "Deploy v2 to production?" });
    await card.waitFor({ timeout: 15_000 });
    await expect.poll(() => card.innerText()).toContain("All checks passed.");
    expect(await card.locator("pre").innerText()).toContain('"version": "2.0.0"');
    await expect.poll(() => bob.locator(".message.live .live-badge").innerText()).toBe("waiting for approval");
    expect(await bob.locator(".message.live").innerText()).toContain("Asking first.");
    await expect.poll(() => approvalsLink(bob).getAttribute("aria-label")).toBe("Approvals: 1 pending");

    // The pending list, with the agent's context and a link to the conversation.
    await approvalsLink(bob).click();
    await bob.getByRole("heading", { name: "Pending approvals" }).waitFor();
    const item = bob.locator(".pending-approvals > li");
    await expect.poll(() => item.count()).toBe(1);
    // Bob is not on the agent's team: it is named by its id.
    expect(await item.locator(".context").innerText()).toContain(`${agentId} asks in group Release team, in Friday release`);
    expect(await item.getByRole("button", { name: "Approve" }).count()).toBe(1);
    await bob.screenshot({ path: path.join(SHOTS, "approvals-pending.png") });

    await item.getByRole("link", { name: "Friday release" }).click();
    await card.waitFor();
    await card.getByRole("textbox", { name: "Comment (optional)" }).fill("Checked the diff");
    await bob.screenshot({ path: path.join(SHOTS, "approval-waiting.png") });
    await card.getByRole("button", { name: "Approve" }).click();

    // The agent heard the decision and answers on; the stored answer keeps the decision.
    const answer = bob.locator(".message.assistant:not(.live)");
    await expect.poll(() => answer.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => answer.innerText()).toContain("The request was approved.");
    await answer.locator(".approval-trail summary").click();
    const trail = await answer.locator(".approval-trail").innerText();
    expect(trail).toMatch(/Deploy v2 to production\?: approved/);
    expect(trail).toMatch(/approved\s+Bob[\s\S]*Checked the diff/);
    expect(agent.approvals.filter((a) => a.turnId === turnId).at(-1)?.approval.status).toBe("approved");
    await bob.screenshot({ path: path.join(SHOTS, "approval.png") });

    await expect.poll(() => approvalsLink(bob).getAttribute("aria-label")).toBe("Approvals: 0 pending");
    await approvalsLink(bob).click();
    await bob.getByText("Nothing waits for your decision.").waitFor();
  }, 90_000);

  it("a request assigned to someone else says why Bob may not decide, and shows the assignee's decision from the other node live", async () => {
    nextRequest = { approvalId: "refund", title: "Refund order 1234?", input: { order: 1234, amount: "49.00 EUR" }, assignees: { users: ["carol@example.com"] } };
    const conversation = (await alice.post(`/api/groups/${groupId}/conversations`, { title: "Refunds" })).body;
    const bob = await signedIn(cluster.b.url, bobToken);
    await bob.goto(`${cluster.b.url}/#/groups/${groupId}/conversations/${conversation.id}`);
    await bob.getByRole("textbox", { name: "Ask the group" }).waitFor();
    const turnId = await ask(conversation.id, "Refund it");

    const card = bob.getByRole("region", { name: "Refund order 1234?" });
    await card.waitFor({ timeout: 15_000 });
    await expect.poll(() => card.innerText()).toContain("Only its assignees decide this (carol@example.com).");
    expect(await card.getByRole("button", { name: "Approve" }).count()).toBe(0);
    expect(await approvalsLink(bob).getAttribute("aria-label")).toBe("Approvals: 0 pending");
    // A page opened while the turn waits (on node A) shows the card from the watch ack's running turn.
    const late = await signedIn(cluster.a.url, bobToken);
    await late.goto(`${cluster.a.url}/#/groups/${groupId}/conversations/${conversation.id}`);
    const lateCard = late.getByRole("region", { name: "Refund order 1234?" });
    await lateCard.waitFor({ timeout: 15_000 });
    expect(await lateCard.innerText()).toContain('"amount": "49.00 EUR"');

    const carol = api(cluster.a.url, await cluster.ws.token("carol", { name: "Carol" }));
    const decided = await carol.post(`/api/groups/${groupId}/conversations/${conversation.id}/turns/${turnId}/approvals/refund`, { decision: "reject", comment: "Outside the window" });
    expect(decided.status, decided.text).toBe(200);
    const answer = bob.locator(".message.assistant:not(.live)");
    await expect.poll(() => answer.innerText(), { timeout: 15_000 }).toContain("The request was rejected.");
    await answer.locator(".approval-trail summary").click();
    expect(await answer.locator(".approval-trail").innerText()).toMatch(/rejected\s+Carol[\s\S]*Outside the window/);
    await expect.poll(() => late.locator(".message.assistant:not(.live)").innerText(), { timeout: 15_000 }).toContain("The request was rejected.");
  }, 90_000);

  it("in an agent's session the owner decides in the page; the shared view shows the decision without who made it", async () => {
    nextRequest = { approvalId: "rotate", title: "Rotate the database password?", quorum: 1 };
    const aliceToken = await cluster.ws.token("alice", { name: "Alice" });
    const session = (await alice.post(`/api/agents/${agentId}/sessions`, { title: "Password rotation" })).body;
    const page = await signedIn(cluster.b.url, aliceToken);
    await page.goto(`${cluster.b.url}/#/agents/${agentId}/sessions/${session.id}`);
    const composer = page.getByRole("textbox", { name: "Message the agent" });
    await composer.waitFor();
    await composer.fill("Rotate it");
    await page.keyboard.press("Enter");

    const card = page.getByRole("region", { name: "Rotate the database password?" });
    await card.waitFor({ timeout: 15_000 });
    await card.getByRole("button", { name: "Reject" }).click();
    const answer = page.locator(".message.assistant:not(.live)");
    await expect.poll(() => answer.innerText(), { timeout: 15_000 }).toContain("The request was rejected.");
    await answer.locator(".approval-trail summary").click();
    expect(await answer.locator(".approval-trail").innerText()).toMatch(/rejected\s+Alice/);

    const share = await alice.post(`/api/agents/${agentId}/sessions/${session.id}/share`, { expires_in_hours: 1 });
    expect(share.status, share.text).toBe(201);
    const context = await browser.newContext();
    contexts.push(context);
    const anon = await context.newPage();
    await anon.goto(`${cluster.a.url}${new URL(share.body.url).pathname}`);
    const shared = anon.locator(".message.assistant");
    await shared.locator(".approval-trail summary").click();
    const trail = await shared.locator(".approval-trail").innerText();
    expect(trail).toMatch(/Rotate the database password\?: rejected/);
    expect(trail).toMatch(/rejected\s+Someone/);
    expect(trail).not.toContain("Alice");
  }, 90_000);

  it("a refused decision is said in words beside the card (409: Bob already decided, on another node, in a page that missed the event)", async () => {
    nextRequest = { approvalId: "scale", title: "Scale the cluster to 12 nodes?", quorum: 2 };
    const conversation = (await alice.post(`/api/groups/${groupId}/conversations`, { title: "Capacity" })).body;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const bob = await context.newPage();
    // This page's socket never hears `turn:approval`, so it still offers the buttons after Bob decided elsewhere.
    await bob.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => {
        if (!String(frame).includes('"turn:approval"')) ws.send(frame);
      });
    });
    await bob.goto(`${cluster.b.url}/`);
    await bob.getByRole("textbox", { name: "Token" }).fill(bobToken);
    await bob.getByRole("button", { name: "Sign in with token" }).click();
    await bob.getByRole("button", { name: "Sign out" }).waitFor();
    await bob.goto(`${cluster.b.url}/#/groups/${groupId}/conversations/${conversation.id}`);
    await bob.getByRole("textbox", { name: "Ask the group" }).waitFor();
    const turnId = await ask(conversation.id, "Scale up");
    await agent.until(() => agent.requests.some((r) => r.turnId === turnId), "the agent to ask");
    // Without `turn:approval`, the card comes from the watch ack's running turn after a reload.
    await bob.reload();
    const card = bob.getByRole("region", { name: "Scale the cluster to 12 nodes?" });
    await card.waitFor({ timeout: 15_000 });
    expect(await card.innerText()).toContain("0 of 2 approvals needed");

    const path = `/api/groups/${groupId}/conversations/${conversation.id}/turns/${turnId}/approvals/scale`;
    const first = await api(cluster.a.url, bobToken).post(path, { decision: "approve" });
    expect(first.status, first.text).toBe(200);
    await card.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => card.getByRole("alert").innerText()).toMatch(/already decided/i);

    // Carol's approval completes the quorum; the turn ends and the answer is stored.
    const carol = api(cluster.a.url, await cluster.ws.token("carol", { name: "Carol" }));
    expect((await carol.post(path, { decision: "approve" })).body).toMatchObject({ status: "approved" });
    await expect.poll(() => bob.locator(".message.assistant:not(.live)").innerText(), { timeout: 15_000 }).toContain("The request was approved.");
  }, 90_000);
});
