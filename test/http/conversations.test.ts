/**
 * Group conversations on one hub: create/list/read by members, routing of each strategy (agents
 * without an endpoint fail at once, so each ask completes and its routing is visible), bad
 * input changing nothing, one running ask per conversation, idempotent questions, attributed
 * answers, and every denial (non-member, agent key, other workspace, removed member).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../support/api.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { pollUntil } from "../support/waiters.js";

const hub = useHub({ redis: false });
let alice: Api; // creates agents and the group
let erin: Api; // a member by email, no access to any agent
let carol: Api; // in the workspace, not a member
let stranger: Api; // another workspace
let master: Api;
let k8s: string;
let billing: string;
let writer: string;
let groupId: string;
const agents: SocketAgent[] = [];

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice"));
  erin = hub.anon.as(await hub.ws.token("erin"));
  carol = hub.anon.as(await hub.ws.token("carol"));
  stranger = hub.anon.as(await hub.other.token("alice"));
  master = hub.anon.as(hub.ws.masterKey);
  k8s = await makeAgent(alice, uniq("k8s"), "Kubernetes operator");
  billing = await makeAgent(alice, uniq("billing"), "Billing");
  writer = await makeAgent(alice, uniq("writer"), "Writer");
  await alice.patch(`/api/agents/${k8s}`, { description: "Deploys, scales and upgrades clusters and their nodes" });
  await alice.patch(`/api/agents/${billing}`, { description: "Invoices, refunds and payment questions" });
  await alice.patch(`/api/agents/${writer}`, { description: "Writes release notes and documentation" });
  const g = await alice.post("/api/groups", { name: "Helpdesk", agentIds: [k8s, billing, writer], allowed_users: ["erin@example.com"] });
  expect(g.status).toBe(201);
  groupId = g.body.id;
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
});

const base = () => `/api/groups/${groupId}/conversations`;

async function conversation(client: Api = erin, title?: string): Promise<string> {
  const res = await client.post(base(), title ? { title } : {});
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Polls the ask until it completes (agents without an endpoint fail at once). */
async function completed(client: Api, sessionId: string, askId: string): Promise<any> {
  return pollUntil(async () => (await client.get(`${base()}/${sessionId}/asks/${askId}`)).body, (ask) => ask.status === "completed", "the ask to complete");
}

async function routed(sessionId: string, body: Record<string, unknown>): Promise<any> {
  const res = await erin.post(`${base()}/${sessionId}/ask`, body);
  expect(res.status).toBe(202);
  return completed(erin, sessionId, res.body.ask.id);
}

