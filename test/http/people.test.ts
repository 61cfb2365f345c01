/**
 * Issue 27's API additions on REST: people post in channels as themselves, invitations by email
 * skip unverified emails, sessions take their title from their first user message, and content
 * search over the sessions the caller may read.
 */
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { JWT_SECRET } from "../support/env.js";
import { addToTeam, appendMessage, makeAgent, makeKey, makeSession, uniq, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const hub = useHub({ redis: false });
let alice: Api;
let bob: Api;
let master: Api;
let agentId: string;

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice", { name: "Alice Liddell" }));
  bob = hub.anon.as(await hub.ws.token("bob"));
  master = hub.anon.as(hub.ws.masterKey);
  agentId = await makeAgent(alice, uniq("ops"));
});

/** A user token with exactly these extra claims (`email_verified` among them). */
function token(sub: string, email: string, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ workspace: hub.ws.id, email, name: sub, ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

const newChannel = async () => {
  const res = await alice.post("/team-channels", { name: uniq("chan") });
  expect(res.status).toBe(201);
  return res.body.id as string;
};

describe("people post in channels as themselves", () => {
  it("stores a person's post with userId and userName and agentId null, in history too", async () => {
    const channelId = await newChannel();
    const res = await bob.post(`/team-channels/${channelId}/messages`, { message: "I'm looking at db-2" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      channelId,
      agentId: null,
      userId: await userId(bob),
      userName: "bob",
      message: "I'm looking at db-2",
      metadata: null,
      seq: 1,
      createdAt: expect.stringMatching(/Z$/),
    });
    const asAgent = await alice.post(`/team-channels/${channelId}/messages`, { agentId, message: "as the agent" });
    expect(asAgent.status).toBe(201);
    expect(asAgent.body).not.toHaveProperty("userId");
    const history = (await alice.get(`/team-channels/${channelId}/messages`)).body.messages;
    expect(history.map((m: any) => [m.seq, m.agentId, m.userName ?? null])).toEqual([
      [1, null, "bob"],
      [2, agentId, null],
    ]);
  });

  it("is idempotent by id for a person, and refuses the same id with another body", async () => {
    const channelId = await newChannel();
    const id = crypto.randomUUID();
    expect((await alice.post(`/team-channels/${channelId}/messages`, { id, message: "once" })).status).toBe(201);
    const again = await alice.post(`/team-channels/${channelId}/messages`, { id, message: "once" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ userName: "Alice Liddell", seq: 1 });
    expectProblem(await alice.post(`/team-channels/${channelId}/messages`, { id, message: "twice" }), "conflict");
  });

  it("makes keys name agentId (422), and answers 404 for another workspace's channel", async () => {
    const channelId = await newChannel();
    const key = hub.anon.as(await makeKey(alice, agentId, ["channels:read", "channels:publish"]));
    expectProblem(await key.post(`/team-channels/${channelId}/messages`, { message: "who am I?" }), "validation", { fields: ["agentId"], detail: /.+/ });
    expectProblem(await master.post(`/team-channels/${channelId}/messages`, { message: "who am I?" }), "validation", { fields: ["agentId"] });
    const stranger = hub.anon.as(await hub.other.token("mallory"));
    expectProblem(await stranger.post(`/team-channels/${channelId}/messages`, { message: "hello" }), "not-found");
    expect((await alice.get(`/team-channels/${channelId}`)).body.messageCount).toBe(0);
  });
});

describe("invitations by email skip unverified emails", () => {
  it("adds a verified user at once, but makes an unverified one a pending member until their email is verified", async () => {
    const verified = `${uniq("vera")}@example.com`;
    const vera = api(hub.url, await token(uniq("vera"), verified));
    const veraId = await userId(vera);
    const added = await alice.post(`/api/agents/${agentId}/team`, { email: verified, access_level: "viewer" });
    expect(added.status).toBe(201);
    expect(added.body.members).toContainEqual(expect.objectContaining({ user_id: veraId, access_level: "viewer" }));

    // Someone signed in with a token that says the address is not verified: not matched by it.
    const email = `${uniq("ursula")}@example.com`;
    const sub = uniq("ursula");
    const unverified = api(hub.url, await token(sub, email, { email_verified: false }));
    const ursulaId = await userId(unverified);
    const invited = await alice.post(`/api/agents/${agentId}/team`, { email, access_level: "editor" });
    expect(invited.status).toBe(201);
    expect(invited.body.members).toContainEqual(expect.objectContaining({ user_id: null, email, pending: true }));
    expect(invited.body.members).not.toContainEqual(expect.objectContaining({ user_id: ursulaId }));
    expectProblem(await unverified.get(`/api/agents/${agentId}`), "not-found");

    // The same person, once their IdP says the email is verified, takes the invitation.
    const later = api(hub.url, await token(sub, email, { email_verified: true }));
    expect((await later.get(`/api/agents/${agentId}`)).body).toMatchObject({ id: agentId, access_level: "editor" });
    expect(await userId(later)).toBe(ursulaId);
    const team = (await alice.get(`/api/agents/${agentId}/team`)).body.members;
    expect(team).toContainEqual(expect.objectContaining({ user_id: ursulaId, access_level: "editor" }));
    expect(team).not.toContainEqual(expect.objectContaining({ email, pending: true }));
  });

  it("lets only editors invite (a viewer is refused)", async () => {
    const viewer = hub.anon.as(await hub.ws.token(uniq("viv")));
    await addToTeam(alice, agentId, viewer, "viewer");
    expectProblem(await viewer.post(`/api/agents/${agentId}/team`, { email: "someone@example.com", access_level: "viewer" }), "forbidden");
  });
});

describe("automatic titles", () => {
  it("names a session created without a title by its first user message: trimmed, first line, at most 80 characters", async () => {
    const s = await makeSession(alice, agentId);
    expect(s.title).toBe("New session");
    await appendMessage(alice, agentId, s.id, { role: "user", content: "  Why is checkout slow since Tuesday?\nIt was fine before." });
    expect((await alice.get(`/api/agents/${agentId}/sessions/${s.id}`)).body.title).toBe("Why is checkout slow since Tuesday?");
    // Only the first user message names it.
    await appendMessage(alice, agentId, s.id, { role: "user", content: "Another question" });
    expect((await alice.get(`/api/agents/${agentId}/sessions/${s.id}`)).body.title).toBe("Why is checkout slow since Tuesday?");

    const long = await makeSession(alice, agentId);
    await appendMessage(alice, agentId, long.id, { role: "assistant", content: "Hello! How can I help?" });
    await appendMessage(alice, agentId, long.id, { role: "user", content: "word ".repeat(40) });
    const title = (await alice.get(`/api/agents/${agentId}/sessions/${long.id}`)).body.title as string;
    expect(Array.from(title).length).toBeLessThanOrEqual(80);
    expect(title).toMatch(/^word word .*…$/);
  });

  it("never renames a session whose title was given, or renamed before its first message", async () => {
    const given = await makeSession(alice, agentId, { title: "Chosen" });
    await appendMessage(alice, agentId, given.id, { role: "user", content: "hello" });
    expect((await alice.get(`/api/agents/${agentId}/sessions/${given.id}`)).body.title).toBe("Chosen");

    const renamed = await makeSession(alice, agentId);
    expect((await alice.patch(`/api/agents/${agentId}/sessions/${renamed.id}`, { title: "New session" })).status).toBe(204);
    await appendMessage(alice, agentId, renamed.id, { role: "user", content: "hello" });
    expect((await alice.get(`/api/agents/${agentId}/sessions/${renamed.id}`)).body.title).toBe("New session");
  });

  it("names a group conversation created without a title too", async () => {
    const a2 = await makeAgent(alice, uniq("b"));
    const group = await alice.post("/api/groups", { name: uniq("g"), agentIds: [agentId, a2] });
    const conv = await alice.post(`/api/groups/${group.body.id}/conversations`, {});
    expect(conv.status).toBe(201);
    const ask = await alice.post(`/api/groups/${group.body.id}/conversations/${conv.body.id}/ask`, { content: "Who is on call?", strategy: "all" });
    expect(ask.status).toBe(202);
    const list = (await alice.get(`/api/groups/${group.body.id}/conversations`)).body.sessions;
    expect(list.find((c: any) => c.id === conv.body.id).title).toBe("Who is on call?");
  });
});

describe("content search", () => {
  it("finds sessions by message content and title, with the matching message, for sessions the caller may read only", async () => {
    const word = uniq("zebra");
    const mine = await makeSession(alice, agentId, { title: "Disk alerts" });
    await appendMessage(alice, agentId, mine.id, { role: "user", content: `The ${word} is loose on db-2, and 100%_sure` });
    const titled = await makeSession(alice, agentId, { title: `About the ${word}` });

    // Bob's own session with his own agent: Alice may not read it.
    const bobsAgent = await makeAgent(bob, uniq("bobs"));
    const bobs = await makeSession(bob, bobsAgent);
    await appendMessage(bob, bobsAgent, bobs.id, { role: "user", content: `my ${word} too` });
    // Another workspace, same word.
    const stranger = hub.anon.as(await hub.other.token("mallory"));
    const strangerAgent = await makeAgent(stranger, uniq("x"));
    const strangers = await makeSession(stranger, strangerAgent);
    await appendMessage(stranger, strangerAgent, strangers.id, { role: "user", content: word });

    const res = await alice.get(`/api/sessions/search?q=${encodeURIComponent(word.toUpperCase())}`);
    expect(res.status).toBe(200);
    const ids = res.body.results.map((r: any) => r.session.id);
    expect(ids.sort()).toEqual([mine.id, titled.id].sort());
    const hit = res.body.results.find((r: any) => r.session.id === mine.id);
    expect(hit.match).toEqual({ seq: 1, snippet: expect.stringContaining(word) });
    expect(res.body.results.find((r: any) => r.session.id === titled.id).match).toBeNull();
    expect(res.body.next_cursor).toBeNull();

    // Bob finds his own, not Alice's.
    expect((await bob.get(`/api/sessions/search?q=${word}`)).body.results.map((r: any) => r.session.id)).toEqual([bobs.id]);
    // `%` and `_` are taken literally.
    expect((await alice.get(`/api/sessions/search?q=${encodeURIComponent("100%_sure")}`)).body.results.map((r: any) => r.session.id)).toEqual([mine.id]);
    expect((await alice.get(`/api/sessions/search?q=${encodeURIComponent("100__sure")}`)).body.results).toEqual([]);
  });

  it("pages with a cursor, and validates q", async () => {
    const word = uniq("okapi");
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await makeSession(alice, agentId, { title: `t${i}` });
      await appendMessage(alice, agentId, s.id, { role: "user", content: `${word} ${i}` });
      made.push(s.id);
    }
    const first = (await alice.get(`/api/sessions/search?q=${word}&limit=2`)).body;
    expect(first.results).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = (await alice.get(`/api/sessions/search?q=${word}&limit=2&cursor=${encodeURIComponent(first.next_cursor)}`)).body;
    expect([...first.results, ...second.results].map((r: any) => r.session.id)).toEqual([...made].reverse());
    expectProblem(await alice.get("/api/sessions/search?q=%20"), "validation", { fields: ["q"] });
    expectProblem(await hub.anon.get(`/api/sessions/search?q=${word}`), "unauthorized");
  });
});

