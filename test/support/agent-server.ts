/**
 * A scriptable HTTP agent server for tests of the hub's agent calls (src/endpoints/http-agent.ts):
 * on node:http at 127.0.0.1, port 0. Each request is recorded (headers, raw body, so signatures
 * can be verified) and answered by the current script: SSE events with delays, a wait before the
 * first byte, a stall, a status code, raw (malformed, oversized) bytes, a dropped connection, a
 * redirect. Events are framed exactly as the Sharely Server SDK frames them.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /agent/threads/s_1/chat. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Set when the connection closed before the answer was complete (the client gave up). */
  cutShort: boolean;
}

/** One step of a streamed answer, each after its delayMs. */
export type Step =
  | { event: string; data?: Record<string, unknown>; delayMs?: number } // framed as the SDK does, with the envelope
  | { raw: string; delayMs?: number } // bytes as they are
  | { stall: true; delayMs?: number } // write nothing more, keep the connection open
  | { close: true; delayMs?: number }; // drop the connection mid-stream

export interface Script {
  /** Before anything is sent (the status line included). */
  firstByteDelayMs?: number;
  /** Default 200; a non-2xx, or any status with a `body`, answers that body (JSON by default) and ends. */
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  steps?: Step[];
  /** Answer nothing at all and drop the connection. */
  hangUp?: boolean;
}

/** The script for the n-th request (0-based). */
export type Scripter = (request: RecordedRequest, n: number) => Script;

export interface AgentServer {
  url: string;
  requests: RecordedRequest[];
  /** Replaces the script for the requests to come. */
  script(scripter: Scripter | Script): void;
  close(): Promise<void>;
}

/** `event: <type>` + `data: {threadId, messageId, ...fields}`, as sendSSEEvent writes it. */
export function sseFrame(type: string, envelope: { threadId: string; messageId: string }, fields: Record<string, unknown> = {}): string {
  return `event: ${type}\ndata: ${JSON.stringify({ ...envelope, ...fields })}\n\n`;
}

/** A normal answer: the given events, then `done`. */
export function answer(events: Array<{ type: string } & Record<string, unknown>>, delayMs = 0): Script {
  return { steps: [...events.map(({ type, ...data }) => ({ event: type, data, delayMs })), { event: "done", delayMs }] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startAgentServer(initial: Scripter | Script = answer([])): Promise<AgentServer> {
  let scripter: Scripter = typeof initial === "function" ? initial : () => initial;
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded: RecordedRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), cutShort: false };
      requests.push(recorded);
      res.on("close", () => {
        if (!res.writableFinished) recorded.cutShort = true;
      });
      void play(scripter(recorded, requests.length - 1), recorded, res).catch(() => res.destroy());
    });
  });

  async function play(script: Script, request: RecordedRequest, res: ServerResponse): Promise<void> {
    if (script.firstByteDelayMs) await sleep(script.firstByteDelayMs);
    if (script.hangUp) return void res.socket?.destroy();
    const status = script.status ?? 200;
    if (status < 200 || status >= 300 || script.body !== undefined) {
      res.writeHead(status, { "content-type": "application/json", ...script.headers });
      return void res.end(script.body ?? "");
    }
    res.writeHead(status, { "content-type": "text/event-stream", "cache-control": "no-cache", ...script.headers });
    res.flushHeaders(); // so "headers, then silence" is observable (the SDK itself flushes with its first event)
    const envelope = {
      threadId: decodeURIComponent(/\/agent\/threads\/([^/]+)\/chat/.exec(request.url)?.[1] ?? ""),
      messageId: String(request.headers["x-sharely-message-id"] ?? ""),
    };
    for (const step of script.steps ?? []) {
      if (step.delayMs) await sleep(step.delayMs);
      if (res.destroyed) return;
      if ("stall" in step) return;
      if ("close" in step) return void res.socket?.destroy();
      res.write("raw" in step ? step.raw : sseFrame(step.event, envelope, step.data));
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(next) {
      scripter = typeof next === "function" ? next : () => next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // stalled answers would otherwise hold close() open
        server.close(() => resolve());
      }),
  };
}