describe("group conversations", () => {
  it("are created, listed and read by any member, who needs no access to the group's agents", async () => {
    const created = await erin.post(base(), { title: "Capacity planning" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^ses_/), agent_id: null, group_id: groupId, title: "Capacity planning", message_count: 0 });
    const id = created.body.id;
    expect((await alice.get(`${base()}/${id}`)).body).toMatchObject({ id, group_id: groupId });
    const listed = await alice.get(base());
    expect(listed.status).toBe(200);
    expect(listed.body.sessions.map((s: any) => s.id)).toContain(id);
    expect(listed.body).toHaveProperty("next_cursor");
    expect((await erin.get(`${base()}/${id}/messages`)).body).toEqual({ messages: [], next_cursor: null });
    expect((await master.get(`${base()}/${id}`)).status).toBe(200);
    // Not a session of any agent.
    expectProblem(await alice.get(`/api/agents/${k8s}/sessions/${id}`), "not-found");
  });

  it("refuses non-members (404), agent keys (403) and other workspaces (404), on every route", async () => {
    const id = await conversation();
    const key = hub.anon.as(await makeKey(alice, k8s, ["sessions:read", "sessions:write"]));
    const routes: Array<[string, string, unknown?]> = [
      ["post", base(), {}],
      ["get", base()],
      ["get", `${base()}/${id}`],
      ["get", `${base()}/${id}/messages`],
      ["post", `${base()}/${id}/ask`, { content: "hello" }],
      ["get", `${base()}/${id}/asks/ask_missing`],
      ["post", `${base()}/${id}/share`, {}],
    ];
    for (const [method, path, body] of routes) {
      for (const outsider of [carol, stranger]) expectProblem(await (outsider as any)[method](path, body), "not-found");
      expectProblem(await (key as any)[method](path, body), "forbidden");
    }
    expect((await erin.get(`${base()}/${id}/messages`)).body.messages).toEqual([]); // nothing was stored
  });

  it("lets only the creator rename, delete and share it; members read and ask", async () => {
    const id = await conversation(alice, "Alice's");
    expectProblem(await erin.patch(`${base()}/${id}`, { title: "Mine now" }), "forbidden");
    expectProblem(await erin.post(`${base()}/${id}/share`, {}), "forbidden");
    expectProblem(await erin.delete(`${base()}/${id}`), "forbidden");
    expect((await alice.patch(`${base()}/${id}`, { title: "Renamed" })).status).toBe(204);
    const link = await alice.post(`${base()}/${id}/share`, { expires_in_hours: 2 });
    expect(link.status).toBe(201);
    const view = await hub.anon.get(`/api/shared/${link.body.token}`);
    expect(view.body).toMatchObject({ title: "Renamed", agent: null, group: { id: groupId, name: "Helpdesk" } });
    // A member clones it into a new conversation of the group; an outsider may not.
    expectProblem(await carol.post(`/api/shared/${link.body.token}/clone`), "forbidden");
    const clone = await erin.post(`/api/shared/${link.body.token}/clone`);
    expect(clone.status).toBe(201);
    expect(clone.body).toMatchObject({ agent_id: null, group_id: groupId, owner_id: expect.any(Number) });
    expect((await alice.delete(`${base()}/${id}/share`)).status).toBe(204);
    expectProblem(await hub.anon.get(`/api/shared/${link.body.token}`), "not-found");
    expect((await alice.delete(`${base()}/${id}`)).status).toBe(204);
    expectProblem(await erin.get(`${base()}/${id}`), "not-found");
  });

  it("refuses bad asks with 422 and stores nothing", async () => {
    const id = await conversation();
    const ask = (body: unknown) => erin.post(`${base()}/${id}/ask`, body);
    expectProblem(await ask({ content: "   " }), "validation", { fields: ["content"] });
    expectProblem(await ask({ content: "hi", strategy: "loudest" }), "validation", { fields: ["strategy"] });
    expectProblem(await ask({ content: "hi", agentIds: ["not-in-group"] }), "validation", { fields: ["agentIds"] });
    expectProblem(await ask({ content: "hi", agentIds: [] }), "validation", { fields: ["agentIds"] });
    expectProblem(await ask({ content: "hello there", strategy: "mentions" }), "validation", { fields: ["content"], detail: /mentions no agent/ });
    expectProblem(await ask({ content: "zebra migration patterns", strategy: "match" }), "validation", { fields: ["strategy"], detail: /matches the question/ });
    expectProblem(await ask({ content: "hi", extra: 1 }), "validation");
    expect((await erin.get(`${base()}/${id}`)).body.message_count).toBe(0);
  });

  it("routes each strategy as the contract says", async () => {
    const id = await conversation();
    const all = await routed(id, { content: "Status report, please" });
    expect(all).toMatchObject({ strategy: "all", status: "completed", ignored_mentions: [] });
    expect(all.agents.map((a: any) => a.agentId)).toEqual([k8s, billing, writer]);
    expect(all.agents.every((a: any) => a.status === "failed" && a.turnId)).toBe(true); // no endpoint: each fails alone

    const mentioned = await routed(id, { content: `@${billing} and @nobody-here: where is my refund? (mail me at erin@example.com)` });
    expect(mentioned).toMatchObject({ strategy: "mentions", ignored_mentions: ["nobody-here"] });
    expect(mentioned.agents.map((a: any) => a.agentId)).toEqual([billing]);

    const unknownOnly = await routed(id, { content: "@ghost can anyone help?" });
    expect(unknownOnly).toMatchObject({ strategy: "all", ignored_mentions: ["ghost"] });

    const matched = await routed(id, { content: "How do I scale the cluster before the upgrade?", strategy: "match" });
    expect(matched.agents.map((a: any) => a.agentId)).toEqual([k8s]);

    const narrowed = await routed(id, { content: "Anyone?", agentIds: [writer, k8s] });
    expect(narrowed.agents.map((a: any) => a.agentId)).toEqual([k8s, writer]);

    const first = await routed(id, { content: "Quick one", strategy: "first", agentIds: [billing, writer] });
    expect(first).toMatchObject({ strategy: "first" });
    expect(first.agents.map((a: any) => a.agentId)).toEqual([billing, writer]);

    const turns: string[] = [];
    for (let i = 0; i < 4; i++) turns.push((await routed(id, { content: `round ${i}`, strategy: "round_robin" })).agents[0].agentId);
    expect(turns).toEqual([k8s, billing, writer, k8s]);
  });

  it("stores the question with who asked, answers each agent's turn with its agentId, and replays an idempotent ask", async () => {
    const agentId = await makeAgent(alice, uniq("answerer"), "Answerer");
    const other = await makeAgent(alice, uniq("other"), "Other");
    const agent = startSocketAgent(hub.url, await makeKey(alice, agentId, ["turns:serve"]), { kind: "events", events: scriptedAnswer("Forty-two.", { delayMs: 150 }) });
    agents.push(agent);
    await agent.served;
    const g = await alice.post("/api/groups", { name: "Answerers", agentIds: [agentId, other], allowed_users: ["erin@example.com"] });
    const path = `/api/groups/${g.body.id}/conversations`;
    const id = (await erin.post(path, {})).body.id;
    const questionId = randomUUID();
    const first = await erin.post(`${path}/${id}/ask`, { id: questionId, content: `@${agentId} what is the answer?` });
    expect(first.status).toBe(202);
    expect(first.body.message).toMatchObject({ id: questionId, role: "user", userId: expect.any(Number), userName: "erin", seq: 1 });
    expect(first.body.ask).toMatchObject({ id: expect.stringMatching(/^ask_/), session_id: id, message_id: questionId, strategy: "mentions", status: "running" });

    // One ask at a time; the same question again answers the same ask.
    expectProblem(await erin.post(`${path}/${id}/ask`, { content: "another" }), "conflict");
    const again = await erin.post(`${path}/${id}/ask`, { id: questionId, content: `@${agentId} what is the answer?` });
    expect(again.status).toBe(202);
    expect(again.body.ask.id).toBe(first.body.ask.id);
    expectProblem(await erin.post(`${path}/${id}/ask`, { id: questionId, content: "changed" }), "conflict");

    const ask = await pollUntil(async () => (await erin.get(`${path}/${id}/asks/${first.body.ask.id}`)).body, (a) => a.status === "completed", "the ask");
    expect(ask.agents).toEqual([{ agentId, turnId: expect.any(String), status: "completed" }]);
    const history = (await erin.get(`${path}/${id}/messages`)).body.messages;
    expect(history.map((m: any) => [m.role, m.agentId ?? m.userName, m.content])).toEqual([
      ["user", "erin", `@${agentId} what is the answer?`],
      ["assistant", agentId, "Forty-two."],
    ]);
    // An SDK agent reading the conversation as a Backplane thread (with the asker's token) sees who said what.
    const thread = await erin.get(`/v1/workspaces/${hub.ws.id}/agent/threads/${id}`);
    expect(thread.body.messages.map((m: any) => [m.role, m.userName ?? m.agentId])).toEqual([
      ["user", "erin"],
      ["assistant", agentId],
    ]);
    const turn = await erin.get(`${path}/${id}/turns/${ask.agents[0].turnId}`);
    expect(turn.body).toMatchObject({ status: "completed", ask_id: ask.id, snapshot: { content: "Forty-two." } });
  });

  it("stops a removed member's access at once", async () => {
    const g = await alice.post("/api/groups", { name: uniq("temp"), agentIds: [k8s, billing], allowed_users: ["erin@example.com"] });
    const path = `/api/groups/${g.body.id}/conversations`;
    const id = (await erin.post(path, {})).body.id;
    expect((await alice.put(`/api/groups/${g.body.id}`, { name: "temp", agentIds: [k8s, billing] })).status).toBe(200);
    expectProblem(await erin.get(`${path}/${id}`), "not-found");
    expectProblem(await erin.post(`${path}/${id}/ask`, { content: "still here?" }), "not-found");
    // The creator still reads it (a member as creator of the group).
    expect((await alice.get(`${path}/${id}`)).status).toBe(200);
  });
});
