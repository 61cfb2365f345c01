/**
 * The demo agent's turn handler: a socket-mode agent that needs no model. For each turn it streams
 * a thinking step, a `semantic_search` tool call over the workspace's knowledge (through the
 * Backplane tools route; when that fails the call ends with an error and the demo goes on),
 * sources, and an answer that reflects the question, with small delays so it looks live. It sits
 * beside the agent client so both its users take it from here: the CLI (`agenthub agent demo`,
 * cli/demo-agent.ts) and the embedded hub's built-in demo (http/routes/local/demo.ts), which
 * must not import the CLI.
 */
import { randomUUID } from "node:crypto";
import { sleep, type OutgoingAgentEvent, type TurnHandler, type TurnRequest } from "./index.js";

export const DEMO_MODEL = "agenthub-demo";

export interface DemoHandlerOptions {
  url: string;
  key: string;
  /** Multiplies every delay (1 = about 2–4 s per answer; tests go faster). */
  pace?: number;
  /** The workspace of the key, when already known; else read from GET /api/me on first use. */
  workspaceId?: string;
  fetch?: typeof fetch;
}

/** What `handle` tells about each turn it answered, for the per-turn line. */
export interface DemoTurnReport {
  turnId: string;
  sessionId: string;
  outcome: "stop" | "cancelled" | "disconnected" | "closed" | "error";
  events: number;
  ms: number;
  tool: "ok" | string;
}

/** The demo's turn handler. `onTurn` hears about every turn once it ends. */
export function demoHandler(options: DemoHandlerOptions, onTurn?: (report: DemoTurnReport) => void): TurnHandler {
  const pace = options.pace ?? 1;
  const doFetch = options.fetch ?? fetch;
  let workspaceId = options.workspaceId;

  const api = async (path: string, init: RequestInit, signal: AbortSignal): Promise<Response> =>
    doFetch(`${options.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${options.key}`, accept: "application/json", ...(init.headers as Record<string, string>) },
      signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
    });

  /** `semantic_search` through the Backplane; `{error}` with a short reason when anything fails. */
  const semanticSearch = async (query: string, signal: AbortSignal): Promise<{ output: unknown; sources: Source[] } | { error: string }> => {
    try {
      if (!workspaceId) {
        const me = await api("/api/me", {}, signal);
        if (!me.ok) return { error: `GET /api/me answered ${me.status}` };
        workspaceId = String(((await me.json()) as { workspace_id?: unknown }).workspace_id ?? "");
        if (!workspaceId) return { error: "GET /api/me named no workspace" };
      }
      const res = await api(
        `/v1/workspaces/${encodeURIComponent(workspaceId)}/agent/tools/semantic_search/execute`,
        { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input: { text: query, topK: 3 } }) },
        signal,
      );
      if (!res.ok) return { error: `the tools route answered ${res.status}${res.status === 404 ? " (not available on this hub)" : ""}` };
      const body = (await res.json()) as { output?: unknown; sources?: unknown; error?: unknown };
      if (typeof body.error === "string" && body.error) return { error: body.error.slice(0, 500) };
      return { output: body.output ?? null, sources: toSources(body.sources, body.output) };
    } catch (err) {
      if (signal.aborted) throw err;
      const e = err as Error & { cause?: { code?: string } };
      return { error: e.name === "TimeoutError" ? "the tools route did not answer in 5 s" : `cannot reach the hub (${e.cause?.code ?? e.message})` };
    }
  };

  return async (turn, rawEmit, signal) => {
    const started = Date.now();
    let events = 0;
    let outcome: DemoTurnReport["outcome"] = "error";
    let tool = "not run";
    const emit = (event: OutgoingAgentEvent) => {
      events++;
      rawEmit(event);
    };
    const pause = (min: number, max = min) => sleep(Math.round((min + Math.random() * (max - min)) * pace), signal);
    try {
      const question = messageText(turn.message);
      emit({ type: "message_start", role: "assistant", model: DEMO_MODEL });
      await pause(150, 250);

      const thinkingId = `think_${randomUUID()}`;
      const thinkingStarted = Date.now();
      emit({ type: "thinking_start", thinkingId, title: "Reading the question" });
      const thoughts = [
        `The user asks: "${clip(question, 200)}". `,
        "I am the demo agent: there is no model behind me, ",
        "so I will search the workspace's knowledge ",
        "and reflect the question back.",
      ];
      for (const delta of thoughts) {
        await pause(80, 160);
        emit({ type: "thinking_delta", thinkingId, delta });
      }
      await pause(100, 200);
      emit({ type: "thinking_end", thinkingId, status: "completed", durationMs: Date.now() - thinkingStarted });

      const toolCallId = `call_${randomUUID()}`;
      const toolStarted = Date.now();
      emit({ type: "tool_call_start", toolCallId, name: "semantic_search", input: { query: question } });
      const [result] = await Promise.all([semanticSearch(question, signal), pause(250, 400)]);
      if ("error" in result) {
        tool = result.error;
        emit({ type: "tool_call_end", toolCallId, error: result.error, durationMs: Date.now() - toolStarted });
      } else {
        tool = "ok";
        emit({ type: "tool_call_end", toolCallId, output: boundOutput(result.output), durationMs: Date.now() - toolStarted });
      }
      const found = "error" in result ? [] : result.sources;
      await pause(100, 200);
      emit({ type: "sources", sources: found.length > 0 ? found : [README_SOURCE] });

      const answer = composeAnswer(question, result);
      for (const chunk of chunks(answer)) {
        await pause(30, 80);
        emit({ type: "content_delta", delta: chunk });
      }
      emit({ type: "content_end" });
      const inputTokens = words(question).length;
      const outputTokens = words(answer).length;
      emit({ type: "message_end", finishReason: "stop", tokenUsage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens } });
      emit({ type: "done" });
      outcome = "stop";
    } catch (err) {
      if (signal.aborted) outcome = signal.reason as DemoTurnReport["outcome"];
      else throw err;
    } finally {
      onTurn?.({ turnId: turn.turnId, sessionId: turn.sessionId, outcome, events, ms: Date.now() - started, tool });
    }
  };
}

