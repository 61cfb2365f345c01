/**
 * The hub as an A2A server, on two hub processes, through `@a2a-js/sdk`'s own client
 * (ClientFactory, its card resolver and JSON-RPC transport, with a fetch that adds the
 * credential): every agent the caller may use is an A2A agent whose tasks are turns. Cards, a
 * streamed and a blocking send, a task read and cancelled on the other node, a stream cut on one
 * node and resubscribed on the other (every chunk once, in order), and who may call what.
 * Agents answer over a socket (startSocketAgent). The hubs' PUBLIC_URL is http://hub.test: the
 * client's fetch sends what is addressed there to the node under test.
 */
import { randomUUID } from "node:crypto";
import { Role, TaskState, type Message, type StreamResponse, type Task } from "@a2a-js/sdk";
import { Client, ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { isLegacyAgentCard, LegacyJsonRpcTransport, parseLegacyAgentCard } from "@a2a-js/sdk/compat/v0_3/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";

const METRICS_TOKEN = "metrics-token-0123456789";
const cluster = useCluster({ METRICS_TOKEN });
const PUBLIC = "http://hub.test";
const ANSWER = "Disk usage on node seven grew by forty percent after the nightly backup job started writing its archives to the root volume.";
let alice: Api;
let aliceToken: string;
let agentId: string;
let agent: SocketAgent;
let slowId: string;
let slow: SocketAgent;

/** A fetch that carries `token` and sends what is addressed to PUBLIC_URL to `node`. */
function hubFetch(node: string, token: string | undefined): typeof fetch {
  return (input, init) => {
    const url = String(input instanceof Request ? input.url : input).replace(PUBLIC, node);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token) headers.set("authorization", `Bearer ${token}`);
    return fetch(url, { ...init, headers });
  };
}

function factory(node: string, token: string | undefined): ClientFactory {
  const fetchImpl = hubFetch(node, token);
  return new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { transports: [new JsonRpcTransportFactory({ fetchImpl })], cardResolver: new DefaultAgentCardResolver({ fetchImpl }) }),
  );
}

const clientOf = (node: string, id: string, token = aliceToken): Promise<Client> => factory(node, token).createFromUrl(`${PUBLIC}/a2a/agents/${id}/`);

