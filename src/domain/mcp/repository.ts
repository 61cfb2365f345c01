/** SQL for the workspace's MCP servers (`mcp_servers`); rows leave normalised, headers still sealed. */
import type { Knex } from "knex";
import { intOrNull, json } from "../rows.js";

export interface McpServer {
  id: string;
  workspace_id: string;
  name: string;
  url: string;
  /** Sealed JSON object of header name to value (auth/secrets.ts); null: none. Never answered. */
  headers: string | null;
  allowed_users: string[];
  allowed_groups: string[];
  requires_approval: boolean;
  created_by: number | null;
  created_at: Date;
  updated_at: Date;
}

/** What a create or a change writes. */
export type McpServerFields = Pick<McpServer, "name" | "url" | "headers" | "allowed_users" | "allowed_groups" | "requires_approval">;

const toServer = (row: Record<string, any>): McpServer => ({
  id: row.id,
  workspace_id: row.workspace_id,
  name: row.name,
  url: row.url,
  headers: row.headers ?? null,
  allowed_users: json<string[]>(row.allowed_users, []),
  allowed_groups: json<string[]>(row.allowed_groups, []),
  requires_approval: !!row.requires_approval,
  created_by: intOrNull(row.created_by),
  created_at: row.created_at,
  updated_at: row.updated_at,
});

const columns = (f: McpServerFields) => ({
  name: f.name,
  url: f.url,
  headers: f.headers,
  allowed_users: JSON.stringify(f.allowed_users),
  allowed_groups: JSON.stringify(f.allowed_groups),
  requires_approval: f.requires_approval,
});

export const mcpServers = {
  async find(db: Knex, workspaceId: string, id: string): Promise<McpServer | undefined> {
    const row = await db("mcp_servers").where({ workspace_id: workspaceId, id }).first();
    return row ? toServer(row) : undefined;
  },

  /** Every server of the workspace, oldest first (who may see each is decided in policy.ts). */
  async all(db: Knex, workspaceId: string): Promise<McpServer[]> {
    return (await db("mcp_servers").where({ workspace_id: workspaceId }).orderBy("created_at").orderBy("id")).map(toServer);
  },

  /** The servers of the workspace named by id or by name, in any order. */
  async byIdOrName(db: Knex, workspaceId: string, keys: string[]): Promise<McpServer[]> {
    if (!keys.length) return [];
    const rows = await db("mcp_servers")
      .where({ workspace_id: workspaceId })
      .andWhere((w) => w.whereIn("id", keys).orWhereIn("name", keys))
      .orderBy("created_at")
      .orderBy("id");
    return rows.map(toServer);
  },

  async insert(db: Knex, s: McpServerFields & { id: string; workspace_id: string; created_by: number | null; now: Date }): Promise<McpServer> {
    const [row] = await db("mcp_servers")
      .insert({ id: s.id, workspace_id: s.workspace_id, ...columns(s), created_by: s.created_by, created_at: s.now, updated_at: s.now })
      .returning("*");
    return toServer(row);
  },

  async update(db: Knex, id: string, fields: McpServerFields, now: Date): Promise<McpServer> {
    const [row] = await db("mcp_servers")
      .where({ id })
      .update({ ...columns(fields), updated_at: db.raw("greatest(updated_at, ?::timestamptz)", [now]) })
      .returning("*");
    return toServer(row);
  },

  async delete(db: Knex, id: string): Promise<void> {
    await db("mcp_servers").where({ id }).delete();
  },

  /** Every sealed header set of every workspace, locked for update (secrets rotation). */
  async sealedHeaders(db: Knex): Promise<Array<{ id: string; headers: string }>> {
    return db("mcp_servers").whereNotNull("headers").select("id", "headers").forUpdate();
  },

  async setSealedHeaders(db: Knex, id: string, headers: string): Promise<void> {
    await db("mcp_servers").where({ id }).update({ headers });
  },
};
