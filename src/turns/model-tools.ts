/**
 * The tools a model agent's turn may call (turns/model.ts): the workspace's knowledge tools
 * (`tools: true`), run as the person who asked so RBAC and key scopes apply, and the tools of the
 * MCP servers the agent names that this person may use, each opened for the turn and closed at
 * its end. What a tool answers is bounded before the model (and the turn's watchers) see it.
 *
 * Approvals: a tool of an MCP server marked `requiresApproval`, or a knowledge tool the agent's
 * `toolsRequireApproval` names, runs only once people approve the call (the `ApprovalGate`,
 * model.ts: the turn waits meanwhile); otherwise the model is told who refused it and why.
 */
import { dynamicTool, jsonSchema, type ToolSet } from "ai";
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";
import type { ModelEndpoint } from "../domain/agents/endpoint.js";
import type { ToolDefinition, ToolResult } from "../domain/knowledge/tools.js";
import type { Source } from "../domain/sessions/source.js";
import type { UsableMcpServer } from "../domain/mcp/service.js";
import { AppError } from "../errors.js";
import { openMcp, type McpCallResult, type McpSession } from "../endpoints/mcp-client.js";
import type { Fetch } from "../endpoints/guarded-fetch.js";

/** The most bytes of one tool's answer the model and the watchers get (the rest is cut, and said so). */
export const MAX_TOOL_OUTPUT_BYTES = 16 * 1024;
/** The most tools offered to the model in one turn, all servers together (OpenAI's own limit is 128). */
export const MAX_TURN_TOOLS = 128;
/** OpenAI-compatible servers accept tool names of at most 64 characters out of [a-zA-Z0-9_-]. */
const MAX_TOOL_NAME = 64;

/** The knowledge tools, as the endpoint needs them (services.tools, wired in server.ts). */
export interface KnowledgeToolsPort {
  list(): ToolDefinition[];
  execute(actor: Principal, name: string, input: unknown): Promise<ToolResult>;
}

export interface McpServersPort {
  /** Those of `ids` the asker may use, with their headers opened; the others are left out. */
  usableBy(asker: Principal, ids: string[]): Promise<UsableMcpServer[]>;
}

export interface ModelToolsDeps {
  fetch: Fetch;
  log: Logger;
  knowledgeTools?: KnowledgeToolsPort | undefined;
  mcpServers?: McpServersPort | undefined;
}

/** What a tool call is, for the approval gate. */
export interface PendingCall {
  toolCallId: string;
  name: string;
  input: unknown;
}

/** Decides whether a call that needs approval may run: asks people, and waits for their decision. */
export type ApprovalGate = (call: PendingCall, signal: AbortSignal) => Promise<{ approved: true } | { approved: false; reason: string }>;

export interface TurnTools {
  tools: ToolSet;
  /** The citations a knowledge tool call answered with, taken once. */
  takeSources(toolCallId: string): Source[] | undefined;
  /** Why some named MCP servers are not offered (none when all are). */
  notes: { unavailable: Array<{ server: string; reason: string }>; notAllowed: number };
  /** Closes every MCP session opened for the turn. */
  close(): Promise<void>;
}

