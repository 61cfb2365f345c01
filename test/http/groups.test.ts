import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AgentPrincipal, Principal, UserPrincipal } from "../../src/auth/principal.js";
import type { DomainEvent } from "../../src/domain/events.js";
import { isGroupMember } from "../../src/domain/groups/policy.js";
import { Forbidden, NotFound } from "../../src/errors.js";
import type { Api } from "../support/api.js";
import { testClock } from "../support/clock.js";
import { addToTeam, appendMessage, makeAgent, makeKey, makeSession, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const SRE = "google-workspace/sre@example.com";

const hub = useHub({ redis: false, clock: testClock() });
let alice: Api; // editor of a1, a2, a3; creates the groups
let bob: Api; // viewer of a1 and a2, member by allowed_users
let erin: Api; // member by allowed_users (other case), no agent access
let sre: Api; // member by the groups claim, no agent access
let sreLost: Api; // the same user, after losing the IdP group
let carol: Api; // in the workspace, no access, no membership
let master: Api;
let admin: Api;
let key: Api; // a1's key with both session scopes
let a1: string;
let a2: string;
let a3: string;
let aliceId: number;
let events: DomainEvent[] = [];

beforeAll(async () => {
  hub.bus.subscribe((e) => events.push(e));
  alice = hub.anon.as(await hub.ws.token("alice"));
  bob = hub.anon.as(await hub.ws.token("bob"));
  erin = hub.anon.as(await hub.ws.token("erin", { email: "erin@example.com" }));
  sre = hub.anon.as(await hub.ws.token("sam", { groups: [SRE, "google-workspace/dev@example.com"] }));
  sreLost = hub.anon.as(await hub.ws.token("sam", { groups: ["google-workspace/dev@example.com"] }));
  carol = hub.anon.as(await hub.ws.token("carol"));
  master = hub.anon.as(hub.ws.masterKey);
  admin = hub.anon.as(await hub.ws.token("root", { role: "admin" }));
  [a1, a2, a3] = [await makeAgent(alice), await makeAgent(alice), await makeAgent(alice)];
  await addToTeam(alice, a1, bob);
  await addToTeam(alice, a2, bob);
  aliceId = await userId(alice);
  for (const c of [erin, sre, carol]) await userId(c);
  key = hub.anon.as(await makeKey(alice, a1, ["sessions:read", "sessions:write"]));
});
beforeEach(() => {
  events = [];
});

const body = (extra: Record<string, unknown> = {}) => ({
  name: "Incident response",
  agentIds: [a1, a2],
  allowed_users: ["ERIN@Example.com", "bob@example.com"],
  allowed_groups: [SRE],
  ...extra,
});

async function makeGroup(client: Api = alice, extra: Record<string, unknown> = {}) {
  const res = await client.post("/api/groups", body(extra));
  if (res.status !== 201) throw new Error(`create group answered ${res.status}: ${res.text}`);
  return res.body;
}

const ids = (res: { body: { groups?: { id: string }[]; sessions?: { id: string }[] } }) =>
  (res.body.groups ?? res.body.sessions ?? []).map((x) => x.id);
const sessionPath = (agentId: string, sessionId: string) => `/api/agents/${agentId}/sessions/${sessionId}`;

describe("creating groups", () => {
  it("creates a group of two or more agents; the creator is a member", async () => {
    const res = await alice.post("/api/groups", body({ agentIds: [a1, a2, a1] }));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^grp_[a-z0-9]{25}$/),
      workspace_id: hub.ws.id,
      name: "Incident response",
      agentIds: [a1, a2],
      allowed_users: ["erin@example.com", "bob@example.com"],
      allowed_groups: [SRE],
      created_by: aliceId,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    expect(events).toEqual([
      {
        type: "group.created",
        workspaceId: hub.ws.id,
        groupId: res.body.id,
        createdBy: aliceId,
        allowedUsers: ["erin@example.com", "bob@example.com"],
        allowedGroups: [SRE],
      },
    ]);
    const bare = await alice.post("/api/groups", { name: "Just us", agentIds: [a1, a3] });
    expect(bare.body).toMatchObject({ allowed_users: [], allowed_groups: [] });
  });

  it("rejects fewer than two agents, unknown agents and bad bodies with 422", async () => {
    const field = async (b: unknown) => expectProblem(await alice.post("/api/groups", b), "validation").errors!.map((e) => e.field);
    expect(await field(body({ agentIds: [a1] }))).toEqual(["agentIds"]);
    expect(await field(body({ agentIds: [a1, a1] }))).toEqual(["agentIds"]);
    expect(await field(body({ agentIds: [a1, "no-such-agent"] }))).toEqual(["agentIds"]);
    expect(await field({ name: "x" })).toEqual(["agentIds"]);
    expect(await field(body({ name: " " }))).toEqual(["name"]);
    expect(await field(body({ allowed_users: ["not-an-email"] }))).toEqual(["allowed_users.0"]);
    expect(await field(body({ agent_ids: [a1, a2] }))).toEqual(["body"]);
    expect(events).toEqual([]);
  });

  it("refuses agents the caller cannot access (403), and agent keys", async () => {
    expectProblem(await bob.post("/api/groups", body({ agentIds: [a1, a3] })), "forbidden");
    expectProblem(await carol.post("/api/groups", body()), "forbidden");
    expectProblem(await key.post("/api/groups", body()), "forbidden");
    expectProblem(await hub.anon.as(hub.other.masterKey).post("/api/groups", body()), "validation", { fields: ["agentIds"] });
    expect((await bob.post("/api/groups", body())).status).toBe(201);
  });

  it("lets the master key create groups, owned by no one", async () => {
    expect((await master.post("/api/groups", body({ agentIds: [a1, a3] }))).body.created_by).toBeNull();
  });
});

