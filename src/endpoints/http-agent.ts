/**
 * Calls an HTTP agent server for one turn and streams its answer, on the wire of the Sharely
 * Server SDK (`createSharelyServer`): `POST {server_url}/agent/threads/{sessionId}/chat` with
 * `{message, languageId?, topK?, threadId, url}` (the last two, which the SDK ignores, put the
 * thread and the URL under the signature), the turn token (auth/turn-token.ts) as bearer,
 * `x-sharely-message-id` (the SDK stores its assistant message under that id) and Standard
 * Webhooks signature headers; the answer is SSE,
 * `event: <type>` + `data: {threadId, messageId, ...fields}`, ending with `done`.
 *
 * The agent server is untrusted: every phase is timed (connect, first byte, silence, total),
 * everything is bounded in bytes, redirects are never followed (a 3xx could point inside the
 * hub's network), and connections go through the SSRF guard's lookup. A request is retried only
 * before anything of its answer streamed, so an agent's output is never produced twice.
 * A refused answer's body is quoted in the turn's error only when the server is at a public
 * address: where private addresses are allowed, the URL may point at an internal service, and
 * quoting it would read that service back to whoever asked.
 *
 * This file sends the request (connect, retry, refused answers); the call's shared state and its
 * errors are agent-call.ts, reading the streamed answer is agent-sse.ts.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { MAX_EVENT_BYTES } from "../domain/turns/events.js";
import { AgentCallError, Call } from "./agent-call.js";
import { readEvents, type HttpAgentEvent } from "./agent-sse.js";
import { checkAgentUrl, classifyAddress, guardedLookup, RefusedAddressError, type Resolver } from "./address-guard.js";
import { signWebhook } from "./signature.js";

export { AbortError, AgentCallError, isAbortError } from "./agent-call.js";
export type { HttpAgentEvent } from "./agent-sse.js";

export interface HttpAgentRequest {
  /** The agent's server_url (the SDK's routes are appended to its path). */
  url: string;
  sessionId: string;
  /** The turn's message_id: sent as x-sharely-message-id and as the webhook-id. */
  messageId: string;
  message: string;
  /** The turn token; the SDK validates it with the hub (api-authenticated). "" sends no Authorization. */
  token: string;
  /** The agent's endpoint secret (`whsec_…`). */
  secret: string;
  signal?: AbortSignal;
  languageId?: string;
  topK?: number;
}

export interface HttpAgentTimeouts {
  /** DNS + TCP (+ TLS) until the connection is up. */
  connectMs: number;
  /** From connected until the answer's status line and headers. */
  firstByteMs: number;
  /** Longest silence between events (SSE comments count as life) once the answer streams. */
  idleMs: number;
  /** The whole call, retries included. */
  totalMs: number;
}

export interface HttpAgentOptions {
  allowPrivate: boolean;
  /** Plain http: agent URLs (AGENT_SERVER_ALLOW_HTTP, or the embedded default); otherwise https: only. */
  allowHttp: boolean;
  /** Quote refused answers of servers at private or loopback addresses too (the embedded default: one machine, one person). */
  quotePrivateAnswers?: boolean;
  timeouts: HttpAgentTimeouts;
  /** Further attempts after the first, only before the first byte of a 2xx answer. */
  retries: number;
  /** One SSE event's data, in bytes. */
  maxEventBytes: number;
  /** The whole answer, in bytes (default 8 MiB). */
  maxStreamBytes?: number;
  /** The first retry's delay before jitter (default 250 ms), doubling per attempt up to 5 s. */
  backoffMs?: number;
  /** Name resolution (tests inject one; default: the system resolver). */
  resolve?: Resolver;
  /** Told of every call that failed (after its retries; not an abort), for metrics. */
  onError?: (err: AgentCallError) => void;
}

/**
 * Recommended defaults. An SDK agent flushes nothing until its first event, which it sends after
 * validating the token and loading history, so the first byte gets 30 s; a model may think or
 * run a tool silently for a while, so silence gets 60 s.
 */
