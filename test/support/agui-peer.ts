/**
 * An AG-UI agent for tests of the hub's `agui` endpoint: a node:http server at 127.0.0.1 whose
 * answers are written with `@ag-ui/encoder`'s EventEncoder, as an AG-UI agent server writes them.
 * Each request is recorded (headers, raw body, whether the hub aborted it) and answered by the
 * current script: events, raw bytes, a stall until the hub hangs up, a dropped connection, or a
 * JSON body.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { EventEncoder } from "@ag-ui/encoder";
import type { BaseEvent } from "@ag-ui/core";
import { waiters } from "./waiters.js";

export interface AguiRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed RunAgentInput. */
  input: any;
  /** The hub closed the connection before the answer was complete. */
  aborted: boolean;
  /** Whatever the script's `onRequest` answered while the turn ran. */
  seen?: unknown;
}

export type AguiStep =
  | { event: BaseEvent }
  | { raw: string }
  | { stall: true } // write nothing more; wait for the hub to hang up
  | { close: true }; // drop the connection

export interface AguiScript {
  steps?: AguiStep[];
  /** Answer one JSON body instead of an event stream. */
  json?: unknown;
  status?: number;
  /** Runs before the answer (to check the turn token while the turn runs). */
  onRequest?: (request: AguiRequest) => Promise<unknown>;
}

export interface AguiPeer {
  url: string;
  requests: AguiRequest[];
  script(next: AguiScript | ((input: any) => AguiScript)): void;
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const ev = (event: Record<string, unknown>): AguiStep => ({ event: event as unknown as BaseEvent });

export async function startAguiPeer(): Promise<AguiPeer> {
  let scripter: (input: any) => AguiScript = () => ({ steps: [] });
  const requests: AguiRequest[] = [];
  const waiting = waiters();
  const encoder = new EventEncoder({ accept: "text/event-stream" });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const request: AguiRequest = { headers: req.headers, body, input: JSON.parse(body), aborted: false };
      requests.push(request);
      res.on("close", () => {
        if (!res.writableFinished) request.aborted = true;
        waiting.wake();
      });
      waiting.wake();
      const script = scripter(request.input);
      try {
        if (script.onRequest) request.seen = await script.onRequest(request);
        if (script.json !== undefined || script.status) {
          res.writeHead(script.status ?? 200, { "content-type": "application/json" });
          return void res.end(JSON.stringify(script.json ?? { error: "no" }));
        }
        res.writeHead(200, { "content-type": encoder.getContentType(), "cache-control": "no-cache" });
        res.flushHeaders();
        for (const step of script.steps ?? []) {
          if (res.destroyed) return;
          if ("stall" in step) return;
          if ("close" in step) return void res.socket?.destroy();
          res.write("raw" in step ? step.raw : encoder.encodeSSE(step.event));
          await new Promise((r) => setImmediate(r)); // one write per tick: the hub reads a stream, not one chunk
        }
        res.end();
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/agent`,
    requests,
    script(next) {
      scripter = typeof next === "function" ? next : () => next;
    },
    until: (predicate, what, timeoutMs = 10_000) => waiting.until(predicate, what, timeoutMs, () => `saw ${requests.length} requests`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A run's frame: RUN_STARTED with the request's ids, the steps, RUN_FINISHED. */
export function run(input: { threadId: string; runId: string }, steps: AguiStep[], finished: Record<string, unknown> = {}): AguiStep[] {
  return [ev({ type: "RUN_STARTED", threadId: input.threadId, runId: input.runId }), ...steps, ev({ type: "RUN_FINISHED", threadId: input.threadId, runId: input.runId, ...finished })];
}

/** One streamed text message. */
export function text(messageId: string, ...deltas: string[]): AguiStep[] {
  return [ev({ type: "TEXT_MESSAGE_START", messageId, role: "assistant" }), ...deltas.map((delta) => ev({ type: "TEXT_MESSAGE_CONTENT", messageId, delta })), ev({ type: "TEXT_MESSAGE_END", messageId })];
}
