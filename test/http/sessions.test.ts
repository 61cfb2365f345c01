import { randomUUID } from "node:crypto";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DomainEvent } from "../../src/domain/events.js";
import { api, type Api, type Res } from "../support/api.js";
import { testClock } from "../support/clock.js";
import { addToTeam, appendMessage, makeAgent, makeKey, makeSession, uniq, userId } from "../support/factories.js";
import { spawnHub, useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const clock = testClock();
const hub = useHub({ redis: false, clock });
let alice: Api; // the agent's editor
let bob: Api; // a viewer of the agent
let dave: Api; // another viewer
let carol: Api; // in the workspace, not on the team
let master: Api;
let admin: Api;
let stranger: Api; // master key of another workspace
let agent: string;
let rwKey: Api;
let readKey: Api;
let writeKey: Api;
let otherAgentKey: Api;
let bobId: number;
let events: DomainEvent[] = [];

beforeAll(async () => {
  hub.bus.subscribe((e) => events.push(e));
  alice = hub.anon.as(await hub.ws.token("alice"));
  bob = hub.anon.as(await hub.ws.token("bob"));
  dave = hub.anon.as(await hub.ws.token("dave"));
  carol = hub.anon.as(await hub.ws.token("carol"));
  master = hub.anon.as(hub.ws.masterKey);
  admin = hub.anon.as(await hub.ws.token("root", { role: "admin" }));
  stranger = hub.anon.as(hub.other.masterKey);
  agent = await makeAgent(alice);
  bobId = await addToTeam(alice, agent, bob);
  await addToTeam(alice, agent, dave);
  await userId(carol);
  rwKey = hub.anon.as(await makeKey(alice, agent, ["sessions:read", "sessions:write"]));
  readKey = hub.anon.as(await makeKey(alice, agent, ["sessions:read"]));
  writeKey = hub.anon.as(await makeKey(alice, agent, ["sessions:write", "channels:read"]));
  otherAgentKey = hub.anon.as(await makeKey(alice, await makeAgent(alice), ["sessions:read", "sessions:write"]));
});
beforeEach(() => {
  events = [];
});

const path = (sessionId = "", agentId = agent) => `/api/agents/${agentId}/sessions${sessionId ? `/${sessionId}` : ""}`;
/** The fields a 422 validation problem names, one entry per error. */
const fields = (res: Res) => expectProblem(res, "validation").errors!.map((e) => e.field);

describe("creating sessions", () => {
  it("lets a viewer create a session they own, titled 'New session' by default", async () => {
    const res = await bob.post(path(), {});
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ses_[a-z0-9]{25}$/),
      agent_id: agent,
      group_id: null,
      owner_id: bobId,
      title: "New session",
      archived: false,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
      last_message_at: null,
      message_count: 0,
    });
    expect((await bob.post(path(), { title: "  Deploy plan " })).body.title).toBe("Deploy plan");
  });

  it("validates the title and refuses unknown fields", async () => {
    expect(fields(await bob.post(path(), { title: "x".repeat(201) }))).toEqual(["title"]);
    expect(fields(await bob.post(path(), { title: " " }))).toEqual(["title"]);
    expectProblem(await bob.post(path(), { title: "ok", color: "red" }), "validation", { fields: ["body"] });
    expect((await bob.post(path(), { title: "x".repeat(200) })).status).toBe(201);
  });

  it("hides the agent from those who may not use it (404)", async () => {
    expectProblem(await carol.post(path(), {}), "not-found");
    expectProblem(await stranger.post(path(), {}), "not-found");
    expectProblem(await otherAgentKey.post(path(), {}), "not-found");
    expectProblem(await bob.post(path("", uniq("missing")), {}), "not-found");
  });

  it("lets agent keys with sessions:write create ownerless sessions, or name an owner on the team", async () => {
    expect((await rwKey.post(path(), {})).body.owner_id).toBeNull();
    expect((await writeKey.post(path(), { owner_id: bobId })).body.owner_id).toBe(bobId);
    expect(fields(await rwKey.post(path(), { owner_id: await userId(carol) }))).toEqual(["owner_id"]);
    expect(fields(await rwKey.post(path(), { owner_id: await userId(hub.anon.as(await hub.other.token("zed"))) }))).toEqual(["owner_id"]);
    expectProblem(await readKey.post(path(), {}), "forbidden", { detail: /sessions:write/ });
  });

  it("lets the master key and admins name an owner, but not ordinary users", async () => {
    expect((await master.post(path(), { owner_id: bobId })).body.owner_id).toBe(bobId);
    expect((await master.post(path(), {})).body.owner_id).toBeNull();
    expect((await admin.post(path(), { owner_id: bobId })).body.owner_id).toBe(bobId);
    expectProblem(await alice.post(path(), { owner_id: bobId }), "forbidden");
    expect((await bob.post(path(), { owner_id: bobId })).status).toBe(201);
  });
});

