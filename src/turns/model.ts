/**
 * The model endpoint: an agent `{protocol: "model", url, model, …}` is a model behind an
 * OpenAI-compatible chat-completions API (a hosted provider, Ollama, vLLM), and the hub itself
 * runs the agent. The `ai` package's `streamText` (with `@ai-sdk/openai-compatible`) streams the
 * answer and runs the tool loop up to `maxSteps`; its stream parts become turn events as they
 * come: text → `content_delta`, reasoning → `thinking_*`, tool calls → `tool_call_start`/`_end`,
 * the end → `message_end` with the usage summed over the steps, then `done`.
 *
 * Every call goes through the guarded fetch with only the agent's own (sealed) API key. A cancel
 * or the turn's deadline aborts the stream and every tool call; an error answer, a malformed
 * chunk or a silent server fails the turn with the reason. MCP sessions are closed at the end,
 * whatever the end. The model server is not retried: a failed call fails the turn at once.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { APICallError, stepCountIs, streamText, type FinishReason, type LanguageModelUsage, type ModelMessage } from "ai";
import { DEFAULT_MODEL_STEPS, type ModelEndpoint } from "../domain/agents/endpoint.js";
import type { MessageView } from "../domain/sessions/messages.js";
import { OutboundError } from "../endpoints/guarded-fetch.js";
import type { AgentEndpoint, OutboundDeps, RunningTurn, TurnContext } from "./endpoint.js";
import { boundOutput, openTurnTools, type ApprovalGate, type KnowledgeToolsPort, type McpServersPort, type PendingCall, type TurnTools } from "./model-tools.js";
import { outcomeInWords } from "./approvals.js";
import type { ApprovalRequest } from "../domain/turns/events.js";

export interface ModelEndpointDeps extends Pick<OutboundDeps, "fetch" | "secrets" | "turnTimeoutMs" | "log"> {
  /** The workspace's knowledge tools (for `tools: true`). */
  knowledgeTools?: KnowledgeToolsPort | undefined;
  /** The workspace's MCP servers (for `mcpServers`). */
  mcpServers?: McpServersPort | undefined;
}

/** One history message's text at most (characters), and all of the history's together. */
const MAX_MESSAGE_CHARS = 32_000;
const MAX_HISTORY_CHARS = 200_000;
/** A delta longer than this is recorded in pieces (one event holds at most 64 KB). */
const MAX_DELTA_CHARS = 8_000;

const CANCELLED = "cancelled";
const TIMED_OUT = "timed out";

export function modelEndpoint(deps: ModelEndpointDeps): AgentEndpoint {
  return {
    protocol: "model",
    run: (context, turn) => runModel(deps, context, turn),
  };
}

async function runModel(deps: ModelEndpointDeps, context: TurnContext, turn: RunningTurn): Promise<void> {
  const endpoint = context.agent.endpoint as ModelEndpoint;
  const running = await turn.begin();
  if (!running) return;
  const abort = new AbortController();
  const stopListening = turn.whenCancelled(() => abort.abort(CANCELLED));
  // The time limit counts the model's time, not the time people take to decide.
  let deadline: NodeJS.Timeout | undefined;
  const arm = () => {
    deadline = setTimeout(() => abort.abort(TIMED_OUT), deps.turnTimeoutMs);
    deadline.unref();
  };
  arm();
  const gate: ApprovalGate = async (call, signal) => {
    clearTimeout(deadline);
    try {
      const approval = await turn.askPeople(approvalFor(call), signal);
      return approval.status === "approved" ? { approved: true } : { approved: false, reason: `people did not let this call run: it was ${outcomeInWords(approval)}` };
    } finally {
      arm();
    }
  };
  let tools: TurnTools | undefined;
  let apiKey: string | undefined;
  try {
    try {
      apiKey = context.agent.endpoint_api_key ? deps.secrets.open(context.agent.endpoint_api_key) : undefined;
    } catch {
      return void (await turn.finish({ status: "failed", error: "the model's API key could not be opened (was SECRETS_KEY changed?); set it again" }));
    }
    tools = await openTurnTools(deps, endpoint, context.asker, abort.signal, gate);
    const failure = await streamTurn(deps, context, turn, endpoint, tools, apiKey, abort);
    if (failure === undefined) return;
    if (abort.signal.reason === CANCELLED) return void (await turn.finish({ status: "cancelled" }));
    if (abort.signal.reason === TIMED_OUT) return void (await turn.finish({ status: "failed", error: `the model did not finish within ${deps.turnTimeoutMs / 1000} s` }));
    await turn.finish({ status: "failed", error: redact(failure, apiKey) });
  } catch (err) {
    if (abort.signal.reason === CANCELLED) return void (await turn.finish({ status: "cancelled" }));
    deps.log.warn({ err, turn: turn.id }, "model turn failed");
    await turn.finish({ status: "failed", error: redact(reasonOf(err), apiKey) });
  } finally {
    clearTimeout(deadline);
    stopListening();
    abort.abort();
    await tools?.close();
  }
}