export const DEFAULT_HTTP_AGENT_OPTIONS: Readonly<HttpAgentOptions> = {
  allowPrivate: false,
  allowHttp: false,
  quotePrivateAnswers: false,
  timeouts: { connectMs: 5_000, firstByteMs: 30_000, idleMs: 60_000, totalMs: 600_000 },
  retries: 2,
  // readAgentEvent bounds an event at MAX_EVENT_BYTES; the wire adds threadId and messageId.
  maxEventBytes: MAX_EVENT_BYTES + 1024,
  maxStreamBytes: 8 * 1024 * 1024,
  backoffMs: 250,
};

const MAX_BACKOFF_MS = 5_000;
const EXCERPT_BYTES = 4096;
const EXCERPT_CHARS = 300;
/** Connection errors that may well pass on their own (a server restarting, a flaky network). */
const TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EHOSTDOWN", "EAI_AGAIN"]);

/** Streams the agent's events; throws AgentCallError, or AbortError when the signal aborts. */
export async function* streamHttpAgent(request: HttpAgentRequest, options: HttpAgentOptions): AsyncGenerator<HttpAgentEvent, void, undefined> {
  // Literal IPs never reach the guarded lookup, so the URL itself is checked on every call too.
  const refused = checkAgentUrl(request.url, { allowPrivate: options.allowPrivate, allowHttp: options.allowHttp });
  if (refused) {
    const err = new AgentCallError(refused, true);
    options.onError?.(err);
    throw err;
  }
  const target = chatUrl(request.url, request.sessionId);
  const body = JSON.stringify({
    message: request.message,
    ...(request.languageId !== undefined && { languageId: request.languageId }),
    ...(request.topK !== undefined && { topK: request.topK }),
    threadId: request.sessionId,
    url: target.href,
  });
  const call = new Call(request.signal, options.timeouts.totalMs);
  try {
    const res = await connect(call, target, request, body, options);
    yield* readEvents(call, res, { idleMs: options.timeouts.idleMs, maxEventBytes: options.maxEventBytes, maxStreamBytes: options.maxStreamBytes ?? DEFAULT_HTTP_AGENT_OPTIONS.maxStreamBytes! });
  } catch (err) {
    if (err instanceof AgentCallError) options.onError?.(err);
    throw err;
  } finally {
    call.close();
  }
}

