/** Agent API keys: random 256-bit secrets shown once, stored only as a SHA-256 hash. */
import { keyDisplayPrefix, keySecretPrefix, userIdOf, type Principal, type Scope } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { newId, newSecret, sha256 } from "../../ids.js";
import { loadAgentForEdit } from "../agents/policy.js";
import { transact, type TxDeps } from "../events.js";
import { apiKeys, type ApiKeyView } from "./repository.js";

export class AgentKeys {
  constructor(private readonly deps: TxDeps) {}

  async create(actor: Principal, agentId: string, input: { name?: string | undefined; scopes: Scope[] }): Promise<ApiKeyView & { key: string }> {
    const { db } = this.deps;
    await loadAgentForEdit(db, actor, agentId);
    const key = newSecret(keySecretPrefix("agent"));
    const view = await apiKeys.insert(db, {
      id: newId("key"),
      workspace_id: actor.workspaceId,
      agent_id: agentId,
      kind: "agent",
      name: input.name ?? null,
      prefix: keyDisplayPrefix(key),
      hash: sha256(key),
      scopes: [...new Set(input.scopes)],
      created_by: userIdOf(actor),
    });
    return { ...view, key };
  }

  async list(actor: Principal, agentId: string): Promise<ApiKeyView[]> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    return apiKeys.liveOfAgent(this.deps.db, actor.workspaceId, agentId);
  }

  /** Revokes a key; authentication reads the database on every use, so it stops at once everywhere. */
  async revoke(actor: Principal, agentId: string, keyId: string): Promise<void> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    await transact(this.deps, async (trx, emit) => {
      if (!(await apiKeys.revokeAgentKey(trx, actor.workspaceId, agentId, keyId))) throw new NotFound("Key");
      emit({ type: "key.revoked", workspaceId: actor.workspaceId, keyId });
    });
  }
}