/**
 * Streams the model's answer into the turn. Answers undefined once the turn is over (ended
 * normally, or ended elsewhere), else why it failed.
 */
async function streamTurn(
  deps: ModelEndpointDeps,
  context: TurnContext,
  turn: RunningTurn,
  endpoint: ModelEndpoint,
  tools: TurnTools,
  apiKey: string | undefined,
  abort: AbortController,
): Promise<string | undefined> {
  const provider = createOpenAICompatible({ name: "model", baseURL: endpoint.url, apiKey, fetch: deps.fetch, includeUsage: true });
  const hasTools = Object.keys(tools.tools).length > 0;
  const result = streamText({
    model: provider.chatModel(endpoint.model),
    ...(endpoint.system ? { system: endpoint.system } : {}),
    messages: [...historyMessages(context.history), { role: "user", content: textOf(context.trigger) }],
    ...(hasTools ? { tools: tools.tools } : {}),
    stopWhen: stepCountIs(endpoint.maxSteps ?? DEFAULT_MODEL_STEPS),
    maxRetries: 0,
    abortSignal: abort.signal,
    // Errors are read from the stream below; the default would print them to the console.
    onError: () => {},
  });

  const record = (event: Record<string, unknown>) => turn.record(event);
  if (!(await record({ type: "message_start", model: endpoint.model.slice(0, 200) }))) return undefined;
  const { unavailable, notAllowed } = tools.notes;
  if ((unavailable.length || notAllowed) && !(await record({ type: "metadata_update", metadata: { mcp: { unavailable, notAllowed } } }))) return undefined;

  const thinking = new Map<string, { thinkingId: string; startedAt: number }>();
  const toolStarts = new Map<string, number>();
  let thoughts = 0;
  let finishReason: FinishReason | undefined;
  let usage: LanguageModelUsage | undefined;
  for await (const part of result.fullStream) {
    let open = true;
    switch (part.type) {
      case "text-delta":
        for (const delta of pieces(part.text)) open &&= await record({ type: "content_delta", delta });
        break;
      case "reasoning-start": {
        const step = { thinkingId: `${turn.id}-thinking-${++thoughts}`, startedAt: Date.now() };
        thinking.set(part.id, step);
        open = await record({ type: "thinking_start", thinkingId: step.thinkingId, title: "Thinking" });
        break;
      }
      case "reasoning-delta": {
        const step = thinking.get(part.id);
        if (step) for (const delta of pieces(part.text)) open &&= await record({ type: "thinking_delta", thinkingId: step.thinkingId, delta });
        break;
      }
      case "reasoning-end": {
        const step = thinking.get(part.id);
        thinking.delete(part.id);
        if (step) open = await record({ type: "thinking_end", thinkingId: step.thinkingId, status: "completed", durationMs: Date.now() - step.startedAt });
        break;
      }
      case "tool-call":
        toolStarts.set(part.toolCallId, Date.now());
        open = await record({ type: "tool_call_start", toolCallId: idOf(part.toolCallId), name: part.toolName.slice(0, 200) || "tool", input: inputRecord(part.input) });
        break;
      case "tool-result": {
        open = await record({ type: "tool_call_end", toolCallId: idOf(part.toolCallId), output: part.output, durationMs: took(toolStarts, part.toolCallId) });
        const sources = tools.takeSources(part.toolCallId);
        if (open && sources) open = await record({ type: "sources", sources });
        break;
      }
      case "tool-error":
        open = await record({ type: "tool_call_end", toolCallId: idOf(part.toolCallId), error: messageOf(part.error).slice(0, 4000), durationMs: took(toolStarts, part.toolCallId) });
        break;
      case "finish":
        finishReason = part.finishReason;
        usage = part.totalUsage;
        break;
      case "error":
        return reasonOf(part.error);
      case "abort":
        return "aborted";
    }
    if (!open) return undefined; // the turn ended elsewhere (a cancel, its deadline): stop the model
  }
  if (abort.signal.aborted) return "aborted";
  if (!finishReason) return "the model's stream ended without finishing";
  const end = {
    type: "message_end",
    // The loop stopped at maxSteps while the model still wanted tools.
    finishReason: finishReason === "tool-calls" ? "max_steps" : finishReason === "content-filter" ? "content_filter" : finishReason,
    ...(usage && tokenUsage(usage)),
  };
  if (!(await record(end))) return undefined;
  await record({ type: "done" });
  return undefined;
}

