/**
 * People in the loop for A2A and AG-UI agents (CONTRACT.md, "People in the loop: approvals"),
 * across two hub processes, with peers built on the official libraries: an A2A agent whose task
 * goes `input-required` with an approval request, and an AG-UI agent whose run finishes with an
 * interrupt asking for approval, make the turn wait; a person decides over REST on the other
 * node; the agent receives the outcome in its own protocol (the continuation message of the same
 * task; the next run's `resume`) and its answer goes on in the same turn. The turn's time limit
 * (3 s here) is paused while people decide.
 */
import { RunAgentInputSchema } from "@ag-ui/core/schemas";
import { TaskState, type Part } from "@a2a-js/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { data, startA2aAgent, text as a2aText, type A2aAgent, type A2aScript } from "../support/a2a-agent.js";
import { ev, run, startAguiPeer, text, type AguiPeer, type AguiRequest } from "../support/agui-peer.js";
import { useCluster } from "../support/cluster.js";
import { makeSession, uniq, userId } from "../support/factories.js";
import type { Client } from "../support/sockets.js";

const TURN_TIMEOUT_MS = 3000;
const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true", AGENT_TURN_TIMEOUT_MS: String(TURN_TIMEOUT_MS) });
const peers: Array<{ close(): Promise<void> }> = [];
let alice: Api;
let aliceB: Api;
let aliceToken: string;
beforeAll(async () => {
  aliceToken = await cluster.ws.token("alice");
  alice = api(cluster.a.url, aliceToken);
  aliceB = api(cluster.b.url, aliceToken);
});
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const approvalOf = (c: Client, turnId: string, status?: string) =>
  c
    .of("turn:approval")
    .filter((e) => e.turnId === turnId && (!status || e.approval.status === status))
    .at(-1)?.approval;
const endOf = (c: Client, turnId: string) => c.of("turn:ended").find((e) => e.turn.id === turnId)?.turn;
const turnEvents = (c: Client, turnId: string) => c.of("turn:event").filter((e) => e.turnId === turnId).map((e) => e.event);

/** An agent of Alice's with this endpoint, a session with it (started on node A), and a watcher on node B. */
async function agentWith(endpoint: Record<string, unknown>) {
  const created = await alice.post("/api/agents", { id: uniq(String(endpoint.protocol)), name: "Careful agent", endpoint });
  expect(created.status, created.text).toBe(201);
  const session = await makeSession(alice, created.body.id);
  const watcher = await cluster.open(cluster.b.url, aliceToken);
  expect((await watcher.emitAck("session:watch", { sessionId: session.id })).ok).toBe(true);
  return { sessionId: session.id as string, path: `/api/agents/${created.body.id}/sessions/${session.id}`, watcher };
}

/** Starts a turn on node A and waits until the watcher on node B sees it ask; answers the turn and the decision's path. */
async function askAndWait(path: string, watcher: Client, content: string) {
  const started = await alice.post(`${path}/turns`, { content });
  expect(started.status, started.text).toBe(202);
  const turn = started.body.turn;
  await watcher.until(() => !!approvalOf(watcher, turn.id, "pending"), "turn:approval pending on node B", 15_000);
  const approval = approvalOf(watcher, turn.id);
  expect((await alice.get(`${path}/turns/${turn.id}`)).body.status).toBe("waiting");
  return { turn, approval, decide: (id = approval.id) => `${path}/turns/${turn.id}/approvals/${id}` };
}

/** Lets more than the turn's time limit pass while it waits (what is tested is that nothing happens meanwhile). */
const outwait = () => new Promise((r) => setTimeout(r, TURN_TIMEOUT_MS + 1000));

const outcomeIn = (parts: Part[]) => parts.find((p) => p.content?.$case === "data")?.content?.value as Record<string, any> | undefined;
const textIn = (parts: Part[]) => parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");

