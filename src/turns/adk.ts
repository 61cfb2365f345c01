/**
 * The ADK endpoint (`endpoint: {protocol: "adk", url, app}`): a Google ADK API server (`adk
 * api_server`, JS or Python) keeps the conversation itself, so the hub sends only the question.
 *
 * - The ADK session is the hub session (`sessionId` = its id), made on first use with
 *   `POST {url}/apps/{app}/users/{user}/sessions/{sessionId}`; "already exists" (400 from the JS
 *   server, 409 from the Python one) is as good as made. `user` names the asker without personal
 *   data: `u<userId>` for a person, `key-<keyId>` for a key. Sessions made are remembered for a
 *   while (a bounded map), so a turn does not make its session again; a session the server lost
 *   (404 on the turn) is made again once.
 * - The turn: `POST {url}/run_sse` `{appName, userId, sessionId, newMessage, streaming: true}`,
 *   answered by an event stream of ADK events (adk-events.ts); its end completes the turn.
 * Every request carries the turn token as bearer and Standard Webhooks signature headers over its
 * exact body, through the guarded fetch. A cancel aborts the request (the server then stops the
 * run); a malformed, oversized or failed answer fails the turn with a reason.
 */
import { randomUUID } from "node:crypto";
import type { Principal } from "../auth/principal.js";
import { AgentAnswerError, excerpt, sseJson } from "../endpoints/event-stream.js";
import { signWebhook } from "../endpoints/signature.js";
import { AdkTranslator } from "./adk-events.js";
import { splitDelta, streamedTurn, textOf } from "./streamed-call.js";
import type { AgentEndpoint, OutboundDeps, RunningTurn, TurnContext } from "./endpoint.js";

/** One ADK event in the answer, in bytes (a tool's response may be large; what is recorded is bounded again). */
export const ADK_MAX_EVENT_BYTES = 256 * 1024;
/** ADK events in one answer. */
export const ADK_MAX_EVENTS = 100_000;
/** How long, and how many, made sessions are remembered. */
const SESSION_MEMORY_MS = 10 * 60_000;
const SESSION_MEMORY_ENTRIES = 10_000;

export function adkEndpoint(deps: OutboundDeps): AgentEndpoint {
  const sessions = new MadeSessions(SESSION_MEMORY_ENTRIES, SESSION_MEMORY_MS);
  return {
    protocol: "adk",
    run: (context, turn) => runAdk(deps, sessions, context, turn),
  };
}

/** The ADK sessions this process made (or found made), each remembered until it expires; bounded. */
export class MadeSessions {
  private readonly made = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  has(key: string, now = Date.now()): boolean {
    const until = this.made.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.made.delete(key);
    return false;
  }

  add(key: string, now = Date.now()): void {
    this.made.delete(key);
    if (this.made.size >= this.maxEntries) this.made.delete(this.made.keys().next().value!); // the oldest
    this.made.set(key, now + this.ttlMs);
  }

  forget(key: string): void {
    this.made.delete(key);
  }
}

interface Call {
  base: string;
  app: string;
  user: string;
  sessionId: string;
  headers: (id: string, body: string) => Record<string, string>;
  signal: AbortSignal;
}

async function runAdk(deps: OutboundDeps, sessions: MadeSessions, context: TurnContext, turn: RunningTurn): Promise<void> {
  await streamedTurn(deps, turn, async (running, signal) => {
    const endpoint = context.agent.endpoint;
    if (endpoint?.protocol !== "adk") throw new AgentAnswerError("the agent has no ADK endpoint");
    const token = await deps.callerToken({ ...context, turn: running });
    const secret = await deps.endpointSecret(context);
    const call: Call = {
      base: endpoint.url.replace(/\/+$/, ""),
      app: endpoint.app,
      user: adkUser(context.asker),
      sessionId: context.session.id,
      headers: (id, body) => ({
        "content-type": "application/json",
        "user-agent": "agenthub",
        authorization: `Bearer ${token}`,
        ...signWebhook(secret, id, Math.floor(Date.now() / 1000), body),
      }),
      signal,
    };
    const key = `${call.base}\n${call.app}\n${call.user}\n${call.sessionId}`;
    const body = JSON.stringify({
      appName: call.app,
      userId: call.user,
      sessionId: call.sessionId,
      newMessage: { role: "user", parts: [{ text: textOf(context.trigger.content) }] },
      streaming: true,
    });
    const send = () =>
      deps.fetch(`${call.base}/run_sse`, { method: "POST", headers: { ...call.headers(running.id, body), accept: "text/event-stream" }, body, signal });

    if (!sessions.has(key)) {
      await makeSession(deps, call);
      sessions.add(key);
    }
    let res = await send();
    if (res.status === 404) {
      // The server lost the session (a restart of an in-memory server): it is made again, once.
      await res.body?.cancel().catch(() => {});
      sessions.forget(key);
      await makeSession(deps, call);
      sessions.add(key);
      res = await send();
    }
    if (!res.ok) throw new AgentAnswerError(`the agent answered ${res.status}${suffix(await excerpt(res))}`);
    const type = (res.headers.get("content-type") ?? "").toLowerCase();
    if (!type.startsWith("text/event-stream")) {
      await res.body?.cancel().catch(() => {});
      throw new AgentAnswerError(`the agent answered content-type ${type.slice(0, 100) || "(none)"}, not an event stream`);
    }
    const translator = new AdkTranslator();
    for await (const raw of sseJson(res.body ?? emptyBody(), { maxEventBytes: ADK_MAX_EVENT_BYTES, maxEvents: ADK_MAX_EVENTS })) {
      const step = translator.step(raw);
      if ("error" in step) return void (await turn.finish({ status: "failed", error: step.error }));
      if (!(await recordAll(turn, step.events))) return;
    }
    if (!(await recordAll(turn, translator.finish()))) return;
    await turn.record({ type: "done" });
  });
}

async function recordAll(turn: RunningTurn, events: Array<{ type: string } & Record<string, unknown>>): Promise<boolean> {
  for (const event of events.flatMap(splitDelta)) if (!(await turn.record(event))) return false;
  return true;
}

/** Makes the ADK session; one that already exists is as good. */
async function makeSession(deps: OutboundDeps, call: Call): Promise<void> {
  const body = "{}";
  const path = `/apps/${encodeURIComponent(call.app)}/users/${encodeURIComponent(call.user)}/sessions/${encodeURIComponent(call.sessionId)}`;
  const res = await deps.fetch(`${call.base}${path}`, { method: "POST", headers: { ...call.headers(randomUUID(), body), accept: "application/json" }, body, signal: call.signal });
  if (res.ok || res.status === 409) return void (await res.body?.cancel().catch(() => {}));
  const said = await excerpt(res);
  if (res.status === 400 && /already exists/i.test(said)) return;
  throw new AgentAnswerError(`the agent answered ${res.status} when its session was made${suffix(said)}`);
}

/** The asker as ADK's `userId`: stable, and without personal data. */
export function adkUser(asker: Principal): string {
  return asker.kind === "user" ? `u${asker.userId}` : `key-${asker.keyId}`;
}

const suffix = (said: string) => (said ? `: ${said}` : "");
const emptyBody = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });
