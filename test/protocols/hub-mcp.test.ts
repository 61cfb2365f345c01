/**
 * The hub as an MCP server (`/mcp`), through `@modelcontextprotocol/sdk`'s own Client and
 * Streamable HTTP transport, on two hub processes with an agent served over a socket: the tools,
 * progress notifications carrying the answer as it streams, the answer's structuredContent, a
 * session read and a channel read on the other node, resources listed, read and subscribed to
 * with an update from the other node, scopes exactly as REST, and no credential: 401.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema, type CallToolResult, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { pollUntil, until } from "../support/waiters.js";

const cluster = useCluster();
const ANSWER = "The nightly batch job filled the disk on db-2 at noon.";
const clients: Client[] = [];
let alice: Api;
let aliceToken: string;
let agentId: string;
let agent: SocketAgent;
let second: { id: string; agent: SocketAgent };
const SECOND_ANSWER = "Rotate the logs on db-2.";

async function mcp(url: string, credential: string): Promise<Client> {
  const client = new Client({ name: "hub-mcp-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${credential}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");

beforeAll(async () => {
  aliceToken = await cluster.ws.token("alice");
  alice = api(cluster.a.url, aliceToken);
  agentId = await makeAgent(alice, uniq("logs"), "Logs agent");
  agent = startSocketAgent(cluster.b.url, await makeKey(alice, agentId, ["turns:serve"]), (request) => ({
    kind: "events",
    // "slowly": time for the client to cancel mid-answer.
    events: scriptedAnswer(ANSWER, { wordsPerChunk: 2, delayMs: String(request.message.content).includes("slowly") ? 400 : 20 }),
  }));
  const secondId = await makeAgent(alice, uniq("ops"), "Ops agent");
  second = { id: secondId, agent: startSocketAgent(cluster.a.url, await makeKey(alice, secondId, ["turns:serve"]), { kind: "events", events: scriptedAnswer(SECOND_ANSWER) }) };
  await Promise.all([agent.served, second.agent.served]);
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await agent?.close();
  await second?.agent.close();
});

describe("the hub as an MCP server", () => {
  it("lists its tools and the agents the caller may use", async () => {
    const client = await mcp(cluster.a.url, aliceToken);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ["ask_agent", "ask_group", "list_agents", "list_sessions", "publish_to_channel", "read_channel", "read_session", "search_knowledge"].sort(),
    );
    const listed = (await client.callTool({ name: "list_agents", arguments: {} })) as CallToolResult;
    expect((listed.structuredContent as { agents: Array<{ id: string }> }).agents.map((a) => a.id)).toContain(agentId);
  });

  it("asks an agent: progress notifications carry the text as it streams, the result is the whole answer; the session reads the same on the other node", async () => {
    const client = await mcp(cluster.a.url, aliceToken);
    const progress: Progress[] = [];
    const result = (await client.callTool({ name: "ask_agent", arguments: { agentId, content: "What filled the disk?" } }, undefined, {
      onprogress: (p) => progress.push(p),
      timeout: 15_000,
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe(ANSWER);
    const structured = result.structuredContent as { sessionId: string; turnId: string; answer: string };
    expect(structured).toEqual({ sessionId: expect.stringMatching(/^ses_/), turnId: expect.any(String), answer: ANSWER });
    // One notification per streamed chunk, in order, each the text since the previous one.
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.map((p) => p.message).join("")).toBe(ANSWER);
    expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));

    const other = await mcp(cluster.b.url, aliceToken);
    const read = (await other.callTool({ name: "read_session", arguments: { sessionId: structured.sessionId } })) as CallToolResult;
    const { session, messages } = read.structuredContent as { session: { id: string; agent_id: string }; messages: Array<{ role: string; content: unknown }> };
    expect(session).toMatchObject({ id: structured.sessionId, agent_id: agentId });
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ["user", "What filled the disk?"],
      ["assistant", ANSWER],
    ]);

    // The same session again: a second turn with the first as its history.
    const again = (await other.callTool({ name: "ask_agent", arguments: { agentId, content: "And then?", sessionId: structured.sessionId } })) as CallToolResult;
    expect((again.structuredContent as { sessionId: string }).sessionId).toBe(structured.sessionId);
    expect(agent.requests.at(-1)!.history.length).toBeGreaterThanOrEqual(2);
  });

  it("a client that goes away mid-turn does not stop it: the answer is whole when read on the other node", async () => {
    const client = await mcp(cluster.a.url, aliceToken);
    const progress: Progress[] = [];
    const call = client.callTool({ name: "ask_agent", arguments: { agentId, content: "Cut me off" } }, undefined, { onprogress: (p) => progress.push(p) });
    call.catch(() => {});
    await until(() => progress.length >= 1, "the first progress notification", 10_000);
    const turnId = agent.requests.at(-1)!.turnId;
    const sessionId = agent.requests.at(-1)!.sessionId;
    await client.close();
    const other = await mcp(cluster.b.url, aliceToken);
    const read = await pollUntil(
      async () => ((await other.callTool({ name: "read_session", arguments: { sessionId } })) as CallToolResult).structuredContent as { messages: Array<{ role: string; content: unknown }> },
      (r) => r.messages.some((m) => m.role === "assistant"),
      `the answer of ${turnId} stored`,
    );
    expect(read.messages.at(-1)).toMatchObject({ role: "assistant", content: ANSWER });
  });

  it("a client that cancels the call cancels the turn; what arrived before the cancel is kept", async () => {
    const client = await mcp(cluster.a.url, aliceToken);
    const progress: Progress[] = [];
    const abort = new AbortController();
    const call = client.callTool({ name: "ask_agent", arguments: { agentId, content: "Answer slowly" } }, undefined, { onprogress: (p) => progress.push(p), signal: abort.signal });
    await until(() => progress.length >= 1, "the first progress notification", 10_000);
    const { turnId, sessionId } = agent.requests.at(-1)!;
    abort.abort("changed my mind");
    await expect(call).rejects.toThrow();
    await agent.until(() => agent.cancels.some((c) => c.turnId === turnId), "the agent told to stop", 10_000);
    const turn = await pollUntil(() => alice.get(`/api/agents/${agentId}/sessions/${sessionId}/turns/${turnId}`), (r) => r.body.status !== "running", "the turn ended");
    expect(turn.body.status).toBe("cancelled");
    const stored = (await alice.get(`/api/agents/${agentId}/sessions/${sessionId}/messages`)).body.messages.find((m: { id: string }) => m.id === turn.body.message_id);
    expect(stored).toMatchObject({ role: "assistant", finishReason: "cancelled" });
    expect(ANSWER.startsWith(stored.content) && stored.content.startsWith(progress[0]!.message!)).toBe(true);
  });

  it("publishes to a channel and reads it on the other node; resources list, read and update across nodes", async () => {
    const created = await alice.post("/team-channels", { name: uniq("incidents") });
    expect(created.status).toBe(201);
    const channelId = created.body.id as string;
    const a = await mcp(cluster.a.url, aliceToken);
    const b = await mcp(cluster.b.url, aliceToken);

    const published = (await a.callTool({ name: "publish_to_channel", arguments: { channelId, agentId, message: "Disk 91% on db-2" } })) as CallToolResult;
    expect(published.structuredContent).toMatchObject({ channelId, agentId, message: "Disk 91% on db-2", seq: 1 });
    const read = (await b.callTool({ name: "read_channel", arguments: { channelId } })) as CallToolResult;
    expect(read.isError, textOf(read)).toBeFalsy();
    expect((read.structuredContent as { messages: Array<{ message: string }> }).messages.map((m) => m.message)).toEqual(["Disk 91% on db-2"]);

    const uri = `agenthub://channels/${channelId}`;
    const { resources } = await a.listResources();
    expect(resources.map((r) => r.uri)).toContain(uri);
    expect(resources.some((r) => r.uri.startsWith("agenthub://sessions/ses_"))).toBe(true);
    const contents = (await a.readResource({ uri })).contents[0] as { text: string; mimeType: string };
    expect(contents.mimeType).toBe("application/json");
    expect(JSON.parse(contents.text).messages.map((m: { message: string }) => m.message)).toEqual(["Disk 91% on db-2"]);

    const updates: string[] = [];
    a.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    await a.subscribeResource({ uri });
    // Published through node B: the update reaches the session on node A. (Published again until
    // the update arrives: the client opens its notification stream on its own time after connect.)
    await pollUntil(
      async () => {
        if (!updates.length) await api(cluster.b.url, aliceToken).post(`/team-channels/${channelId}/messages`, { agentId, message: "Disk 95% on db-2" });
        return updates.length;
      },
      (n) => n > 0,
      "a resource update",
      10_000,
      300,
    );
    expect(updates[0]).toBe(uri);

    await a.unsubscribeResource({ uri });
    // A hub resource the caller may not read is not found, as on REST.
    await expect(a.subscribeResource({ uri: "agenthub://sessions/ses_doesnotexist" })).rejects.toThrow(/not found/i);
  });

  it("asks a group: one entry per agent in structuredContent, the answers streamed as progress", async () => {
    const group = await alice.post("/api/groups", { name: uniq("oncall"), agentIds: [agentId, second.id] });
    expect(group.status, group.text).toBe(201);
    const client = await mcp(cluster.b.url, aliceToken);
    const progress: Progress[] = [];
    const result = (await client.callTool({ name: "ask_group", arguments: { groupId: group.body.id, content: "What now?", strategy: "all" } }, undefined, {
      onprogress: (p) => progress.push(p),
      timeout: 15_000,
    })) as CallToolResult;
    expect(result.isError, textOf(result)).toBeFalsy();
    const structured = result.structuredContent as { sessionId: string; askId: string; answers: Array<{ agentId: string; turnId: string; answer: string; status: string }> };
    expect(structured.sessionId).toMatch(/^ses_/);
    expect(structured.answers.map((x) => [x.agentId, x.status, x.answer]).sort()).toEqual(
      [
        [agentId, "completed", ANSWER],
        [second.id, "completed", SECOND_ANSWER],
      ].sort(),
    );
    expect(textOf(result)).toContain(`${second.id}: ${SECOND_ANSWER}`);
    // Several agents: each notification names its agent; each agent's text arrives whole and in order.
    for (const [id, text] of [[agentId, ANSWER], [second.id, SECOND_ANSWER]]) {
      const mine = progress.map((p) => p.message ?? "").filter((m) => m.startsWith(`${id}: `));
      expect(mine.map((m) => m.slice(id!.length + 2)).join("")).toBe(text);
    }
  });

  it("searches the workspace's knowledge", async () => {
    const master = api(cluster.a.url, cluster.ws.masterKey);
    expect((await master.post("/api/knowledge", { title: "Disk runbook", content: "When the disk fills on db-2, rotate the logs and page the DBA." })).status).toBe(201);
    const client = await mcp(cluster.b.url, aliceToken);
    const found = (await client.callTool({ name: "search_knowledge", arguments: { query: "disk rotate" } })) as CallToolResult;
    expect(found.isError, textOf(found)).toBeFalsy();
    expect((found.structuredContent as { matches: Array<{ metadata: { title: string } }> }).matches[0]!.metadata.title).toBe("Disk runbook");
  });

  it("applies the key's scopes as REST does: a key without sessions:write cannot ask", async () => {
    const reader = await mcp(cluster.b.url, await makeKey(alice, agentId, ["sessions:read"]));
    const result = (await reader.callTool({ name: "ask_agent", arguments: { agentId, content: "May I?" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^403 Forbidden/);
    const listed = (await reader.callTool({ name: "list_sessions", arguments: { agentId } })) as CallToolResult;
    expect(listed.isError).toBeFalsy();
  });

  it("answers 401 with WWW-Authenticate: Bearer without a credential, and 403 to a foreign Origin", async () => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } };
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const none = await fetch(`${cluster.a.url}/mcp`, { method: "POST", headers, body: JSON.stringify(init) });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(none.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const foreign = await fetch(`${cluster.a.url}/mcp`, { method: "POST", headers: { ...headers, authorization: `Bearer ${aliceToken}`, origin: "http://evil.example.com" }, body: JSON.stringify(init) });
    expect(foreign.status).toBe(403);
  });
});
