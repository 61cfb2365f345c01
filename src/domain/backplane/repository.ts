/**
 * SQL the Agent Backplane adds to the families it maps onto: an agent's server status and
 * metadata (`agents.server_status`, `server_metadata`), the workspace's default agent, message
 * ids across a workspace's threads, filling in a stored draft, and keys by id (for exchanged
 * key tokens). Everything else goes through the sessions, turns and agents repositories.
 */
import type { Knex } from "knex";
import type { StoredKey } from "../../auth/authenticate.js";
import { STORED_KEY_COLUMNS, toStoredKey, whereKeyLive } from "../keys/repository.js";
import { json } from "../rows.js";
import type { MessageParts } from "../sessions/messages.js";

export const SERVER_STATUSES = ["ACTIVE", "INACTIVE"] as const;
export type ServerStatus = (typeof SERVER_STATUSES)[number];

export interface ServerFields {
  status: ServerStatus;
  metadata: Record<string, unknown> | null;
}

export const agentServers = {
  /** The server fields of these agents, by agent id. */
  async fields(db: Knex, workspaceId: string, agentIds: string[]): Promise<Map<string, ServerFields>> {
    if (!agentIds.length) return new Map();
    const rows = await db("agents").where({ workspace_id: workspaceId }).whereIn("id", agentIds).select("id", "server_status", "server_metadata");
    return new Map(rows.map((r) => [r.id as string, { status: r.server_status as ServerStatus, metadata: json<Record<string, unknown> | null>(r.server_metadata, null) }]));
  },

  async set(db: Knex, workspaceId: string, agentId: string, patch: Partial<ServerFields>): Promise<void> {
    const columns: Record<string, unknown> = {};
    if (patch.status !== undefined) columns.server_status = patch.status;
    if (patch.metadata !== undefined) columns.server_metadata = patch.metadata === null ? null : JSON.stringify(patch.metadata);
    if (Object.keys(columns).length) await db("agents").where({ workspace_id: workspaceId, id: agentId }).update(columns);
  },

  /** Makes the workspace's default agent unless it exists; answers whether this call made it. */
  async ensure(db: Knex, workspaceId: string, id: string, name: string): Promise<boolean> {
    const rows = await db("agents").insert({ workspace_id: workspaceId, id, name, created_by: null }).onConflict(["workspace_id", "id"]).ignore().returning("id");
    return rows.length > 0;
  },
};

export const threadMessages = {
  /** Whether a message with this id is stored in another thread of the workspace. */
  async idElsewhere(db: Knex, workspaceId: string, sessionId: string, id: string): Promise<boolean> {
    const row = await db("session_messages as m")
      .join("sessions as s", "s.id", "m.session_id")
      .where({ "m.id": id, "s.workspace_id": workspaceId })
      .whereNot("m.session_id", sessionId)
      .first("m.id");
    return !!row;
  },

  /** Replaces a stored draft's body (its id, seq and time stay). */
  async fill(db: Knex, sessionId: string, id: string, turn: MessageParts, hash: string): Promise<void> {
    await db("session_messages").where({ session_id: sessionId, id }).update({ turn: JSON.stringify(turn), body_hash: hash });
  },
};

export const keysById = {
  /** The live key with this id: what an exchanged key token stands for. */
  async findLive(db: Knex, id: string): Promise<StoredKey | undefined> {
    const row = await whereKeyLive(db, db("api_keys").where({ id })).first(...STORED_KEY_COLUMNS);
    return row ? toStoredKey(row) : undefined;
  },
};
