import { beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../support/api.js";
import { testClock } from "../support/clock.js";
import { addToTeam, appendMessage, makeAgent, makeKey, makeSession } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";
import { untilPast } from "../support/waiters.js";

const clock = testClock();
const HOUR = 3_600_000;
const hub = useHub({ redis: false, clock });
let alice: Api; // the agent's editor, owns the shared session
let bob: Api; // a viewer of the agent
let carol: Api; // in the workspace, not on the team
let master: Api;
let agent: string;
let aliceKey: string; // a key of the agent, must never leak
let readKey: Api;
let writeKey: Api;
let otherAgentKey: Api;

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice", { email: "alice.owner@example.com" }));
  bob = hub.anon.as(await hub.ws.token("bob"));
  carol = hub.anon.as(await hub.ws.token("carol"));
  master = hub.anon.as(hub.ws.masterKey);
  agent = await makeAgent(alice, undefined, "Logs agent");
  await addToTeam(alice, agent, bob);
  aliceKey = await makeKey(alice, agent, ["sessions:read"]);
  readKey = hub.anon.as(aliceKey);
  writeKey = hub.anon.as(await makeKey(alice, agent, ["sessions:write"]));
  otherAgentKey = hub.anon.as(await makeKey(alice, await makeAgent(alice), ["sessions:read", "sessions:write"]));
});

const sharePath = (sessionId: string, agentId = agent) => `/api/agents/${agentId}/sessions/${sessionId}/share`;

/** A session of alice's with `n` messages. */
async function conversation(n = 2, title = "Incident 42") {
  const s = await makeSession(alice, agent, { title });
  for (let i = 1; i <= n; i++) await appendMessage(alice, agent, s.id, { role: i % 2 ? "user" : "assistant", content: `turn ${i}` });
  return s;
}

async function share(client: Api, sessionId: string, body: unknown = {}) {
  const res = await client.post(sharePath(sessionId), body);
  expect(res.status).toBe(201);
  return res.body as { token: string; url: string; expires_at: string };
}

function expectPrivateHeaders(res: { headers: Headers }) {
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("x-robots-tag")).toBe("noindex");
}

