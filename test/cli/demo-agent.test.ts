/**
 * The demo agent (`agenthub agent demo`) and the socket-mode agent client, against a tiny
 * Socket.IO server standing in for the hub's turn support: it checks `auth.token`, acks
 * `agent:serve`, sends `turn:request`s, collects `agent:event`s and answers `GET /api/me`
 * (and, when told to, the Backplane's semantic_search route) on the same HTTP server.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { serveTurns, type AgentClientLogEntry } from "../../src/agent-client/index.js";
import { demoHandler } from "../../src/cli/demo-agent.js";
import { readAgentEvent, type AgentEvent } from "../../src/domain/turns/events.js";
import type { TurnRequest } from "../../src/realtime/protocol.js";
import { scriptedAnswer, startSocketAgent } from "../support/socket-agent.js";
import { until, waiters } from "../support/waiters.js";

const KEY = "g_agent_demo-test-key";
const QUESTION = "How do I rotate the master key of my workspace?";

interface FakeHub {
  url: string;
  /** Sockets that served, in order. */
  serving: Socket[];
  /** `agent:event` payloads received, in order. */
  received: Array<{ turnId: string; event: unknown }>;
  /** What the tools route answers; undefined: 404, as a hub without the route. */
  tools?: (body: unknown) => { status: number; body: unknown };
  toolCalls: unknown[];
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  request(socket: Socket, content: unknown, turnId?: string): TurnRequest;
  eventsOf(turnId: string): unknown[];
  close(): Promise<void>;
}

async function startFakeHub(): Promise<FakeHub> {
  const waiting = waiters();
  const wake = () => waiting.wake();
  const hub: FakeHub = {
    url: "",
    serving: [],
    received: [],
    toolCalls: [],
    until(predicate, what, timeoutMs = 10_000) {
      return waiting.until(predicate, what, timeoutMs, () => `received ${JSON.stringify(hub.received.slice(-3))}`);
    },
    request(socket, content, turnId = `turn_${Math.random().toString(36).slice(2)}`) {
      const request: TurnRequest = {
        turnId,
        sessionId: "ses_demo",
        messageId: "00000000-0000-4000-8000-000000000001",
        message: { id: "00000000-0000-4000-8000-000000000000", role: "user", content },
        history: [],
      };
      socket.emit("turn:request", request);
      return request;
    },
    eventsOf: (turnId) => hub.received.filter((r) => r.turnId === turnId).map((r) => r.event),
    close: async () => {},
  };
  const http: HttpServer = createServer((req, res) => void route(hub, req, res));
  const io = new Server(http, { path: "/socket.io", transports: ["websocket"] });
  io.use((socket, next) => (socket.handshake.auth?.token === KEY ? next() : next(new Error("unauthorized"))));
  io.on("connection", (socket) => {
    socket.on("agent:serve", (...args: unknown[]) => {
      const ack = args[args.length - 1];
      hub.serving.push(socket);
      if (typeof ack === "function") ack({ ok: true });
      wake();
    });
    socket.on("agent:event", (payload: { turnId: string; event: unknown }) => {
      hub.received.push(payload);
      wake();
    });
    socket.on("disconnect", wake);
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  hub.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  hub.close = async () => {
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
  };
  return hub;
}

async function route(hub: FakeHub, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.url?.startsWith("/socket.io")) return; // Socket.IO's own
  if (req.headers.authorization !== `Bearer ${KEY}`) return json(401, { status: 401, title: "Unauthorized" });
  if (req.method === "GET" && req.url === "/api/me") {
    return json(200, { kind: "agent", workspace_id: "ws_demo", agent_id: "demo-agent", key_id: "key_1", scopes: ["turns:serve"] });
  }
  if (req.method === "POST" && req.url === "/v1/workspaces/ws_demo/agent/tools/semantic_search/execute" && hub.tools) {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as unknown;
    hub.toolCalls.push(body);
    const answer = hub.tools(body);
    return json(answer.status, answer.body);
  }
  return json(404, { status: 404, title: "Not Found" });
}

function validated(events: unknown[]): AgentEvent[] {
  return events.map((raw) => {
    const read = readAgentEvent(raw);
    if ("problem" in read) throw new Error(`${read.problem}: ${JSON.stringify(raw)}`);
    return read.event;
  });
}

let hub: FakeHub;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  hub = await startFakeHub();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await hub.close();
});

function startDemo(logs: AgentClientLogEntry[] = [], key = KEY) {
  const agent = serveTurns({
    url: hub.url,
    key,
    handler: demoHandler({ url: hub.url, key, pace: 0.2 }),
    log: (e) => logs.push(e),
    retryDelayMs: 50,
    retryDelayMaxMs: 200,
  });
  cleanups.push(() => agent.close());
  return agent;
}

