/**
 * The hub's tools for MCP clients. Each calls the domain services with the principal of the
 * request that called it, so every policy applies exactly as on REST (a key without
 * `sessions:write` cannot ask; what one may not read answers "not found"). A refused call is a
 * tool error (`isError`) naming the problem as REST would: status, title and detail.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Principal } from "../auth/principal.js";
import { AppError, Unauthorized } from "../errors.js";
import { publishSchema } from "../http/routes/channels/schema.js";
import { PageQuery, parse, SinceQuery } from "../schemas.js";
import { STRATEGIES } from "../domain/asks/routing.js";
import { presentSession } from "../domain/sessions/service.js";
import type { Services } from "../services.js";
import { askAgent, askGroup, type AskContext, type Extra } from "./ask.js";

export interface ToolDeps {
  services: Services;
  messageMaxBytes: number;
  /** How long a followed turn may take before the call gives up waiting (the turn runs on). */
  turnTimeoutMs: number;
}

/** The credential's principal, put on the request by the /mcp middleware (http.ts). */
export function principalOf(extra: { authInfo?: { extra?: Record<string, unknown> } }): Principal {
  const p = extra.authInfo?.extra?.principal as Principal | undefined;
  if (!p) throw new Unauthorized();
  return p;
}

const json = (value: unknown): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(value) }],
  structuredContent: value as Record<string, unknown>,
});

/** A domain error as a tool error, in REST's words; anything else is the SDK's to report. */
export function toolError(err: unknown): CallToolResult {
  if (!(err instanceof AppError)) throw err;
  const fields = Array.isArray(err.extra.errors) ? ` (${(err.extra.errors as Array<{ field: string; message: string }>).map((e) => `${e.field}: ${e.message}`).join("; ")})` : "";
  return { isError: true, content: [{ type: "text", text: `${err.status} ${err.title}: ${err.detail}${fields}` }] };
}

const page = (limit: number | undefined, cursor: string | undefined) => parse(PageQuery, { limit: limit?.toString(), cursor }, "arguments");
const Limit = z.number().int().min(1).max(200).optional().describe("How many to answer (default 50, at most 200)");
const Cursor = z.string().max(500).optional().describe("next_cursor of the previous page");

