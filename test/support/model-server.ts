/**
 * A scripted OpenAI-compatible chat-completions server for model-agent tests, on 127.0.0.1:0.
 * There is no official server library for this API, so it is written by hand, on OpenAI's wire
 * format: `POST /v1/chat/completions` with `stream: true` answers `data: {chat.completion.chunk}`
 * events and `data: [DONE]`; tool calls come as `delta.tool_calls` pieces (index, id,
 * function.name, then arguments in parts), reasoning as `delta.reasoning_content`, and the usage
 * in a last chunk with empty `choices` when `stream_options.include_usage` asks for it.
 * Each request is answered by the script with the request and its number (from 0).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { waiters } from "./waiters.js";

export type Delta = Record<string, unknown>;
/** One SSE data line's payload: a chunk, a raw line (for malformed answers), or a pause. */
export type Step = { chunk: Record<string, unknown> } | { raw: string } | { until: Promise<void> };
export type Answer = { status: number; body: string } | { steps: Step[]; hang?: boolean };

export interface ModelRequest {
  headers: http.IncomingHttpHeaders;
  body: any;
  /** The client closed the connection before the answer ended. */
  closedEarly: boolean;
}

export interface ModelServer {
  /** The base URL (…/v1) to configure as the agent's `url`. */
  url: string;
  requests: ModelRequest[];
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export type Script = (request: any, index: number) => Answer;

const base = (model: string) => ({ id: "chatcmpl-test", object: "chat.completion.chunk", created: 1_700_000_000, model });
const choice = (delta: Delta, finish_reason: string | null = null) => ({ choices: [{ index: 0, delta, finish_reason }] });

/** Chunk builders, in OpenAI's shapes. */
export const chunks = {
  role: (): Step => ({ chunk: choice({ role: "assistant", content: "" }) }),
  text: (content: string): Step => ({ chunk: choice({ content }) }),
  reasoning: (reasoning_content: string): Step => ({ chunk: choice({ reasoning_content }) }),
  /** A tool call: its id and name first, then its arguments in `parts` pieces. */
  toolCall: (index: number, id: string, name: string, args: Record<string, unknown>, parts = 3): Step[] => {
    const json = JSON.stringify(args);
    const size = Math.ceil(json.length / parts);
    const pieces = Array.from({ length: parts }, (_, i) => json.slice(i * size, (i + 1) * size)).filter(Boolean);
    return [
      { chunk: choice({ tool_calls: [{ index, id, type: "function", function: { name, arguments: "" } }] }) },
      ...pieces.map((arguments_) => ({ chunk: choice({ tool_calls: [{ index, function: { arguments: arguments_ } }] }) })),
    ];
  },
  finish: (reason: "stop" | "tool_calls" | "length"): Step => ({ chunk: choice({}, reason) }),
  usage: (prompt: number, completion: number): Step => ({ chunk: { choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } } }),
};

/** A whole streamed text answer: words as chunks, `stop`, usage. */
export function textAnswer(text: string, usage: [number, number] = [10, 5]): { steps: Step[] } {
  return { steps: [chunks.role(), ...text.split(/(?<= )/).map(chunks.text), chunks.finish("stop"), chunks.usage(...usage)] };
}

/** A step asking for tool calls. */
export function toolAnswer(calls: Array<{ id: string; name: string; args: Record<string, unknown> }>, usage: [number, number] = [20, 8]): { steps: Step[] } {
  return { steps: [chunks.role(), ...calls.flatMap((c, i) => chunks.toolCall(i, c.id, c.name, c.args)), chunks.finish("tool_calls"), chunks.usage(...usage)] };
}

export async function startModelServer(script: Script): Promise<ModelServer> {
  const requests: ModelRequest[] = [];
  const w = waiters();
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      const entry: ModelRequest = { headers: req.headers, body: undefined, closedEarly: false };
      try {
        entry.body = JSON.parse(raw);
      } catch {
        entry.body = raw;
      }
      const index = requests.push(entry) - 1;
      w.wake();
      if (req.url !== "/v1/chat/completions" || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const answer = script(entry.body, index);
      if ("status" in answer) {
        res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
        return;
      }
      open.add(res);
      res.on("close", () => {
        open.delete(res);
        if (!res.writableEnded) entry.closedEarly = true;
        w.wake();
      });
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const model = String(entry.body?.model ?? "test-model");
      for (const step of answer.steps) {
        if (res.destroyed) return;
        if ("until" in step) await step.until;
        else res.write(`data: ${"raw" in step ? step.raw : JSON.stringify({ ...base(model), ...step.chunk })}\n\n`);
      }
      if (answer.hang) return; // until the client goes away
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    until: (predicate, what, timeoutMs = 10_000) => w.until(predicate, what, timeoutMs, () => `${requests.length} requests`),
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
