/**
 * SQL for API keys (`api_keys`): only a SHA-256 of each secret is stored. A key is live while
 * it is neither revoked nor past its `expires_at` (null: never), by the database's clock, so
 * every node agrees on the same instant.
 */
import type { Knex } from "knex";
import type { StoredKey } from "../../auth/authenticate.js";
import type { KeyKind, KeyRoleBinding, Scope } from "../../auth/principal.js";
import { parseScopes } from "../../auth/principal.js";
import { intOrNull } from "../rows.js";
import { toIso, toIsoOrNull } from "../time.js";

export interface ApiKeyView {
  id: string;
  name: string | null;
  prefix: string;
  scopes: Scope[];
  agent_id: string;
  /** The role the key acts with under RBAC (null: none); see `role_bound`. */
  role: string | null;
  /** False only for a key that sees everything (a master key or an admin made it naming no role). */
  role_bound: boolean;
  created_at: string;
  /** When the key stops working on its own; null: it lives until revoked. */
  expires_at: string | null;
  revoked_at: string | null;
}

/** A master key as listed: never its secret. */
export interface MasterKeyView {
  id: string;
  name: string | null;
  prefix: string;
  created_at: string;
  /** The user (an admin) who made it; null when a master key or the CLI did. */
  created_by: number | null;
}

const toView = (row: Record<string, any>): ApiKeyView => ({
  id: row.id,
  name: row.name ?? null,
  prefix: row.prefix,
  scopes: parseScopes(row.scopes),
  agent_id: row.agent_id,
  role: row.role ?? null,
  role_bound: !!row.role_bound,
  created_at: toIso(row.created_at),
  expires_at: toIsoOrNull(row.expires_at),
  revoked_at: toIsoOrNull(row.revoked_at),
});

const toMasterView = (row: Record<string, any>): MasterKeyView => ({
  id: row.id,
  name: row.name ?? null,
  prefix: row.prefix,
  created_at: toIso(row.created_at),
  created_by: intOrNull(row.created_by),
});

/** What authentication needs of a key row: the columns, and the key they make. */
export const STORED_KEY_COLUMNS = ["id", "workspace_id", "kind", "agent_id", "scopes", "role", "role_bound", "expires_at"] as const;

export function toStoredKey(row: Record<string, any>): StoredKey {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    kind: row.kind,
    agentId: row.agent_id ?? null,
    scopes: parseScopes(row.scopes),
    roleBinding: row.role_bound ? { bound: true, role: row.role ?? null } : { bound: false },
    expiresAt: row.expires_at ?? null,
  };
}

/**
 * Keeps the rows of live keys: not revoked, not expired. `table` is the alias the key table
 * has in the query (share links join it as `k`).
 */
export function whereKeyLive<Q extends Knex.QueryBuilder>(db: Knex, query: Q, table = "api_keys"): Q {
  query.whereNull(`${table}.revoked_at`).where((q) => q.whereNull(`${table}.expires_at`).orWhere(`${table}.expires_at`, ">", db.fn.now()));
  return query;
}

export interface NewKey {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  kind: KeyKind;
  name: string | null;
  prefix: string;
  hash: string;
  scopes: Scope[];
  roleBinding: KeyRoleBinding;
  created_by: number | null;
  /** Seconds from now (the database's clock) until the key expires; absent: never. */
  expires_in_seconds?: number | undefined;
}

export const apiKeys = {
  async insert(db: Knex, k: NewKey): Promise<ApiKeyView> {
    const { expires_in_seconds, roleBinding, ...columns } = k;
    const expires_at = expires_in_seconds === undefined ? null : db.raw("now() + make_interval(secs => ?)", [expires_in_seconds]);
    const role = { role_bound: roleBinding.bound, role: roleBinding.bound ? roleBinding.role : null };
    const [row] = await db("api_keys").insert({ ...columns, ...role, scopes: JSON.stringify(k.scopes), expires_at }).returning("*");
    return toView(row);
  },

  async insertMaster(db: Knex, k: Omit<NewKey, "agent_id" | "kind" | "scopes" | "roleBinding" | "expires_in_seconds">): Promise<MasterKeyView> {
    const [row] = await db("api_keys").insert({ ...k, agent_id: null, kind: "master", scopes: "[]" }).returning("*");
    return toMasterView(row);
  },

  /** The live key with this hash: what authentication needs. */
  async findLive(db: Knex, hash: string): Promise<StoredKey | undefined> {
    const row = await whereKeyLive(db, db("api_keys").where({ hash })).first(...STORED_KEY_COLUMNS);
    return row ? toStoredKey(row) : undefined;
  },

  async liveOfAgent(db: Knex, workspaceId: string, agentId: string): Promise<ApiKeyView[]> {
    const rows = await whereKeyLive(db, db("api_keys").where({ workspace_id: workspaceId, agent_id: agentId, kind: "agent" })).orderBy("created_at");
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

  /**
   * Serialises every change to a workspace's master keys until the transaction ends (a row lock
   * on the workspace that leaves inserts referencing it free); false when there is no such
   * workspace. Counts read after it see every change committed before it.
   */
  async lockMasters(trx: Knex.Transaction, workspaceId: string): Promise<boolean> {
    return !!(await trx("workspaces").where({ id: workspaceId }).forNoKeyUpdate().first("id"));
  },

  /** The workspace's live master keys, oldest first. */
  async liveMasters(db: Knex, workspaceId: string): Promise<MasterKeyView[]> {
    const rows = await whereKeyLive(db, db("api_keys").where({ workspace_id: workspaceId, kind: "master" })).orderBy([
      { column: "created_at" },
      { column: "id" },
    ]);
    return rows.map(toMasterView);
  },

  /** Which of these key ids are still live (for re-checking the sockets of keys). */
  async liveIds(db: Knex, keyIds: string[]): Promise<Set<string>> {
    if (!keyIds.length) return new Set();
    return new Set(await whereKeyLive(db, db("api_keys").whereIn("id", keyIds)).pluck("id"));
  },

  /** Revokes these master keys of the workspace (those still live); answers the ids revoked. */
  async revokeMasters(db: Knex, workspaceId: string, keyIds: string[]): Promise<string[]> {
    if (keyIds.length === 0) return [];
    const rows = await db("api_keys")
      .where({ workspace_id: workspaceId, kind: "master" })
      .whereIn("id", keyIds)
      .whereNull("revoked_at")
      .update({ revoked_at: db.fn.now() })
      .returning("id");
    return rows.map((r: { id: string }) => r.id);
  },
};