describe("A2A agents ask people (input-required with an approval request)", () => {
  /** Asks before deploying; on the continuation, answers with what it was told. */
  const careful: A2aScript = ({ call, start, status, statusParts, artifact }) => {
    start();
    if (!call.taskId) {
      status(TaskState.TASK_STATE_WORKING, "Checking the release");
      return statusParts(TaskState.TASK_STATE_INPUT_REQUIRED, [
        a2aText("May I deploy to production?"),
        data({ type: "approval_request", approvalId: "deploy", title: "Deploy to production?", detail: "Release 42", input: { env: "prod" } }),
      ]);
    }
    const outcome = outcomeIn(call.parts);
    artifact(outcome?.status === "approved" ? "Deployed." : `Not deploying (${outcome?.status}).`, { lastChunk: true });
    status(TaskState.TASK_STATE_COMPLETED);
  };

  async function a2aPeer(streaming: boolean): Promise<A2aAgent> {
    const agent = await startA2aAgent(careful, { streaming });
    peers.push(agent);
    return agent;
  }

  it("waits past the turn's time limit, is approved on the other node, gets the continuation on the same task and finishes the same turn", async () => {
    const agent = await a2aPeer(true);
    const { sessionId, path, watcher } = await agentWith({ protocol: "a2a", url: agent.url });
    const { turn, approval, decide } = await askAndWait(path, watcher, "Ship release 42");
    expect(approval).toMatchObject({ id: "deploy", title: "Deploy to production?", detail: "Release 42", input: { env: "prod" }, status: "pending", quorum: 1 });
    expect(agent.calls).toHaveLength(1);

    await outwait();
    expect((await alice.get(`${path}/turns/${turn.id}`)).body.status).toBe("waiting");
    const decided = await aliceB.post(decide(), { decision: "approve", comment: "Checked" });
    expect(decided.status, decided.text).toBe(200);

    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("completed");
    // The continuation: same task and context, the outcome as data (no email) and in words.
    await agent.until(() => agent.calls.length === 2, "the continuation");
    const [first, next] = agent.calls as [(typeof agent.calls)[0], (typeof agent.calls)[0]];
    expect(next).toMatchObject({ taskId: first.runs, runs: first.runs, contextId: sessionId });
    expect(outcomeIn(next.parts)).toEqual({
      type: "approval_outcome",
      approvalId: "deploy",
      status: "approved",
      decisions: [{ decision: "approve", name: expect.any(String), comment: "Checked", at: expect.any(String) }],
    });
    expect(next.rawBody).not.toMatch(/@/);
    expect(textIn(next.parts)).toMatch(/^The approval "Deploy to production\?" was approved by .+ \("Checked"\)\.$/);

    // One turn, one answer: the question, then what the agent did.
    const events = turnEvents(watcher, turn.id);
    expect(events.filter((e) => e.type === "message_start")).toHaveLength(1);
    expect(watcher.of("turn:approval").filter((e) => e.turnId === turn.id).map((e) => e.approval.status)).toEqual(["pending", "approved"]);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored.content).toBe("May I deploy to production?\n\nDeployed.");
    expect(stored.approvals).toMatchObject([{ id: "deploy", status: "approved", decisions: [{ decision: "approve", comment: "Checked" }] }]);
    expect(stored.metadata?.a2a?.state).toBeUndefined(); // the task is done: the next turn starts a new one
  });

  it("a reject reaches a non-streaming agent as the continuation; the turn completes with its answer", async () => {
    const agent = await a2aPeer(false);
    const { path, watcher } = await agentWith({ protocol: "a2a", url: agent.url });
    const { turn, decide } = await askAndWait(path, watcher, "Ship release 43");
    expect((await aliceB.post(decide(), { decision: "reject", comment: "Not on a Friday" })).body.status).toBe("rejected");
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("completed");
    expect(agent.calls).toHaveLength(2);
    expect(outcomeIn(agent.calls[1]!.parts)).toMatchObject({ approvalId: "deploy", status: "rejected", decisions: [{ decision: "reject", comment: "Not on a Friday" }] });
    expect(textIn(agent.calls[1]!.parts)).toMatch(/was rejected by .+ \("Not on a Friday"\)/);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored.content).toBe("May I deploy to production?\n\nNot deploying (rejected).");
  });

  it("a cancel while people decide ends the turn cancelled, the approval with it, and asks the agent to cancel its task", async () => {
    const agent = await a2aPeer(true);
    const { path, watcher } = await agentWith({ protocol: "a2a", url: agent.url });
    const { turn, decide } = await askAndWait(path, watcher, "Ship release 44");
    expect((await aliceB.post(`${path}/turns/${turn.id}/cancel`)).status).toBe(202);
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("cancelled");
    await agent.until(() => agent.cancels.includes(agent.calls[0]!.runs), "the agent's cancelTask");
    expect(agent.calls).toHaveLength(1);
    expect((await alice.get(decide())).body.status).toBe("cancelled");
  });

  it("a malformed approval request fails the turn with the reason", async () => {
    const agent = await startA2aAgent(({ start, statusParts }) => {
      start();
      statusParts(TaskState.TASK_STATE_INPUT_REQUIRED, [data({ type: "approval_request", approvalId: "bad id!", title: "x" })]);
    });
    peers.push(agent);
    const { path, watcher } = await agentWith({ protocol: "a2a", url: agent.url });
    const { turn } = (await alice.post(`${path}/turns`, { content: "go" })).body;
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended", 15_000);
    expect(endOf(watcher, turn.id)).toMatchObject({ status: "failed", error: expect.stringMatching(/approval the hub cannot take: approvalId/) });
  });
});