function chatUrl(serverUrl: string, sessionId: string): URL {
  const url = new URL(serverUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/agent/threads/${encodeURIComponent(sessionId)}/chat`;
  url.hash = "";
  return url;
}

/**
 * Fresh per attempt: the signature's timestamp must be current; the webhook-id stays the same.
 * Each attempt's timestamp is later than the one before, so a retry is a new signed request that
 * a replay guard (signature.ts) does not take for a replay of the first.
 */
function requestHeaders(request: HttpAgentRequest, body: string, timestampSeconds: number): Record<string, string> {
  return {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    accept: "text/event-stream",
    "user-agent": "agenthub",
    ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
    "x-sharely-message-id": request.messageId,
    ...signWebhook(request.secret, request.messageId, timestampSeconds, body),
  };
}


/** Sends the request until a 2xx event stream answers, retrying what may pass on its own. */
async function connect(call: Call, target: URL, request: HttpAgentRequest, body: string, options: HttpAgentOptions): Promise<IncomingMessage> {
  let timestamp = 0;
  for (let attempt = 0; ; attempt++) {
    if (call.failure) throw call.failure;
    let failure: AgentCallError;
    try {
      timestamp = Math.max(Math.floor(Date.now() / 1000), timestamp + 1);
      const res = await open(call, target, requestHeaders(request, body, timestamp), body, options);
      const unusable = await unusableAnswer(res, options);
      if (!unusable) return res;
      failure = unusable;
    } catch (err) {
      if (call.failure) throw call.failure;
      failure = connectionFailure(err);
    }
    if (call.failure) throw call.failure;
    if (!failure.retryable || attempt >= options.retries) throw failure;
    const exp = Math.min((options.backoffMs ?? 250) * 2 ** attempt, MAX_BACKOFF_MS);
    // Equal jitter: many turns failing together (a restarting agent) do not retry in lockstep.
    let delay = exp / 2 + Math.random() * (exp / 2);
    if (failure.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(failure.retryAfterMs, MAX_BACKOFF_MS));
    if (delay >= call.remainingMs()) throw failure;
    await call.sleep(delay);
  }
}

/** One attempt, up to the answer's headers, with the connect and first-byte timeouts. */
function open(call: Call, target: URL, headers: Record<string, string>, body: string, options: HttpAgentOptions): Promise<IncomingMessage> {
  const { connectMs, firstByteMs } = options.timeouts;
  const https = target.protocol === "https:";
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(target, {
      method: "POST",
      headers,
      agent: false, // a fresh connection per call: nothing pooled outlives the checks
      lookup: guardedLookup(options.allowPrivate, options.resolve) as RequestOptions["lookup"],
    });
    const timeout = (reason: string) => () => req.destroy(new AgentCallError(reason, true, true));
    let timer = setTimeout(timeout(`could not connect within ${connectMs} ms`), connectMs);
    req.on("socket", (socket) => {
      socket.once(https ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        timer = setTimeout(timeout(`no first byte within ${firstByteMs} ms`), firstByteMs);
      });
    });
    req.on("response", (res) => {
      clearTimeout(timer);
      res.on("error", () => {}); // reported through whoever reads it; never an unhandled 'error'
      resolve(res);
    });
    // Stays attached for the request's life: a later destroy(err) must not go unhandled.
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    call.attach(req);
    req.end(body);
  });
}

/** Why this answer cannot be streamed (undefined when it can): a non-2xx, or not an event stream. */
async function unusableAnswer(res: IncomingMessage, options: HttpAgentOptions): Promise<AgentCallError | undefined> {
  const status = res.statusCode ?? 0;
  const type = String(res.headers["content-type"] ?? "");
  if (status >= 200 && status < 300 && /^text\/event-stream\b/i.test(type)) return undefined;
  const quotable = options.quotePrivateAnswers || !classifyAddress(res.socket?.remoteAddress ?? "");
  if (!quotable) res.destroy();
  const excerpt = quotable ? await readExcerpt(res, Math.min(options.timeouts.idleMs, 5_000)) : "";
  const tail = excerpt ? `: ${excerpt}` : quotable ? "" : " (not quoted: the server is at a private address)";
  if (status >= 300 && status < 400) {
    const location = quotable ? String(res.headers.location ?? "").slice(0, 200) : "";
    return new AgentCallError(`the agent server answered ${status}, a redirect${location ? ` to ${location}` : ""} (redirects are not followed)`, true, false, status);
  }
  if (status >= 200 && status < 300) {
    return new AgentCallError(`the agent server answered ${status} with ${type ? `content-type ${type.slice(0, 100)}` : "no content-type"}, not an event stream${tail}`, true, false, status);
  }
  const retryable = status >= 500 || status === 429;
  return new AgentCallError(`the agent server answered ${status}${tail}`, true, retryable, status, retryAfter(res.headers["retry-after"]));
}

function retryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** At most EXCERPT_BYTES of a refused answer's body, briefly waited for, on one line. */
function readExcerpt(res: IncomingMessage, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.destroy();
      const text = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8").replace(/\s+/g, " ").trim();
      resolve(text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text);
    };
    const timer = setTimeout(finish, waitMs);
    res.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= EXCERPT_BYTES) finish();
    });
    res.on("end", finish);
    res.on("close", finish);
    res.on("error", finish);
  });
}

function connectionFailure(err: unknown): AgentCallError {
  if (err instanceof AgentCallError) return err;
  if (err instanceof RefusedAddressError) return new AgentCallError(err.message, true);
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const reason =
    code === "ECONNREFUSED" ? "the agent server refused the connection"
    : code === "ENOTFOUND" ? "the agent server's host name does not resolve"
    : code === "ECONNRESET" ? "the agent server closed the connection without answering"
    : `could not reach the agent server (${code ?? e?.message ?? String(err)})`;
  return new AgentCallError(reason, true, code !== undefined && TRANSIENT.has(code));
}
