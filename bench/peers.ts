/**
 * The protocols scenario's agents (bench/protocols.ts): one peer per protocol, each in a process
 * of its own (bench/peer-proc.ts), so its work does not delay the watcher's clock reading; each built with its protocol's library where one can serve (socket: src/agent-client;
 * AG-UI: @ag-ui/encoder; A2A: @a2a-js/sdk's server; the model: OpenAI's chat-completions stream,
 * which no library serves, written to its wire format; ADK: its API server's `run_sse` wire
 * format). Each answers a turn with `plan.deltas` text deltas at `plan.ratePerS`, open loop, each
 * delta `{"t":<now>}` stamped as it is written (paced() and the ADK peer's scheduled steps).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { EventType } from "@ag-ui/core";
import { EventEncoder } from "@ag-ui/encoder";
import { TaskState } from "@a2a-js/sdk";
import { serveTurns } from "../src/agent-client/index.js";
import { startA2aAgent } from "../test/support/a2a-agent.js";
import { startAdkAgent, type AdkModelStep } from "../test/support/adk-agent.js";
import { now, sleep } from "./lib.js";

export type PeerName = "socket" | "a2a" | "agui" | "adk" | "model";

export interface PeerPlan {
  deltas: number;
  ratePerS: number;
}

export interface PeerContext {
  hubUrl: string;
  plan: PeerPlan;
  /** The socket peer's key (`turns:serve`). */
  key?: string | undefined;
}

export interface Peer {
  /** The agent's endpoint (none: socket). */
  endpoint?: Record<string, unknown>;
  close(): Promise<void>;
}

/** Sends `plan.deltas` stamped deltas on schedule (open loop); stops early when `stopped()`. */
export async function paced(plan: PeerPlan, send: (delta: string) => void, stopped: () => boolean = () => false): Promise<void> {
  const interval = 1000 / plan.ratePerS;
  const start = now();
  for (let i = 0; i < plan.deltas && !stopped(); i++) {
    const wait = start + i * interval - now();
    if (wait > 1) await sleep(wait);
    send(JSON.stringify({ t: now() }));
  }
}

/** An HTTP server on 127.0.0.1 for one peer; its URL. */
async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function jsonBody(req: http.IncomingMessage): Promise<any> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

/** Resolves once the socket serves the agent. */
async function socketPeer({ hubUrl, plan, key }: PeerContext): Promise<Peer> {
  if (!key) throw new Error("the socket peer needs a turns:serve key");
  let serving!: () => void;
  const up = new Promise<void>((resolve) => (serving = resolve));
  const served = serveTurns({
    url: hubUrl,
    key,
    handler: async (_turn, emit, signal) => {
      emit({ type: "message_start", role: "assistant", model: "bench" });
      await paced(plan, (delta) => emit({ type: "content_delta", delta }), () => signal.aborted);
      emit({ type: "message_end", finishReason: "stop" });
    },
    log: (e) => e.event === "serving" && serving(),
  });
  await up;
  return { close: () => served.close() };
}

async function aguiPeer({ plan }: PeerContext): Promise<Peer> {
  const encoder = new EventEncoder();
  const server = await listen(async (req, res) => {
    const input = await jsonBody(req);
    res.writeHead(200, { "content-type": encoder.getContentType() });
    const send = (event: Record<string, unknown>) => res.write(encoder.encode(event as never));
    const messageId = `m-${input.runId}`;
    send({ type: EventType.RUN_STARTED, threadId: input.threadId, runId: input.runId });
    send({ type: EventType.TEXT_MESSAGE_START, messageId, role: "assistant" });
    await paced(plan, (delta) => send({ type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta }), () => res.destroyed);
    send({ type: EventType.TEXT_MESSAGE_END, messageId });
    send({ type: EventType.RUN_FINISHED, threadId: input.threadId, runId: input.runId });
    res.end();
  });
  return { endpoint: { protocol: "agui", url: `${server.url}/agent` }, close: server.close };
}

async function modelPeer({ plan }: PeerContext): Promise<Peer> {
  const server = await listen(async (req, res) => {
    const body = await jsonBody(req);
    res.writeHead(200, { "content-type": "text/event-stream" });
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ id: "bench", object: "chat.completion.chunk", created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`);
    chunk({ role: "assistant", content: "" }, null);
    await paced(plan, (delta) => chunk({ content: delta }, null), () => res.destroyed);
    chunk({}, "stop", { usage: { prompt_tokens: 10, completion_tokens: plan.deltas, total_tokens: 10 + plan.deltas } });
    res.end("data: [DONE]\n\n");
  });
  return { endpoint: { protocol: "model", url: `${server.url}/v1`, model: "bench-model" }, close: server.close };
}

async function a2aPeer({ plan }: PeerContext): Promise<Peer> {
  const agent = await startA2aAgent(async ({ start, artifact, status }) => {
    start();
    let first = true;
    await paced(plan, (delta) => {
      artifact(delta, { append: !first });
      first = false;
    });
    status(TaskState.TASK_STATE_COMPLETED);
  });
  return { endpoint: { protocol: "a2a", url: agent.url }, close: agent.close };
}

/** The real ADK API server (test/support/adk-agent.ts) with a model whose partial answers are made on schedule. */
async function adkPeer({ plan }: PeerContext): Promise<Peer> {
  const interval = 1000 / plan.ratePerS;
  const agent = await startAdkAgent(() => {
    const start = now();
    const steps: AdkModelStep[] = Array.from({ length: plan.deltas }, (_, i) => async () => {
      const wait = start + i * interval - now();
      if (wait > 1) await sleep(wait);
      return { content: { role: "model", parts: [{ text: JSON.stringify({ t: now() }) }] }, partial: true };
    });
    return [...steps, { content: { role: "model", parts: [{ text: "(whole answer, already streamed)" }] }, turnComplete: true }];
  });
  return { endpoint: { protocol: "adk", url: agent.url, app: agent.app }, close: agent.close };
}

export const PEERS: Record<PeerName, (ctx: PeerContext) => Promise<Peer>> = {
  socket: socketPeer,
  agui: aguiPeer,
  model: modelPeer,
  a2a: a2aPeer,
  adk: adkPeer,
};