describe("membership", () => {
  it("lists the groups the caller belongs to: creator, allowed emails, allowed IdP groups", async () => {
    const g = await makeGroup();
    const onlyAlice = await makeGroup(alice, { allowed_users: [], allowed_groups: [] });
    for (const member of [alice, bob, erin, sre]) expect(ids(await member.get("/api/groups"))).toContain(g.id);
    for (const member of [bob, erin, sre]) expect(ids(await member.get("/api/groups"))).not.toContain(onlyAlice.id);
    expect(ids(await carol.get("/api/groups"))).toEqual([]);
    expect(ids(await sreLost.get("/api/groups"))).not.toContain(g.id); // the claim is read from the current token
    expect(ids(await master.get("/api/groups"))).toEqual(expect.arrayContaining([g.id, onlyAlice.id]));
    expect(ids(await admin.get("/api/groups"))).toEqual(expect.arrayContaining([g.id, onlyAlice.id]));
    expect(ids(await hub.anon.as(hub.other.masterKey).get("/api/groups"))).toEqual([]);
    expectProblem(await key.get("/api/groups"), "forbidden");
    // The list pages, oldest first: one at a time gives the same groups in the same order.
    const whole = ids(await master.get("/api/groups?limit=200"));
    const paged: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { groups: Array<{ id: string }>; next_cursor: string | null } = (await master.get(`/api/groups?limit=1&cursor=${cursor}`)).body;
      paged.push(...page.groups.map((g: { id: string }) => g.id));
      cursor = page.next_cursor;
    }
    expect(paged).toEqual(whole);
  });

  it("shows a group to its members only", async () => {
    const g = await makeGroup();
    expect((await erin.get(`/api/groups/${g.id}`)).body).toEqual(g);
    for (const client of [carol, sreLost, hub.anon.as(hub.other.masterKey)]) expectProblem(await client.get(`/api/groups/${g.id}`), "not-found");
    expectProblem(await key.get(`/api/groups/${g.id}`), "forbidden");
  });
});

