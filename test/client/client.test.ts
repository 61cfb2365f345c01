/**
 * The typed client (agenthub/client) against two hub processes: REST calls and their problems,
 * resume across a cut connection and a killed hub (nothing lost, nothing twice, in order, on
 * the other node), and turn rendering through a disconnect matching the stored answer.
 */
import { describe, expect, it } from "vitest";
import { AgentHubClient, AgentHubError, connectRealtime, type ChannelMessage, type LiveTurn, type Message, type RealtimeClient } from "../../src/client/index.js";
import { uniq } from "../support/factories.js";
import { useCluster } from "../support/cluster.js";
import { startSocketAgent, type ScriptStep } from "../support/socket-agent.js";
import { until as waitUntil } from "../support/waiters.js";

const cluster = useCluster();

const until = (predicate: () => boolean, what: string, timeoutMs = 15_000) => waitUntil(predicate, what, timeoutMs, 20);

/** Cuts the client's connection as a network failure would (its TCP socket destroyed). */
function cut(rt: RealtimeClient): void {
  const engine = (rt.socket as unknown as { io: { engine: { transport?: { ws?: { _socket?: { destroy(): void } } }; close(): void } } }).io.engine;
  const tcp = engine.transport?.ws?._socket;
  if (tcp) tcp.destroy();
  else engine.close();
}

/** The seqs of one session's messages as the client delivers them, in delivery order. */
function sessionSeqs(rt: RealtimeClient, id: string): number[] {
  const seqs: number[] = [];
  rt.on("session:message", ({ sessionId, message }) => {
    if (sessionId === id) seqs.push(message.seq);
  });
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A user with an agent of their own, and REST clients on both hubs. */
async function owner() {
  const token = await cluster.ws.token(uniq("owner"));
  const a = new AgentHubClient({ url: cluster.a.url, token });
  const b = new AgentHubClient({ url: cluster.b.url, token });
  const agent = await a.agents.create({ id: uniq("agent"), name: "Client test agent" });
  return { token, a, b, agentId: agent.id };
}

function realtime(token: string, urls: string[]): { rt: RealtimeClient; nodes: string[] } {
  const rt = connectRealtime({ url: urls, token, retryDelayMs: 50, retryDelayMaxMs: 200 });
  const nodes: string[] = [];
  rt.on("connect", ({ url }) => nodes.push(url));
  return { rt, nodes };
}

describe("REST", () => {
  it("calls the routes with typed bodies and throws the hub's problem as AgentHubError", async () => {
    const { a, b, agentId } = await owner();
    const me = await a.me();
    expect(me.kind).toBe("user");
    const session = await a.sessions.create(agentId, { title: "Typed" });
    expect(session).toMatchObject({ agent_id: agentId, title: "Typed", message_count: 0 });
    const message = await b.messages.append(agentId, session.id, { role: "user", content: "hello" });
    expect(message.seq).toBe(1);
    expect((await a.messages.list(agentId, session.id, { after_seq: 0 })).messages.map((m) => m.id)).toEqual([message.id]);
    expect(await a.sessions.rename(agentId, session.id, "Renamed")).toBeUndefined();
    expect((await a.sessions.get(agentId, session.id)).title).toBe("Renamed");

    const refused = await a.groups.create({ name: "Too small", agentIds: [agentId] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AgentHubError);
    expect(refused).toMatchObject({ status: 422, type: "urn:agenthub:problem:validation", errors: [{ field: "agentIds" }] });
    const missing = await a.sessions.get(agentId, "ses_nope").catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, title: "Not Found" });
    const anonymous = await new AgentHubClient({ url: cluster.a.url }).me().catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ status: 401 });
  });
});