describe("cloning without access says whom to ask", () => {
  it("names the agent's editors in the 403, and the clone works once an editor gives access by email", async () => {
    const session = await makeSession(alice, agentId, { title: "Shared" });
    await appendMessage(alice, agentId, session.id, { role: "user", content: "hello" });
    const link = await alice.post(`/api/agents/${agentId}/sessions/${session.id}/share`, { expires_in_hours: 1 });
    expect(link.status).toBe(201);
    const shareToken = new URL(link.body.url).pathname.split("/").pop();
    const email = `${uniq("gil")}@example.com`;
    const gil = api(hub.url, await token(uniq("gil"), email));
    expectProblem(await gil.post(`/api/shared/${shareToken}/clone`), "forbidden", { detail: /ask Alice Liddell .*\(its editors\) to add you to its team/ });
    expect((await alice.post(`/api/agents/${agentId}/team`, { email, access_level: "viewer" })).status).toBe(201);
    expect((await gil.post(`/api/shared/${shareToken}/clone`)).status).toBe(201);
  });
});

describe("content search in content blocks", () => {
  it("looks in the blocks' text only, not in their types or other keys", async () => {
    const word = uniq("narwhal");
    const s = await makeSession(alice, agentId, { title: "Blocks" });
    await appendMessage(alice, agentId, s.id, { role: "user", content: [{ type: "text", text: `spotted a ${word}` }, { type: "image", url: "https://example.com/a.png" }] });
    const hits = (await alice.get(`/api/sessions/search?q=${word}`)).body.results;
    expect(hits).toEqual([{ session: expect.objectContaining({ id: s.id }), match: { seq: 1, snippet: expect.stringContaining(`spotted a ${word}`) } }]);
    const byType = (await alice.get(`/api/sessions/search?q=${encodeURIComponent("example.com/a.png")}`)).body.results;
    expect(byType.map((r: any) => r.session.id)).not.toContain(s.id);
  });
});