function userMessage(text: string, contextId = ""): Message {
  return { messageId: randomUUID(), contextId, taskId: "", role: Role.ROLE_USER, parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

const send = (text: string, contextId?: string) => ({ tenant: "", message: userMessage(text, contextId), configuration: undefined, metadata: undefined });
const partsText = (parts: Array<{ content?: { $case: string; value?: unknown } }>) => parts.map((p) => (p.content?.$case === "text" ? String(p.content.value) : "")).join("");
const taskText = (task: Task) => task.artifacts.map((a) => partsText(a.parts)).join("");

/** What a stream says, read whole: the first task, the appended text, the states, in order. */
async function readAll(events: AsyncGenerator<StreamResponse>, stopAfterChunks = Infinity) {
  const out = { task: undefined as Task | undefined, chunks: [] as string[], appends: [] as boolean[], states: [] as TaskState[], kinds: [] as string[] };
  // next() rather than for-await: stopping early must not close the stream (a later read goes on).
  for (let next = await events.next(); !next.done; next = await events.next()) {
    const p = next.value.payload!;
    out.kinds.push(p.$case);
    if (p.$case === "task") out.task ??= p.value;
    if (p.$case === "artifactUpdate") {
      out.chunks.push(partsText(p.value.artifact!.parts));
      out.appends.push(p.value.append);
      if (out.chunks.length >= stopAfterChunks) return out;
    }
    if (p.$case === "statusUpdate") out.states.push(p.value.status!.state);
  }
  return out;
}

beforeAll(async () => {
  aliceToken = await cluster.ws.token("alice");
  alice = api(cluster.a.url, aliceToken);
  agentId = await makeAgent(alice, uniq("a2a"), "Disk agent");
  await alice.patch(`/api/agents/${agentId}`, { description: "Answers questions about disks and backups" });
  agent = startSocketAgent(cluster.b.url, await makeKey(alice, agentId, ["turns:serve"]), { kind: "events", events: scriptedAnswer(ANSWER, { wordsPerChunk: 2 }) });
  slowId = await makeAgent(alice, uniq("slow"), "Slow agent");
  slow = startSocketAgent(cluster.a.url, await makeKey(alice, slowId, ["turns:serve"]), { kind: "events", events: scriptedAnswer(ANSWER, { wordsPerChunk: 1, delayMs: 60 }) });
  await Promise.all([agent.served, slow.served]);
}, 30_000);
afterAll(async () => {
  await agent?.close();
  await slow?.close();
});

describe("the hub as an A2A server", () => {
  it("serves the agent's card: name, description as a skill, Bearer security, streaming, the JSON-RPC interface at PUBLIC_URL", async () => {
    const card = await new DefaultAgentCardResolver({ fetchImpl: hubFetch(cluster.b.url, aliceToken) }).resolve(`${PUBLIC}/a2a/agents/${agentId}/`);
    expect(card.name).toBe("Disk agent");
    expect(card.description).toBe("Answers questions about disks and backups");
    expect(card.skills.map((s) => s.description)).toEqual(["Answers questions about disks and backups"]);
    expect(card.capabilities?.streaming).toBe(true);
    expect(card.supportedInterfaces[0]).toMatchObject({ url: `${PUBLIC}/a2a/agents/${agentId}`, protocolBinding: "JSONRPC", protocolVersion: "1.0" });
    expect(card.securitySchemes.bearer?.scheme).toMatchObject({ $case: "httpAuthSecurityScheme", value: { scheme: "Bearer" } });
    // A v0.3 client (no A2A-Version header) gets the v0.3 card, made by the SDK's compat layer.
    const legacy = (await (await hubFetch(cluster.a.url, aliceToken)(`${cluster.a.url}/a2a/agents/${agentId}/.well-known/agent-card.json`)).json()) as Record<string, unknown>;
    expect(legacy).toMatchObject({ name: "Disk agent", url: `${PUBLIC}/a2a/agents/${agentId}`, protocolVersion: "0.3", capabilities: { streaming: true } });
    expect(legacy.supportedInterfaces).toEqual(card.supportedInterfaces);
  });

  it("streams the answer as appends to one text artifact; the completed task, read on the other node, carries it whole", async () => {
    const client = await clientOf(cluster.a.url, agentId);
    const seen = await readAll(client.sendMessageStream(send("Why is the disk full?")));
    expect(seen.kinds[0]).toBe("task");
    expect(seen.chunks.join("")).toBe(ANSWER);
    expect(seen.appends).toEqual(seen.chunks.map((_, i) => i > 0));
    expect(seen.states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    const { id, contextId } = seen.task!;
    expect(id).toMatch(/^trn_/);
    expect(contextId).toMatch(/^ses_/);
    const onB = await (await clientOf(cluster.b.url, agentId)).getTask({ tenant: "", id, historyLength: undefined });
    expect(onB.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(onB.contextId).toBe(contextId);
    expect(onB.artifacts).toHaveLength(1);
    expect(onB.artifacts[0]!.parts).toHaveLength(1);
    expect(taskText(onB)).toBe(ANSWER);
    // The stream was counted on node A, and is closed.
    const metrics = await (await fetch(`${cluster.a.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(Number(/^agenthub_protocol_streams_total\{format="a2a",resumed="false"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^agenthub_protocol_streams_open\{format="a2a"\} 0$/m);
    // The session is the hub's: its messages hold the question and the answer.
    const messages = await alice.get(`/api/agents/${agentId}/sessions/${contextId}/messages`);
    expect(messages.body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant"]);
  });

  it("answers a blocking send with the completed task, whole; contextId continues the session", async () => {
    const client = await clientOf(cluster.b.url, agentId);
    const first = (await client.sendMessage(send("Why is the disk full?"))) as Task;
    expect(first.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(taskText(first)).toBe(ANSWER);
    const second = (await client.sendMessage(send("And now?", first.contextId))) as Task;
    expect(second.contextId).toBe(first.contextId);
    expect(second.id).not.toBe(first.id);
    const messages = await alice.get(`/api/agents/${agentId}/sessions/${first.contextId}/messages`);
    expect(messages.body.messages).toHaveLength(4);
  });

  it("cancels a task started on one node from the other: the stream ends canceled, the turn is cancelled", async () => {
    const events = (await clientOf(cluster.a.url, slowId)).sendMessageStream(send("Tell me slowly"));
    const started = await readAll(events, 2);
    const id = started.task!.id;
    const cancelled = await (await clientOf(cluster.b.url, slowId)).cancelTask({ tenant: "", id, metadata: undefined });
    expect(cancelled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(ANSWER.startsWith(taskText(cancelled))).toBe(true);
    expect(taskText(cancelled).startsWith(started.chunks.join(""))).toBe(true);
    const rest = await readAll(events);
    expect(rest.states.at(-1)).toBe(TaskState.TASK_STATE_CANCELED);
    const turn = await alice.get(`/api/agents/${slowId}/sessions/${started.task!.contextId}/turns/${id}`);
    expect(turn.body.status).toBe("cancelled");
    await slow.until(() => slow.cancels.some((c) => c.turnId === id), "the agent told to stop");
  });

  it("resubscribes on node B after the stream on node A is cut: the snapshot, then every later chunk once and in order", async () => {
    const cut = new AbortController();
    const onA = (await clientOf(cluster.a.url, slowId)).sendMessageStream(send("Tell me slowly"), { signal: cut.signal });
    const before = await readAll(onA, 3);
    cut.abort();
    const resumed = await readAll((await clientOf(cluster.b.url, slowId)).resubscribeTask({ tenant: "", id: before.task!.id }));
    expect(resumed.kinds[0]).toBe("task");
    const snapshot = taskText(resumed.task!);
    expect(snapshot.startsWith(before.chunks.join(""))).toBe(true);
    expect(snapshot + resumed.chunks.join("")).toBe(ANSWER);
    expect(resumed.appends).toEqual(resumed.chunks.map((_, i) => i > 0 || snapshot.length > 0));
    expect(resumed.states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("speaks protocol v0.3 to a v0.3 client (no A2A-Version header): the v0.3 card, message/stream, tasks/resubscribe and tasks/get", async () => {
    // The v0.3 card also embeds the 1.0 interfaces (as the SDK's own v0.3 card router does); a v0.3 client knows none of them.
    const { supportedInterfaces: _v1, ...raw } = (await (await hubFetch(cluster.a.url, aliceToken)(`${cluster.a.url}/a2a/agents/${slowId}/.well-known/agent-card.json`)).json()) as Record<string, unknown>;
    expect(isLegacyAgentCard(raw)).toBe(true);
    const card = parseLegacyAgentCard(raw);
    const v03 = (node: string) => new Client(new LegacyJsonRpcTransport({ endpoint: card.supportedInterfaces[0]!.url, fetchImpl: hubFetch(node, aliceToken) }), card);
    const cut = new AbortController();
    const before = await readAll(v03(cluster.a.url).sendMessageStream(send("Tell me slowly"), { signal: cut.signal }), 2);
    cut.abort();
    const id = before.task!.id;
    const resumed = await readAll(v03(cluster.b.url).resubscribeTask({ tenant: "", id }));
    expect(taskText(resumed.task!) + resumed.chunks.join("")).toBe(ANSWER);
    expect(resumed.states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    const done = await v03(cluster.a.url).getTask({ tenant: "", id, historyLength: undefined });
    expect(taskText(done)).toBe(ANSWER);
  });

  it("answers 401 to a JSON-RPC call without a valid credential, and 404 for an agent the caller may not use", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "GetTask", params: { id: "trn_x" } });
    const headers = { "content-type": "application/json", "A2A-Version": "1.0" };
    for (const auth of [undefined, "Bearer not-a-token"]) {
      const res = await fetch(`${cluster.a.url}/a2a/agents/${agentId}`, { method: "POST", body, headers: auth ? { ...headers, authorization: auth } : headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    await expect(clientOf(cluster.a.url, agentId, "")).rejects.toThrow(/401/);
    const bob = await cluster.ws.token("bob");
    const card = await hubFetch(cluster.b.url, bob)(`${cluster.b.url}/a2a/agents/${agentId}/.well-known/agent-card.json`, { headers: { "A2A-Version": "1.0" } });
    expect(card.status).toBe(404);
    const rpc = await fetch(`${cluster.b.url}/a2a/agents/${agentId}`, { method: "POST", body, headers: { ...headers, authorization: `Bearer ${bob}` } });
    expect(rpc.status).toBe(404);
  });

  it("serves a group as one agent: a message asks the group, each agent's answer streams into its own artifact", async () => {
    const group = await alice.post("/api/groups", { name: uniq("disks"), agentIds: [agentId, slowId], allowed_users: ["bob@example.com"] });
    expect(group.status, group.text).toBe(201);
    const bob = await cluster.ws.token("bob", { email: "bob@example.com" });
    const client = await factory(cluster.a.url, bob).createFromUrl(`${PUBLIC}/a2a/groups/${group.body.id}/`);
    const card = await client.getAgentCard();
    expect(card.name).toBe(group.body.name);
    expect(card.supportedInterfaces[0]!.url).toBe(`${PUBLIC}/a2a/groups/${group.body.id}`);
    const byArtifact = new Map<string, string>();
    let task: Task | undefined;
    const states: TaskState[] = [];
    for await (const e of client.sendMessageStream(send("Why is the disk full?"))) {
      const p = e.payload!;
      if (p.$case === "task") task ??= p.value;
      if (p.$case === "artifactUpdate") byArtifact.set(p.value.artifact!.artifactId, (byArtifact.get(p.value.artifact!.artifactId) ?? "") + partsText(p.value.artifact!.parts));
      if (p.$case === "statusUpdate") states.push(p.value.status!.state);
    }
    expect(task!.id).toMatch(/^ask_/);
    expect(Object.fromEntries(byArtifact)).toEqual({ [agentId]: ANSWER, [slowId]: ANSWER });
    expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    const onB = await (await factory(cluster.b.url, bob).createFromUrl(`${PUBLIC}/a2a/groups/${group.body.id}/`)).getTask({ tenant: "", id: task!.id, historyLength: undefined });
    expect(onB.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(onB.contextId).toBe(task!.contextId);
    expect(onB.artifacts.map((a) => [a.artifactId, partsText(a.parts)]).sort()).toEqual([[agentId, ANSWER], [slowId, ANSWER]].sort());
    const ask = await api(cluster.b.url, bob).get(`/api/groups/${group.body.id}/conversations/${task!.contextId}/asks/${task!.id}`);
    expect(ask.body.status).toBe("completed");
    // Not a member: the group is not there.
    const carol = await cluster.ws.token(uniq("carol"));
    await expect(factory(cluster.a.url, carol).createFromUrl(`${PUBLIC}/a2a/groups/${group.body.id}/`)).rejects.toThrow(/404/);
  });

  it("lists the cards of the agents the caller may use, and only those", async () => {
    const carol = await cluster.ws.token(uniq("carol"));
    const carolsAgent = await makeAgent(api(cluster.a.url, carol), uniq("carols"), "Carol's agent");
    const list = await hubFetch(cluster.b.url, carol)(`${cluster.b.url}/a2a/agents`, { headers: { "A2A-Version": "1.0" } });
    expect(list.status).toBe(200);
    const { cards } = (await list.json()) as { cards: Array<{ name: string; supportedInterfaces: Array<{ url: string }> }> };
    expect(cards.map((c) => c.supportedInterfaces[0]!.url)).toEqual([`${PUBLIC}/a2a/agents/${carolsAgent}`]);
    const mine = (await (await hubFetch(cluster.b.url, aliceToken)(`${cluster.b.url}/a2a/agents`, { headers: { "A2A-Version": "1.0" } })).json()) as { cards: Array<{ name: string }> };
    expect(mine.cards.map((c) => c.name).sort()).toEqual(["Disk agent", "Slow agent"]);
  });
});
