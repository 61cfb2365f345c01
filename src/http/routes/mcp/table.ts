/**
 * Routes of the MCP servers family (`/api/mcp-servers`, "Every kind of agent" in the contract):
 * the MCP servers the workspace's model agents may use. Who sees and changes them:
 * domain/mcp/policy.ts. Only `GET` of one server contacts it (to list its tools).
 */
import { PageQuery } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { T } from "../../examples.js";
import { ANY_CREDENTIAL as ANY, route, type Route } from "../../table.js";
import * as S from "./schema.js";

const READ = "mcp/policy.ts loadMcpServerFor(read): master key, admins, and the people its grant admits (others: 404)";
const MANAGE = "mcp/policy.ts loadMcpServerFor(manage): master key or admin (403 for others who may see it)";
const tag = "MCP servers";
const example = {
  id: "mcp_0k3j5h2g1f9d8s7a6p5o4i3u2",
  workspace_id: "ws_8f2k3j",
  name: "github",
  url: "https://mcp.example.com/mcp",
  header_names: ["Authorization"],
  allowed_users: ["bob@example.com"],
  allowed_groups: ["google-workspace/sre@example.com"],
  requires_approval: true,
  created_by: 1,
  created_at: T,
  updated_at: T,
};
const tools = [{ name: "search_issues", description: "Search the issues of a repository", inputSchema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] } }];

export function mcpServersTable(s: Services): Route[] {
  return [
    route({
      method: "get", path: "/api/mcp-servers", operationId: "listMcpServers", tag, summary: "MCP servers the caller may use (all of them for the master key and admins)",
      security: ANY, policy: READ, query: PageQuery,
      answer: { status: 200, description: "`{mcp_servers, next_cursor}`; servers are not contacted", schema: S.McpServerPage, example: { mcp_servers: [example], next_cursor: null } },
      handle: ({ principal, query }) => s.mcpServers.list(principal, query),
    }),
    route({
      method: "post", path: "/api/mcp-servers", operationId: "createMcpServer", tag, summary: "Add an MCP server (master key or admin)",
      description: "`headers` are write-only: sealed at rest, sent only to this server, answered as `header_names`. `allowed_groups: [\"*\"]` grants everyone in the workspace. `requiresApproval` (or `requires_approval`): people approve each call of its tools.",
      security: ANY, policy: MANAGE, errors: [409], body: S.CreateMcpServer,
      bodyExample: { name: "github", url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer ghp_…" }, allowed_groups: ["*"], requiresApproval: true },
      answer: { status: 201, description: "The server", schema: S.McpServer, example },
      handle: ({ principal, body }) => s.mcpServers.create(principal, body),
    }),
    route({
      method: "get", path: "/api/mcp-servers/{id}", operationId: "getMcpServer", tag, summary: "Get an MCP server with the tools it offers",
      description: "The tools are listed live (kept up to 30 s); a server that cannot be reached answers `tools: null` and `tools_error`.",
      security: ANY, policy: READ,
      answer: { status: 200, description: "The server and its tools", schema: S.McpServerWithTools, example: { ...example, tools, tools_error: null } },
      handle: ({ principal, params }) => s.mcpServers.get(principal, params.id!),
    }),
    route({
      method: "patch", path: "/api/mcp-servers/{id}", operationId: "updateMcpServer", tag, summary: "Change an MCP server (master key or admin)",
      description: "`headers` replaces every header (`null` removes them); a `url` on another origin sent without `headers` drops the stored headers.",
      security: ANY, policy: MANAGE, errors: [409], body: S.UpdateMcpServer, bodyExample: { allowed_users: ["bob@example.com", "carol@example.com"] },
      answer: { status: 200, description: "The server", schema: S.McpServer, example },
      handle: ({ principal, params, body }) => s.mcpServers.update(principal, params.id!, body),
    }),
    route({
      method: "delete", path: "/api/mcp-servers/{id}", operationId: "deleteMcpServer", tag, summary: "Remove an MCP server (master key or admin)",
      security: ANY, policy: MANAGE, answer: { status: 204, description: "Removed" },
      handle: ({ principal, params }) => s.mcpServers.remove(principal, params.id!),
    }),
  ];
}