describe("AG-UI agents ask people (RUN_FINISHED with an interrupt, resumed with resume)", () => {
  let peer: AguiPeer;
  beforeAll(async () => {
    peer = await startAguiPeer();
    peers.push(peer);
  });

  /** What the hub says of the request's turn token (checked while the run is open). */
  const validate = async (request: AguiRequest) => {
    const token = String(request.headers.authorization).replace(/^Bearer /, "");
    return (await api(cluster.b.url, await cluster.ws.token(uniq("validator"))).post(`/v1/workspaces/${cluster.ws.id}/api-authenticated`, { token })).body;
  };
  const interrupt = (id: string, message: string, extra: Record<string, unknown> = {}) => ({ id, reason: "approval_request", message, ...extra });

  it("waits past the turn's time limit, is approved on the other node, and the resumed run goes on in the same turn", async () => {
    const { sessionId, path, watcher } = await agentWith({ protocol: "agui", url: peer.url });
    peer.script((input) =>
      !input.resume
        ? {
            steps: run(
              input,
              [
                ...text("m1", "Checking the change."),
                ev({ type: "TOOL_CALL_START", toolCallId: "call-1", toolCallName: "deploy" }),
                ev({ type: "TOOL_CALL_ARGS", toolCallId: "call-1", delta: '{"env":"prod"}' }),
                ev({ type: "TOOL_CALL_END", toolCallId: "call-1" }),
              ],
              { outcome: { type: "interrupt", interrupts: [interrupt("approve-deploy", "Deploy to production?", { toolCallId: "call-1", metadata: { approval: { detail: "Release 42" } } })] } },
            ),
          }
        : { onRequest: validate, steps: run(input, text("m2", `Deploying: ${input.resume[0].payload.status}.`)) },
    );
    const before = peer.requests.length;
    const { turn, approval, decide } = await askAndWait(path, watcher, "Ship release 42");
    // The interrupt's tool call is what people approve.
    expect(approval).toMatchObject({ id: "approve-deploy", title: "Deploy to production?", detail: "Release 42", input: { env: "prod" }, status: "pending" });

    await outwait();
    expect((await alice.get(`${path}/turns/${turn.id}`)).body.status).toBe("waiting");
    expect(peer.requests.length).toBe(before + 1);
    expect((await aliceB.post(decide(), { decision: "approve", comment: "Go" })).status).toBe(200);
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("completed");

    // The resumed run: same thread, a new run, the history plus what the agent said, and the outcome.
    const [first, resumed] = peer.requests.slice(before).map((r) => r.input);
    expect(RunAgentInputSchema.safeParse(resumed).success).toBe(true);
    expect(resumed).toMatchObject({ threadId: sessionId, runId: `${turn.id}-resume-1` });
    expect(first.runId).toBe(turn.id);
    expect(resumed.messages.slice(0, first.messages.length)).toEqual(first.messages);
    expect(resumed.messages.slice(first.messages.length)[0]).toMatchObject({
      role: "assistant",
      content: "Checking the change.",
      toolCalls: [{ id: "call-1", type: "function", function: { name: "deploy", arguments: '{"env":"prod"}' } }],
    });
    expect(resumed.resume).toEqual([
      {
        interruptId: "approve-deploy",
        status: "resolved",
        payload: { approvalId: "approve-deploy", status: "approved", decisions: [{ decision: "approve", name: expect.any(String), comment: "Go", at: expect.any(String) }] },
      },
    ]);
    expect(peer.requests.at(-1)!.body).not.toMatch(/@/);
    expect(peer.requests.at(-1)!.headers["webhook-id"]).toBe(`${turn.id}-resume-1`);
    // Its turn token is good, though the turn began longer ago than its time limit.
    expect(peer.requests.at(-1)!.seen).toEqual({ id: String(await userId(alice)), user_metadata: {} });

    // One turn: one message_start, one message_end, the answer whole.
    const events = turnEvents(watcher, turn.id);
    expect(events.filter((e) => e.type === "message_start")).toHaveLength(1);
    expect(events.filter((e) => e.type === "message_end")).toEqual([{ type: "message_end", finishReason: "stop" }]);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored.content).toBe("Checking the change.\n\nDeploying: approved.");
    expect(stored.approvals).toMatchObject([{ id: "approve-deploy", status: "approved" }]);
  });

  it("a reject of the first of two interrupts resumes with it rejected and the second cancelled, unasked", async () => {
    const { path, watcher } = await agentWith({ protocol: "agui", url: peer.url });
    peer.script((input) =>
      !input.resume
        ? { steps: run(input, text("m1", "Two steps."), { outcome: { type: "interrupt", interrupts: [interrupt("step-1", "Drain the node?"), interrupt("step-2", "Reboot it?")] } }) }
        : { steps: run(input, text("m2", `Stopped: ${input.resume.map((r: any) => r.payload?.status ?? r.status).join(", ")}.`)) },
    );
    const before = peer.requests.length;
    const { turn, decide } = await askAndWait(path, watcher, "Maintenance");
    expect((await aliceB.post(decide("step-1"), { decision: "reject", comment: "Peak hours" })).body.status).toBe("rejected");
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("completed");
    const resumed = peer.requests.slice(before)[1]!.input;
    expect(resumed.resume).toMatchObject([
      { interruptId: "step-1", status: "resolved", payload: { status: "rejected", decisions: [{ decision: "reject", comment: "Peak hours" }] } },
      { interruptId: "step-2", status: "cancelled" },
    ]);
    expect(watcher.of("turn:approval").filter((e) => e.turnId === turn.id && e.approval.id === "step-2")).toEqual([]);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored.content).toBe("Two steps.\n\nStopped: rejected, cancelled.");
  });

  it("a cancel while people decide ends the turn cancelled and starts no resumed run", async () => {
    const { path, watcher } = await agentWith({ protocol: "agui", url: peer.url });
    peer.script((input) => ({ steps: run(input, text("m1", "Wait."), { outcome: { type: "interrupt", interrupts: [interrupt("wipe", "Wipe the cache?")] } }) }));
    const before = peer.requests.length;
    const { turn, decide } = await askAndWait(path, watcher, "Clean up");
    expect((await aliceB.post(`${path}/turns/${turn.id}/cancel`)).status).toBe(202);
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("cancelled");
    expect((await alice.get(decide())).body.status).toBe("cancelled");
    // Anything the hub still sent would have been sent by the time a later turn's run arrives.
    peer.script((input) => ({ steps: run(input, text("m2", "Hello.")) }));
    const { turn: later } = (await alice.post(`${path}/turns`, { content: "Hi" })).body;
    await watcher.until(() => !!endOf(watcher, later.id), "the later turn to end", 15_000);
    expect(peer.requests.slice(before).map((r) => r.input.runId)).toEqual([turn.id, later.id]);
  });

  it("an interrupt's expiresAt is the approval's expiry: expired, the agent is resumed with it", async () => {
    const { path, watcher } = await agentWith({ protocol: "agui", url: peer.url });
    peer.script((input) =>
      !input.resume
        ? { steps: run(input, [], { outcome: { type: "interrupt", interrupts: [interrupt("soon", "Quick one?", { expiresAt: new Date(Date.now() + 1500).toISOString() })] } }) }
        : { steps: run(input, text("m2", `Outcome: ${input.resume[0].payload.status}.`)) },
    );
    const { turn } = await askAndWait(path, watcher, "Hurry");
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended on node B", 15_000);
    expect(approvalOf(watcher, turn.id)).toMatchObject({ id: "soon", status: "expired", decisions: [] });
    expect(peer.requests.at(-1)!.input.resume).toEqual([{ interruptId: "soon", status: "resolved", payload: { approvalId: "soon", status: "expired", decisions: [] } }]);
    const stored = (await alice.get(`${path}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.message_id);
    expect(stored.content).toBe("Outcome: expired.");
  });

  it("an interrupt of another kind ends the turn as before", async () => {
    const { path, watcher } = await agentWith({ protocol: "agui", url: peer.url });
    peer.script((input) => ({ steps: run(input, text("m1", "Which region?"), { outcome: { type: "interrupt", interrupts: [{ id: "q", reason: "input_required", message: "Which region?" }] } }) }));
    const { turn } = (await alice.post(`${path}/turns`, { content: "Deploy" })).body;
    await watcher.until(() => !!endOf(watcher, turn.id), "turn:ended", 15_000);
    expect(endOf(watcher, turn.id).status).toBe("completed");
    expect(turnEvents(watcher, turn.id).filter((e) => e.type === "message_end")).toEqual([{ type: "message_end", finishReason: "interrupt" }]);
  });
});
