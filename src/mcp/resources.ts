/**
 * The sessions and team channels the caller may read, as MCP resources
 * (`agenthub://sessions/{sessionId}`, `agenthub://channels/{channelId}`), listed, read and
 * subscribed to with the principal of each request. A subscription to a hub resource the caller
 * may not read answers "resource not found", as REST answers 404; a subscription to a URI that
 * is not the hub's is accepted and never updated (the MCP spec leaves them to the server).
 * Updates are sent by sessions.ts when a committed event about the resource reaches this node.
 */
import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";
import { presentSession } from "../domain/sessions/service.js";
import type { Services } from "../services.js";
import { principalOf } from "./tools.js";

const SESSION_PREFIX = "agenthub://sessions/";
const CHANNEL_PREFIX = "agenthub://channels/";
/** Listed resources of each kind: the most recent, one page. */
const LIST_LIMIT = 100;
/** Subscriptions one MCP session may hold. */
export const MAX_SUBSCRIPTIONS = 1000;

export const resourceUri = {
  session: (id: string) => `${SESSION_PREFIX}${encodeURIComponent(id)}`,
  channel: (id: string) => `${CHANNEL_PREFIX}${encodeURIComponent(id)}`,
};

/** What a hub URI names; undefined for any other URI. */
export function parseResourceUri(uri: string): { kind: "session" | "channel"; id: string } | undefined {
  for (const [kind, prefix] of [["session", SESSION_PREFIX], ["channel", CHANNEL_PREFIX]] as const) {
    if (uri.startsWith(prefix) && uri.length > prefix.length) return { kind, id: decodeURIComponent(uri.slice(prefix.length)) };
  }
  return undefined;
}

/** Whether the principal may read the resource now (the policies of REST). */
export async function mayRead(s: Services, p: Principal, target: { kind: "session" | "channel"; id: string }): Promise<boolean> {
  try {
    if (target.kind === "session") await s.sessions.readable(p, target.id);
    else await s.channels.readable(p, target.id);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.status < 500) return false;
    throw err;
  }
}

/** MCP's "resource not found" (the spec's -32002). */
const notFound = (uri: string) => new McpError(-32002, "Resource not found", { uri });

export function registerResources(server: McpServer, s: Services, subscriptions: Set<string>): void {
  const asJson = (uri: string, value: unknown) => ({ contents: [{ uri, mimeType: "application/json", text: JSON.stringify(value) }] });
  const guarded = async <T>(uri: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError && err.status < 500) throw notFound(uri);
      throw err;
    }
  };

  server.registerResource(
    "session",
    new ResourceTemplate(`${SESSION_PREFIX}{sessionId}`, {
      list: async (extra) => {
        const p = principalOf(extra);
        const { agents } = await s.agents.list(p, { limit: 50 });
        const pages = await Promise.all(agents.map((a) => s.sessions.list(p, a.id, false, { limit: LIST_LIMIT, cursor: undefined }).catch(() => ({ sessions: [] }))));
        const recent = pages.flatMap((x) => x.sessions).sort((x, y) => String(y.updated_at).localeCompare(String(x.updated_at))).slice(0, LIST_LIMIT);
        return { resources: recent.map((x) => ({ uri: resourceUri.session(x.id), name: x.title || x.id, description: `Session with ${x.agent_id}`, mimeType: "application/json" })) };
      },
    }),
    { title: "Session", description: "A session the caller may read, with a page of its messages (oldest first)", mimeType: "application/json" },
    (uri, vars, extra) =>
      guarded(uri.href, async () => {
        const session = await s.sessions.readable(principalOf(extra), decodeURIComponent(String(vars.sessionId)));
        return asJson(uri.href, { session: presentSession(session), ...(await s.sessionMessages.pageOf(session, { limit: 50, cursor: undefined, since: undefined })) });
      }),
  );

  server.registerResource(
    "channel",
    new ResourceTemplate(`${CHANNEL_PREFIX}{channelId}`, {
      list: async (extra) => {
        const { channels } = await s.channels.list(principalOf(extra), { limit: LIST_LIMIT });
        return { resources: channels.map((c) => ({ uri: resourceUri.channel(c.id), name: c.name, description: c.description ?? undefined, mimeType: "application/json" })) };
      },
    }),
    { title: "Team channel", description: "A team channel the caller may read, with its most recent messages", mimeType: "application/json" },
    (uri, vars, extra) =>
      guarded(uri.href, async () => {
        const p = principalOf(extra);
        const id = decodeURIComponent(String(vars.channelId));
        return asJson(uri.href, { channel: await s.channels.get(p, id), ...(await s.channels.history(p, id, { limit: 50 })) });
      }),
  );

  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    const uri = request.params.uri;
    const target = parseResourceUri(uri);
    if (target && !(await mayRead(s, principalOf(extra), target))) throw notFound(uri);
    if (!subscriptions.has(uri) && subscriptions.size >= MAX_SUBSCRIPTIONS) throw new McpError(ErrorCode.InvalidRequest, `At most ${MAX_SUBSCRIPTIONS} subscriptions per session`);
    subscriptions.add(uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });
}