describe("updating and deleting groups", () => {
  it("lets the creator (or master) replace a group; members get 403, others 404", async () => {
    const g = await makeGroup();
    events = [];
    const replaced = await alice.put(`/api/groups/${g.id}`, { name: "Renamed", agentIds: [a2, a3], allowed_groups: [SRE] });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: g.id, name: "Renamed", agentIds: [a2, a3], allowed_users: [], allowed_groups: [SRE], created_by: aliceId });
    expect(events).toEqual([expect.objectContaining({ type: "group.updated", groupId: g.id, allowedUsers: [], allowedGroups: [SRE] })]);
    expectProblem(await erin.get(`/api/groups/${g.id}`), "not-found"); // no longer allowed

    expectProblem(await sre.put(`/api/groups/${g.id}`, body()), "forbidden");
    expectProblem(await carol.put(`/api/groups/${g.id}`, body()), "not-found");
    expectProblem(await key.put(`/api/groups/${g.id}`, body()), "forbidden");
    expectProblem(await alice.put(`/api/groups/${g.id}`, body({ agentIds: [a2] })), "validation", { fields: ["agentIds"] });
    expectProblem(await alice.put(`/api/groups/${g.id}`, body({ agentIds: [a2, "nope"] })), "validation", { fields: ["agentIds"] });
    expect((await master.put(`/api/groups/${g.id}`, body({ name: "By master" }))).body.name).toBe("By master");
  });

  it("checks agent access on update too", async () => {
    const g = await makeGroup(bob);
    expectProblem(await bob.put(`/api/groups/${g.id}`, body({ agentIds: [a1, a3] })), "forbidden");
  });

  it("lets the creator (or master) delete a group", async () => {
    const g = await makeGroup();
    const s = await makeSession(alice, a1);
    await alice.post(`/api/groups/${g.id}/sessions/${s.id}`);
    expectProblem(await bob.delete(`/api/groups/${g.id}`), "forbidden");
    expectProblem(await carol.delete(`/api/groups/${g.id}`), "not-found");
    events = [];
    expect((await alice.delete(`/api/groups/${g.id}`)).status).toBe(204);
    expect(events).toEqual([
      { type: "group.session_removed", workspaceId: hub.ws.id, groupId: g.id, sessionId: s.id },
      { type: "group.deleted", workspaceId: hub.ws.id, groupId: g.id, createdBy: null, allowedUsers: [], allowedGroups: [] },
    ]);
    expectProblem(await alice.get(`/api/groups/${g.id}`), "not-found");
    expectProblem(await erin.get(sessionPath(a1, s.id)), "not-found");
    expect((await alice.get(sessionPath(a1, s.id))).status).toBe(200);
    const g2 = await makeGroup();
    expect((await master.delete(`/api/groups/${g2.id}`)).status).toBe(204);
  });
});

