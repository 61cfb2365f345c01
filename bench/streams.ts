/**
 * The streams scenario (`npm run bench -- --scenario streams [--rounds 3] [--protocol-turns 3]
 * [--deltas 200] [--delta-rate 100]`): the hub served in the standard protocols (issue 24). For
 * each way a client can follow a turn (the socket stream, the Sharely SSE of `POST …/turns`,
 * AG-UI and the AI SDK UI message stream of `POST …/chat`, A2A `SendStreamingMessage`, MCP
 * `ask_agent` progress), the time to first event (request sent → first event of the stream) and
 * each delta's latency (the agent writing it → the client reading it), in one run.
 *
 * Setup: a fresh bench database, two agenthub processes (bench/stacks.ts); one socket-mode agent
 * (bench/peers.ts in its own process, bench/peer-proc.ts) serving on hub 0; every client in this
 * process talks to hub 1, so every delta crosses nodes. A2A and MCP are driven with their
 * official clients; the SSE formats are read with eventsource-parser. Each turn is a new session.
 */
import { randomUUID } from "node:crypto";
import { Role } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { io, type Socket } from "socket.io-client";
import { mintUserToken } from "../src/auth/jwt.js";
import { api, type Api } from "../test/support/api.js";
import { JWT_SECRET } from "../test/support/env.js";
import { atExit } from "./cleanup.js";
import { Histogram, now, round } from "./lib.js";
import { cfg } from "./options.js";
import { freshDatabase } from "./postgres.js";
import { startPeer } from "./protocols.js";
import { postOk, startStack } from "./stacks.js";

const STREAMS = ["socket", "sharely", "agui", "ui-message", "a2a", "mcp"] as const;
type StreamName = (typeof STREAMS)[number];
const AGENT_ID = "bench-streams";
/** A delta's stamp, bare or escaped inside a JSON string (the SSE formats and A2A carry the delta as a string). */
const STAMP = /\\*"t\\*":([\d.]+)/g;

interface Bed {
  hub: string;
  token: string;
  user: Api;
  watcher: Socket;
  mcp: McpClient;
}

/** One turn read through one stream: when its first event arrived, and each delta's latency. */
interface Reading {
  firstMs: number;
  latencies: number[];
}

