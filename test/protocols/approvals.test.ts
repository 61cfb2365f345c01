/**
 * People in the loop (CONTRACT.md, "People in the loop: approvals"), across two hub processes:
 * a socket agent and a model agent wait for people; watchers on both nodes see the request live;
 * decisions are made over REST on either node, one per person, with exactly one deciding vote
 * when two decide at once; quorum, assignees by group claim, refusals, expiry, cancel; every
 * decision kept with the answer, and shown without names in the share view.
 */
import { afterAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { startApprovalAgent, type ApprovalAgent } from "../support/approval-agent.js";
import { answer, startAgentServer, type AgentServer } from "../support/agent-server.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { startMcpServer, type TestMcpServer } from "../support/mcp-server.js";
import { startModelServer, textAnswer, toolAnswer, type ModelServer } from "../support/model-server.js";
import { expectProblem } from "../support/problem.js";
import type { Client } from "../support/sockets.js";

const METRICS_TOKEN = "approvals-metrics-token-0123";
const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true", METRICS_TOKEN });
/** A counter's value on a node (0 when it has no such sample). */
async function counter(url: string, sample: string): Promise<number> {
  const text = (await api(url, METRICS_TOKEN).raw("/metrics", { method: "GET" })).text;
  return Number(text.match(new RegExp(`^${sample.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m"))?.[1] ?? 0);
}
const closers: Array<() => unknown> = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

const approvalOf = (c: Client, turnId: string, status?: string) =>
  c
    .of("turn:approval")
    .filter((e) => e.turnId === turnId && (!status || e.approval.status === status))
    .at(-1)?.approval;
const endOf = (c: Client, turnId: string) => c.of("turn:ended").find((e) => e.turn.id === turnId)?.turn;

interface SocketFixture {
  alice: Api;
  agentId: string;
  sessionId: string;
  path: string;
  agent: ApprovalAgent;
  watcherA: Client;
  watcherB: Client;
}

/** Alice's careful socket agent (on node A), a session of hers, and her watchers on both nodes. */
async function careful(request: (turnId: string) => Record<string, unknown> = () => ({ approvalId: "deploy", title: "Deploy to production?" })): Promise<SocketFixture> {
  const alice = api(cluster.a.url, await cluster.ws.token("alice"));
  const agentId = await makeAgent(alice, uniq("careful"));
  const key = await makeKey(alice, agentId, ["turns:serve"]);
  const agent = startApprovalAgent(cluster.a.url, key, request);
  closers.push(() => agent.close());
  await agent.served;
  const session = await makeSession(alice, agentId);
  const token = await cluster.ws.token("alice");
  const [watcherA, watcherB] = await Promise.all([cluster.open(cluster.a.url, token), cluster.open(cluster.b.url, token)]);
  for (const w of [watcherA, watcherB]) expect((await w.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
  return { alice, agentId, sessionId: session.id, path: `/api/agents/${agentId}/sessions/${session.id}`, agent, watcherA, watcherB };
}

/** Starts a turn and waits until both watchers saw it ask; answers the turn id and its approval path. */
async function askAndWait(f: SocketFixture, content = "Ship it") {
  const started = await f.alice.post(`${f.path}/turns`, { content });
  expect(started.status, started.text).toBe(202);
  const turnId: string = started.body.turn.id;
  for (const w of [f.watcherA, f.watcherB]) await w.until(() => !!approvalOf(w, turnId, "pending"), "turn:approval pending");
  const approval = approvalOf(f.watcherB, turnId);
  return { turnId, approval, decide: `${f.path}/turns/${turnId}/approvals/${approval.id}` };
}

describe("approvals: a socket agent waits for people", () => {
  it("waits, is approved on the other node, and streams on; every decision is kept with the answer", async () => {
    const f = await careful();
    const { turnId, approval, decide } = await askAndWait(f);
    expect(approval).toMatchObject({ id: "deploy", turn_id: turnId, session_id: f.sessionId, agent_id: f.agentId, title: "Deploy to production?", quorum: 1, status: "pending", decisions: [], assignees: null });

    // The turn waits; a late watcher's ack carries the running turn with its pending approval.
    const turn = await f.alice.get(`${f.path}/turns/${turnId}`);
    expect(turn.body).toMatchObject({ status: "waiting", approvals: [{ id: "deploy", status: "pending" }] });
    expect(turn.body.snapshot.content).toBe("Asking first. ");
    const late = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    const ack = await late.emitAck("session:watch", { sessionId: f.sessionId });
    expect(ack.turns).toMatchObject([{ turn: { id: turnId, status: "waiting" }, approvals: [{ id: "deploy", status: "pending" }] }]);

    // Listed as hers to decide, then decided on node B.
    const listed = await f.alice.get("/api/approvals");
    expect(listed.body.approvals.map((a: { turn_id: string }) => a.turn_id)).toContain(turnId);
    const aliceB = api(cluster.b.url, await cluster.ws.token("alice"));
    const decided = await aliceB.post(decide, { decision: "approve", comment: "Checked" });
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body).toMatchObject({ status: "approved", decided_at: expect.any(String), decisions: [{ decision: "approve", comment: "Checked", name: expect.any(String), user_id: expect.any(Number) }] });

    // The agent (on node A) hears the outcome and finishes; watchers see the answer stream on.
    await f.watcherB.until(() => endOf(f.watcherB, turnId)?.status === "completed", "the turn to complete");
    expect(f.agent.approvals.some((a) => a.turnId === turnId && a.approval.status === "approved")).toBe(true);
    // The agent is told who decided by name, not by user id.
    const told = f.agent.approvals.find((a) => a.turnId === turnId && a.approval.status === "approved")!.approval.decisions[0];
    expect(told).toMatchObject({ decision: "approve", comment: "Checked", name: expect.any(String) });
    expect(told).not.toHaveProperty("user_id");
    const deltas = f.watcherB.of("turn:event").filter((e) => e.turnId === turnId && e.event.type === "content_delta").map((e) => e.event.delta);
    expect(deltas.join("")).toBe("Asking first. The request was approved.");
    expect(approvalOf(f.watcherA, turnId)?.status).toBe("approved");

    // Counted where committed: asked on A (the agent's node), settled on B (the decider's).
    expect(await counter(cluster.a.url, 'agenthub_approvals_total{status="asked"}')).toBeGreaterThanOrEqual(1);
    expect(await counter(cluster.b.url, 'agenthub_approvals_total{status="approved"}')).toBeGreaterThanOrEqual(1);
    expect(await counter(cluster.b.url, 'agenthub_approval_wait_seconds_count{status="approved"}')).toBeGreaterThanOrEqual(1);

    // Settled: a second decision is 409, and it is no longer pending for anyone.
    expectProblem(await f.alice.post(decide, { decision: "reject" }), "conflict", { detail: /already approved/ });
    expect((await f.alice.get("/api/approvals")).body.approvals.map((a: { turn_id: string }) => a.turn_id)).not.toContain(turnId);
    expect((await f.alice.get("/api/approvals?status=approved")).body.approvals.map((a: { turn_id: string }) => a.turn_id)).toContain(turnId);

    // Kept with the answer, and in the share view without who decided.
    const stored = (await f.alice.get(`${f.path}/messages`)).body.messages.find((m: { role: string }) => m.role === "assistant");
    expect(stored.approvals).toMatchObject([{ id: "deploy", status: "approved", decisions: [{ decision: "approve", comment: "Checked", user_id: expect.any(Number) }] }]);
    const link = await f.alice.post(`${f.path}/share`, {});
    const shared = await api(cluster.b.url).get(`/api/shared/${link.body.token}`);
    const sharedAnswer = shared.body.messages.find((m: { role: string }) => m.role === "assistant");
    expect(sharedAnswer.approvals[0].decisions).toEqual([{ decision: "approve", comment: "Checked", at: expect.any(String) }]);
    expect(sharedAnswer.approvals[0].assignees).toBeNull();
  });

  it("refuses who may not decide: another user (404), a key (403), bad input (422); a reject decides at once", async () => {
    const f = await careful();
    const { turnId, decide } = await askAndWait(f);
    const bob = api(cluster.b.url, await cluster.ws.token("bob"));
    expectProblem(await bob.post(decide, { decision: "approve" }), "not-found");
    expectProblem(await bob.get(decide), "not-found");
    expectProblem(await api(cluster.a.url, cluster.ws.masterKey).post(decide, { decision: "approve" }), "forbidden", { detail: /Only people/ });
    expectProblem(await f.alice.post(decide, { decision: "maybe" }), "validation");
    expectProblem(await f.alice.post(`${f.path}/turns/${turnId}/approvals/nope`, { decision: "approve" }), "not-found");
    expect((await bob.get("/api/approvals")).body.approvals).toEqual([]);
    expect((await api(cluster.a.url, cluster.ws.masterKey).get("/api/approvals")).body.approvals).toEqual([]);

    const rejected = await f.alice.post(decide, { decision: "reject", comment: "Not on a Friday" });
    expect(rejected.body).toMatchObject({ status: "rejected" });
    await f.watcherA.until(() => endOf(f.watcherA, turnId)?.status === "completed", "the turn to end");
    expect(f.agent.approvals.find((a) => a.turnId === turnId && a.approval.status !== "pending")?.approval.decisions[0]).toMatchObject({ decision: "reject", comment: "Not on a Friday" });
  });

  it("expires: the approval is settled as expired, the agent told, the turn runs on", async () => {
    const f = await careful(() => ({ approvalId: "soon", title: "Quick one?", expiresInSec: 1 }));
    const { turnId, decide } = await askAndWait(f);
    await f.watcherB.until(() => approvalOf(f.watcherB, turnId)?.status === "expired", "the approval to expire", 10_000);
    await f.watcherB.until(() => endOf(f.watcherB, turnId)?.status === "completed", "the turn to end");
    expect(f.agent.approvals.some((a) => a.turnId === turnId && a.approval.status === "expired")).toBe(true);
    expectProblem(await f.alice.post(decide, { decision: "approve" }), "conflict", { detail: /expired/ });
  });

  it("a cancel of the waiting turn cancels its approval", async () => {
    const f = await careful();
    const { turnId, decide } = await askAndWait(f);
    const cancelled = await f.alice.post(`${f.path}/turns/${turnId}/cancel`, {});
    expect(cancelled.body.status).toBe("cancelled");
    await f.watcherB.until(() => approvalOf(f.watcherB, turnId)?.status === "cancelled", "the approval to be cancelled");
    expectProblem(await f.alice.post(decide, { decision: "approve" }), "conflict", { detail: /cancelled/ });
    const stored = (await f.alice.get(`${f.path}/messages`)).body.messages.find((m: { role: string }) => m.role === "assistant");
    expect(stored).toMatchObject({ finishReason: "cancelled", approvals: [{ id: "deploy", status: "cancelled" }] });
  });
});

describe("approvals in a group's conversation", () => {
  /** A group of Alice's careful agent and another, for members carol, dave (claim oncall) and erin; a conversation asked on node A. */
  async function groupAsk(request: Record<string, unknown>) {
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("careful"));
    const other = await makeAgent(alice, uniq("other"));
    const key = await makeKey(alice, agentId, ["turns:serve"]);
    const agent = startApprovalAgent(cluster.a.url, key, () => request);
    closers.push(() => agent.close());
    await agent.served;
    const group = await alice.post("/api/groups", { name: uniq("release"), agentIds: [agentId, other], allowed_users: ["carol@example.com", "dave@example.com", "erin@example.com"] });
    expect(group.status, group.text).toBe(201);
    const base = `/api/groups/${group.body.id}/conversations`;
    const conversation = (await alice.post(base, { title: "Release" })).body;
    const carol = await cluster.open(cluster.a.url, await cluster.ws.token("carol"));
    const dave = await cluster.open(cluster.b.url, await cluster.ws.token("dave", { groups: ["oncall"] }));
    for (const c of [carol, dave]) expect((await c.emitAck("session:watch", { sessionId: conversation.id })).ok).toBe(true);
    const asked = await alice.post(`${base}/${conversation.id}/ask`, { content: "Release?", agentIds: [agentId], strategy: "all" });
    expect(asked.status, asked.text).toBe(202);
    const turnId: string = asked.body.ask.agents.find((a: { agentId: string }) => a.agentId === agentId).turnId;
    for (const c of [carol, dave]) await c.until(() => !!approvalOf(c, turnId, "pending"), "turn:approval pending on both nodes");
    const path = `${base}/${conversation.id}/turns/${turnId}/approvals/${request.approvalId}`;
    return {
      carol,
      dave,
      turnId,
      path,
      as: async (who: string, node: "a" | "b", extra?: { groups?: string[] }) => api(cluster[node].url, await cluster.ws.token(who, extra)),
    };
  }

  it("two members deciding at once on two nodes make exactly one deciding vote", async () => {
    const g = await groupAsk({ approvalId: "release-1", title: "Release v2?" });
    const [carolA, daveB] = await Promise.all([g.as("carol", "a"), g.as("dave", "b", { groups: ["oncall"] })]);
    const results = await Promise.all([carolA.post(g.path, { decision: "approve" }), daveB.post(g.path, { decision: "approve" })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const final = await carolA.get(g.path);
    expect(final.body).toMatchObject({ status: "approved" });
    expect(final.body.decisions).toHaveLength(1);
    await g.dave.until(() => endOf(g.dave, g.turnId)?.status === "completed", "the turn to end");
  });

  it("a quorum of 2: one approval leaves it pending, one person cannot decide twice, the second approval decides", async () => {
    const g = await groupAsk({ approvalId: "release-2", title: "Release v3?", quorum: 2 });
    const carol = await g.as("carol", "a");
    const first = await carol.post(g.path, { decision: "approve" });
    expect(first.body).toMatchObject({ status: "pending", decisions: [{ decision: "approve" }] });
    expectProblem(await carol.post(g.path, { decision: "approve" }), "conflict", { detail: /already decided/ });
    await g.dave.until(() => approvalOf(g.dave, g.turnId)?.decisions.length === 1, "the first decision, live");
    const second = await (await g.as("erin", "b")).post(g.path, { decision: "approve", comment: "+1" });
    expect(second.body).toMatchObject({ status: "approved" });
    expect(second.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(["approve", "approve"]);
    await g.carol.until(() => endOf(g.carol, g.turnId)?.status === "completed", "the turn to end");
  });

  it("assignees by group claim: a member with the claim decides, one without is refused, and the list says so", async () => {
    const g = await groupAsk({ approvalId: "page-oncall", title: "Page the on-call?", assignees: { groups: ["oncall"] } });
    const carol = await g.as("carol", "a");
    expectProblem(await carol.post(g.path, { decision: "approve" }), "forbidden", { detail: /assignees/ });
    expect((await carol.get("/api/approvals")).body.approvals.map((a: { turn_id: string }) => a.turn_id)).not.toContain(g.turnId);
    const dave = await g.as("dave", "b", { groups: ["oncall"] });
    const listed = (await dave.get("/api/approvals")).body.approvals.find((a: { turn_id: string }) => a.turn_id === g.turnId);
    expect(listed).toMatchObject({ group_id: expect.stringMatching(/^grp_/), assignees: { groups: ["oncall"] } });
    expect((await dave.post(g.path, { decision: "approve" })).body.status).toBe("approved");
  });
});

describe("approvals: a model agent's MCP tool that requires approval", () => {
  async function modelWithGuardedTool() {
    const mcp: TestMcpServer = await startMcpServer();
    closers.push(() => mcp.close());
    const name = uniq("calc");
    const registered = await api(cluster.a.url, cluster.ws.masterKey).post("/api/mcp-servers", { name, url: mcp.url, allowed_groups: ["*"], requiresApproval: true });
    expect(registered.status, registered.text).toBe(201);
    const model: ModelServer = await startModelServer((_, i) => (i === 0 ? toolAnswer([{ id: "call_add", name: `${name}__add`, args: { a: 2, b: 3 } }]) : textAnswer("It is done.")));
    closers.push(() => model.close());
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("model"));
    expect((await alice.patch(`/api/agents/${agentId}`, { endpoint: { protocol: "model", url: model.url, model: "test-model", mcpServers: [registered.body.id] } })).status).toBe(200);
    const session = await makeSession(alice, agentId);
    const token = await cluster.ws.token("alice");
    const [wa, wb] = await Promise.all([cluster.open(cluster.a.url, token), cluster.open(cluster.b.url, token)]);
    for (const w of [wa, wb]) expect((await w.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
    const path = `/api/agents/${agentId}/sessions/${session.id}`;
    const started = await alice.post(`${path}/turns`, { content: "Add 2 and 3" });
    const turnId: string = started.body.turn.id;
    for (const w of [wa, wb]) await w.until(() => !!approvalOf(w, turnId, "pending"), "the tool call's approval, live on both nodes");
    return { alice, wa, wb, path, turnId, name, model, approval: approvalOf(wb, turnId) };
  }

  it("stops and asks, showing the call's input; approved on the other node, the tool runs and the answer streams on", async () => {
    const m = await modelWithGuardedTool();
    expect(m.approval).toMatchObject({ title: `Run the tool ${m.name}__add?`, input: { a: 2, b: 3 }, status: "pending" });
    expect(m.model.requests).toHaveLength(1);
    const bobNode = api(cluster.b.url, await cluster.ws.token("alice"));
    expect((await bobNode.post(`${m.path}/turns/${m.turnId}/approvals/${m.approval.id}`, { decision: "approve" })).body.status).toBe("approved");
    await m.wa.until(() => endOf(m.wa, m.turnId)?.status === "completed", "the turn to complete");
    const events = m.wa.of("turn:event").filter((e) => e.turnId === m.turnId).map((e) => e.event);
    expect(events.find((e) => e.type === "tool_call_end")).toMatchObject({ toolCallId: "call_add", output: "5" });
    expect(events.filter((e) => e.type === "content_delta").map((e) => e.delta).join("")).toBe("It is done.");
    const stored = (await m.alice.get(`${m.path}/messages`)).body.messages.find((msg: { role: string }) => msg.role === "assistant");
    expect(stored.approvals).toMatchObject([{ status: "approved", input: { a: 2, b: 3 } }]);
  });

  it("rejected: the call is refused, the model is told who rejected it and why, and carries on", async () => {
    const m = await modelWithGuardedTool();
    await m.alice.post(`${m.path}/turns/${m.turnId}/approvals/${m.approval.id}`, { decision: "reject", comment: "not now" });
    await m.wb.until(() => endOf(m.wb, m.turnId)?.status === "completed", "the turn to complete");
    const end = m.wb.of("turn:event").find((e) => e.turnId === m.turnId && e.event.type === "tool_call_end").event;
    expect(end.error).toMatch(/rejected by .*"not now"/);
    expect(m.model.requests[1]!.body.messages.at(-1)).toMatchObject({ role: "tool", tool_call_id: "call_add", content: expect.stringContaining("rejected by") });
  });
});

describe("approvals: done when (a model agent in a group)", () => {
  it("the model's MCP tool asks; two members see it live on different nodes; the first approval lets it run; the decision shows in the conversation and the audit list", async () => {
    const mcp = await startMcpServer();
    closers.push(() => mcp.close());
    const name = uniq("ops");
    const master = api(cluster.a.url, cluster.ws.masterKey);
    const registered = await master.post("/api/mcp-servers", { name, url: mcp.url, allowed_groups: ["*"], requiresApproval: true });
    const model = await startModelServer((_, i) => (i === 0 ? toolAnswer([{ id: "call_1", name: `${name}__add`, args: { a: 40, b: 2 } }]) : textAnswer("The sum is 42.")));
    closers.push(() => model.close());
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const modelAgent = await makeAgent(alice, uniq("model"));
    const other = await makeAgent(alice, uniq("other"));
    expect((await alice.patch(`/api/agents/${modelAgent}`, { endpoint: { protocol: "model", url: model.url, model: "m", mcpServers: [registered.body.id] } })).status).toBe(200);
    const group = await alice.post("/api/groups", { name: uniq("ops"), agentIds: [modelAgent, other], allowed_users: ["carol@example.com", "dave@example.com"] });
    const base = `/api/groups/${group.body.id}/conversations`;
    const conversation = (await alice.post(base, { title: "Sum" })).body;
    const carol = await cluster.open(cluster.a.url, await cluster.ws.token("carol"));
    const dave = await cluster.open(cluster.b.url, await cluster.ws.token("dave"));
    for (const c of [carol, dave]) expect((await c.emitAck("session:watch", { sessionId: conversation.id })).ok).toBe(true);
    const asked = await alice.post(`${base}/${conversation.id}/ask`, { content: "Add 40 and 2", agentIds: [modelAgent], strategy: "all" });
    const turnId: string = asked.body.ask.agents[0].turnId;
    for (const c of [carol, dave]) await c.until(() => !!approvalOf(c, turnId, "pending"), "the request, live on both nodes");

    const daveApi = api(cluster.b.url, await cluster.ws.token("dave"));
    const pending = (await daveApi.get("/api/approvals")).body.approvals.find((a: { turn_id: string }) => a.turn_id === turnId);
    expect(pending).toMatchObject({ group_id: group.body.id, input: { a: 40, b: 2 }, status: "pending" });
    const approved = await daveApi.post(`${base}/${conversation.id}/turns/${turnId}/approvals/${pending.id}`, { decision: "approve", comment: "fine" });
    expect(approved.body.status).toBe("approved");
    await carol.until(() => endOf(carol, turnId)?.status === "completed", "the answer to finish");
    const events = carol.of("turn:event").filter((e) => e.turnId === turnId).map((e) => e.event);
    expect(events.find((e) => e.type === "tool_call_end")).toMatchObject({ output: "42" });
    expect(events.filter((e) => e.type === "content_delta").map((e) => e.delta).join("")).toBe("The sum is 42.");
    const answer = (await alice.get(`${base}/${conversation.id}/messages`)).body.messages.find((m: { role: string }) => m.role === "assistant");
    expect(answer.approvals[0]).toMatchObject({ status: "approved", decisions: [{ decision: "approve", comment: "fine", name: expect.any(String) }] });
    expect((await daveApi.get("/api/approvals?status=approved")).body.approvals.map((a: { turn_id: string }) => a.turn_id)).toContain(turnId);
  });
});

describe("approvals: a Sharely HTTP agent", () => {
  it("cannot wait mid-stream: its approval_request ends the turn with a clear error", async () => {
    const server: AgentServer = await startAgentServer(() => answer([{ type: "message_start", model: "http" }, { type: "approval_request", approvalId: "x", title: "May I?" }, { type: "done" }]));
    closers.push(() => server.close());
    const alice = api(cluster.a.url, await cluster.ws.token("alice"));
    const agentId = await makeAgent(alice, uniq("http"));
    expect((await alice.patch(`/api/agents/${agentId}`, { server_url: server.url })).status).toBe(200);
    const session = await makeSession(alice, agentId);
    const watcher = await cluster.open(cluster.b.url, await cluster.ws.token("alice"));
    expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
    const started = await alice.post(`/api/agents/${agentId}/sessions/${session.id}/turns`, { content: "Do it" });
    const turnId = started.body.turn.id;
    await watcher.until(() => !!endOf(watcher, turnId), "the turn to end");
    expect(endOf(watcher, turnId)).toMatchObject({ status: "failed", error: expect.stringContaining("cannot be paused and resumed") });
    expect(watcher.of("turn:approval")).toEqual([]);
  });
});