/** Opens the turn's tools. Never throws for a server that cannot be opened: it is left out, with a note. */
export async function openTurnTools(deps: ModelToolsDeps, endpoint: ModelEndpoint, asker: Principal, signal: AbortSignal, gate: ApprovalGate): Promise<TurnTools> {
  const tools: ToolSet = {};
  const sources = new Map<string, Source[]>();
  const sessions: McpSession[] = [];
  const notes: TurnTools["notes"] = { unavailable: [], notAllowed: 0 };
  const room = () => Object.keys(tools).length < MAX_TURN_TOOLS;

  const ask = endpoint.toolsRequireApproval;
  const needsApproval = (name: string) => ask === true || (Array.isArray(ask) && ask.includes(name));
  if (endpoint.tools && deps.knowledgeTools) {
    const kt = deps.knowledgeTools;
    for (const def of kt.list()) {
      if (!room()) break;
      tools[def.name] = dynamicTool({
        description: def.description,
        inputSchema: jsonSchema(def.inputSchema as never),
        execute: async (input, { toolCallId, abortSignal }) => {
          if (needsApproval(def.name)) {
            const decided = await gate({ toolCallId, name: def.name, input }, abortSignal ?? signal);
            if (!decided.approved) throw new Error(decided.reason);
          }
          const result = await kt.execute(asker, def.name, input).catch((err: unknown) => {
            if (err instanceof AppError) throw new Error(err.message);
            deps.log.warn({ err, tool: def.name }, "a knowledge tool failed");
            throw new Error("the tool failed");
          });
          if ("error" in result) throw new Error(result.error);
          if (result.sources?.length) sources.set(toolCallId, result.sources.slice(0, 100));
          return boundOutput(result.output);
        },
      });
    }
  }

  const ids = [...new Set(endpoint.mcpServers ?? [])];
  if (ids.length && deps.mcpServers) {
    const usable = await deps.mcpServers.usableBy(asker, ids);
    notes.notAllowed = ids.length - usable.length;
    const opened = await Promise.all(
      usable.map(async (server) => {
        try {
          return { server, session: await openMcp({ url: server.url, headers: server.headers }, deps.fetch) };
        } catch (err) {
          notes.unavailable.push({ server: server.name, reason: err instanceof Error ? err.message.slice(0, 500) : "it could not be opened" });
          return undefined;
        }
      }),
    );
    for (const o of opened) if (o) sessions.push(o.session);
    if (signal.aborted) await closeAll(sessions);
    for (const o of opened) {
      if (!o) continue;
      for (const t of o.session.tools) {
        if (!room()) break;
        const name = uniqueName(tools, `${o.server.name}__${t.name}`);
        tools[name] = dynamicTool({
          description: (t.description ?? "").slice(0, 4000),
          inputSchema: jsonSchema(objectSchema(t.inputSchema) as never),
          execute: async (input, { toolCallId, abortSignal }) => {
            const callSignal = abortSignal ?? signal;
            if (o.server.requiresApproval) {
              const decided = await gate({ toolCallId, name, input }, callSignal);
              if (!decided.approved) throw new Error(decided.reason);
            }
            const args = input && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
            const result = await o.session.call(t.name, args, callSignal).catch((err: unknown) => {
              throw new Error(`the MCP server ${o.server.name} failed: ${err instanceof Error ? err.message.slice(0, 500) : "no reason given"}`);
            });
            return boundOutput(mcpOutput(result));
          },
        });
      }
    }
  }

  return {
    tools,
    takeSources(id) {
      const s = sources.get(id);
      sources.delete(id);
      return s;
    },
    notes,
    close: () => closeAll(sessions),
  };
}

async function closeAll(sessions: McpSession[]): Promise<void> {
  await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => {})));
}

/** What a model is told an MCP call answered: its structured content, else its text, else its content; an error result is an error. */
function mcpOutput(result: McpCallResult): unknown {
  const content = Array.isArray(result.content) ? result.content : [];
  const texts = content.filter((c): c is { type: "text"; text: string } => (c as { type?: unknown })?.type === "text" && typeof (c as { text?: unknown }).text === "string");
  const text = texts.map((c) => c.text).join("\n");
  if (result.isError) throw new Error(text.slice(0, 2000) || "the tool answered an error");
  if (result.structuredContent !== undefined) return result.structuredContent;
  return texts.length === content.length ? text : content;
}

/** A tool's input schema as the model API wants it: a JSON Schema object. */
function objectSchema(schema: Record<string, unknown>): Record<string, unknown> {
  return schema && typeof schema === "object" && schema.type === "object" ? schema : { type: "object", properties: {} };
}

/** `name` made of what OpenAI-compatible servers accept, at most 64 characters, unique among `taken`. */
export function uniqueName(taken: ToolSet, name: string): string {
  const base = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, MAX_TOOL_NAME) || "tool";
  if (!(base in taken)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base.slice(0, MAX_TOOL_NAME - String(i).length - 1)}_${i}`;
    if (!(candidate in taken)) return candidate;
  }
}

/**
 * A tool's answer within MAX_TOOL_OUTPUT_BYTES: itself when it fits, else the start of its JSON
 * with a note saying it was cut. NUL characters (which no stored answer may hold) are dropped.
 */
export function boundOutput(value: unknown): unknown {
  const clean = withoutNul(value);
  const json = JSON.stringify(clean) ?? "null";
  const bytes = Buffer.byteLength(json);
  if (bytes <= MAX_TOOL_OUTPUT_BYTES) return clean;
  const head = Buffer.from(json).subarray(0, MAX_TOOL_OUTPUT_BYTES).toString("utf8").replace(/\uFFFD$/, "");
  return `${head}… [truncated: the tool answered ${bytes} bytes; only the first ${MAX_TOOL_OUTPUT_BYTES} are shown]`;
}

function withoutNul(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.includes("\u0000") ? value.replaceAll("\u0000", "") : value;
  if (depth > 64 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => withoutNul(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll("\u0000", ""), withoutNul(v, depth + 1)]));
}
