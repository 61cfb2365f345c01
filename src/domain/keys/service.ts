/**
 * API keys: random 256-bit secrets shown once, stored only as a SHA-256 hash. Agent keys act as
 * one agent with scopes and a role (never more than their creator's: policy.ts) and may expire;
 * master keys act for the whole workspace. Revoking a key emits `key.revoked` after commit,
 * which clears it from every node's key cache and closes its sockets there; a revocation
 * answers once that event has reached every node, so requests with the key are refused at once
 * everywhere (auth/key-cache.ts).
 */
import type { Knex } from "knex";
import type { KeyCache } from "../../auth/key-cache.js";
import { keyDisplayPrefix, keySecretPrefix, userIdOf, type KeyKind, type Principal, type Scope } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { newId, newSecret, sha256 } from "../../ids.js";
import { loadAgentForEdit } from "../agents/policy.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { assertCanGrantScopes, assertCanManageMasterKeys, assertCanRevokeMasterKey, roleForNewKey } from "./policy.js";
import { apiKeys, type ApiKeyView, type MasterKeyView } from "./repository.js";

/** A new secret with what is stored of it. */
function mintKey(kind: KeyKind): { id: string; key: string; prefix: string; hash: string } {
  const key = newSecret(keySecretPrefix(kind));
  return { id: newId("key"), key, prefix: keyDisplayPrefix(key), hash: sha256(key) };
}

/** What revoking needs of the key cache: forget here, and wait until every node was told. */
export type Revocations = Pick<KeyCache, "revoked">;
/** No key cache (services tested alone): nothing to forget or wait for. */
export const noCache: Revocations = { revoked: async () => {} };

export class AgentKeys {
  constructor(
    private readonly deps: TxDeps,
    private readonly cache: Revocations = noCache,
  ) {}

  async create(
    actor: Principal,
    agentId: string,
    input: { name?: string | undefined; scopes: Scope[]; role?: string | null | undefined; expires_in_seconds?: number | undefined },
  ): Promise<ApiKeyView & { key: string }> {
    const { db } = this.deps;
    await loadAgentForEdit(db, actor, agentId);
    assertCanGrantScopes(actor, input.scopes);
    const roleBinding = roleForNewKey(actor, input.role);
    const { key, ...stored } = mintKey("agent");
    const view = await apiKeys.insert(db, {
      ...stored,
      workspace_id: actor.workspaceId,
      agent_id: agentId,
      kind: "agent",
      name: input.name ?? null,
      scopes: [...new Set(input.scopes)],
      roleBinding,
      created_by: userIdOf(actor),
      expires_in_seconds: input.expires_in_seconds,
    });
    return { ...view, key };
  }

  /** The agent's live keys (revoked and expired ones are not listed). */
  async list(actor: Principal, agentId: string): Promise<ApiKeyView[]> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    return apiKeys.liveOfAgent(this.deps.db, actor.workspaceId, agentId);
  }

  /** Revokes a key; answers once every node has been told, so it stops at once everywhere. */
  async revoke(actor: Principal, agentId: string, keyId: string): Promise<void> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    await transact(this.deps, async (trx, emit) => {
      if (!(await apiKeys.revokeAgentKey(trx, actor.workspaceId, agentId, keyId))) throw new NotFound("Key");
      emit({ type: "key.revoked", workspaceId: actor.workspaceId, keyId });
    });
    await this.cache.revoked([keyId]);
  }
}

/**
 * A workspace's master keys. Every change runs under the workspace's master-key lock
 * (repository `lockMasters`), so concurrent revocations and rotations can never leave the
 * workspace without a live master key.
 */
export class MasterKeys {
  constructor(
    private readonly deps: TxDeps,
    private readonly cache: Revocations = noCache,
  ) {}

  /** Adds a master key (the workspace's first is made with it: workspaces/service.ts). */
  async create(actor: Principal, input: { name?: string | undefined }): Promise<MasterKeyView & { key: string }> {
    assertCanManageMasterKeys(actor);
    return transact(this.deps, async (trx) => {
      await apiKeys.lockMasters(trx, actor.workspaceId);
      return insertMasterKey(trx, actor.workspaceId, input.name ?? null, userIdOf(actor));
    });
  }

  /** The live master keys, oldest first, without secrets. */
  async list(actor: Principal): Promise<MasterKeyView[]> {
    assertCanManageMasterKeys(actor);
    return apiKeys.liveMasters(this.deps.db, actor.workspaceId);
  }

  /** Revokes one master key (the caller's own included), never the last live one (409). */
  async revoke(actor: Principal, keyId: string): Promise<void> {
    assertCanManageMasterKeys(actor);
    const revoked = await transact(this.deps, async (trx, emit) => {
      await apiKeys.lockMasters(trx, actor.workspaceId);
      assertCanRevokeMasterKey(await apiKeys.liveMasters(trx, actor.workspaceId), keyId);
      return revokeMasterKeys(trx, emit, actor.workspaceId, [keyId]);
    });
    await this.cache.revoked(revoked);
  }

  /**
   * An operator's rotation (the CLI, not a principal): a new master key, and every other live
   * master key of the workspace revoked, in one transaction. 404 for an unknown workspace.
   */
  async rotate(workspaceId: string): Promise<{ workspaceId: string; masterKey: string; revokedKeyIds: string[] }> {
    const rotated = await transact(this.deps, async (trx, emit) => {
      if (!(await apiKeys.lockMasters(trx, workspaceId))) throw new NotFound("Workspace");
      const old = (await apiKeys.liveMasters(trx, workspaceId)).map((k) => k.id);
      const created = await insertMasterKey(trx, workspaceId, "master", null);
      const revokedKeyIds = await revokeMasterKeys(trx, emit, workspaceId, old);
      return { workspaceId, masterKey: created.key, revokedKeyIds };
    });
    await this.cache.revoked(rotated.revokedKeyIds);
    return rotated;
  }
}

/** Inserts a new master key of the workspace; the secret is answered once, here. */
export async function insertMasterKey(db: Knex, workspaceId: string, name: string | null, createdBy: number | null): Promise<MasterKeyView & { key: string }> {
  const { key, ...stored } = mintKey("master");
  const view = await apiKeys.insertMaster(db, { ...stored, workspace_id: workspaceId, name, created_by: createdBy });
  return { ...view, key };
}

async function revokeMasterKeys(trx: Knex.Transaction, emit: Emit, workspaceId: string, keyIds: string[]): Promise<string[]> {
  const revoked = await apiKeys.revokeMasters(trx, workspaceId, keyIds);
  for (const keyId of revoked) emit({ type: "key.revoked", workspaceId, keyId });
  return revoked;
}