/** A source as an agent sends it: the one Source (domain/sessions/source.ts), bounded and with a title, as the `sources` event takes it. */
type Source = Extract<OutgoingAgentEvent, { type: "sources" }>["sources"][number];

const README_SOURCE: Source = {
  id: "agenthub-readme",
  type: "document",
  title: "agenthub README: the demo agent (Operations)",
  snippet: "npx agenthub agent demo --key g_agent_… runs a demo agent in socket mode: no model needed. See README.md, Operations.",
};

/** Sources from a tools answer: its `sources`, else RAG-like results in `output`. */
function toSources(sources: unknown, output: unknown): Source[] {
  const list = Array.isArray(sources) ? sources : Array.isArray(output) ? output : [];
  const out: Source[] = [];
  for (const raw of list.slice(0, 5)) {
    if (!raw || typeof raw !== "object") continue;
    const r = raw as Record<string, unknown>;
    const meta = (r.metadata && typeof r.metadata === "object" ? r.metadata : {}) as Record<string, unknown>;
    const id = str(r.id) ?? str(meta.knowledgeId);
    if (!id) continue;
    const title = str(r.title) ?? str(meta.title) ?? id;
    const snippet = str(r.snippet) ?? str(meta.text);
    const url = str(r.url) ?? str(meta.url);
    out.push({
      id: id.slice(0, 200),
      type: (str(r.type) ?? "knowledge").slice(0, 50),
      title: title.slice(0, 1000),
      ...(snippet ? { snippet: clip(snippet, 300) } : {}),
      ...(url ? { url: url.slice(0, 4000) } : {}),
    });
  }
  return out;
}

function composeAnswer(question: string, result: { output: unknown; sources: Source[] } | { error: string }): string {
  const parts = [`You asked: "${clip(question, 2000)}".`];
  parts.push("I am the agenthub demo agent: no model runs behind me, so I reflect your question instead of answering it.");
  if ("error" in result) {
    parts.push(`My semantic_search over this workspace's knowledge did not work (${result.error}), so I answered without it.`);
  } else if (result.sources.length > 0) {
    parts.push(`My semantic_search over this workspace's knowledge found ${result.sources.length} related item${result.sources.length === 1 ? "" : "s"}, the closest being "${clip(result.sources[0]!.title, 100)}".`);
  } else {
    parts.push("My semantic_search over this workspace's knowledge found nothing related; add knowledge items to see them cited here.");
  }
  parts.push("Connect a real agent (an HTTP agent server, or a socket with the turns:serve scope) to get real answers, streamed live just like this one.");
  return parts.join(" ");
}

/** The text of a message's content, whatever its shape. */
export function messageText(message: TurnRequest["message"] | undefined): string {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    const texts = content.map((c) => (typeof c === "string" ? c : str((c as { text?: unknown } | null)?.text))).filter(Boolean);
    if (texts.length) return texts.join("\n");
  }
  if (content && typeof content === "object" && typeof (content as { text?: unknown }).text === "string") return (content as { text: string }).text;
  return content == null ? "" : JSON.stringify(content);
}

/** A few words per chunk, whitespace kept, so the chunks join back into the text exactly. */
function chunks(text: string): string[] {
  const tokens = text.match(/\S+\s*/g) ?? [];
  const out: string[] = [];
  const lead = text.match(/^\s*/)?.[0] ?? "";
  for (let i = 0; i < tokens.length; ) {
    const n = 2 + Math.floor(Math.random() * 3);
    out.push(tokens.slice(i, i + n).join(""));
    i += n;
  }
  if (lead && out.length) out[0] = lead + out[0];
  return out;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);
const str = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : undefined);
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A tool output small enough for one event (64 KiB): large ones are summarised. */
function boundOutput(output: unknown): unknown {
  const size = Buffer.byteLength(JSON.stringify(output) ?? "");
  if (size <= 32 * 1024) return output;
  return { truncated: true, bytes: size, ...(Array.isArray(output) ? { items: output.length } : {}) };
}
