/**
 * Resumable ask_agent streams, on any node: MCP's own resumability (Streamable HTTP: SSE event
 * ids, `Last-Event-ID` on a GET, the SDK transport's `eventStore`). Nothing is stored: an event
 * id is the stream position itself, base64url JSON of {request id, progress token, agent, turn,
 * seq, a hash of the credential}, so a node that never saw the call rebuilds the rest of its
 * stream from the turn log (every node reads it): the progress notifications after that seq,
 * then live ones, then the call's JSON-RPC result under its original id.
 *
 * Only a POST that is one `tools/call` of ask_agent is resumable (its calls context travels
 * with the request in an AsyncLocalStorage, as the SDK's store sees only a stream id and a
 * message); every other event gets no id, and is not resumed (a GET stream's resource updates
 * are hints: a client that reconnects reads again).
 */
import { createHash } from "node:crypto";
import { AsyncLocalStorage } from "node:async_hooks";
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Principal } from "../auth/principal.js";
import { credentialIdOf } from "./sessions.js";

/** An event id longer than this is not made (the call is then not resumable) nor read. */
export const MAX_EVENT_ID = 600;

const RequestId = z.union([z.string().max(200), z.number().int()]);
const Position = z.object({
  v: z.literal(1),
  /** The JSON-RPC id of the tools/call. */
  r: RequestId,
  /** Its progress token, when it asked for progress. */
  p: RequestId.optional(),
  /** The agent asked. */
  a: z.string().max(200),
  /** The turn, once started (absent in the priming event). */
  t: z.string().max(100).optional(),
  /** The last turn event seq the client has. */
  q: z.number().int().min(0),
  /** How many progress notifications it has (the next one's `progress` is n + 1). */
  n: z.number().int().min(0),
  /** Whose call it is: a hash of the credential (credentialIdOf). */
  h: z.string().max(64),
  /** Set on the call's result: the stream is complete. */
  e: z.literal(1).optional(),
});
export type StreamPosition = z.infer<typeof Position>;

export const credentialHash = (p: Principal) => createHash("sha256").update(credentialIdOf(p)).digest("base64url").slice(0, 22);

export function encodePosition(pos: StreamPosition): string {
  const id = Buffer.from(JSON.stringify(pos)).toString("base64url");
  return id.length <= MAX_EVENT_ID ? id : "";
}

/** The stream position an event id names, or undefined when it is not one of ours. */
export function decodePosition(id: string): StreamPosition | undefined {
  if (!id || id.length > MAX_EVENT_ID || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  try {
    const parsed = Position.safeParse(JSON.parse(Buffer.from(id, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** One resumable ask_agent call, as the POST that carries it is served. */
export interface ResumableCall {
  requestId: string | number;
  progressToken: string | number | undefined;
  agentId: string;
  credential: string;
  /** Set by ask_agent once the turn started. */
  turnId?: string;
  /** The turn seq each progress notification carries, by its `progress` (set before it is sent). */
  seqOf: Map<number, number>;
  /** The last position given out (the result's id follows it). */
  last: { q: number; n: number };
}

const calls = new AsyncLocalStorage<ResumableCall>();

/** Runs `fn` (the transport serving a POST) with the call it carries, when it is a resumable one. */
export function withResumableCall<T>(call: ResumableCall | undefined, fn: () => T): T {
  return call ? calls.run(call, fn) : fn();
}

/** The resumable call being served, for ask_agent. */
export const currentCall = (): ResumableCall | undefined => calls.getStore();

/** The resumable call a POST body is: one `tools/call` of ask_agent. */
export function resumableCallOf(body: unknown, p: Principal): ResumableCall | undefined {
  const m = body as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: { name?: unknown; arguments?: { agentId?: unknown }; _meta?: { progressToken?: unknown } } };
  if (!m || typeof m !== "object" || Array.isArray(m) || m.method !== "tools/call" || m.params?.name !== "ask_agent") return undefined;
  const id = RequestId.safeParse(m.id);
  const agentId = m.params.arguments?.agentId;
  const token = m.params._meta?.progressToken;
  const progressToken = token === undefined ? undefined : RequestId.safeParse(token);
  if (!id.success || typeof agentId !== "string" || agentId.length > 200 || (progressToken && !progressToken.success)) return undefined;
  return { requestId: id.data, progressToken: progressToken?.data, agentId, credential: credentialHash(p), seqOf: new Map(), last: { q: 0, n: 0 } };
}

const positionOf = (c: ResumableCall, at: { q: number; n: number }, end?: boolean): StreamPosition => ({
  v: 1,
  r: c.requestId,
  ...(c.progressToken !== undefined ? { p: c.progressToken } : {}),
  a: c.agentId,
  ...(c.turnId ? { t: c.turnId } : {}),
  q: at.q,
  n: at.n,
  h: c.credential,
  ...(end ? { e: 1 as const } : {}),
});

/**
 * The store given to every /mcp transport: ids for the events of resumable calls (the priming
 * event, progress, the result), none for the rest. `replay` serves a resume (resume-stream.ts).
 */
export function positionStore(replay: EventStore["replayEventsAfter"]): EventStore {
  return {
    async storeEvent(_streamId: string, message: JSONRPCMessage): Promise<string> {
      const c = currentCall();
      if (!c) return "";
      if ("method" in message && message.method === "notifications/progress") {
        const progress = (message.params as { progress?: number }).progress ?? 0;
        const seq = c.seqOf.get(progress);
        c.seqOf.delete(progress);
        if (seq === undefined) return "";
        if (seq > c.last.q) c.last = { q: seq, n: progress };
        return encodePosition(positionOf(c, { q: seq, n: progress }));
      }
      if ("id" in message && ("result" in message || "error" in message) && message.id === c.requestId) return encodePosition(positionOf(c, c.last, true));
      if (!("method" in message) && !("id" in message)) return encodePosition(positionOf(c, { q: 0, n: 0 })); // the priming event
      return "";
    },
    replayEventsAfter: replay,
  };
}
