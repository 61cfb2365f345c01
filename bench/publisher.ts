/**
 * The open-loop publisher: message i of a step is posted at start + i/rate through REST,
 * alternating between the stack's servers, whatever they answer (a slow server does not slow
 * the schedule down). Each message carries its send time, step and index in its metadata.
 * Requests go over the servers' keep-alive agents, so no TCP handshake is measured.
 */
import http from "node:http";
import { Histogram, now, openLoop } from "./lib.js";
import type { Server, Stack } from "./stacks.js";

export const HTTP_TIMEOUT_MS = 30_000;

/** A step's publishing; the counts and `http` keep growing until `answered` settles. */
export interface Publishing {
  /** Settles when every request has been answered or has failed. */
  answered: Promise<void>;
  ok: number;
  errors: number;
  errorSample: string | undefined;
  /** Request round-trip times, ms. */
  http: Histogram;
  /** How far the sender fell behind its schedule at worst, ms. */
  maxLagMs: number;
  firstSend: number;
  lastSend: number;
}

/** Where a step publishes: message i through servers[i % servers] to publishPaths[i % paths]. */
export type PublishTarget = Pick<Stack, "servers" | "publishPaths" | "publishHeaders" | "agentId">;

/** Sends `messages` messages at `rate` per second; resolves when the last one is sent. */
export async function publishOpenLoop(stack: PublishTarget, step: number, messages: number, rate: number, payloadBytes: number): Promise<Publishing> {
  const filler = "x".repeat(payloadBytes);
  const p: Publishing = { answered: Promise.resolve(), ok: 0, errors: 0, errorSample: undefined, http: new Histogram(), maxLagMs: 0, firstSend: 0, lastSend: 0 };
  const inflight: Promise<void>[] = [];
  const run = await openLoop(messages, 1000 / rate, (i, t) => {
    const server = stack.servers[i % stack.servers.length]!;
    const body = JSON.stringify({ agentId: stack.agentId, message: filler, metadata: { t, s: step, i } });
    inflight.push(
      post(server, stack.publishPaths[i % stack.publishPaths.length]!, stack.publishHeaders, body).then((r) => {
        p.http.add(r.ms);
        if (r.status === 201) p.ok++;
        else {
          p.errors++;
          p.errorSample ??= `${r.status} ${r.text.slice(0, 300)}`;
        }
      }),
    );
  });
  Object.assign(p, { maxLagMs: run.maxLagMs, firstSend: run.firstSend, lastSend: run.lastSend });
  p.answered = Promise.all(inflight).then(() => {});
  return p;
}

interface PostResult {
  status: number;
  ms: number;
  text: string;
}

/** One POST; never rejects (a failure is status 0 with the error as text). */
function post(server: Server, urlPath: string, headers: Record<string, string>, body: string): Promise<PostResult> {
  return new Promise((resolve) => {
    const started = now();
    const req = http.request(
      {
        host: "127.0.0.1",
        port: server.port,
        path: urlPath,
        method: "POST",
        agent: server.agent,
        headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: now() - started, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (err) => resolve({ status: 0, ms: now() - started, text: err.message }));
      },
    );
    req.setTimeout(HTTP_TIMEOUT_MS, () => req.destroy(new Error("request timed out")));
    req.on("error", (err) => resolve({ status: 0, ms: now() - started, text: err.message }));
    req.end(body);
  });
}