describe("creating share links", () => {
  it("answers 201 with a 256-bit token, its url and a 168 h default expiry", async () => {
    const s = await conversation();
    const before = clock.now().getTime();
    const link = await share(alice, s.id);
    expect(link.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(link.url).toBe(`http://hub.test/shared/${link.token}`);
    const ttl = Date.parse(link.expires_at) - before;
    expect(ttl).toBeGreaterThan(168 * HOUR - 1000);
    expect(ttl).toBeLessThanOrEqual(168 * HOUR + 1000);
    const oneHour = await share(alice, s.id, { expires_in_hours: 1 });
    expect(Date.parse(oneHour.expires_at) - before).toBeLessThanOrEqual(HOUR + 1000);
    expect((await alice.post(sharePath(s.id), { expires_in_hours: 168 })).status).toBe(201);
  });

  it("rejects expires_in_hours outside 1..168 with 422", async () => {
    const s = await conversation(0);
    for (const expires_in_hours of [0, -1, 169, 1000, 1.5, "24", null]) {
      expectProblem(await alice.post(sharePath(s.id), { expires_in_hours }), "validation", { fields: ["expires_in_hours"] });
    }
  });

  it("lets only who may read the session share it", async () => {
    const s = await conversation(0);
    expect((await readKey.post(sharePath(s.id), {})).status).toBe(201);
    expect((await master.post(sharePath(s.id), {})).status).toBe(201);
    expectProblem(await writeKey.post(sharePath(s.id), {}), "forbidden");
    for (const client of [bob, carol, otherAgentKey, hub.anon.as(hub.other.masterKey)]) expectProblem(await client.post(sharePath(s.id), {}), "not-found");
    expectProblem(await hub.anon.post(sharePath(s.id), {}), "unauthorized");
    const bobs = await makeSession(bob, agent);
    expect((await bob.post(sharePath(bobs.id), {})).status).toBe(201); // a viewer shares what they own
  });

  it("stores only a hash of the token", async () => {
    const s = await conversation(0);
    const { token } = await share(alice, s.id);
    const rows = await hub.db("share_links").where({ session_id: s.id });
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
  });
});

describe("the shared view", () => {
  it("shows the conversation and its agent, without a credential, and nothing else", async () => {
    const s = await conversation(2);
    const { token, expires_at } = await share(alice, s.id);
    const res = await hub.anon.get(`/api/shared/${token}`);
    expect(res.status).toBe(200);
    expectPrivateHeaders(res);
    expect(res.body).toEqual({
      title: "Incident 42",
      session: { id: s.id, title: "Incident 42", created_at: s.created_at },
      agent: { id: agent, name: "Logs agent" },
      messages: [
        expect.objectContaining({ seq: 1, role: "user", content: "turn 1" }),
        expect.objectContaining({ seq: 2, role: "assistant", content: "turn 2" }),
      ],
      next_cursor: null,
      expires_at,
    });
    expect(res.text).not.toContain("alice.owner@example.com");
    expect(res.text).not.toContain("owner");
    expect(res.text).not.toContain(aliceKey);
    expect(res.text).not.toContain("g_agent_");
    expect(res.text).not.toContain("g_master_");
    // the same with a credential, and at the link's own path
    expect((await alice.get(`/api/shared/${token}`)).body).toEqual(res.body);
    const viaUrl = await hub.anon.get(`/shared/${token}`);
    expect(viaUrl.body).toEqual(res.body);
    expectPrivateHeaders(viaUrl);
  });

  it("pages its messages with limit and cursor, up to the link's snapshot only", async () => {
    const s = await conversation(5);
    const { token } = await share(alice, s.id);
    await appendMessage(alice, agent, s.id, { content: "after the link" });
    const seqs: number[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { messages: Array<{ seq: number }>; next_cursor: string | null } = (await hub.anon.get(`/api/shared/${token}?limit=2&cursor=${cursor}`)).body;
      expect(page.messages.length).toBeLessThanOrEqual(2);
      seqs.push(...page.messages.map((m) => m.seq));
      cursor = page.next_cursor;
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expectProblem(await hub.anon.get(`/api/shared/${token}?limit=zero`), "validation", { fields: ["limit"] });
    expectProblem(await hub.anon.get(`/api/shared/${token}?cursor=nonsense`), "validation", { fields: ["cursor"] });
  });

  it("is a snapshot at share time; each link sees what existed when it was made", async () => {
    const s = await conversation(2);
    const first = await share(alice, s.id);
    await appendMessage(alice, agent, s.id, { content: "later" });
    const second = await share(alice, s.id);
    expect((await hub.anon.get(`/api/shared/${first.token}`)).body.messages).toHaveLength(2);
    expect((await hub.anon.get(`/api/shared/${second.token}`)).body.messages.map((m: { content: string }) => m.content)).toEqual([
      "turn 1",
      "turn 2",
      "later",
    ]);
  });

  it("answers the same 404 for unknown, malformed, expired and revoked tokens, on view and clone", async () => {
    const s = await conversation(1);
    const expiring = await share(alice, s.id, { expires_in_hours: 1 });
    const revoked = await share(alice, s.id);
    const live = await share(alice, s.id);

    clock.advance(HOUR - 60_000);
    expect((await hub.anon.get(`/api/shared/${expiring.token}`)).status).toBe(200);
    clock.advance(2 * 60_000);
    expect((await alice.delete(sharePath(s.id))).status).toBe(204);

    const unknown = "A".repeat(43);
    const responses = [];
    for (const token of [unknown, "short", expiring.token, revoked.token, live.token]) {
      const view = await hub.anon.get(`/api/shared/${token}`);
      const clone = await bob.post(`/api/shared/${token}/clone`);
      for (const res of [view, clone]) {
        expectProblem(res, "not-found");
        expectPrivateHeaders(res);
        responses.push(res.text);
      }
    }
    expect(new Set(responses).size).toBe(1);
  });

  it("revokes every link of the session at once; only who may share may revoke", async () => {
    const s = await conversation(1);
    const a = await share(alice, s.id);
    const b = await share(readKey, s.id);
    for (const client of [bob, carol, otherAgentKey]) expectProblem(await client.delete(sharePath(s.id)), "not-found");
    expectProblem(await writeKey.delete(sharePath(s.id)), "forbidden");
    expect((await hub.anon.get(`/api/shared/${a.token}`)).status).toBe(200);
    expect((await readKey.delete(sharePath(s.id))).status).toBe(204);
    expectProblem(await hub.anon.get(`/api/shared/${a.token}`), "not-found");
    expectProblem(await hub.anon.get(`/api/shared/${b.token}`), "not-found");
    expect((await alice.delete(sharePath(s.id))).status).toBe(204); // nothing left: still 204
    const c = await share(alice, s.id);
    expect((await hub.anon.get(`/api/shared/${c.token}`)).status).toBe(200);
  });

  it("dies with its session", async () => {
    const s = await conversation(1);
    const { token } = await share(alice, s.id);
    await alice.delete(`/api/agents/${agent}/sessions/${s.id}`);
    expectProblem(await hub.anon.get(`/api/shared/${token}`), "not-found");
  });
});

describe("cloning a shared session", () => {
  it("copies the shared messages into a new session owned by the caller, seqs 1..n", async () => {
    const s = await conversation(3, "Worth keeping");
    const { token } = await share(alice, s.id);
    await appendMessage(alice, agent, s.id, { content: "after sharing" });

    const res = await bob.post(`/api/shared/${token}/clone`);
    expect(res.status).toBe(201);
    expectPrivateHeaders(res);
    const bobId = (await bob.get("/api/me")).body.user_id;
    expect(res.body).toMatchObject({ agent_id: agent, owner_id: bobId, title: "Worth keeping", archived: false, message_count: 3 });
    expect(res.body.id).not.toBe(s.id);

    const copied = (await bob.get(`/api/agents/${agent}/sessions/${res.body.id}/messages`)).body.messages;
    const original = (await alice.get(`/api/agents/${agent}/sessions/${s.id}/messages`)).body.messages;
    expect(copied).toEqual(original.slice(0, 3));
    expect(copied.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3]);

    // the copy is bob's own: listed, appendable, and alice's session is untouched
    expect((await bob.get(`/api/agents/${agent}/sessions`)).body.sessions.map((x: { id: string }) => x.id)).toContain(res.body.id);
    expect((await appendMessage(bob, agent, res.body.id, { content: "continuing" })).seq).toBe(4);
    expect((await alice.get(`/api/agents/${agent}/sessions/${s.id}`)).body.message_count).toBe(4);
    expectProblem(await alice.get(`/api/agents/${agent}/sessions/${res.body.id}`), "not-found");
  });

  it("clones an empty conversation", async () => {
    const s = await conversation(0);
    const { token } = await share(alice, s.id);
    const res = await alice.post(`/api/shared/${token}/clone`);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ owner_id: expect.any(Number), message_count: 0, last_message_at: null });
  });

  it("is for users who may use the session's agent", async () => {
    const s = await conversation(1);
    const { token } = await share(alice, s.id);
    expectProblem(await readKey.post(`/api/shared/${token}/clone`), "forbidden");
    expectProblem(await master.post(`/api/shared/${token}/clone`), "forbidden");
    expectProblem(await carol.post(`/api/shared/${token}/clone`), "forbidden");
    // Another workspace: as if the link did not exist.
    expectProblem(await hub.anon.as(await hub.other.token("alice")).post(`/api/shared/${token}/clone`), "not-found");
    const noCredential = await hub.anon.post(`/api/shared/${token}/clone`);
    expectProblem(noCredential, "unauthorized");
    expect(noCredential.headers.get("cache-control")).toBe("no-store");
    expect(noCredential.headers.get("referrer-policy")).toBe("no-referrer");
    // A dead token answers 404 whoever asks, keys included.
    expectProblem(await master.post(`/api/shared/${"x".repeat(43)}/clone`), "not-found");
    expect((await hub.anon.as(await hub.ws.token("root", { role: "admin" })).post(`/api/shared/${token}/clone`)).status).toBe(201);
  });
});