describe("demo agent", () => {
  it("streams a whole turn: thinking, a semantic_search call (failing when the tools route is missing), sources, an answer echoing the question, done last", async () => {
    startDemo();
    await hub.until(() => hub.serving.length === 1, "agent:serve");
    const { turnId } = hub.request(hub.serving[0]!, QUESTION);
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "done"), "done");

    const events = validated(hub.eventsOf(turnId));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("message_start");
    expect(events[0]).toMatchObject({ role: "assistant", model: "agenthub-demo" });
    expect(types.slice(-3)).toEqual(["content_end", "message_end", "done"]);
    expect(types.filter((t) => t === "done")).toHaveLength(1);
    // thinking: start, deltas, end, in that order
    const ts = types.indexOf("thinking_start");
    const te = types.indexOf("thinking_end");
    expect(ts).toBeGreaterThan(0);
    expect(te).toBeGreaterThan(ts + 1);
    expect(types.slice(ts + 1, te).every((t) => t === "thinking_delta")).toBe(true);
    // the tool call, ended with an error naming the 404
    const start = events.find((e) => e.type === "tool_call_start");
    expect(start).toMatchObject({ name: "semantic_search", input: { query: QUESTION } });
    const end = events.find((e) => e.type === "tool_call_end");
    expect(end).toMatchObject({ toolCallId: (start as { toolCallId: string }).toolCallId });
    expect((end as { error?: string }).error).toMatch(/404/);
    // sources, then the answer
    const sources = events.find((e) => e.type === "sources") as { sources: unknown[] };
    expect(sources.sources.length).toBeGreaterThan(0);
    expect(types.indexOf("sources")).toBeLessThan(types.indexOf("content_delta"));
    const deltas = events.filter((e) => e.type === "content_delta");
    expect(deltas.length).toBeGreaterThan(5);
    const content = deltas.map((e) => (e as { delta: string }).delta).join("");
    expect(content).toContain(`You asked: "${QUESTION}"`);
    const messageEnd = events.find((e) => e.type === "message_end") as Extract<AgentEvent, { type: "message_end" }>;
    expect(messageEnd.finishReason).toBe("stop");
    expect(messageEnd.tokenUsage).toEqual({
      inputTokens: QUESTION.split(/\s+/).length,
      outputTokens: content.split(/\s+/).filter(Boolean).length,
      totalTokens: QUESTION.split(/\s+/).length + content.split(/\s+/).filter(Boolean).length,
    });
  });

  it("uses the tools route's output and sources when there is one", async () => {
    hub.tools = () => ({
      status: 200,
      body: {
        output: [{ id: "kn_1#0", score: 0.9, metadata: { text: "Rotate with agenthub workspace rotate-key.", title: "Key rotation", knowledgeId: "kn_1" }, values: [] }],
      },
    });
    startDemo();
    await hub.until(() => hub.serving.length === 1, "agent:serve");
    const { turnId } = hub.request(hub.serving[0]!, QUESTION);
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "done"), "done");
    const events = validated(hub.eventsOf(turnId));
    expect(hub.toolCalls).toEqual([{ input: { text: QUESTION, topK: 3 } }]);
    const end = events.find((e) => e.type === "tool_call_end") as Extract<AgentEvent, { type: "tool_call_end" }>;
    expect(end.error).toBeUndefined();
    expect(end.output).toHaveLength(1);
    expect(events.find((e) => e.type === "sources")).toMatchObject({
      sources: [{ id: "kn_1#0", type: "knowledge", title: "Key rotation", snippet: "Rotate with agenthub workspace rotate-key." }],
    });
    const content = events.flatMap((e) => (e.type === "content_delta" ? [e.delta] : [])).join("");
    expect(content).toContain('"Key rotation"');
  });

  it("on turn:cancel mid-answer stops and ends with message_end cancelled, then done", async () => {
    startDemo();
    await hub.until(() => hub.serving.length === 1, "agent:serve");
    const { turnId } = hub.request(hub.serving[0]!, QUESTION);
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "content_delta"), "the answer to start");
    hub.serving[0]!.emit("turn:cancel", { turnId });
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "done"), "done");
    // Nothing may follow done: a whole later answer, paced like this one, comes after it on the same socket.
    const later = hub.request(hub.serving[0]!, "And after that?");
    await hub.until(() => hub.eventsOf(later.turnId).some((e) => (e as { type?: string }).type === "done"), "a later turn's done");
    const types = validated(hub.eventsOf(turnId)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(["message_end", "done"]);
    expect(validated(hub.eventsOf(turnId)).at(-2)).toMatchObject({ finishReason: "cancelled" });
    expect(types.filter((t) => t === "message_end")).toHaveLength(1);
    expect(types).not.toContain("content_end");
  });

  it("close() mid-turn ends the turn with an error, then done, before disconnecting", async () => {
    const agent = startDemo();
    await hub.until(() => hub.serving.length === 1, "agent:serve");
    const { turnId } = hub.request(hub.serving[0]!, QUESTION);
    await hub.until(() => hub.eventsOf(turnId).length >= 2, "the turn to start");
    await agent.close();
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "done"), "done");
    expect(validated(hub.eventsOf(turnId)).slice(-2)).toEqual([{ type: "error", error: "the agent is shutting down" }, { type: "done" }]);
  });

  it("serves again after the hub drops the socket, and keeps retrying a refused key", async () => {
    const logs: AgentClientLogEntry[] = [];
    startDemo(logs);
    await hub.until(() => hub.serving.length === 1, "agent:serve");
    hub.serving[0]!.disconnect(true);
    await hub.until(() => hub.serving.length === 2, "agent:serve after the reconnect");
    const { turnId } = hub.request(hub.serving[1]!, "again?");
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "done"), "done");

    const refused: AgentClientLogEntry[] = [];
    startDemo(refused, "g_agent_wrong");
    await until(() => refused.filter((e) => e.event === "connect_error").length >= 2, "two refused connects", 5000);
    const errors = refused.filter((e) => e.event === "connect_error");
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]!.message).toContain("unauthorized");
    expect(errors[0]!.retryInMs).toBeGreaterThan(0);
  });
});