export function registerTools(server: McpServer, deps: ToolDeps, context: Omit<AskContext, "services" | "turnTimeoutMs">): void {
  const s = deps.services;
  const publish = publishSchema(deps.messageMaxBytes);
  const ask = { ...context, services: s, turnTimeoutMs: deps.turnTimeoutMs };
  const run =
    <A>(fn: (p: Principal, args: A, extra: Extra) => Promise<CallToolResult>) =>
    async (args: A, extra: Extra) => {
      try {
        return await fn(principalOf(extra), args, extra);
      } catch (err) {
        return toolError(err);
      }
    };

  server.registerTool(
    "list_agents",
    { description: "The agents you may use in this hub, by id", inputSchema: { limit: Limit, cursor: Cursor }, annotations: { readOnlyHint: true } },
    run(async (p, a: { limit?: number | undefined; cursor?: string | undefined }) => json(await s.agents.list(p, page(a.limit, a.cursor)))),
  );

  server.registerTool(
    "ask_agent",
    {
      description:
        "Ask an agent: starts a turn in a new session (or the one named), streams the answer as progress notifications, and answers it whole with {sessionId, turnId, answer}",
      inputSchema: {
        agentId: z.string().describe("The agent's id (see list_agents)"),
        content: z.string().min(1).describe("Your message"),
        sessionId: z.string().optional().describe("Continue this session (its history is the agent's context); absent: a new session"),
      },
      outputSchema: { sessionId: z.string(), turnId: z.string(), answer: z.string() },
    },
    run((p, a: { agentId: string; content: string; sessionId?: string | undefined }, extra) => askAgent(ask, p, a, extra)),
  );

  server.registerTool(
    "ask_group",
    {
      description:
        "Ask a group of agents in one of its conversations (a new one unless conversationId): each chosen agent answers; progress notifications stream the answers, each prefixed with its agent when several answer",
      inputSchema: {
        groupId: z.string().describe("The group's id"),
        content: z.string().min(1).describe("Your message; name agents with @agent-id"),
        strategy: z.enum(STRATEGIES).optional().describe("Which agents answer: mentions, all, match, first, round_robin"),
        conversationId: z.string().optional().describe("Continue this conversation of the group; absent: a new one"),
      },
    },
    run((p, a: { groupId: string; content: string; strategy?: (typeof STRATEGIES)[number] | undefined; conversationId?: string | undefined }, extra) =>
      askGroup(ask, p, a, extra),
    ),
  );

  server.registerTool(
    "list_sessions",
    {
      description: "Sessions you may read: of one agent (agentId), the conversations of one group (groupId), or, with neither, your most recent sessions with any agent",
      inputSchema: { agentId: z.string().optional(), groupId: z.string().optional(), limit: Limit, cursor: Cursor },
      annotations: { readOnlyHint: true },
    },
    run(async (p, a: { agentId?: string | undefined; groupId?: string | undefined; limit?: number | undefined; cursor?: string | undefined }) => {
      if (a.agentId) return json(await s.sessions.list(p, a.agentId, false, page(a.limit, a.cursor)));
      if (a.groupId) return json(await s.conversations.list(p, a.groupId, page(a.limit, a.cursor)));
      return json({ sessions: await recentSessions(s, p, page(a.limit, undefined).limit), next_cursor: null });
    }),
  );

  server.registerTool(
    "read_session",
    {
      description: "A session (or group conversation) and a page of its messages, oldest first",
      inputSchema: { sessionId: z.string(), limit: Limit, cursor: Cursor },
      annotations: { readOnlyHint: true },
    },
    run(async (p, a: { sessionId: string; limit?: number | undefined; cursor?: string | undefined }) => {
      const session = await s.sessions.readable(p, a.sessionId);
      const messages = await s.sessionMessages.pageOf(session, { ...page(a.limit, a.cursor), since: undefined });
      return json({ session: presentSession(session), ...messages });
    }),
  );

  server.registerTool(
    "publish_to_channel",
    {
      description: "Broadcast a message to a team channel's subscribers, as an agent you act for; a person (user token) without agentId posts as themselves",
      inputSchema: {
        channelId: z.string(),
        message: z.string().min(1),
        agentId: z.string().optional().describe("The agent the message is from (an agent key: its own agent)"),
        metadata: z.record(z.string(), z.unknown()).optional(),
      },
    },
    run(async (p, a: { channelId: string; message: string; agentId?: string | undefined; metadata?: Record<string, unknown> | undefined }) => {
      const agentId = a.agentId ?? (p.kind === "agent" ? p.agentId : undefined);
      const body = parse(publish, { agentId, message: a.message, metadata: a.metadata }, "arguments");
      return json((await s.channels.publish(p, a.channelId, body)).message);
    }),
  );

  server.registerTool(
    "read_channel",
    {
      description: "A team channel's messages, oldest first: the most recent, or those after since/cursor",
      inputSchema: { channelId: z.string(), since: z.string().optional().describe("ISO 8601 or Unix milliseconds"), limit: Limit, cursor: Cursor },
      annotations: { readOnlyHint: true },
    },
    run(async (p, a: { channelId: string; since?: string | undefined; limit?: number | undefined; cursor?: string | undefined }) => {
      const since = a.since === undefined ? undefined : parse(SinceQuery, a.since, "since");
      return json(await s.channels.history(p, a.channelId, { since, cursor: a.cursor, limit: a.limit ?? 50 }));
    }),
  );

  server.registerTool(
    "search_knowledge",
    {
      description: "Search the workspace's knowledge (full text, ranked, what your role may see): the best matching passages",
      inputSchema: { query: z.string().min(1), topK: z.number().int().min(1).max(10).optional(), languageId: z.string().optional() },
      annotations: { readOnlyHint: true },
    },
    run(async (p, a: { query: string; topK?: number | undefined; languageId?: string | undefined }) =>
      json({ matches: await s.knowledge.search(p, { text: a.query, topK: a.topK, languageId: a.languageId }) }),
    ),
  );
}

/** Agents looked at for "your most recent sessions": bounded, as one page of agents. */
const RECENT_AGENTS = 50;

/** The caller's most recently active sessions across the agents they may use (one page of agents). */
async function recentSessions(s: Services, p: Principal, limit: number) {
  const { agents } = await s.agents.list(p, { limit: RECENT_AGENTS });
  const pages = await Promise.all(agents.map((a) => s.sessions.list(p, a.id, false, { limit, cursor: undefined }).catch(() => ({ sessions: [] }))));
  return pages
    .flatMap((x) => x.sessions)
    .sort((x, y) => String(y.updated_at).localeCompare(String(x.updated_at)))
    .slice(0, limit);
}