describe("links made by keys, and revoking one's own", () => {
  /** A fresh key of the agent with its id, and a client using it. */
  async function agentKey(body: Record<string, unknown> = {}) {
    const res = await alice.post(`/api/agents/${agent}/keys`, { scopes: ["sessions:read"], ...body });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, client: hub.anon.as(res.body.key), expiresAt: res.body.expires_at as string | null };
  }

  it("a link made with an agent key (or a master key) dies when that key is revoked; people's links live on", async () => {
    const s = await conversation(1);
    const key = await agentKey();
    const byKey = await share(key.client, s.id);
    const secondMaster = await master.post("/api/workspace/master-keys", {});
    const byMaster = await share(hub.anon.as(secondMaster.body.key), s.id);
    const byAlice = await share(alice, s.id);
    for (const { token } of [byKey, byMaster, byAlice]) expect((await hub.anon.get(`/api/shared/${token}`)).status).toBe(200);

    expect((await alice.delete(`/api/agents/${agent}/keys/${key.id}`)).status).toBe(204);
    expect((await master.delete(`/api/workspace/master-keys/${secondMaster.body.id}`)).status).toBe(204);
    const unknown = await hub.anon.get(`/api/shared/${"A".repeat(43)}`);
    for (const { token } of [byKey, byMaster]) {
      const view = await hub.anon.get(`/api/shared/${token}`);
      expectProblem(view, "not-found");
      expect(view.text).toBe(unknown.text);
      expectProblem(await bob.post(`/api/shared/${token}/clone`), "not-found");
    }
    expect((await hub.anon.get(`/api/shared/${byAlice.token}`)).status).toBe(200);
    expect((await bob.post(`/api/shared/${byAlice.token}/clone`)).status).toBe(201);
  });

  it("a link made with an agent key dies when that key expires", async () => {
    const s = await conversation(1);
    const key = await agentKey({ expires_in_seconds: 1 });
    const { token } = await share(key.client, s.id);
    expect((await hub.anon.get(`/api/shared/${token}`)).status).toBe(200);
    // Its key lives a second (the least allowed): wait out exactly that.
    await untilPast(key.expiresAt!, 100);
    expectProblem(await hub.anon.get(`/api/shared/${token}`), "not-found");
    expectProblem(await bob.post(`/api/shared/${token}/clone`), "not-found");
  });

  it("lets the owner revoke their own links after losing access to the agent", async () => {
    const dave = hub.anon.as(await hub.ws.token("dave"));
    const daveId = await addToTeam(alice, agent, dave);
    const s = await makeSession(dave, agent, { title: "dave's" });
    const { token } = await share(dave, s.id);
    expect((await alice.delete(`/api/agents/${agent}/team/${daveId}`)).status).toBe(200);

    expectProblem(await dave.get(`/api/agents/${agent}/sessions/${s.id}`), "not-found");
    expectProblem(await dave.post(sharePath(s.id), {}), "not-found"); // sharing anew needs access
    expect((await hub.anon.get(`/api/shared/${token}`)).status).toBe(200);
    for (const client of [carol, bob, otherAgentKey]) expectProblem(await client.delete(sharePath(s.id)), "not-found");
    expectProblem(await writeKey.delete(sharePath(s.id)), "forbidden");
    expect((await dave.delete(sharePath(s.id))).status).toBe(204);
    expectProblem(await hub.anon.get(`/api/shared/${token}`), "not-found");
    expectProblem(await dave.delete(sharePath(s.id, "another-agent")), "not-found");
  });
});
