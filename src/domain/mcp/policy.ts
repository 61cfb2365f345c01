/**
 * Who may see, use and change the workspace's MCP servers (the servers model agents call tools
 * of). Grants are read from the caller's current token on every request, as for groups: the same
 * rule decides (groups/policy.ts isAllowedBy), by email and `groups` claim, and
 * `allowed_groups: ["*"]` grants everyone in the workspace.
 *
 * - master key / `admin` role: every server of the workspace; the only ones who may create,
 *   change or delete one (403 for anyone else who may see it).
 * - users: the servers whose grant admits them (and those they created), which they may see and
 *   their model agents' turns may use; another server answers 404, as one of another workspace:
 *   whoever is not granted a server may not know it exists.
 * - agent keys: grants are for people; an agent key sees no server (an empty list, 404) and
 *   changes none (403). A model agent's turn uses the servers the asking person may use.
 */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { isAllowedBy } from "../groups/policy.js";
import { mcpServers, type McpServer } from "./repository.js";

/** read: see it (and its tools), and use it in a turn. manage: create, change, delete. */
export type McpServerAction = "read" | "manage";

/** The grant rule for one server. */
export function mayUseMcpServer(p: Principal, server: McpServer): boolean {
  if (p.workspaceId !== server.workspace_id) return false;
  if (isWorkspaceAdmin(p)) return true;
  if (p.kind !== "user") return false;
  if (server.created_by !== null && server.created_by === p.userId) return true;
  return isAllowedBy(server, p, { everyone: true });
}

export function assertMayManageMcpServers(p: Principal): void {
  if (!isWorkspaceAdmin(p)) throw new Forbidden("Only the master key or an admin may change the workspace's MCP servers");
}

/** The servers the caller may see, oldest first. */
export async function visibleMcpServers(db: Knex, p: Principal): Promise<McpServer[]> {
  if (p.kind === "agent") return [];
  return (await mcpServers.all(db, p.workspaceId)).filter((s) => mayUseMcpServer(p, s));
}

/** Loads a server the caller may `action`: NotFound if they may not see it, Forbidden if they may see but not manage it. */
export async function loadMcpServerFor(db: Knex, p: Principal, id: string, action: McpServerAction): Promise<McpServer> {
  // An agent key may know of no server, but a change is refused for what it is, as groups do.
  if (action === "manage" && p.kind === "agent") assertMayManageMcpServers(p);
  const server = await mcpServers.find(db, p.workspaceId, id);
  if (!server || !mayUseMcpServer(p, server)) throw new NotFound("MCP server");
  if (action === "manage") assertMayManageMcpServers(p);
  return server;
}
