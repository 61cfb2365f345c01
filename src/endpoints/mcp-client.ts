/**
 * The hub as an MCP client of the workspace's MCP servers (Streamable HTTP, with the official
 * `@modelcontextprotocol/sdk`): to list the tools a server offers (GET /api/mcp-servers) and to
 * run them for model agents (turns/model.ts). Every request goes through the guarded fetch
 * (SSRF guard, timeouts, byte bound) and carries only the headers configured for that server.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Fetch } from "./guarded-fetch.js";

/** How the hub reaches one MCP server: its URL and its (opened) headers. */
export interface McpTarget {
  url: string;
  headers?: Record<string, string> | undefined;
}

export interface McpTool {
  name: string;
  description?: string | undefined;
  /** The tool's input as JSON Schema. */
  inputSchema: Record<string, unknown>;
}

/** At most this many tools are taken from one server (a hostile server could list thousands). */
export const MAX_MCP_TOOLS = 128;
/** A connection (initialize and listing) must be done within this. */
export const MCP_CONNECT_MS = 15_000;

/** An open session with one MCP server. */
export interface McpSession {
  tools: McpTool[];
  /** Runs a tool; answers its result as the server sent it (`content`, `structuredContent`, `isError`). */
  call(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<McpCallResult>;
  close(): Promise<void>;
}

export interface McpCallResult {
  content: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
}

/** Connects, initializes and lists the server's tools. Throws with a reason on failure. */
export async function openMcp(target: McpTarget, fetch: Fetch, options: { timeoutMs?: number; callTimeoutMs?: number } = {}): Promise<McpSession> {
  const timeout = options.timeoutMs ?? MCP_CONNECT_MS;
  const transport = new StreamableHTTPClientTransport(new URL(target.url), {
    fetch,
    requestInit: { headers: target.headers ?? {}, redirect: "manual" },
  });
  const client = new Client({ name: "agenthub", version: "1.0.0" }, { capabilities: {} });
  try {
    await client.connect(transport, { timeout });
    const listed = await client.listTools(undefined, { timeout });
    const tools = listed.tools.slice(0, MAX_MCP_TOOLS).map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.inputSchema as Record<string, unknown>,
    }));
    return {
      tools,
      async call(name, args, signal) {
        const result = await client.callTool({ name, arguments: args }, undefined, {
          timeout: options.callTimeoutMs ?? 120_000,
          ...(signal ? { signal } : {}),
        });
        return result as McpCallResult;
      },
      close: () => client.close().catch(() => {}),
    };
  } catch (err) {
    await client.close().catch(() => {});
    throw new Error(`the MCP server at ${new URL(target.url).host} could not be used: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The tools a server offers, for listing (the session is closed again). */
export async function listMcpTools(target: McpTarget, fetch: Fetch): Promise<McpTool[]> {
  const session = await openMcp(target, fetch);
  try {
    return session.tools;
  } finally {
    await session.close();
  }
}
