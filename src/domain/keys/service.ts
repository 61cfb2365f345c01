/** Agent API keys: random 256-bit secrets shown once, stored only as a SHA-256 hash. */
import type { Knex } from "knex";
import type { Principal, Scope } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { newId, newSecret, sha256 } from "../../ids.js";
import { transact, type TxDeps } from "../events.js";
import { toIso, toIsoOrNull } from "../time.js";
import { loadAgentForEdit } from "./policy.js";

/** The non-secret start of a key, shown in listings so people can tell keys apart. */
export function keyPrefix(key: string): string {
  return key.slice(0, key.startsWith("g_master_") ? 17 : 16);
}

export interface ApiKeyView {
  id: string;
  name: string | null;
  prefix: string;
  scopes: Scope[];
  agent_id: string;
  created_at: string;
  revoked_at: string | null;
}

function present(row: Record<string, any>): ApiKeyView {
  return {
    id: row.id,
    name: row.name ?? null,
    prefix: row.prefix,
    scopes: typeof row.scopes === "string" ? JSON.parse(row.scopes) : row.scopes,
    agent_id: row.agent_id,
    created_at: toIso(row.created_at),
    revoked_at: toIsoOrNull(row.revoked_at),
  };
}

export class AgentKeys {
  constructor(private readonly deps: TxDeps) {}

  async create(
    actor: Principal,
    agentId: string,
    input: { name?: string | undefined; scopes: Scope[] },
  ): Promise<ApiKeyView & { key: string }> {
    const { db } = this.deps;
    await loadAgentForEdit(db, actor, agentId);
    const key = newSecret("g_agent_");
    const [row] = await db("api_keys")
      .insert({
        id: newId("key"),
        workspace_id: actor.workspaceId,
        agent_id: agentId,
        kind: "agent",
        name: input.name ?? null,
        prefix: keyPrefix(key),
        hash: sha256(key),
        scopes: JSON.stringify([...new Set(input.scopes)]),
        created_by: actor.kind === "user" ? actor.userId : null,
      })
      .returning("*");
    return { ...present(row), key };
  }

  async list(actor: Principal, agentId: string): Promise<ApiKeyView[]> {
    const { db } = this.deps;
    await loadAgentForEdit(db, actor, agentId);
    const rows = await db("api_keys")
      .where({ workspace_id: actor.workspaceId, agent_id: agentId, kind: "agent" })
      .whereNull("revoked_at")
      .orderBy("created_at");
    return rows.map(present);
  }

  /** Revokes a key; authentication reads the database on every use, so it stops at once everywhere. */
  async revoke(actor: Principal, agentId: string, keyId: string): Promise<void> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    await transact(this.deps, async (trx, emit) => {
      const n = await trx("api_keys")
        .where({ workspace_id: actor.workspaceId, agent_id: agentId, id: keyId, kind: "agent" })
        .whereNull("revoked_at")
        .update({ revoked_at: trx.fn.now() });
      if (n === 0) throw new NotFound("Key");
      emit({ type: "key.revoked", workspaceId: actor.workspaceId, keyId });
    });
  }
}