describe("sessions shared with a group", () => {
  it("lets a member share a session they own; every member then reads it, and only reads it", async () => {
    const g = await makeGroup();
    const s = await makeSession(alice, a1, { title: "Outage" });
    await appendMessage(alice, a1, s.id, { content: "what broke?" });
    expectProblem(await erin.get(sessionPath(a1, s.id)), "not-found");

    events = [];
    const added = await alice.post(`/api/groups/${g.id}/sessions/${s.id}`);
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ group_id: g.id, session_id: s.id, added_by: aliceId, added_at: expect.stringMatching(/Z$/) });
    expect(events).toEqual([{ type: "group.session_added", workspaceId: hub.ws.id, groupId: g.id, sessionId: s.id }]);

    for (const member of [alice, bob, erin, sre, master]) {
      const list = await member.get(`/api/groups/${g.id}/sessions`);
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ sessions: [expect.objectContaining({ id: s.id, title: "Outage", message_count: 1 })], next_cursor: null });
    }
    for (const member of [bob, erin, sre]) {
      expect((await member.get(sessionPath(a1, s.id))).status).toBe(200);
      expect((await member.get(`${sessionPath(a1, s.id)}/messages`)).body.messages).toHaveLength(1);
      expectProblem(await member.post(`${sessionPath(a1, s.id)}/messages`, { role: "user", content: "x" }), "forbidden");
      expectProblem(await member.patch(sessionPath(a1, s.id), { title: "mine" }), "forbidden");
      expectProblem(await member.post(`${sessionPath(a1, s.id)}/archive`), "forbidden");
      expectProblem(await member.delete(sessionPath(a1, s.id)), "forbidden");
      expectProblem(await member.post(`${sessionPath(a1, s.id)}/share`, {}), "forbidden");
    }
    expectProblem(await erin.get(`/api/agents/${a1}/sessions`), "not-found"); // still no agent access
    expectProblem(await erin.get(sessionPath(a2, s.id)), "not-found"); // under the wrong agent
    for (const outsider of [carol, sreLost]) {
      expectProblem(await outsider.get(sessionPath(a1, s.id)), "not-found");
      expectProblem(await outsider.get(`/api/groups/${g.id}/sessions`), "not-found");
    }

    events = [];
    await appendMessage(alice, a1, s.id, { content: "the disk" });
    expect(events).toEqual([expect.objectContaining({ type: "session.message_appended", audience: { agentId: a1, ownerUserId: aliceId, groupIds: [g.id] } })]);
  });

  it("refuses to add what the caller may not share, twice, or of another agent", async () => {
    const g = await makeGroup();
    const alices = await makeSession(alice, a1);
    const bobs = await makeSession(bob, a1);
    const offGroup = await makeSession(alice, a3);
    expect((await alice.post(`/api/groups/${g.id}/sessions/${alices.id}`)).status).toBe(201);
    expectProblem(await alice.post(`/api/groups/${g.id}/sessions/${alices.id}`), "conflict");
    expectProblem(await alice.post(`/api/groups/${g.id}/sessions/${offGroup.id}`), "validation", { fields: ["sessionId"] });
    expectProblem(await erin.post(`/api/groups/${g.id}/sessions/${bobs.id}`), "not-found"); // cannot see it
    expectProblem(await alice.post(`/api/groups/${g.id}/sessions/${bobs.id}`), "not-found"); // another user's
    expectProblem(await carol.post(`/api/groups/${g.id}/sessions/${alices.id}`), "not-found"); // not a member
    expectProblem(await key.post(`/api/groups/${g.id}/sessions/${alices.id}`), "forbidden");
    expectProblem(await alice.post(`/api/groups/${g.id}/sessions/ses_${"0".repeat(25)}`), "not-found");

    // a member who reads a session only through a group may not share it further
    const bobsGroup = await makeGroup(alice, { allowed_users: ["bob@example.com"], allowed_groups: [] });
    expect((await bob.get(sessionPath(a1, alices.id))).status).toBe(200);
    expectProblem(await bob.post(`/api/groups/${bobsGroup.id}/sessions/${alices.id}`), "forbidden");
    expect((await bob.post(`/api/groups/${g.id}/sessions/${bobs.id}`)).status).toBe(201);
    expect((await master.post(`/api/groups/${bobsGroup.id}/sessions/${bobs.id}`)).status).toBe(201);
  });

  it("lets the member who added a session, the creator or master remove it", async () => {
    const g = await makeGroup();
    const alices = await makeSession(alice, a1);
    const bobs = await makeSession(bob, a2);
    await alice.post(`/api/groups/${g.id}/sessions/${alices.id}`);
    await bob.post(`/api/groups/${g.id}/sessions/${bobs.id}`);

    expectProblem(await erin.delete(`/api/groups/${g.id}/sessions/${bobs.id}`), "forbidden");
    expectProblem(await bob.delete(`/api/groups/${g.id}/sessions/${alices.id}`), "forbidden");
    expectProblem(await carol.delete(`/api/groups/${g.id}/sessions/${alices.id}`), "not-found");
    events = [];
    expect((await alice.delete(`/api/groups/${g.id}/sessions/${bobs.id}`)).status).toBe(204); // the creator
    expect(events).toEqual([{ type: "group.session_removed", workspaceId: hub.ws.id, groupId: g.id, sessionId: bobs.id }]);
    expectProblem(await alice.delete(`/api/groups/${g.id}/sessions/${bobs.id}`), "not-found");
    expectProblem(await erin.get(sessionPath(a2, bobs.id)), "not-found");

    await bob.post(`/api/groups/${g.id}/sessions/${bobs.id}`);
    expect((await bob.delete(`/api/groups/${g.id}/sessions/${bobs.id}`)).status).toBe(204); // who added it
    expect((await master.delete(`/api/groups/${g.id}/sessions/${alices.id}`)).status).toBe(204);
    expect(ids(await erin.get(`/api/groups/${g.id}/sessions`))).toEqual([]);
  });

  it("drops shared sessions whose agent leaves the group, and sessions that are deleted", async () => {
    const g = await makeGroup();
    const s1 = await makeSession(alice, a1);
    const s2 = await makeSession(alice, a2);
    await alice.post(`/api/groups/${g.id}/sessions/${s1.id}`);
    await alice.post(`/api/groups/${g.id}/sessions/${s2.id}`);
    expect(ids(await erin.get(`/api/groups/${g.id}/sessions`))).toEqual([s2.id, s1.id]);
    events = [];
    await alice.put(`/api/groups/${g.id}`, body({ agentIds: [a2, a3] }));
    expect(events.map((e) => e.type)).toEqual(["group.updated", "group.session_removed"]);
    expect(ids(await erin.get(`/api/groups/${g.id}/sessions`))).toEqual([s2.id]);
    await alice.delete(sessionPath(a2, s2.id));
    expect(ids(await erin.get(`/api/groups/${g.id}/sessions`))).toEqual([]);
  });

  it("pages the group's sessions", async () => {
    const g = await makeGroup();
    for (let i = 0; i < 3; i++) await alice.post(`/api/groups/${g.id}/sessions/${(await makeSession(alice, a1)).id}`);
    const first = await erin.get(`/api/groups/${g.id}/sessions?limit=2`);
    expect(first.body.sessions).toHaveLength(2);
    const rest = await erin.get(`/api/groups/${g.id}/sessions?limit=2&cursor=${first.body.next_cursor}`);
    expect(rest.body).toEqual({ sessions: [expect.any(Object)], next_cursor: null });
  });
});

