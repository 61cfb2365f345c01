/** SQL for API keys (`api_keys`): only a SHA-256 of each secret is stored. */
import type { Knex } from "knex";
import type { StoredKey } from "../../auth/authenticate.js";
import type { KeyKind, Scope } from "../../auth/principal.js";
import { parseScopes } from "../../auth/principal.js";
import { toIso, toIsoOrNull } from "../time.js";

export interface ApiKeyView {
  id: string;
  name: string | null;
  prefix: string;
  scopes: Scope[];
  agent_id: string;
  created_at: string;
  revoked_at: string | null;
}

const toView = (row: Record<string, any>): ApiKeyView => ({
  id: row.id,
  name: row.name ?? null,
  prefix: row.prefix,
  scopes: parseScopes(row.scopes),
  agent_id: row.agent_id,
  created_at: toIso(row.created_at),
  revoked_at: toIsoOrNull(row.revoked_at),
});

export const apiKeys = {
  async insert(
    db: Knex,
    k: { id: string; workspace_id: string; agent_id: string | null; kind: KeyKind; name: string | null; prefix: string; hash: string; scopes: Scope[]; created_by: number | null },
  ): Promise<ApiKeyView> {
    const [row] = await db("api_keys").insert({ ...k, scopes: JSON.stringify(k.scopes) }).returning("*");
    return toView(row);
  },

  /** The live (not revoked) key with this hash: what authentication needs. */
  async findLive(db: Knex, hash: string): Promise<StoredKey | undefined> {
    const row = await db("api_keys").where({ hash }).whereNull("revoked_at").first("id", "workspace_id", "kind", "agent_id", "scopes");
    return row ? { id: row.id, workspaceId: row.workspace_id, kind: row.kind, agentId: row.agent_id ?? null, scopes: parseScopes(row.scopes) } : undefined;
  },

  async liveOfAgent(db: Knex, workspaceId: string, agentId: string): Promise<ApiKeyView[]> {
    const rows = await db("api_keys").where({ workspace_id: workspaceId, agent_id: agentId, kind: "agent" }).whereNull("revoked_at").orderBy("created_at");
    return rows.map(toView);
  },

  /** Revokes one of an agent's live keys; false when there was none. */
  async revokeAgentKey(db: Knex, workspaceId: string, agentId: string, keyId: string): Promise<boolean> {
    const n = await db("api_keys")
      .where({ workspace_id: workspaceId, agent_id: agentId, id: keyId, kind: "agent" })
      .whereNull("revoked_at")
      .update({ revoked_at: db.fn.now() });
    return n > 0;
  },
};