export async function runStreams(): Promise<void> {
  const ws = await freshDatabase();
  const stack = await startStack("agenthub", ws.masterKey, atExit);
  const [a, b] = stack.servers;
  const token = await mintUserToken({ secret: JWT_SECRET, workspace: ws.id, sub: "bench-streams", email: "bench-streams@example.com", name: "Bench", ttlSeconds: 6 * 3600 });
  const user = api(b!.url, token);
  await postOk(user, "/api/agents", { id: AGENT_ID, name: "Bench streams", description: "Answers with stamped deltas" });
  const key = (await postOk<{ key: string }>(user, `/api/agents/${AGENT_ID}/keys`, { name: "serve", scopes: ["turns:serve"] })).key;
  const plan = { deltas: cfg.deltas, ratePerS: cfg.deltaRate };
  await startPeer("socket", a!.url, plan, key, atExit);
  const watcher = io(b!.url, { auth: { token }, transports: ["websocket"], reconnection: false });
  atExit.add(async () => void watcher.close());
  await new Promise<void>((resolve, reject) => watcher.once("connect", () => resolve()).once("connect_error", reject));
  const mcp = new McpClient({ name: "bench", version: "1.0.0" });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(`${b!.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  atExit.add(() => mcp.close());
  const bed: Bed = { hub: b!.url, token, user, watcher, mcp };
  console.log(`streams: ${cfg.protocolTurns} turn(s) per stream per round, ${plan.deltas} deltas at ${plan.ratePerS}/s; the agent serves on ${a!.url}, clients read ${b!.url}`);

  const first = new Map(STREAMS.map((s) => [s, new Histogram()]));
  const delta = new Map(STREAMS.map((s) => [s, new Histogram()]));
  const lost = new Map(STREAMS.map((s) => [s, 0]));
  for (let r = 0; r < cfg.rounds; r++) {
    for (const name of STREAMS.map((_, i) => STREAMS[(i + r) % STREAMS.length]!)) {
      for (let k = 0; k < cfg.protocolTurns; k++) {
        const reading = await READERS[name](bed, `bench ${name} ${r}.${k}`);
        first.get(name)!.add(reading.firstMs);
        for (const ms of reading.latencies) delta.get(name)!.add(ms);
        lost.set(name, lost.get(name)! + Math.max(0, plan.deltas - reading.latencies.length));
      }
      console.log(`  round ${r + 1} ${name.padEnd(10)} first event p50 ${round(first.get(name)!.quantile(0.5))} ms, delta p99 ${round(delta.get(name)!.quantile(0.99))} ms (cumulative)`);
    }
  }
  const socketP99 = delta.get("socket")!.quantile(0.99);
  const socketFirst = first.get("socket")!.quantile(0.5);
  console.log("\n== summary: the same turns read through each stream, on the other node ==");
  console.log("stream      first p50  first p99  delta p50  delta p99  lost   delta p99 / socket  first p50 / socket");
  const rows = STREAMS.map((name) => ({
    stream: name,
    firstP50: round(first.get(name)!.quantile(0.5)),
    firstP99: round(first.get(name)!.quantile(0.99)),
    deltaP50: round(delta.get(name)!.quantile(0.5)),
    deltaP99: round(delta.get(name)!.quantile(0.99)),
    lost: lost.get(name)!,
  }));
  for (const r of rows) {
    console.log(
      `${r.stream.padEnd(11)} ${String(r.firstP50).padStart(9)} ${String(r.firstP99).padStart(10)} ${String(r.deltaP50).padStart(10)} ${String(r.deltaP99).padStart(10)} ${String(r.lost).padStart(5)}   ${String(round(r.deltaP99 / socketP99)).padStart(17)}  ${String(round(r.firstP50 / socketFirst)).padStart(18)}`,
    );
  }
  console.log(JSON.stringify({ bench: "streams", config: { rounds: cfg.rounds, turns: cfg.protocolTurns, deltas: cfg.deltas, deltaRate: cfg.deltaRate }, results: rows }));
}

/** Every stamp in `text` not seen before in this reading, as a latency at `at` (an A2A task's end repeats the whole answer). */
function stamps(text: string, at: number, into: number[], seen: Set<string>): void {
  for (const m of text.matchAll(STAMP)) {
    if (seen.has(m[1]!)) continue;
    seen.add(m[1]!);
    into.push(at - Number(m[1]));
  }
}

async function newSession(bed: Bed): Promise<string> {
  return (await postOk<{ id: string }>(bed.user, `/api/agents/${AGENT_ID}/sessions`, {})).id;
}

/** Reads an SSE answer to the end; `onData` gets each event's data with its arrival time. */
async function readSse(res: Response, onData: (data: string, at: number) => void): Promise<void> {
  if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}: ${await res.text()}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onData(value.data, now());
  }
}

/** POSTs `body` to hub 1 and reads the SSE answer: the first event's time and every stamp in the events' data. */
async function sseReading(bed: Bed, path: string, body: unknown, accept = "text/event-stream"): Promise<Reading> {
  const sent = now();
  let firstAt = 0;
  const latencies: number[] = [];
  const seen = new Set<string>();
  const res = await fetch(`${bed.hub}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${bed.token}`, "content-type": "application/json", accept },
    body: JSON.stringify(body),
  });
  await readSse(res, (data, at) => {
    firstAt ||= at;
    stamps(data, at, latencies, seen);
  });
  return { firstMs: firstAt - sent, latencies };
}

const READERS: Record<StreamName, (bed: Bed, content: string) => Promise<Reading>> = {
  async socket(bed, content) {
    const sessionId = await newSession(bed);
    const latencies: number[] = [];
    const seen = new Set<string>();
    let firstAt = 0;
    const done = new Promise<void>((resolve) => {
      const onEvent = (p: { sessionId: string; event: { type: string; delta?: string } }) => {
        if (p.sessionId !== sessionId) return;
        firstAt ||= now();
        if (p.event.delta) stamps(p.event.delta, now(), latencies, seen);
      };
      const onEnded = (p: { sessionId: string }) => {
        if (p.sessionId !== sessionId) return;
        bed.watcher.off("turn:event", onEvent).off("turn:ended", onEnded);
        resolve();
      };
      bed.watcher.on("turn:event", onEvent).on("turn:ended", onEnded);
    });
    const sent = now();
    await postOk(bed.user, `/api/agents/${AGENT_ID}/sessions/${sessionId}/turns`, { content });
    await done;
    return { firstMs: firstAt - sent, latencies };
  },
  async sharely(bed, content) {
    return sseReading(bed, `/api/agents/${AGENT_ID}/sessions/${await newSession(bed)}/turns`, { content });
  },
  async agui(bed, content) {
    const threadId = await newSession(bed);
    const input = { threadId, runId: randomUUID(), messages: [{ id: randomUUID(), role: "user", content }], tools: [], state: {}, context: [], forwardedProps: {} };
    return sseReading(bed, `/api/agents/${AGENT_ID}/chat`, input);
  },
  async "ui-message"(bed, content) {
    const id = await newSession(bed);
    return sseReading(bed, `/api/agents/${AGENT_ID}/chat?format=ui-message`, { id, messages: [{ id: randomUUID(), role: "user", parts: [{ type: "text", text: content }] }], trigger: "submit-message" });
  },
  async a2a(bed, content) {
    const publicUrl = "http://127.0.0.1";
    const fetchImpl: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${bed.token}`);
      return fetch(String(input instanceof Request ? input.url : input).replace(`${publicUrl}/`, `${bed.hub}/`), { ...init, headers });
    };
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { transports: [new JsonRpcTransportFactory({ fetchImpl })], cardResolver: new DefaultAgentCardResolver({ fetchImpl }) }));
    const client = await factory.createFromUrl(`${bed.hub}/a2a/agents/${AGENT_ID}/`);
    const message = { messageId: randomUUID(), contextId: "", taskId: "", role: Role.ROLE_USER, parts: [{ content: { $case: "text" as const, value: content }, metadata: undefined, filename: "", mediaType: "text/plain" }], metadata: undefined, extensions: [], referenceTaskIds: [] };
    const latencies: number[] = [];
    const seen = new Set<string>();
    let firstAt = 0;
    const sent = now();
    for await (const event of client.sendMessageStream({ tenant: "", message, configuration: undefined, metadata: undefined })) {
      const at = now();
      firstAt ||= at;
      stamps(JSON.stringify(event), at, latencies, seen);
    }
    return { firstMs: firstAt - sent, latencies };
  },
  async mcp(bed, content) {
    const latencies: number[] = [];
    const seen = new Set<string>();
    let firstAt = 0;
    const sent = now();
    await bed.mcp.callTool({ name: "ask_agent", arguments: { agentId: AGENT_ID, content } }, undefined, {
      timeout: 120_000,
      onprogress: (p) => {
        const at = now();
        firstAt ||= at;
        stamps(p.message ?? "", at, latencies, seen);
      },
    });
    return { firstMs: firstAt - sent, latencies };
  },
};
