/** Calls to HTTP agent servers (src/endpoints/http-agent.ts) against a scripted test server. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readAgentEvent } from "../../src/domain/turns/events.js";
import type { Resolver } from "../../src/endpoints/address-guard.js";
import { AgentCallError, DEFAULT_HTTP_AGENT_OPTIONS, isAbortError, streamHttpAgent, type HttpAgentOptions, type HttpAgentRequest } from "../../src/endpoints/http-agent.js";
import { WebhookReplayGuard, newEndpointSecret, verifyWebhook } from "../../src/endpoints/signature.js";
import { answer, startAgentServer, type AgentServer } from "../support/agent-server.js";
import { until } from "../support/waiters.js";

const secret = newEndpointSecret();
let agent: AgentServer;

beforeAll(async () => {
  agent = await startAgentServer();
});
afterAll(() => agent.close());
beforeEach(() => {
  agent.requests.length = 0;
});

const options = (over: Partial<Omit<HttpAgentOptions, "timeouts">> & { timeouts?: Partial<HttpAgentOptions["timeouts"]> } = {}): HttpAgentOptions => ({
  allowPrivate: true,
  allowHttp: true,
  quotePrivateAnswers: true,
  retries: 0,
  maxEventBytes: 64 * 1024,
  backoffMs: 10,
  ...over,
  timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000, totalMs: 5000, ...over.timeouts },
});

const call = (over: Partial<HttpAgentRequest> = {}): HttpAgentRequest => ({
  url: agent.url,
  sessionId: "s_1",
  messageId: "m_1",
  message: "hello",
  token: "user-token",
  secret,
  ...over,
});

/** Every event until the end, and the error that ended it, if any. */
async function run(request: HttpAgentRequest, opts: HttpAgentOptions, onEvent?: (e: unknown) => unknown) {
  const events: Array<Record<string, unknown>> = [];
  try {
    for await (const e of streamHttpAgent(request, opts)) {
      events.push(e);
      await onEvent?.(e);
    }
    return { events, error: undefined };
  } catch (error) {
    return { events, error: error as Error };
  }
}

const types = (events: Array<Record<string, unknown>>) => events.map((e) => e.type);
const reasonOf = (error: Error | undefined) => (error instanceof AgentCallError ? error.reason : String(error));