/** The session before the trigger as chat messages: people's and agents' text, newest kept within the bound. */
export function historyMessages(history: MessageView[]): ModelMessage[] {
  const out: ModelMessage[] = [];
  let total = 0;
  for (const m of [...history].reverse()) {
    if (m.role !== "user" && m.role !== "assistant") continue;
    const text = textOf(m).slice(0, MAX_MESSAGE_CHARS);
    if (!text) continue;
    total += text.length;
    if (total > MAX_HISTORY_CHARS) break;
    out.push({ role: m.role, content: text });
  }
  return out.reverse();
}

/** A message's text: its string, or the text of its blocks. */
function textOf(m: Pick<MessageView, "content">): string {
  if (typeof m.content === "string") return m.content;
  return (m.content as Array<{ type?: unknown; text?: unknown }>)
    .map((b) => (b.type === "text" && typeof b.text === "string" ? b.text : ""))
    .filter(Boolean)
    .join("\n");
}

function tokenUsage(u: LanguageModelUsage): { tokenUsage: { inputTokens: number; outputTokens: number; totalTokens: number } } | undefined {
  if (u.inputTokens === undefined && u.outputTokens === undefined && u.totalTokens === undefined) return undefined;
  const inputTokens = u.inputTokens ?? 0;
  const outputTokens = u.outputTokens ?? 0;
  return { tokenUsage: { inputTokens, outputTokens, totalTokens: u.totalTokens ?? inputTokens + outputTokens } };
}

function pieces(text: string): string[] {
  if (!text) return [];
  if (text.length <= MAX_DELTA_CHARS) return [text];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += MAX_DELTA_CHARS) out.push(text.slice(i, i + MAX_DELTA_CHARS));
  return out;
}

const idOf = (id: string) => id.slice(0, 200) || "call";
const took = (starts: Map<string, number>, id: string) => {
  const at = starts.get(id);
  starts.delete(id);
  return at === undefined ? 0 : Date.now() - at;
};

/** A tool call's input as an event carries it: an object, cut when large. */
function inputRecord(input: unknown): Record<string, unknown> {
  const json = JSON.stringify(input) ?? "null";
  if (json.length > 16_000) return { truncated: `${json.slice(0, 16_000)}…` };
  return input && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : { value: input };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : typeof err === "string" ? err : "the tool failed";
}

const excerpt = (text: string, max = 300) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

/** Why a model call failed, in words for the turn's watchers. */
export function reasonOf(err: unknown): string {
  const outbound = findCause(err, (e) => e instanceof OutboundError) as OutboundError | undefined;
  if (APICallError.isInstance(err) && err.statusCode) {
    return `the model server answered ${err.statusCode}: ${excerpt(err.responseBody || err.message) || "(no body)"}`;
  }
  if (outbound) return `the model server could not be used: ${outbound.reason}`;
  if (findCause(err, (e) => (e as { code?: unknown }).code === "UND_ERR_BODY_TIMEOUT")) return "the model server went silent mid-answer";
  if (APICallError.isInstance(err)) return `the model server could not be reached: ${excerpt(err.message)}`;
  const name = err instanceof Error ? err.name : "";
  if (/JSONParseError|TypeValidationError|InvalidResponseDataError/.test(name)) {
    return `the model server sent a malformed chunk: ${excerpt(messageOf(err), 200)}`;
  }
  return `the model call failed: ${excerpt(messageOf(err), 300)}`;
}

function findCause(err: unknown, match: (e: unknown) => boolean): unknown {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) if (match(e)) return e;
  return undefined;
}

/** The reason with the API key blanked out (a server may echo what it was sent). */
function redact(reason: string, apiKey: string | undefined): string {
  return apiKey && apiKey.length >= 4 ? reason.split(apiKey).join("[redacted]") : reason;
}

/** The approval the hub asks for before a tool call: the call's arguments are its input. */
function approvalFor(call: PendingCall): ApprovalRequest {
  return {
    type: "approval_request",
    approvalId: `call-${call.toolCallId}`.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 200),
    title: `Run the tool ${call.name}?`,
    detail: `The agent wants to call ${call.name} with the input shown. It runs only once approved.`,
    input: boundOutput(call.input),
    quorum: 1,
  };
}
