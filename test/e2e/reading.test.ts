/**
 * Reading answers in the web app, in a real browser (Debian's Chromium, driven by playwright-core)
 * against two hub processes on real Postgres and Redis; the agent serves its turns on node B and
 * people read on node A:
 * - a Markdown answer renders as it streams (earlier blocks keep their DOM while more arrives),
 *   with a table, a safe link and a code block whose copy button copies it;
 * - hostile Markdown (script, onerror, javascript: links, raw HTML) renders inert, in the session
 *   and in the shared view, which names the agent and "the owner"; signing in from the link
 *   returns to it;
 * - an agent with nothing connected says why (also after a reload, and in a group's column), with
 *   a retry; a member sees no Delete on someone else's conversation, but the reason;
 * - errors in words: a network failure, and the agent id's pattern (valid for the browser);
 * - dark mode following the browser, with a remembered toggle; the knowledge page for admins;
 * - keyboard only, from sign-in to a sent message, with the composer and Rename focused.
 * Screenshots go to test/e2e/screenshots/ (the README shows them).
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { serveTurns, type ServedAgent } from "../../src/agent-client/index.js";
import { api, type Api } from "../support/api.js";
import { describeInBrowser, launchChromium, runsBrowser } from "../support/browser.js";
import { useCluster } from "../support/cluster.js";
import { makeKey } from "../support/factories.js";

const SHOTS = path.resolve("test/e2e/screenshots");
const cluster = useCluster();
let browser: Browser;
let alice: Api;
let aliceToken: string;
let bobToken: string;
let adminToken: string;
let served: ServedAgent | undefined;
const contexts: BrowserContext[] = [];

const MARKDOWN_HEAD = "# Build steps\n\nRun these **two** commands, then read [the guide](https://example.com/guide).\n\n";
const MARKDOWN_TABLE = "| step | command |\n| --- | --- |\n| build | `npm run build` |\n| start | `npm start` |\n\n";
const CODE = "npm run build\nnpm start";
const MARKDOWN_TAIL = "```sh\n" + CODE + "\n```\n\nThat is all.";
const HOSTILE = [
  "Inert, all of it:",
  "",
  "<script>window.__pwned = 'script'</script>",
  "",
  "<img src=x onerror=\"window.__pwned = 'onerror'\"> and <b onclick=\"window.__pwned = 'onclick'\">raw bold</b>",
  "",
  "[click me](javascript:window.__pwned='link') and [data](data:text/html,<script>alert(1)</script>)",
  "",
  "<iframe src=\"javascript:window.__pwned='iframe'\"></iframe>",
  "",
  "![pic](javascript:window.__pwned='img')",
].join("\n");

/** A gate the test opens, so it can look at an answer mid-stream. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}
let gates = [gate(), gate()];

const textOf = (content: unknown) => (typeof content === "string" ? content : JSON.stringify(content));

beforeAll(async () => {
  if (!runsBrowser) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  aliceToken = await cluster.ws.token("alice", { name: "Alice" });
  bobToken = await cluster.ws.token("bob", { name: "Bob" });
  adminToken = await cluster.ws.token("root", { name: "Ada Admin", role: "admin" });
  alice = api(cluster.a.url, aliceToken);
  expect((await api(cluster.a.url, bobToken).get("/api/me")).status).toBe(200);
  for (const [id, name] of [["writer", "Writer"], ["nobody", "Nobody"]] as const) {
    expect((await alice.post("/api/agents", { id, name, description: `${name} for the reading tests` })).status).toBe(201);
  }
  const key = await makeKey(alice, "writer", ["turns:serve"]);
  served = serveTurns({
    url: cluster.b.url,
    key,
    handler: async (turn, emit) => {
      const question = textOf(turn.message.content);
      emit({ type: "message_start", role: "assistant", model: "markdown-test" });
      if (question.includes("markdown")) {
        // Streamed in small pieces; the test looks at it between the gates.
        for (const piece of MARKDOWN_HEAD.match(/.{1,12}/gs)!) emit({ type: "content_delta", delta: piece });
        await gates[0]!.wait;
        emit({ type: "content_delta", delta: MARKDOWN_TABLE });
        await gates[1]!.wait;
        for (const piece of MARKDOWN_TAIL.match(/.{1,7}/gs)!) emit({ type: "content_delta", delta: piece });
      } else if (question.includes("hostile")) {
        emit({ type: "content_delta", delta: HOSTILE });
      } else {
        // A closed "Thinking" section with a link inside it.
        emit({ type: "thinking_start", thinkingId: "t1", title: "Reading" });
        emit({ type: "thinking_delta", thinkingId: "t1", delta: "Checked [the notes](https://example.com/notes)." });
        emit({ type: "thinking_end", thinkingId: "t1", status: "completed", durationMs: 1 });
        emit({ type: "content_delta", delta: `You said: *${question}*` });
      }
      emit({ type: "message_end", finishReason: "stop" });
    },
  });
  browser = await launchChromium();
}, 120_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== "fail") return;
  const pages = contexts.flatMap((c) => c.pages()).slice(-2);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: path.join(SHOTS, `failed-reading-${i}.png`) }).catch(() => undefined);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await served?.close();
});

async function open(baseUrl: string, options: { colorScheme?: "light" | "dark"; clipboard?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: options.colorScheme ?? "light" });
  if (options.clipboard) await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await page.goto(`${baseUrl}/`);
  return page;
}

async function signIn(page: Page, token = aliceToken): Promise<void> {
  await page.getByRole("textbox", { name: "Token" }).fill(token);
  await page.getByRole("button", { name: "Sign in with token" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

async function newSession(page: Page, agentName: string): Promise<void> {
  await page.getByRole("button", { name: `New session with ${agentName}` }).click();
  await page.getByRole("textbox", { name: "Message the agent" }).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message the agent" }).fill(text);
  await page.keyboard.press("Enter");
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

describeInBrowser("reading answers in the web app", () => {
  let hostileSession: string;

  it("renders a streaming Markdown answer without rebuilding what already arrived, and copies its code block", async () => {
    gates = [gate(), gate()];
    const page = await open(cluster.a.url, { clipboard: true });
    await signIn(page);
    await newSession(page, "Writer");
    await send(page, "Show me markdown please");

    // Mid-stream: the heading is an <h1> already; it keeps its node while the table arrives.
    const live = page.locator(".message.live");
    await live.locator("h1", { hasText: "Build steps" }).waitFor();
    await live.locator("a", { hasText: "the guide" }).waitFor();
    await page.evaluate(`window.__heading = document.querySelector(".message.live h1")`);
    gates[0]!.open();
    await live.locator("table").waitFor();
    expect(await page.evaluate(`window.__heading.isConnected && window.__heading === document.querySelector(".message.live h1")`)).toBe(true);
    gates[1]!.open();

    const answer = page.locator(".message.assistant:not(.live)");
    await answer.waitFor({ timeout: 20_000 });
    await answer.getByText("That is all.").waitFor();
    // A table, a safe link, and the code block as text with its copy button.
    expect(await answer.locator("table th").allInnerTexts()).toEqual(["step", "command"]);
    expect(await answer.locator("table td code").allInnerTexts()).toEqual(["npm run build", "npm start"]);
    const link = answer.getByRole("link", { name: "the guide" });
    expect(await link.getAttribute("href")).toBe("https://example.com/guide");
    expect(await link.getAttribute("target")).toBe("_blank");
    expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(await answer.locator(".code-block code").innerText()).toBe(CODE);
    expect(await answer.locator("strong").innerText()).toBe("two");
    // Nothing is shown as typed Markdown.
    expect(await answer.innerText()).not.toMatch(/\*\*|```|\| --- \|/);

    await answer.getByRole("button", { name: "Copy code" }).click();
    await answer.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(CODE);
    await shot(page, "markdown");
  }, 60_000);

  it("renders hostile Markdown inert, in the session and in the shared view, which names the agent and the owner", async () => {
    const page = await open(cluster.a.url);
    await signIn(page);
    await newSession(page, "Writer");
    hostileSession = new URL(page.url()).hash.split("/").pop()!;
    await send(page, "Say something hostile");
    const answer = page.locator(".message.assistant:not(.live)");
    await answer.getByText("Inert, all of it:").waitFor({ timeout: 20_000 });

    const inert = async (p: Page) => {
      const where = p.locator(".message.assistant");
      // The raw HTML is shown as the text it is, never as elements.
      await where.getByText("<script>window.__pwned = 'script'</script>").waitFor();
      expect(await where.locator("script, img, iframe, [onerror], [onclick]").count()).toBe(0);
      for (const name of ["click me", "data", "pic"]) {
        const hrefs = await where.getByText(name, { exact: true }).evaluateAll((els) => els.map((e) => e.getAttribute("href")));
        expect(hrefs.every((h) => h === null)).toBe(true);
      }
      await where.getByText("click me", { exact: true }).click();
      await where.getByText("raw bold", { exact: false }).click();
      expect(await p.evaluate("window.__pwned")).toBeUndefined();
    };
    await inert(page);

    // The shared view: read by anyone with the link, on the other node.
    const share = await alice.post(`/api/agents/writer/sessions/${hostileSession}/share`, { expires_in_hours: 1 });
    expect(share.status).toBe(201);
    const sharedPath = new URL(share.body.url).pathname;
    const anon = await open(cluster.b.url);
    await anon.goto(`${cluster.b.url}${sharedPath}`);
    await anon.locator(".message.assistant").waitFor();
    await inert(anon);
    expect(await anon.locator(".message.user .who").innerText()).toBe("The owner");
    expect(await anon.locator(".message.assistant .who").innerText()).toBe("Writer");
    expect(await anon.getByText("You", { exact: true }).count()).toBe(0);

    // Signing in from the link comes back to it, now able to clone it.
    await anon.getByRole("link", { name: "Sign in to clone it" }).click();
    await signInForm(anon, bobToken);
    await anon.getByRole("button", { name: "Clone into my conversations" }).waitFor();
    expect(new URL(anon.url()).pathname).toBe(sharedPath);
  }, 60_000);

  it("says why an agent with nothing connected could not answer, after a reload too, with a retry; also in a group's column", async () => {
    const page = await open(cluster.a.url);
    await signIn(page);
    await newSession(page, "Nobody");
    await send(page, "Are you there?");
    const failed = page.locator(".message.assistant.failed");
    await failed.waitFor({ timeout: 20_000 });
    await expect.poll(() => failed.innerText()).toMatch(/Nobody could not answer\.[\s\S]*no socket serving it/);
    expect(await failed.getByRole("link", { name: "see how to connect Nobody" }).getAttribute("href")).toBe("#/agents/nobody");
    await shot(page, "failed-turn");

    await page.reload();
    await failed.waitFor();
    expect(await failed.innerText()).toMatch(/no socket serving it/); // kept with the stored answer
    await failed.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => page.locator(".message.assistant.failed").count(), { timeout: 20_000 }).toBe(2);
    const questions = await page.locator(".message.user .content").allInnerTexts();
    expect(questions).toEqual(["Are you there?", "Are you there?"]);

    // A group of Writer and Nobody, with Bob as a member: Nobody fails in its own column, saying why.
    const group = await alice.post("/api/groups", { name: "Writers' room", agentIds: ["writer", "nobody"], allowed_users: ["bob@example.com"] });
    expect(group.status).toBe(201);
    await page.goto(`${cluster.a.url}/#/groups/${group.body.id}`);
    await page.getByRole("button", { name: "New conversation" }).click();
    const ask = page.getByRole("textbox", { name: "Ask the group" });
    await ask.waitFor();
    await page.getByLabel("Strategy").selectOption("first");
    expect(await page.locator("#strategy-help").innerText()).toMatch(/first to finish answers/);
    await page.getByLabel("Strategy").selectOption("all");
    await ask.fill("hello both");
    await page.getByRole("button", { name: "Ask", exact: true }).click();
    const column = page.locator('.answers .message.failed[data-agent="nobody"]');
    await column.waitFor({ timeout: 20_000 });
    await expect.poll(() => column.innerText()).toMatch(/Nobody could not answer\.[\s\S]*no socket serving it/);
    await page.locator('.answers .message[data-agent="writer"]:not(.live)').getByText("hello both").waitFor();
    await shot(page, "group-failed");
    const conversationUrl = page.url();

    // Bob, a member, reads Alice's conversation: no Delete or Rename offered, and the reason instead.
    const bob = await open(cluster.b.url);
    await signIn(bob, bobToken);
    await bob.goto(`${cluster.b.url}/${new URL(conversationUrl).hash}`);
    await bob.getByText("Only who started this conversation may change or delete it.").waitFor();
    expect(await bob.getByRole("button", { name: "Delete" }).count()).toBe(0);
    expect(await bob.getByRole("button", { name: "Rename" }).count()).toBe(0);
    await bob.goto(`${cluster.b.url}/#/groups/${group.body.id}`);
    await bob.getByText("Only who created this group may change or delete it.").waitFor();
    expect(await bob.getByRole("button", { name: "Edit group" }).count()).toBe(0);
    // The group page lists who is in it, not "the creator".
    const members = bob.locator(".members");
    await expect.poll(() => members.innerText()).toMatch(/Alice[\s\S]*created the group[\s\S]*bob@example\.com/);
  }, 90_000);

  it("says errors in words: a network failure, and the agent id checked with a valid pattern", async () => {
    const page = await open(cluster.a.url);
    await signIn(page);
    await newSession(page, "Writer");
    await page.route("**/turns", (route) => route.abort("internetdisconnected"));
    await send(page, "This will not leave");
    const composer = page.locator("form.composer");
    await composer.getByRole("alert").filter({ hasText: "The hub could not be reached: check your connection, then try again." }).waitFor();
    expect(await page.getByText("Failed to fetch").count()).toBe(0);
    await page.unroute("**/turns");
    // Too long a message: its size in words, beside the box, once.
    await page.getByRole("textbox", { name: "Message the agent" }).fill("x".repeat(300_000));
    await page.getByRole("button", { name: "Send", exact: true }).click();
    const tooLong = composer.getByRole("alert").filter({ hasText: "too long" });
    await tooLong.waitFor();
    expect(await tooLong.innerText()).toMatch(/^The message is 293 KB, too long: at most 256 KB is allowed$/);
    expect(await page.getByText(/bytes/).count()).toBe(0);

    // A refused group: each error beside its field, in words, and nothing repeated above the form.
    await page.getByRole("link", { name: "+ New group" }).click();
    const groupForm = page.getByRole("form", { name: "Create a group" });
    await groupForm.getByLabel("Name").fill("Solo");
    await groupForm.getByLabel(/^Writer/).check();
    await groupForm.getByLabel(/^Members by email/).fill("not-an-email");
    await groupForm.getByRole("button", { name: "Create group" }).click();
    await groupForm.locator("fieldset .field-error").filter({ hasText: "a group needs at least two distinct agents" }).waitFor();
    expect(await groupForm.getByLabel(/^Members by email/).getAttribute("aria-invalid")).toBe("true");
    expect(await groupForm.locator(".field-error").filter({ hasText: "must be an email address" }).count()).toBe(1);
    expect(await groupForm.locator("p.error").count()).toBe(0);
    expect(await page.getByText(/agentIds|allowed_users/).count()).toBe(0);

    await page.getByRole("link", { name: "+ New agent" }).click();
    const id = page.getByLabel(/^Id/);
    await id.fill("Bad Id!");
    // An invalid pattern would be ignored by the browser (and the mismatch never seen).
    expect(await id.evaluate((el) => (el as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch)).toBe(true);
    await id.fill("good-id_2");
    expect(await id.evaluate((el) => (el as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch)).toBe(false);
  });

  it("follows the browser's dark preference, with a toggle that is remembered", async () => {
    const page = await open(cluster.a.url, { colorScheme: "dark" });
    await signIn(page);
    await page.goto(`${cluster.a.url}/#/agents/writer/sessions/${hostileSession}`);
    await page.locator(".message.assistant .who", { hasText: "Writer" }).waitFor(); // the sidebar has loaded too
    const background = () => page.evaluate<string>("getComputedStyle(document.documentElement).backgroundColor");
    const isDark = async () => {
      const [r, g, b] = (await background()).match(/\d+/g)!.map(Number);
      return r! + g! + b! < 3 * 80;
    };
    expect(await isDark()).toBe(true);
    const toggle = page.getByRole("button", { name: "Dark mode" });
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    await shot(page, "dark");
    await toggle.click();
    expect(await isDark()).toBe(false);
    expect(await toggle.getAttribute("aria-pressed")).toBe("false");
    await page.reload();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await isDark()).toBe(false); // remembered, against the browser's preference
    await page.getByRole("button", { name: "Dark mode" }).click();
    expect(await isDark()).toBe(true);
  });

  it("gives admins a knowledge page: add, list, delete", async () => {
    const member = await open(cluster.a.url);
    await signIn(member);
    expect(await member.getByRole("link", { name: "Knowledge" }).count()).toBe(0);

    const page = await open(cluster.a.url);
    await signIn(page, adminToken);
    await page.getByRole("link", { name: "Knowledge" }).click();
    const form = page.getByRole("form", { name: "Add knowledge" });
    await form.getByLabel("Title").fill("Refund policy");
    await form.getByLabel("Content").fill("Refunds are processed within 5 business days.");
    await form.getByLabel(/^Roles/).fill("support, sales");
    await form.getByRole("button", { name: "Add knowledge" }).click();
    const item = page.locator(".knowledge-item", { hasText: "Refund policy" });
    await item.waitFor();
    expect(await item.innerText()).toMatch(/role: support[\s\S]*role: sales/);
    const listed = await api(cluster.a.url, adminToken).get("/api/knowledge");
    expect(listed.body.items.map((k: { title: string }) => k.title)).toContain("Refund policy");
    await page.evaluate(`document.getElementById("main").scrollTop = 0`);
    await shot(page, "knowledge");

    page.once("dialog", (d) => void d.accept());
    await item.getByRole("button", { name: "Delete Refund policy" }).click();
    await item.waitFor({ state: "detached" });
    expect((await api(cluster.a.url, adminToken).get("/api/knowledge")).body.items).toHaveLength(0);
  });

  it("works from the keyboard alone, from sign-in to a sent message; the composer and Rename take the focus", async () => {
    const page = await open(cluster.a.url);
    await page.keyboard.press("Tab"); // the token field is the first control
    expect(await page.evaluate("document.activeElement?.tagName")).toBe("TEXTAREA");
    await page.keyboard.type(aliceToken);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("navigation", { name: "Conversations" }).waitFor();

    /** Presses Tab until the focused element matches `test`; never stopping inside a closed section. */
    const focusOn = async (test: string, what: string) => {
      for (let i = 0; i < 80; i++) {
        await page.keyboard.press("Tab");
        const [matches, hidden] = (await page.evaluate(`(() => { const el = document.activeElement; const inClosed = !!el?.closest("details:not([open])") && el.tagName !== "SUMMARY"; return [!!el && (${test}), inClosed]; })()`)) as [boolean, boolean];
        expect(hidden).toBe(false);
        if (matches) return;
      }
      throw new Error(`could not reach ${what} with Tab`);
    };
    await focusOn(`el.getAttribute("aria-label") === "New session with Writer"`, "the new-session button");
    await page.keyboard.press("Enter");
    // The chat opens with the message box focused: no Tab needed.
    await expect.poll(() => page.evaluate<string>(`document.activeElement?.getAttribute("placeholder") ?? ""`)).toMatch(/^Message the agent/);
    await page.keyboard.type("Typed without a mouse");
    await page.keyboard.press("Enter");
    await page.locator(".message.assistant:not(.live)").getByText("Typed without a mouse").waitFor({ timeout: 20_000 });
    // Focus is visible where it lands.
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).not.toBe("none");

    await focusOn(`el.textContent === "Rename"`, "Rename");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(`document.activeElement?.closest("form")?.className`)).toBe("rename");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("Keyboard session");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keyboard session", level: 2 }).waitFor();

    // The closed "Thinking" section is one tab stop (its summary); the link inside it is reached only once it is open.
    await focusOn(`el.tagName === "SUMMARY"`, "the thinking section");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(`document.activeElement?.textContent`)).toBe("the notes");
  });
});

/** The sign-in page's token form (after following a link to it). */
async function signInForm(page: Page, token: string): Promise<void> {
  await page.getByRole("textbox", { name: "Token" }).fill(token);
  await page.getByRole("button", { name: "Sign in with token" }).click();
}