describe("realtime resume", () => {
  it("delivers a watched session's messages once each, in order, across cut connections, landing on the other node", async () => {
    const { token, a, b, agentId } = await owner();
    const session = await a.sessions.create(agentId);
    for (let i = 0; i < 5; i++) await a.messages.append(agentId, session.id, { role: "user", content: `before ${i}` });

    const { rt, nodes } = realtime(token, [cluster.a.url, cluster.b.url]);
    const seqs = sessionSeqs(rt, session.id);
    try {
      await rt.watchSession(session.id, { since: 0 });
      expect(seqs).toEqual(range(1, 5));

      const total = 120;
      const publishing = (async () => {
        for (let i = 5; i < total; i++) {
          await (i % 2 ? a : b).messages.append(agentId, session.id, { role: "user", content: `m ${i}` });
          // Paced by delivery, not by time: at most 20 ahead, so the cuts below land mid-stream.
          if (i % 10 === 0) await until(() => seqs.length >= i - 20, "delivery to keep up");
        }
      })();
      await until(() => seqs.length >= 30, "the stream under way");
      cut(rt);
      await until(() => nodes.length >= 2 && rt.connected && seqs.length >= 60, "a reconnect, and more messages");
      cut(rt);
      expect(seqs.length, "cut while messages were still being published").toBeLessThan(total);
      await publishing;
      await until(() => seqs.length >= total, `all ${total} messages (have ${seqs.length})`);
      // Nothing may follow: a later message on the same stream arrives after anything repeated would.
      await a.messages.append(agentId, session.id, { role: "user", content: "last" });
      await until(() => seqs.includes(total + 1), "a later message");
      expect(seqs).toEqual(range(1, total + 1));
      expect(nodes.slice(0, 3)).toEqual([cluster.a.url, cluster.b.url, cluster.a.url]);
      expect(rt.position("session", session.id)).toBe(total + 1);
    } finally {
      await rt.close();
    }
  });

  it("resumes an agent's subscribed channel with auth.since after a cut, while it is published to", async () => {
    const { a, agentId } = await owner();
    const key = (await a.keys.create(agentId, { scopes: ["channels:read", "channels:publish"] })).key;
    const channel = await a.channels.create({ name: uniq("chan") });
    await a.channels.subscribe(channel.id, agentId);
    const agent = new AgentHubClient({ url: cluster.b.url, token: key });

    const { rt, nodes } = realtime(key, [cluster.b.url, cluster.a.url]);
    const seqs: number[] = [];
    rt.on("channel:message", (m: ChannelMessage) => {
      if (m.channelId === channel.id) seqs.push(m.seq);
    });
    try {
      await until(() => rt.connected, "connected");
      const total = 100;
      const publishing = (async () => {
        for (let i = 0; i < total; i++) await agent.channels.publish(channel.id, { agentId, message: `c ${i}` });
      })();
      await until(() => seqs.length >= 25, "the stream under way");
      cut(rt);
      await publishing;
      await until(() => seqs.length >= total, `all ${total} channel messages (have ${seqs.length})`);
      // Nothing may follow: a later message on the same channel arrives after anything repeated would.
      await agent.channels.publish(channel.id, { agentId, message: "last" });
      await until(() => seqs.includes(total + 1), "a later message");
      expect(seqs).toEqual(range(1, total + 1));
      expect(nodes.slice(0, 2)).toEqual([cluster.b.url, cluster.a.url]);
    } finally {
      await rt.close();
    }
  });
});

describe("realtime refusals", () => {
  it("throws the hub's problem for a refused watch, and reports a refused credential with its retry", async () => {
    const { token } = await owner();
    const { rt } = realtime(token, [cluster.a.url]);
    try {
      const refused = await rt.watchSession("ses_nope").catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AgentHubError);
      expect(refused).toMatchObject({ status: 404 });
    } finally {
      await rt.close();
    }
    const bad = connectRealtime({ url: cluster.b.url, token: "g_agent_nope", retryDelayMs: 50, retryDelayMaxMs: 100 });
    const errors: Array<{ message: string; refused: boolean; retryInMs: number }> = [];
    bad.on("connect_error", ({ error, refused, retryInMs }) => errors.push({ message: error.message, refused, retryInMs }));
    try {
      await until(() => errors.length >= 2, "two refused attempts");
      expect(errors[0]).toMatchObject({ message: "unauthorized", refused: true });
      expect(errors[0]!.retryInMs).toBeGreaterThan(0);
      expect(bad.connected).toBe(false);
    } finally {
      await bad.close();
    }
  });
});