describe("functions the realtime hub calls", () => {
  const user = async (client: Api): Promise<UserPrincipal> => {
    const me = (await client.get("/api/me")).body;
    return { kind: "user", workspaceId: me.workspace_id, userId: me.user_id, sub: me.sub, email: me.email, name: me.name, groups: me.groups, role: undefined, admin: false, emailVerified: true, expiresAt: new Date(me.expires_at) };
  };

  it("isGroupMember and the groups a user is live in follow the same rules as the API", async () => {
    const g = await makeGroup();
    const [erinP, sreP, sreLostP, carolP] = [await user(erin), await user(sre), await user(sreLost), await user(carol)];
    const rules = { created_by: aliceId, allowed_users: ["erin@example.com"], allowed_groups: [SRE] };
    expect(isGroupMember(rules, { ...erinP, email: "Erin@EXAMPLE.com" })).toBe(true);
    expect(isGroupMember(rules, sreP)).toBe(true);
    expect(isGroupMember(rules, sreLostP)).toBe(false);
    expect(isGroupMember(rules, carolP)).toBe(false);
    expect(isGroupMember(rules, await user(alice))).toBe(true);
    const memberOf = (p: UserPrincipal) => hub.services.groups.memberOf(p);
    expect(await memberOf(erinP)).toContain(g.id);
    expect(await memberOf(sreP)).toContain(g.id);
    expect(await memberOf(sreLostP)).not.toContain(g.id);
    expect(await memberOf(carolP)).toEqual([]);
    // An unverified email names no member, in SQL as in the rule.
    expect(await memberOf({ ...erinP, emailVerified: false })).not.toContain(g.id);
    // Re-checks read only the groups that could admit the users asked about, not the workspace's.
    const read = (users: UserPrincipal[]) => hub.services.groups.rulesFor(hub.ws.id, users).then((gs) => gs.map((x) => x.id));
    expect(await read([carolP])).toEqual([]);
    expect(await read([sreLostP])).not.toContain(g.id);
    expect(await read([carolP, erinP])).toContain(g.id);
  });

  it("decides many sessions at once as it decides one (a handshake's auth.since, a re-check)", async () => {
    const g = await makeGroup();
    const [shared, own] = [await makeSession(alice, a1), await makeSession(alice, a1)];
    await alice.post(`/api/groups/${g.id}/sessions/${shared.id}`);
    const ids = [shared.id, own.id, "ses_made_up"];
    const among = async (p: Principal) => [...(await hub.services.sessions.readableAmong(p, ids))].sort();
    expect(await among(await user(erin))).toEqual([shared.id]);
    expect(await among(await user(carol))).toEqual([]);
    expect(await among(await user(alice))).toEqual([shared.id, own.id].sort());
    expect(await among({ kind: "master", workspaceId: hub.other.id, keyId: "k" })).toEqual([]);
  });

  it("the sessions watchers read, and their replays, answer as GET does", async () => {
    const g = await makeGroup();
    const s = await makeSession(alice, a1);
    for (let i = 0; i < 3; i++) await appendMessage(alice, a1, s.id, { content: `m${i}` });
    await alice.post(`/api/groups/${g.id}/sessions/${s.id}`);
    const readable = (p: Principal, id: string) => hub.services.sessions.readable(p, id);
    expect(await readable(await user(erin), s.id)).toMatchObject({ id: s.id, workspace_id: hub.ws.id, agent_id: a1, owner_id: aliceId, message_count: 3 });
    await expect(readable(await user(carol), s.id)).rejects.toBeInstanceOf(NotFound);
    const keyOf = (agentId: string, scopes: AgentPrincipal["scopes"]): AgentPrincipal => ({ kind: "agent", workspaceId: hub.ws.id, agentId, keyId: "k", scopes });
    expect((await readable(keyOf(a1, ["sessions:read"]), s.id)).id).toBe(s.id);
    await expect(readable(keyOf(a1, ["sessions:write"]), s.id)).rejects.toBeInstanceOf(Forbidden);
    await expect(readable(keyOf(a2, ["sessions:read"]), s.id)).rejects.toBeInstanceOf(NotFound);
    await expect(readable({ kind: "master", workspaceId: hub.other.id, keyId: "k" }, s.id)).rejects.toBeInstanceOf(NotFound);

    const rest = (await alice.get(`${sessionPath(a1, s.id)}/messages`)).body.messages;
    expect(await hub.services.sessionMessages.after(s.id, 1, 500)).toEqual(rest.slice(1));
    expect(await hub.services.sessionMessages.after(s.id, 0, 2)).toEqual(rest.slice(0, 2));
  });
});
