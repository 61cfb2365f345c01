/**
 * A real Google ADK API server for tests (and the benchmark) of the hub's `adk` endpoint:
 * `@google/adk-devtools`' AdkApiServer (the JS `adk api_server`) at 127.0.0.1, serving one app
 * whose root agent is an `@google/adk` LlmAgent with a real FunctionTool (`lookup`, which ADK
 * itself runs) and a scripted model in place of Gemini, so nothing leaves the machine. What the
 * model answers is the current script; each request the server receives is recorded.
 */
import type { IncomingHttpHeaders } from "node:http";
import { BaseLlm, FunctionTool, InMemorySessionService, LlmAgent, LogLevel, type LlmRequest, type LlmResponse } from "@google/adk";
import { AdkApiServer } from "@google/adk-devtools";
import { waiters } from "./waiters.js";

export interface AdkRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (read once the server parsed it). */
  readonly body: any;
  /** The status the server answered (0 until it answered). */
  status: number;
  /** The connection closed before the answer was complete (the hub hung up). */
  aborted: boolean;
}

/** One model response, or a stall: the model waits until the run is aborted (the hub hung up). */
/** A response, a stall until the run is aborted, or a response made when its turn comes (paced answers). */
export type AdkModelStep = LlmResponse | { stall: true } | (() => Promise<LlmResponse>);

/** What the model answers to one call: `call` counts the model's calls in this run from 0. */
export type AdkScript = (request: { text: string; toolResults: unknown[]; call: number; stream: boolean }) => AdkModelStep[];

export interface AdkAgent {
  url: string;
  app: string;
  requests: AdkRequest[];
  /** What the `lookup` tool was called with, in order. */
  lookups: unknown[];
  script(next: AdkScript): void;
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A script answering every question with `text` streamed in the given pieces, then whole. */
export const streamed = (...pieces: string[]): AdkScript => ({ stream }) => [
  ...(stream ? pieces.map((p): LlmResponse => ({ content: { role: "model", parts: [{ text: p }] }, partial: true })) : []),
  { content: { role: "model", parts: [{ text: pieces.join("") }] }, usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 4, totalTokenCount: 9 }, turnComplete: true },
];

class ScriptedModel extends BaseLlm {
  constructor(private readonly answer: (request: LlmRequest, stream: boolean) => AdkModelStep[]) {
    super({ model: "scripted" });
  }

  async *generateContentAsync(request: LlmRequest, stream?: boolean, abortSignal?: AbortSignal): AsyncGenerator<LlmResponse, void> {
    for (const step of this.answer(request, stream ?? false)) {
      if (typeof step === "function") {
        yield await step();
        continue;
      }
      if ("stall" in step) {
        await new Promise<void>((resolve) => {
          if (abortSignal?.aborted) return resolve();
          abortSignal?.addEventListener("abort", () => resolve(), { once: true });
          setTimeout(resolve, 30_000).unref(); // bounded: a test that forgets to cancel does not hang the server
        });
        return;
      }
      yield step;
    }
  }

  async connect(): Promise<never> {
    throw new Error("the scripted model has no live mode");
  }
}

export async function startAdkAgent(first: AdkScript = streamed("Hello ", "from ADK.")): Promise<AdkAgent> {
  const app = "hub_probe";
  let script = first;
  const requests: AdkRequest[] = [];
  const lookups: unknown[] = [];
  const waiting = waiters();

  const model = new ScriptedModel((request, stream) => {
    const last = request.contents.at(-1);
    const toolResults = (last?.parts ?? []).flatMap((p) => (p.functionResponse ? [p.functionResponse.response] : []));
    // The model's calls in this run: one per model turn since the last user text.
    const since = request.contents.slice(request.contents.findLastIndex((c) => c.role === "user" && c.parts?.some((p) => p.text)));
    const call = since.filter((c) => c.role === "model").length;
    const text = request.contents.filter((c) => c.role === "user").flatMap((c) => c.parts ?? []).map((p) => p.text ?? "").filter(Boolean).at(-1) ?? "";
    return script({ text, toolResults, call, stream });
  });
  const lookup = new FunctionTool({
    name: "lookup",
    description: "Looks something up in the logs.",
    execute: (input: unknown) => {
      lookups.push(input);
      waiting.wake();
      return { found: "3 errors at 12:00", query: input };
    },
  });
  const agent = new LlmAgent({ name: app, model, instruction: "Answer questions about the logs.", tools: [lookup] });
  const file = { load: async () => agent, [Symbol.asyncDispose]: async () => {}, dispose: async () => {} };
  const fileOf = (name: string) => {
    if (name !== app) throw new Error(`Agent not found: ${name}`); // as the directory loader answers
    return file;
  };
  const agentLoader = {
    listAgents: async () => [app],
    listApps: async () => [app],
    listLoadFailures: async () => [],
    getAgentFile: async (name: string) => fileOf(name),
    getAppFile: async (name: string) => fileOf(name),
    preloadAgents: async () => {},
    disposeAll: async () => {},
  };
  const server = new AdkApiServer({
    host: "127.0.0.1",
    port: 0,
    agentLoader: agentLoader as never,
    sessionService: new InMemorySessionService(),
    serveDebugUI: false,
    logLevel: LogLevel.ERROR,
  });
  // Registered before start() adds the server's own routes, so it sees every request first.
  server.app.use((req, res, next) => {
    const record: AdkRequest = {
      method: req.method,
      path: req.path,
      headers: req.headers,
      get body() {
        return req.body;
      },
      status: 0,
      aborted: false,
    };
    requests.push(record);
    res.on("close", () => {
      record.status = res.statusCode;
      record.aborted = !res.writableFinished;
      waiting.wake();
    });
    waiting.wake();
    next();
  });
  const log = console.log;
  console.log = () => {}; // start() and stop() print a banner
  try {
    await server.start();
  } finally {
    console.log = log;
  }

  return {
    url: server.url,
    app,
    requests,
    lookups,
    script: (next) => void (script = next),
    until: (predicate, what, timeoutMs = 10_000) => waiting.until(predicate, what, timeoutMs, () => `saw ${requests.map((r) => r.path).join(", ") || "no requests"}`),
    async close() {
      console.log = () => {};
      try {
        (server as unknown as { server?: { closeAllConnections(): void } }).server?.closeAllConnections();
        await server.stop();
      } finally {
        console.log = log;
      }
    },
  };
}