describe("streamHttpAgent", () => {
  it("sends the SDK's request, signed, and yields the events in order with done last", async () => {
    agent.script(
      answer(
        [
          { type: "message_start", role: "assistant", model: "m" },
          { type: "content_delta", delta: "Hel" },
          { type: "content_delta", delta: "lo ✓" },
          { type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } },
        ],
        5,
      ),
    );
    const { events, error } = await run(call({ languageId: "en", topK: 3 }), options());
    expect(error).toBeUndefined();
    expect(types(events)).toEqual(["message_start", "content_delta", "content_delta", "message_end", "done"]);
    expect(events[2]).toEqual({ type: "content_delta", delta: "lo ✓", threadId: "s_1", messageId: "m_1" });
    for (const { threadId, messageId, ...event } of events) expect(readAgentEvent(event)).toHaveProperty("event");

    const [req] = agent.requests;
    expect(req).toMatchObject({ method: "POST", url: "/agent/threads/s_1/chat" });
    // threadId and url put the target under the signature (the SDK ignores both).
    expect(JSON.parse(req!.body)).toEqual({ message: "hello", languageId: "en", topK: 3, threadId: "s_1", url: `${agent.url}/agent/threads/s_1/chat` });
    expect(req!.headers).toMatchObject({
      authorization: "Bearer user-token",
      "x-sharely-message-id": "m_1",
      "content-type": "application/json",
      accept: "text/event-stream",
      "webhook-id": "m_1",
    });
    expect(verifyWebhook(secret, req!.headers, req!.body)).toEqual({ ok: true });
    expect(verifyWebhook(secret, req!.headers, req!.body, { url: `${agent.url}/agent/threads/s_1/chat`, threadId: "s_1" })).toEqual({ ok: true });
    expect(verifyWebhook(secret, req!.headers, req!.body, { url: `${agent.url}/agent/threads/s_2/chat`, threadId: "s_2" })).toMatchObject({ ok: false });
    expect(req!.cutShort).toBe(false);
  });

  it("appends the route to the server URL's path and escapes the session id", async () => {
    agent.script(answer([]));
    const { error } = await run(call({ url: `${agent.url}/base/`, sessionId: "s 1/x" }), options());
    expect(error).toBeUndefined();
    expect(agent.requests[0]!.url).toBe("/base/agent/threads/s%201%2Fx/chat");
  });

  it("retries before the first byte (503, then a stream), with the same webhook-id and a fresh signature", async () => {
    agent.script((_req, n) => (n === 0 ? { status: 503, body: "restarting" } : answer([{ type: "content_delta", delta: "ok" }])));
    const { events, error } = await run(call(), options({ retries: 2 }));
    expect(error).toBeUndefined();
    expect(types(events)).toEqual(["content_delta", "done"]);
    expect(agent.requests).toHaveLength(2);
    expect(agent.requests.map((r) => r.headers["webhook-id"])).toEqual(["m_1", "m_1"]);
    // Each attempt a later timestamp: a replay guard takes the retry for a new request, not a replay.
    const [first, second] = agent.requests.map((r) => Number(r.headers["webhook-timestamp"]));
    expect(second).toBeGreaterThan(first!);
    const guard = new WebhookReplayGuard();
    for (const r of agent.requests) expect(verifyWebhook(secret, r.headers, r.body, { replayGuard: guard, nowSeconds: second })).toEqual({ ok: true });
    expect(verifyWebhook(secret, agent.requests[1]!.headers, agent.requests[1]!.body, { replayGuard: guard, nowSeconds: second })).toEqual({ ok: false, reason: "a replayed webhook" });
  });

  it("retries 429 and connection drops before any answer, and gives up after the retries", async () => {
    agent.script((_req, n) => (n === 0 ? { status: 429, headers: { "retry-after": "0" } } : { hangUp: true }));
    const { error } = await run(call(), options({ retries: 2 }));
    expect(reasonOf(error)).toBe("the agent server closed the connection without answering");
    expect(error).toMatchObject({ beforeFirstByte: true, retryable: true });
    expect(agent.requests).toHaveLength(3);
  });

  it("does not retry once bytes of the stream arrived", async () => {
    agent.script({ steps: [{ event: "content_delta", data: { delta: "a" } }, { close: true, delayMs: 20 }] });
    const { events, error } = await run(call(), options({ retries: 3 }));
    expect(types(events)).toEqual(["content_delta"]);
    expect(reasonOf(error)).toMatch(/^the agent server's stream broke/);
    expect(error).toMatchObject({ beforeFirstByte: false });
    expect(agent.requests).toHaveLength(1);
  });

  it("does not retry a 4xx, and says the status with an excerpt of the body", async () => {
    agent.script({ status: 401, body: JSON.stringify({ error: "Authentication Error", message: "Token rejected by platform", status: 401 }) });
    const { error } = await run(call(), options({ retries: 2 }));
    expect(reasonOf(error)).toBe('the agent server answered 401: {"error":"Authentication Error","message":"Token rejected by platform","status":401}');
    expect(error).toMatchObject({ status: 401, beforeFirstByte: true, retryable: false });
    expect(agent.requests).toHaveLength(1);
  });

  it("names a 500 with a bounded excerpt of its body", async () => {
    agent.script({ status: 500, body: `boom\n  ${"x".repeat(100_000)}` });
    const { error } = await run(call(), options());
    const reason = reasonOf(error);
    expect(reason).toMatch(/^the agent server answered 500: boom x+…$/);
    expect(reason.length).toBeLessThan(400);
  });

  it("fails on a redirect without following it", async () => {
    agent.script({ status: 302, headers: { location: "http://169.254.169.254/latest/meta-data/" } });
    const { error } = await run(call(), options({ retries: 2 }));
    expect(reasonOf(error)).toBe(
      "the agent server answered 302, a redirect to http://169.254.169.254/latest/meta-data/ (redirects are not followed)",
    );
    expect(agent.requests).toHaveLength(1);
  });

  it("quotes no body and no redirect target of a server at a private address, unless told to", async () => {
    const quiet = options({ retries: 0, quotePrivateAnswers: false });
    agent.script({ status: 401, body: JSON.stringify({ internal: "http://10.0.0.7/secret" }) });
    expect(reasonOf((await run(call(), quiet)).error)).toBe("the agent server answered 401 (not quoted: the server is at a private address)");
    agent.script({ status: 200, headers: { "content-type": "application/json" }, body: '{"internal":"data"}' });
    expect(reasonOf((await run(call(), quiet)).error)).toBe(
      "the agent server answered 200 with content-type application/json, not an event stream (not quoted: the server is at a private address)",
    );
    agent.script({ status: 302, headers: { location: "http://10.0.0.7/admin" } });
    expect(reasonOf((await run(call(), quiet)).error)).toBe("the agent server answered 302, a redirect (redirects are not followed)");
    expect(DEFAULT_HTTP_AGENT_OPTIONS.quotePrivateAnswers).toBe(false);
  });

  it("refuses an http: URL at call time unless allowHttp", async () => {
    const { error } = await run(call(), options({ allowHttp: false }));
    expect(reasonOf(error)).toBe("an http: URL (agent servers must use https:; set AGENT_SERVER_ALLOW_HTTP=true to allow http:)");
    expect(agent.requests).toHaveLength(0);
    expect(DEFAULT_HTTP_AGENT_OPTIONS.allowHttp).toBe(false);
  });

  it("fails on a 2xx that is not an event stream", async () => {
    agent.script({ status: 200, headers: { "content-type": "application/json" }, body: "{}" });
    const { error } = await run(call(), options());
    expect(reasonOf(error)).toBe("the agent server answered 200 with content-type application/json, not an event stream: {}");
  });

  it("says when the connection is refused", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const { error } = await run(call({ url: `http://127.0.0.1:${port}` }), options({ retries: 1 }));
    expect(reasonOf(error)).toBe("the agent server refused the connection");
    expect(error).toMatchObject({ beforeFirstByte: true, retryable: true });
  });

  it("times out a slow first byte, retrying it", async () => {
    agent.script({ firstByteDelayMs: 400, ...answer([]) });
    const { error } = await run(call(), options({ retries: 1, timeouts: { firstByteMs: 150 } }));
    expect(reasonOf(error)).toBe("no first byte within 150 ms");
    expect(error).toMatchObject({ beforeFirstByte: true });
    expect(agent.requests).toHaveLength(2);
  });

  it("times out a stream that stalls after some events, without retrying", async () => {
    agent.script({ steps: [{ event: "content_delta", data: { delta: "a" } }, { event: "content_delta", data: { delta: "b" } }, { stall: true }] });
    const { events, error } = await run(call(), options({ retries: 2, timeouts: { idleMs: 200 } }));
    expect(types(events)).toEqual(["content_delta", "content_delta"]);
    expect(reasonOf(error)).toBe("no event for 200 ms");
    expect(error).toMatchObject({ beforeFirstByte: false });
    expect(agent.requests).toHaveLength(1);
    await until(() => agent.requests[0]!.cutShort, "the server to see the connection close");
  });

  it("counts SSE comments as life, and a slow consumer's time as no silence", async () => {
    const ping = { raw: ": ping\n\n", delayMs: 100 };
    agent.script({ steps: [ping, ping, ping, ping, { event: "content_delta", data: { delta: "a" } }, { event: "content_delta", data: { delta: "b" }, delayMs: 20 }, { event: "done", delayMs: 20 }] });
    // The consumer's own time is what is under test: longer than idleMs, on purpose.
    const slow = () => new Promise((r) => setTimeout(r, 300));
    const { events, error } = await run(call(), options({ timeouts: { idleMs: 250 } }), slow);
    expect(error).toBeUndefined();
    expect(types(events)).toEqual(["content_delta", "content_delta", "done"]);
  });

  it("bounds the whole call in time", async () => {
    const tick = { event: "content_delta", data: { delta: "." }, delayMs: 50 };
    agent.script({ steps: Array(40).fill(tick) });
    const { events, error } = await run(call(), options({ timeouts: { totalMs: 400 } }));
    expect(events.length).toBeGreaterThan(2);
    expect(reasonOf(error)).toBe("no complete answer within 400 ms");
  });

  it("aborts mid-stream: nothing more is yielded, even what was buffered, the connection closes, AbortError", async () => {
    const delta = { event: "content_delta", data: { delta: "a" } };
    agent.script({ steps: [delta, delta, delta, { stall: true }] });
    const controller = new AbortController();
    const { events, error } = await run(call({ signal: controller.signal }), options(), () => controller.abort("cancelled"));
    expect(events).toHaveLength(1);
    expect(isAbortError(error)).toBe(true);
    expect(error!.cause).toBe("cancelled");
    await until(() => agent.requests[0]!.cutShort, "the server to see the connection close");
  });

  it("aborts while waiting for the first byte, and sends nothing when already aborted", async () => {
    agent.script({ firstByteDelayMs: 300, ...answer([]) });
    const controller = new AbortController();
    // Abort once the server holds the request, i.e. while the call waits for its first byte.
    void until(() => agent.requests.length === 1, "the request at the server").then(() => controller.abort());
    const started = Date.now();
    const first = await run(call({ signal: controller.signal }), options({ retries: 2 }));
    expect(isAbortError(first.error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(250);
    agent.requests.length = 0;
    const second = await run(call({ signal: AbortSignal.abort() }), options());
    expect(isAbortError(second.error)).toBe(true);
    // A later call's request reaches the server; the aborted one's, had it been sent, would have first.
    agent.script(answer([]));
    expect((await run(call({ messageId: "m_later" }), options())).error).toBeUndefined();
    expect(agent.requests.map((r) => r.headers["x-sharely-message-id"])).toEqual(["m_later"]);
  });

  it("stops reading and hangs up when the consumer stops early", async () => {
    agent.script({ steps: [{ event: "content_delta", data: { delta: "a" } }, { stall: true }] });
    for await (const e of streamHttpAgent(call(), options())) {
      expect(e.type).toBe("content_delta");
      break;
    }
    await until(() => agent.requests[0]!.cutShort, "the server to see the hang-up");
  });

  it("fails on an oversized event, complete or still buffering", async () => {
    const big = "x".repeat(2000);
    agent.script({ steps: [{ event: "content_delta", data: { delta: "a" } }, { event: "content_delta", data: { delta: big } }, { event: "done" }] });
    const complete = await run(call(), options({ maxEventBytes: 1024 }));
    expect(types(complete.events)).toEqual(["content_delta"]);
    expect(reasonOf(complete.error)).toBe("an event larger than 1024 bytes");
    expect(complete.error).toMatchObject({ beforeFirstByte: false });

    agent.script({ steps: [{ raw: `event: content_delta\ndata: ${"y".repeat(10_000)}` }, { stall: true }] });
    const endless = await run(call(), options({ maxEventBytes: 1024 }));
    expect(reasonOf(endless.error)).toBe("an event larger than 1024 bytes");
  });

  it("bounds the whole stream in bytes", async () => {
    const chunk = { event: "content_delta", data: { delta: "z".repeat(500) } };
    agent.script({ steps: Array(30).fill(chunk) });
    const { events, error } = await run(call(), options({ maxStreamBytes: 8 * 1024 }));
    expect(events.length).toBeLessThan(20);
    expect(reasonOf(error)).toBe("a stream longer than 8192 bytes");
  });

  it("fails on malformed events and on a stream that ends before done", async () => {
    agent.script({ steps: [{ raw: "event: content_delta\ndata: {not json\n\n" }] });
    expect(reasonOf((await run(call(), options())).error)).toBe("a malformed content_delta event (its data is not JSON)");
    agent.script({ steps: [{ raw: "event: content_delta\ndata: [1]\n\n" }] });
    expect(reasonOf((await run(call(), options())).error)).toBe("a malformed content_delta event (its data is not a JSON object)");
    agent.script({ steps: [{ event: "content_delta", data: { delta: "a" } }] });
    const ended = await run(call(), options());
    expect(types(ended.events)).toEqual(["content_delta"]);
    expect(reasonOf(ended.error)).toBe("the agent server's stream ended before done");
  });

  it("parses SSE as framed by others too: CRLF, multi-line data, split chunks, ids and retry fields", async () => {
    agent.script({
      steps: [
        { raw: "retry: 1000\r\nid: 1\r\nevent: content_delta\r\ndata: {\"delta\":\r\ndata: \"é" },
        { raw: "\"}\r\n\r\n", delayMs: 20 },
        { raw: "data: {\"type\":\"content_end\"}\n\nevent: done\ndata: {}\n\n", delayMs: 20 },
      ],
    });
    const { events, error } = await run(call(), options());
    expect(error).toBeUndefined();
    expect(events).toEqual([{ type: "content_delta", delta: "é" }, { type: "content_end" }, { type: "done" }]);
  });

  it("refuses private addresses without allowPrivate, before connecting", async () => {
    const { error } = await run(call(), options({ allowPrivate: false, retries: 2 }));
    expect(reasonOf(error)).toBe("refused address 127.0.0.1 (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)");
    expect(agent.requests).toHaveLength(0);
  });

  it("connects to the address the guarded lookup checked (and refuses a name resolving to a private one)", async () => {
    const port = new URL(agent.url).port;
    const toLoopback: Resolver = async () => [{ address: "127.0.0.1", family: 4 }];
    agent.script(answer([]));
    const ok = await run(call({ url: `http://agent.test:${port}` }), options({ resolve: toLoopback }));
    expect(ok.error).toBeUndefined();
    expect(agent.requests[0]!.headers.host).toBe(`agent.test:${port}`);

    const rebound = await run(call({ url: `http://agent.test:${port}` }), options({ allowPrivate: false, retries: 2, resolve: toLoopback }));
    expect(reasonOf(rebound.error)).toBe("refused address 127.0.0.1 (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)");
    expect(rebound.error).toMatchObject({ retryable: false });
    expect(agent.requests).toHaveLength(1);

    const metadata: Resolver = async () => [{ address: "169.254.169.254", family: 4 }];
    expect(reasonOf((await run(call({ url: `http://agent.test:${port}` }), options({ resolve: metadata }))).error)).toBe(
      "refused address 169.254.169.254 (cloud metadata)",
    );
  });

  it("times out connecting (name resolution included)", async () => {
    const never: Resolver = () => new Promise(() => {});
    const { error } = await run(call({ url: "http://agent.test" }), options({ resolve: never, timeouts: { connectMs: 100 } }));
    expect(reasonOf(error)).toBe("could not connect within 100 ms");
  });
});
