/**
 * Resumable ask_agent streams across nodes, through `@modelcontextprotocol/sdk`'s own Client: a
 * call on node A tracks its resumption token (`onresumptiontoken`), its connection is cut
 * mid-turn, and a client on node B resumes it with `client.request(..., {resumptionToken})` (the
 * SDK sends a GET with Last-Event-ID and maps the result to the new request): every progress
 * message once and in order, joined they are the answer, and the result arrives. Another
 * credential's resume answers 404.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, ProgressNotificationSchema, type CallToolResult, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { scriptedAnswer, startSocketAgent, type SocketAgent } from "../support/socket-agent.js";
import { pollUntil, until } from "../support/waiters.js";

const cluster = useCluster();
const ANSWER = "The nightly batch job filled the disk on db-2 at noon, so the replica fell behind.";
const clients: Client[] = [];
let alice: Api;
let aliceToken: string;
let agentId: string;
let agent: SocketAgent;

async function mcp(url: string, credential: string): Promise<Client> {
  const client = new Client({ name: "hub-mcp-resume-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${credential}` } },
    // The test resumes by hand, on the other node: no automatic reconnection to the first one.
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 60_000, maxReconnectionDelay: 60_000, reconnectionDelayGrowFactor: 1 },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

/** A call of ask_agent on `client` that tracks its last resumption token and its progress. */
function ask(client: Client, content: string) {
  const seen = { token: undefined as string | undefined, progress: [] as Progress[] };
  const result = client.request({ method: "tools/call", params: { name: "ask_agent", arguments: { agentId, content } } }, CallToolResultSchema, {
    onprogress: (p) => seen.progress.push(p),
    onresumptiontoken: (t) => (seen.token = t),
    timeout: 30_000,
  });
  result.catch(() => {});
  return { seen, result };
}

/** Resumes a call on `client` (another node) from `token`; its progress notifications carry the first call's token. */
async function resume(client: Client, token: string) {
  const progress: Progress[] = [];
  client.setNotificationHandler(ProgressNotificationSchema, (n) => void progress.push(n.params));
  const result = (await client.request({ method: "tools/call", params: { name: "ask_agent", arguments: { agentId, content: "(resumed)" } } }, CallToolResultSchema, {
    resumptionToken: token,
    timeout: 30_000,
  })) as CallToolResult;
  return { progress, result };
}

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");

beforeAll(async () => {
  aliceToken = await cluster.ws.token("alice");
  alice = api(cluster.a.url, aliceToken);
  agentId = await makeAgent(alice, uniq("logs"), "Logs agent");
  agent = startSocketAgent(cluster.b.url, await makeKey(alice, agentId, ["turns:serve"]), { kind: "events", events: scriptedAnswer(ANSWER, { wordsPerChunk: 2, delayMs: 150 }) });
  await agent.served;
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await agent?.close();
});

describe("resumable MCP asks", () => {
  it("a call cut mid-turn on node A resumes on node B: every progress message once and in order, then the result", async () => {
    const first = ask(await mcp(cluster.a.url, aliceToken), "Cut me off mid-answer");
    await until(() => first.seen.progress.length >= 2 && first.seen.token !== undefined, "two progress notifications", 10_000);
    await clients.at(-1)!.close(); // the connection is cut; the turn runs on
    const before = [...first.seen.progress];
    const token = first.seen.token!;
    expect(before.length).toBeLessThan(ANSWER.split(" ").length / 2);

    const { progress, result } = await resume(await mcp(cluster.b.url, aliceToken), token);
    const all = [...before, ...progress];
    expect(all.map((p) => p.progress)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((p) => p.message).join("")).toBe(ANSWER);
    expect(progress.length).toBeGreaterThan(0);
    expect(textOf(result)).toBe(ANSWER);
    expect(result.structuredContent).toMatchObject({ turnId: agent.requests.at(-1)!.turnId, sessionId: agent.requests.at(-1)!.sessionId, answer: ANSWER });
  });

  it("a call resumed after its turn ended gets the rest from the turn log and the result", async () => {
    const first = ask(await mcp(cluster.b.url, aliceToken), "Cut me off, read later");
    await until(() => first.seen.progress.length >= 1 && first.seen.token !== undefined, "the first progress notification", 10_000);
    await clients.at(-1)!.close();
    const before = [...first.seen.progress];
    const sessionId = agent.requests.at(-1)!.sessionId;
    await pollUntil(() => alice.get(`/api/agents/${agentId}/sessions/${sessionId}/messages`), (r) => r.body.messages.some((m: { role: string }) => m.role === "assistant"), "the answer stored");

    const { progress, result } = await resume(await mcp(cluster.a.url, aliceToken), first.seen.token!);
    const all = [...before, ...progress];
    expect(all.map((p) => p.progress)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((p) => p.message).join("")).toBe(ANSWER);
    expect(textOf(result)).toBe(ANSWER);
  });

  it("another credential's resume answers 404, as a session that is not found", async () => {
    const first = ask(await mcp(cluster.a.url, aliceToken), "Cut me off for bob");
    await until(() => first.seen.token !== undefined && first.seen.progress.length >= 1, "the first progress notification", 10_000);
    await clients.at(-1)!.close();
    const bob = await cluster.ws.token("bob");
    const res = await fetch(`${cluster.b.url}/mcp`, { headers: { Authorization: `Bearer ${bob}`, Accept: "text/event-stream", "Last-Event-ID": first.seen.token! } });
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });
});