describe("agenthub agent demo (the CLI)", () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "agent", "demo", ...args], {
      env: { ...process.env, AGENTHUB_URL: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = once(child, "exit").then(([code]) => code as number | null);
    return { child, exited, stderr: () => stderr };
  };

  it("exits 2 with the usage text when --key is missing or wrong", async () => {
    const [noKey, master, badUrl] = [run([]), run(["--key", "g_master_x"]), run(["--key", KEY, "--url", "ftp://example.com"])];
    expect(await noKey.exited).toBe(2);
    expect(noKey.stderr()).toContain("--key is required");
    expect(noKey.stderr()).toContain("Usage:");
    expect(noKey.stderr()).toContain("agenthub agent demo --key");

    expect(await master.exited).toBe(2);
    expect(master.stderr()).toContain("--key must be an agent key");

    expect(await badUrl.exited).toBe(2);
    expect(badUrl.stderr()).toContain("--url must be http(s)");
  });

  it("serves the key's agent, answers a turn with one line about it, and stops cleanly on SIGTERM", async () => {
    const cli = run(["--key", KEY], { AGENTHUB_URL: hub.url });
    cleanups.push(async () => {
      if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
    });
    await hub.until(() => hub.serving.length === 1, "agent:serve from the CLI", 15_000);
    expect(cli.stderr()).toContain("serving agent demo-agent (workspace ws_demo)");
    const { turnId } = hub.request(hub.serving[0]!, QUESTION);
    await hub.until(() => hub.eventsOf(turnId).some((e) => (e as { type?: string }).type === "done"), "done", 10_000);
    validated(hub.eventsOf(turnId));
    await until(() => cli.stderr().includes(`"turn":"${turnId}"`), "the CLI's line about the turn", 2000);
    const turnLine = cli.stderr().split("\n").find((l) => l.includes(`"turn":"${turnId}"`));
    expect(JSON.parse(turnLine!)).toMatchObject({ turn: turnId, session: "ses_demo", outcome: "stop" });
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
  });
});

describe("test support: scriptable socket agent", () => {
  it("answers per its script, records requests and cancels, disconnects and sends malformed events on demand", async () => {
    const agent = startSocketAgent(hub.url, KEY, (_req, i) =>
      i === 0
        ? { kind: "events", events: scriptedAnswer("one two three four", { wordsPerChunk: 2, delayMs: 5 }) }
        : i === 1
          ? { kind: "malformed", after: 1 }
          : i === 2
            ? { kind: "events", events: [{ type: "message_start" }, { event: { type: "content_delta", delta: "x" }, delayMs: 5000 }] }
            : { kind: "disconnect", after: 1, reconnect: true },
    );
    cleanups.push(() => agent.close());
    await agent.served;
    const socket = hub.serving[0]!;

    const t0 = hub.request(socket, "first").turnId;
    await hub.until(() => hub.eventsOf(t0).length === 6, "the scripted answer");
    expect(validated(hub.eventsOf(t0)).map((e) => e.type)).toEqual(["message_start", "content_delta", "content_delta", "content_end", "message_end", "done"]);

    const t1 = hub.request(socket, "second").turnId;
    await hub.until(() => hub.eventsOf(t1).length >= 2, "the malformed event");
    expect(readAgentEvent(hub.eventsOf(t1)[1])).toHaveProperty("problem");

    const t2 = hub.request(socket, "third").turnId;
    await hub.until(() => hub.eventsOf(t2).length === 1, "message_start");
    socket.emit("turn:cancel", { turnId: t2 });
    await hub.until(() => hub.eventsOf(t2).length === 3, "the cancelled end");
    expect(hub.eventsOf(t2).slice(1)).toEqual([{ type: "message_end", finishReason: "cancelled" }, { type: "done" }]);
    expect(agent.cancels).toEqual([{ turnId: t2 }]);

    const t3 = hub.request(socket, "fourth").turnId;
    await hub.until(() => hub.serving.length === 2, "serving again after the scripted disconnect");
    expect(hub.eventsOf(t3)).toHaveLength(1);
    expect(agent.requests.map((r) => r.message.content)).toEqual(["first", "second", "third", "fourth"]);
    await agent.until(() => agent.serveAcks.length === 2, "the second serve ack");
    expect(agent.serveAcks).toEqual([{ ok: true }, { ok: true }]);
  });
});