describe("turn rendering", () => {
  it("renders a running turn from snapshot and deltas through a disconnect, ending equal to the stored answer", async () => {
    const { token, a, agentId } = await owner();
    const serveKey = (await a.keys.create(agentId, { scopes: ["turns:serve"] })).key;
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    const script: ScriptStep[] = [
      { type: "message_start", role: "assistant", model: "client-test" },
      { type: "thinking_start", thinkingId: "th1", title: "Thinking it over" },
      ...["Let me ", "look ", "this up."].map((delta) => ({ event: { type: "thinking_delta", thinkingId: "th1", delta }, delayMs: 20 })),
      { type: "thinking_end", thinkingId: "th1", status: "completed", durationMs: 60 },
      { type: "tool_call_start", toolCallId: "call1", name: "semantic_search", input: { query: "client" } },
      { event: { type: "tool_call_end", toolCallId: "call1", output: { hits: 2 }, durationMs: 12 }, delayMs: 30 },
      { type: "sources", sources: [{ id: "doc1", type: "document", title: "A document", snippet: "…" }] },
      ...words.map((w) => ({ event: { type: "content_delta", delta: `${w} ` }, delayMs: 40 })),
      { type: "content_end" },
      { type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 3, outputTokens: 40, totalTokens: 43 } },
      { type: "done" },
    ];
    const agent = startSocketAgent(cluster.b.url, serveKey, { kind: "events", events: script });
    await agent.served;

    const session = await a.sessions.create(agentId, { title: "Rendered" });
    const { rt, nodes } = realtime(token, [cluster.a.url, cluster.b.url]);
    const contents: string[] = [];
    let final: LiveTurn | undefined;
    rt.turns.onUpdate((t) => {
      if (t.sessionId !== session.id) return;
      contents.push(t.message.content);
      if (t.ended) final = t;
    });
    const messages: Message[] = [];
    rt.on("session:message", ({ sessionId, message }) => {
      if (sessionId === session.id) messages.push(message);
    });
    try {
      await rt.watchSession(session.id, { since: 0 });
      const started = await a.turns.start(agentId, session.id, { content: "Tell me about the client" });
      await until(() => contents.some((c) => c.split(" ").length > 8), "the answer under way");
      const live = rt.turns.get(started.turn.id)!;
      const seqAtCut = live.seq;
      cut(rt);
      await until(() => nodes.length >= 2 && rt.connected, "the reconnect");
      expect(final, "reconnected before the turn ended").toBeUndefined();
      await until(() => final !== undefined, "the turn's end", 20_000);
      await until(() => messages.length === 2, "the stored answer as a session message");

      const stored = (await a.messages.list(agentId, session.id)).messages.find((m) => m.id === started.turn.message_id)!;
      expect(stored).toBeDefined();
      expect(final!.message).toBe(live.message); // one live object for the turn's whole life
      expect(final!.message.id).toBe(stored.id);
      expect(final!.seq).toBeGreaterThan(seqAtCut);
      expect(final!.turn?.status).toBe("completed");
      expect(final!.message.content).toBe(words.map((w) => `${w} `).join(""));
      for (const part of ["content", "thinking", "toolCalls", "sources", "model", "finishReason", "tokenUsage"] as const) {
        expect(final!.message[part], part).toEqual(stored[part]);
      }
      // Every rendering was a prefix of the final answer: no delta applied twice, none skipped for good.
      for (const c of contents) expect(final!.message.content.startsWith(c)).toBe(true);
      expect(messages.map((m) => m.seq)).toEqual([1, 2]);
      expect(messages[1]).toEqual(stored);
    } finally {
      await rt.close();
      await agent.close();
    }
  });
});

describe("a hub stopped", () => {
  // Last in the file: it leaves one hub.
  it("moves the client to the other hub with nothing lost or repeated", async () => {
    const { token, b, agentId } = await owner();
    const session = await b.sessions.create(agentId);
    const { rt, nodes } = realtime(token, [cluster.a.url, cluster.b.url]);
    const seqs = sessionSeqs(rt, session.id);
    try {
      await rt.watchSession(session.id, { since: 0 });
      expect(rt.url).toBe(cluster.a.url);
      const total = 80;
      const publishing = (async () => {
        for (let i = 0; i < total; i++) {
          await b.messages.append(agentId, session.id, { role: "user", content: `k ${i}` });
          // Paced by delivery, not by time: at most 20 ahead, so the kill below lands mid-stream.
          if (i % 10 === 0) await until(() => seqs.length >= i - 20, "delivery to keep up");
        }
      })();
      await until(() => seqs.length >= 20, "the stream under way");
      await cluster.a.stop("SIGKILL");
      expect(seqs.length, "killed while messages were still being published").toBeLessThan(total);
      await publishing;
      await until(() => seqs.length >= total, `all ${total} messages (have ${seqs.length})`);
      // Nothing may follow: a later message on the same stream arrives after anything repeated would.
      await b.messages.append(agentId, session.id, { role: "user", content: "last" });
      await until(() => seqs.includes(total + 1), "a later message");
      expect(seqs).toEqual(range(1, total + 1));
      expect(nodes).toEqual([cluster.a.url, cluster.b.url]);
    } finally {
      await rt.close();
    }
  });
});