describe("reading sessions", () => {
  it("shows a session to its owner, the agent's keys with sessions:read, master and admins only", async () => {
    const s = await makeSession(bob, agent, { title: "private" });
    expect((await bob.get(path(s.id))).body).toEqual(s);
    for (const client of [readKey, rwKey, master, admin]) expect((await client.get(path(s.id))).status).toBe(200);
    for (const client of [alice, dave, carol, stranger, otherAgentKey]) expectProblem(await client.get(path(s.id)), "not-found");
    expectProblem(await writeKey.get(path(s.id)), "forbidden", { detail: /sessions:read/ });
    expectProblem(await bob.get(path(`ses_${"0".repeat(25)}`)), "not-found");
  });

  it("answers 404 for a session asked for under another agent", async () => {
    const second = await makeAgent(alice);
    const s = await makeSession(alice, agent);
    expectProblem(await alice.get(path(s.id, second)), "not-found");
    expectProblem(await master.get(path(s.id, second)), "not-found");
  });

  it("stops showing a member their sessions once they leave the team", async () => {
    const own = await makeAgent(alice);
    const erin = hub.anon.as(await hub.ws.token(uniq("erin")));
    const erinId = await addToTeam(alice, own, erin);
    const s = await makeSession(erin, own);
    expect((await erin.get(path(s.id, own))).status).toBe(200);
    await alice.delete(`/api/agents/${own}/team/${erinId}`);
    expectProblem(await erin.get(path(s.id, own)), "not-found");
    expectProblem(await erin.get(path("", own)), "not-found");
    expectProblem(await erin.post(`${path(s.id, own)}/messages`, { role: "user", content: "hi" }), "not-found");
  });

  it("lists the caller's own sessions; keys and master list all of the agent's", async () => {
    const own = await makeAgent(alice);
    await addToTeam(alice, own, bob);
    const key = hub.anon.as(await makeKey(alice, own, ["sessions:read"]));
    const bobs = await makeSession(bob, own);
    const alices = await makeSession(alice, own);
    const ids = async (client: Api) => (await client.get(path("", own))).body.sessions.map((s: { id: string }) => s.id);
    expect(await ids(bob)).toEqual([bobs.id]);
    expect(await ids(alice)).toEqual([alices.id]);
    expect(await ids(key)).toEqual([alices.id, bobs.id]);
    expect(await ids(master)).toEqual([alices.id, bobs.id]);
    expectProblem(await writeKey.get(path()), "forbidden");
    expectProblem(await otherAgentKey.get(path()), "not-found");
    expectProblem(await carol.get(path()), "not-found");
  });

  it("pages through sessions newest activity first with an opaque cursor", async () => {
    const own = await makeAgent(alice);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await makeSession(alice, own, { title: `s${i}` }));
    await appendMessage(alice, own, made[1].id); // activity moves s1 to the top

    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const res: { status: number; body: { sessions: { title: string }[]; next_cursor: string | null } } = await alice.get(
        `${path("", own)}?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(res.status).toBe(200);
      sizes.push(res.body.sessions.length);
      seen.push(...res.body.sessions.map((s) => s.title));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(["s1", "s4", "s3", "s2", "s0"]);

    const all = await alice.get(`${path("", own)}?limit=1000`);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ sessions: expect.any(Array), next_cursor: null });
    expect(all.body.sessions).toHaveLength(5);
  });

  it("rejects a bad limit or cursor with 422", async () => {
    expect(fields(await alice.get(`${path()}?limit=0`))).toEqual(["limit"]);
    expect(fields(await alice.get(`${path()}?limit=ten`))).toEqual(["limit"]);
    expect(fields(await alice.get(`${path()}?cursor=not-a-cursor`))).toEqual(["cursor"]);
  });
});

describe("changing sessions", () => {
  it("renames (204) for the owner and writing keys; others are refused", async () => {
    const s = await makeSession(bob, agent);
    const rename = await bob.patch(path(s.id), { title: "Renamed" });
    expect(rename.status).toBe(204);
    expect(rename.text).toBe("");
    const after = (await bob.get(path(s.id))).body;
    expect(after.title).toBe("Renamed");
    expect(after.updated_at > s.updated_at).toBe(true);
    expect((await writeKey.patch(path(s.id), { title: "By key" })).status).toBe(204);
    expectProblem(await readKey.patch(path(s.id), { title: "nope" }), "forbidden");
    expectProblem(await dave.patch(path(s.id), { title: "nope" }), "not-found");
    expectProblem(await otherAgentKey.patch(path(s.id), { title: "nope" }), "not-found");
    expect(fields(await bob.patch(path(s.id), {}))).toEqual(["title"]);
    expect(fields(await bob.patch(path(s.id), { title: "" }))).toEqual(["title"]);
  });

  it("archives and restores (204, idempotent), moving the session between the lists", async () => {
    const s = await makeSession(bob, agent);
    const listed = async (which: string) => (await bob.get(`${path()}${which}?limit=200`)).body.sessions.map((x: { id: string }) => x.id);
    expect((await bob.post(`${path(s.id)}/archive`)).status).toBe(204);
    expect((await bob.post(`${path(s.id)}/archive`)).status).toBe(204);
    expect((await bob.get(path(s.id))).body.archived).toBe(true);
    expect(await listed("")).not.toContain(s.id);
    expect(await listed("/archived")).toContain(s.id);
    const archivedPage = await bob.get(`${path()}/archived`);
    expect(archivedPage.body).toEqual({ sessions: expect.any(Array), next_cursor: null });

    expect((await bob.post(`${path(s.id)}/restore`)).status).toBe(204);
    expect(await listed("")).toContain(s.id);
    expect(await listed("/archived")).not.toContain(s.id);
    expectProblem(await dave.post(`${path(s.id)}/archive`), "not-found");
    expectProblem(await readKey.post(`${path(s.id)}/archive`), "forbidden");
    expectProblem(await readKey.post(`${path(s.id)}/restore`), "forbidden");

    const changes = events.filter((e) => e.type === "session.updated").map((e) => (e as { change: string }).change);
    expect(changes).toEqual(["archived", "restored"]);
  });

  it("deletes a session with its messages (204)", async () => {
    const s = await makeSession(bob, agent);
    await appendMessage(bob, agent, s.id);
    expectProblem(await dave.delete(path(s.id)), "not-found");
    expectProblem(await readKey.delete(path(s.id)), "forbidden");
    expect((await bob.delete(path(s.id))).status).toBe(204);
    expectProblem(await bob.get(path(s.id)), "not-found");
    expectProblem(await bob.get(`${path(s.id)}/messages`), "not-found");
    expect(await hub.db("session_messages").where({ session_id: s.id }).count()).toEqual([{ count: 0 }]);
    expectProblem(await bob.delete(path(s.id)), "not-found");
  });

  it("deletes every archived session of the caller with this agent, and only those", async () => {
    const own = await makeAgent(alice);
    await addToTeam(alice, own, bob);
    const [a1, a2, live] = [await makeSession(bob, own), await makeSession(bob, own), await makeSession(bob, own)];
    const alices = await makeSession(alice, own);
    const elsewhere = await makeSession(bob, agent);
    for (const s of [a1, a2, alices]) await hub.anon.as(hub.ws.masterKey).post(`${path(s.id, own)}/archive`);
    await bob.post(`${path(elsewhere.id)}/archive`);

    expectProblem(await readKey.delete(`${path()}/archived`), "forbidden");
    expectProblem(await carol.delete(`${path("", own)}/archived`), "not-found");
    events = [];
    expect((await bob.delete(`${path("", own)}/archived`)).status).toBe(204);
    expectProblem(await bob.get(path(a1.id, own)), "not-found");
    expectProblem(await bob.get(path(a2.id, own)), "not-found");
    expect((await bob.get(path(live.id, own))).status).toBe(200);
    expect((await alice.get(path(alices.id, own))).status).toBe(200);
    expect((await bob.get(path(elsewhere.id))).status).toBe(200);
    expect(events.map((e) => e.type === "session.updated" && [e.sessionId, e.change])).toEqual(
      expect.arrayContaining([[a1.id, "deleted"], [a2.id, "deleted"]]),
    );
    expect(events).toHaveLength(2);

    // a key deletes every archived session of its agent
    const key = hub.anon.as(await makeKey(alice, own, ["sessions:write"]));
    expect((await key.delete(`${path("", own)}/archived`)).status).toBe(204);
    expectProblem(await alice.get(path(alices.id, own)), "not-found");
  });

  it("publishes session.updated after commit with the session and its audience", async () => {
    const s = await makeSession(bob, agent);
    await bob.patch(path(s.id), { title: "Evented" });
    await rwKey.delete(path(s.id));
    expect(events).toEqual([
      {
        type: "session.updated",
        workspaceId: hub.ws.id,
        agentId: agent,
        sessionId: s.id,
        change: "renamed",
        session: expect.objectContaining({ id: s.id, title: "Evented" }),
        audience: { agentId: agent, ownerUserId: bobId, groupIds: [] },
      },
      expect.objectContaining({ type: "session.updated", change: "deleted", session: expect.objectContaining({ id: s.id }) }),
    ]);
  });

  it("deletes an agent's sessions with the agent", async () => {
    const own = await makeAgent(alice);
    const s = await makeSession(alice, own);
    await appendMessage(alice, own, s.id);
    expect((await alice.delete(`/api/agents/${own}`)).status).toBe(204);
    expect(await hub.db("sessions").where({ id: s.id }).first()).toBeUndefined();
  });
});

describe("messages", () => {
  const turn = {
    role: "assistant",
    content: "Refunds take 5 business days.",
    thinking: "The user asks about refunds.",
    toolCalls: [{ id: "call_1", name: "search", arguments: { q: "refund" } }],
    sources: [{ id: "kb-1", type: "semantic", title: "Refund Policy", snippet: "…within 5 days" }],
    model: "claude-sonnet-4-5",
    finishReason: "stop",
    tokenUsage: { inputTokens: 1200, outputTokens: 240, totalTokens: 1440 },
  };

  it("appends a whole agent turn (201) and keeps the session's count and activity", async () => {
    const s = await makeSession(bob, agent);
    const id = randomUUID();
    const res = await bob.post(`${path(s.id)}/messages`, { id, ...turn });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id, ...turn, seq: 1, createdAt: expect.stringMatching(/Z$/) });

    const blocks = await appendMessage(rwKey, agent, s.id, { role: "tool", content: [{ type: "text", text: "hi" }, { type: "image", url: "x" }] });
    expect(blocks).toEqual({ id: expect.any(String), role: "tool", content: [{ type: "text", text: "hi" }, { type: "image", url: "x" }], seq: 2, createdAt: expect.any(String) });
    expect(blocks.id).toMatch(/^[0-9a-f-]{36}$/);

    const after = (await bob.get(path(s.id))).body;
    expect(after.message_count).toBe(2);
    expect(after.last_message_at).toBe(blocks.createdAt);
  });

  it("lists history oldest first, paged by cursor or after_seq", async () => {
    const s = await makeSession(bob, agent);
    for (let i = 1; i <= 5; i++) await appendMessage(bob, agent, s.id, { content: `m${i}` });
    const page1 = await bob.get(`${path(s.id)}/messages?limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.messages.map((m: { content: string }) => m.content)).toEqual(["m1", "m2"]);
    const page2 = await bob.get(`${path(s.id)}/messages?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 4]);
    const page3 = await bob.get(`${path(s.id)}/messages?limit=2&cursor=${page2.body.next_cursor}`);
    expect(page3.body).toEqual({ messages: [expect.objectContaining({ seq: 5, content: "m5" })], next_cursor: null });

    const after = await readKey.get(`${path(s.id)}/messages?after_seq=3`);
    expect(after.body.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
    expect((await bob.get(`${path(s.id)}/messages`)).body.messages).toHaveLength(5);
    expect(fields(await bob.get(`${path(s.id)}/messages?after_seq=1&cursor=${page1.body.next_cursor}`))).toEqual(["after_seq"]);
    expect(fields(await bob.get(`${path(s.id)}/messages?after_seq=-1`))).toEqual(["after_seq"]);
    expect(fields(await bob.get(`${path(s.id)}/messages?cursor=zzz`))).toEqual(["cursor"]);
  });

  it("filters history and lists by since (ISO 8601 or Unix ms)", async () => {
    const s = await makeSession(bob, agent);
    for (let i = 1; i <= 4; i++) await appendMessage(bob, agent, s.id, { content: `m${i}` });
    const all = (await bob.get(`${path(s.id)}/messages`)).body.messages;
    const second = all[1].createdAt as string;
    const iso = await bob.get(`${path(s.id)}/messages?since=${encodeURIComponent(second)}`);
    expect(iso.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 4]);
    const ms = await bob.get(`${path(s.id)}/messages?since=${Date.parse(second)}`);
    expect(ms.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 4]);
    expect(fields(await bob.get(`${path(s.id)}/messages?since=tuesday`))).toEqual(["since"]);

    const before = Date.parse((await bob.get(`${path(s.id)}`)).body.updated_at);
    const fresh = await makeSession(bob, agent);
    const listed = await bob.get(`/api/agents/${agent}/sessions?since=${before}`);
    expect(listed.body.sessions.map((x: { id: string }) => x.id)).toEqual([fresh.id]);
  });

  it("treats the same id and body as a retry (200, no duplicate, no seq used) and another body as 409", async () => {
    const s = await makeSession(bob, agent);
    const id = randomUUID();
    const first = await bob.post(`${path(s.id)}/messages`, { id, ...turn });
    expect(first.status).toBe(201);
    // the same body with its keys in another order (and the id in upper case)
    const { role, content, ...rest } = turn;
    const reordered = { ...rest, tokenUsage: { totalTokens: 1440, outputTokens: 240, inputTokens: 1200 }, content, id: id.toUpperCase(), role };
    const again = await bob.post(`${path(s.id)}/messages`, reordered);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expectProblem(await bob.post(`${path(s.id)}/messages`, { id, ...turn, sources: null }), "conflict");
    // an absent optional part and a null one are the same body
    const plainId = randomUUID();
    expect((await bob.post(`${path(s.id)}/messages`, { id: plainId, role: "user", content: "q" })).status).toBe(201);
    expect((await bob.post(`${path(s.id)}/messages`, { id: plainId, role: "user", content: "q", model: null })).status).toBe(200);

    expectProblem(await bob.post(`${path(s.id)}/messages`, { id, ...turn, content: "something else" }), "conflict");
    const next = await appendMessage(bob, agent, s.id);
    expect(next.seq).toBe(3);
    expect((await bob.get(path(s.id))).body.message_count).toBe(3);
    // ids are unique per session, not globally
    const t = await makeSession(bob, agent);
    expect((await bob.post(`${path(t.id)}/messages`, { id, ...turn })).status).toBe(201);
  });

  it("rejects bad messages with 422 and stores nothing", async () => {
    const s = await makeSession(bob, agent);
    const post = (body: unknown) => bob.post(`${path(s.id)}/messages`, body);
    expect(fields(await post({ id: "not-a-uuid", role: "user", content: "x" }))).toEqual(["id"]);
    expect(fields(await post({ role: "robot", content: "x" }))).toEqual(["role"]);
    expect(fields(await post({ role: "user", content: 42 }))).toEqual(["content"]);
    expect(fields(await post({ role: "user", content: { type: "text" } }))).toEqual(["content"]);
    expectProblem(await post({ role: "user", content: [{ text: "no type" }] }), "validation", { fields: ["content"] });
    expectProblem(await post({ role: "user", content: ["x"] }), "validation", { fields: ["content"] });
    expectProblem(await post({ role: "user" }), "validation", { fields: ["content"] });
    expectProblem(await post({ role: "user", content: "x", tokenUsage: { inputTokens: -1, outputTokens: 0, totalTokens: 0 } }), "validation", { fields: ["tokenUsage.inputTokens"] });
    expectProblem(await post({ role: "user", content: "x", sources: [{ title: "no id" }] }), "validation", { fields: ["sources.0.id", "sources.0.type"] });
    expectProblem(await post({ role: "user", content: "x", mood: "happy" }), "validation", { fields: ["body"] });
    const big = expectProblem(await post({ role: "user", content: "x".repeat(300 * 1024) }), "validation", { fields: ["body"] });
    expect(big.errors![0]).toEqual({ field: "body", message: expect.stringMatching(/262144/) });
    expect((await bob.get(path(s.id))).body.message_count).toBe(0);
    expect((await bob.get(`${path(s.id)}/messages`)).body.messages).toEqual([]);
    expect(events.filter((e) => e.type === "session.message_appended")).toEqual([]);
  });

  it("refuses readers and writers who may not", async () => {
    const s = await makeSession(bob, agent);
    await appendMessage(bob, agent, s.id);
    const msg = { role: "user", content: "x" };
    expectProblem(await readKey.post(`${path(s.id)}/messages`, msg), "forbidden");
    expectProblem(await writeKey.get(`${path(s.id)}/messages`), "forbidden");
    expect((await writeKey.post(`${path(s.id)}/messages`, msg)).status).toBe(201);
    for (const client of [dave, alice, carol, stranger, otherAgentKey]) {
      expectProblem(await client.get(`${path(s.id)}/messages`), "not-found");
      expectProblem(await client.post(`${path(s.id)}/messages`, msg), "not-found");
    }
    expect((await master.get(`${path(s.id)}/messages`)).body.messages).toHaveLength(2);
  });

  it("publishes session.message_appended after commit, with the presented message and audience", async () => {
    const own = await makeAgent(alice);
    const erin = hub.anon.as(await hub.ws.token(uniq("erin")));
    const erinId = await addToTeam(alice, own, erin);
    const key = hub.anon.as(await makeKey(alice, own, ["sessions:write"]));
    const s = await makeSession(erin, own);
    const m = await appendMessage(erin, own, s.id, { content: "hi" });
    expectProblem(await erin.post(`${path(s.id, own)}/messages`, { id: m.id, role: "user", content: "changed" }), "conflict"); // no event
    await alice.delete(`/api/agents/${own}/team/${erinId}`);
    await appendMessage(key, own, s.id, { role: "assistant", content: "still here" });
    expect(events.filter((e) => e.type === "session.message_appended")).toEqual([
      { type: "session.message_appended", workspaceId: hub.ws.id, agentId: own, sessionId: s.id, seq: 1, message: m, audience: { agentId: own, ownerUserId: erinId, groupIds: [] } },
      expect.objectContaining({ seq: 2, audience: { agentId: own, ownerUserId: null, groupIds: [] } }),
    ]);
  });
});

describe("concurrent appends", () => {
  const seqsOf = async (sessionId: string) =>
    (await master.get(`${path(sessionId)}/messages?limit=200`)).body.messages.map((m: { seq: number }) => m.seq);
  const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it("gives 40 parallel appends seqs 1..40 with no gap and no duplicate", async () => {
    const s = await makeSession(bob, agent);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => bob.post(`${path(s.id)}/messages`, { role: "user", content: `m${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(40).fill(201));
    expect(results.map((r) => r.body.seq).sort((a, b) => a - b)).toEqual(oneTo(40));
    expect(await seqsOf(s.id)).toEqual(oneTo(40));
    expect((await bob.get(path(s.id))).body.message_count).toBe(40);
  });

  it("stores one message for parallel retries of one id, and 409s the differing bodies", async () => {
    const s = await makeSession(bob, agent);
    const id = randomUUID();
    const same = await Promise.all(Array.from({ length: 10 }, () => bob.post(`${path(s.id)}/messages`, { id, role: "user", content: "once" })));
    expect(same.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(same.map((r) => r.body.seq))).toEqual(new Set([1]));

    const id2 = randomUUID();
    const differing = await Promise.all(
      Array.from({ length: 8 }, (_, i) => bob.post(`${path(s.id)}/messages`, { id: id2, role: "user", content: `v${i}` })),
    );
    expect(differing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    for (const r of differing.filter((r) => r.status === 409)) expectProblem(r, "conflict");
    expect(await seqsOf(s.id)).toEqual([1, 2]);
  });

  it("stays gap-free when two hub processes append to one session", async () => {
    const s = await makeSession(bob, agent);
    const nodes = await Promise.all([spawnHub({ redis: false }), spawnHub({ redis: false })]);
    try {
      const clients = nodes.map((n) => api(n.url, hub.ws.masterKey));
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => clients[i % 2]!.post(`${path(s.id)}/messages`, { role: "user", content: `n${i}` })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(40).fill(201));
      expect(await seqsOf(s.id)).toEqual(oneTo(40));
      expect((await bob.get(path(s.id))).body.message_count).toBe(40);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 60_000);
});
