/**
 * API keys: random 256-bit secrets shown once, stored only as a SHA-256 hash. Agent keys act as
 * one agent with scopes and may expire; master keys act for the whole workspace. Revoking a
 * key emits `key.revoked` after commit, which closes its sockets on every node; requests are
 * refused at once anyway, since authentication reads the database on every use.
 */
import type { Knex } from "knex";
import { keyDisplayPrefix, keySecretPrefix, userIdOf, type KeyKind, type Principal, type Scope } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { newId, newSecret, sha256 } from "../../ids.js";
import { loadAgentForEdit } from "../agents/policy.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { assertCanManageMasterKeys, assertCanRevokeMasterKey } from "./policy.js";
import { apiKeys, type ApiKeyView, type MasterKeyView } from "./repository.js";

/** A new secret with what is stored of it. */
function mintKey(kind: KeyKind): { id: string; key: string; prefix: string; hash: string } {
  const key = newSecret(keySecretPrefix(kind));
  return { id: newId("key"), key, prefix: keyDisplayPrefix(key), hash: sha256(key) };
}

export class AgentKeys {
  constructor(private readonly deps: TxDeps) {}

  async create(
    actor: Principal,
    agentId: string,
    input: { name?: string | undefined; scopes: Scope[]; expires_in_seconds?: number | undefined },
  ): Promise<ApiKeyView & { key: string }> {
    const { db } = this.deps;
    await loadAgentForEdit(db, actor, agentId);
    const { key, ...stored } = mintKey("agent");
    const view = await apiKeys.insert(db, {
      ...stored,
      workspace_id: actor.workspaceId,
      agent_id: agentId,
      kind: "agent",
      name: input.name ?? null,
      scopes: [...new Set(input.scopes)],
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

  /** Revokes a key; authentication reads the database on every use, so it stops at once everywhere. */
  async revoke(actor: Principal, agentId: string, keyId: string): Promise<void> {
    await loadAgentForEdit(this.deps.db, actor, agentId);
    await transact(this.deps, async (trx, emit) => {
      if (!(await apiKeys.revokeAgentKey(trx, actor.workspaceId, agentId, keyId))) throw new NotFound("Key");
      emit({ type: "key.revoked", workspaceId: actor.workspaceId, keyId });
    });
  }
}

/**
 * A workspace's master keys. Every change runs under the workspace's master-key lock
 * (repository `lockMasters`), so concurrent revocations and rotations can never leave the
 * workspace without a live master key.
 */
export class MasterKeys {
  constructor(private readonly deps: TxDeps) {}

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
    await transact(this.deps, async (trx, emit) => {
      await apiKeys.lockMasters(trx, actor.workspaceId);
      assertCanRevokeMasterKey(await apiKeys.liveMasters(trx, actor.workspaceId), keyId);
      await revokeMasterKeys(trx, emit, actor.workspaceId, [keyId]);
    });
  }

  /**
   * An operator's rotation (the CLI, not a principal): a new master key, and every other live
   * master key of the workspace revoked, in one transaction. 404 for an unknown workspace.
   */
  async rotate(workspaceId: string): Promise<{ workspaceId: string; masterKey: string; revokedKeyIds: string[] }> {
    return transact(this.deps, async (trx, emit) => {
      if (!(await apiKeys.lockMasters(trx, workspaceId))) throw new NotFound("Workspace");
      const old = (await apiKeys.liveMasters(trx, workspaceId)).map((k) => k.id);
      const created = await insertMasterKey(trx, workspaceId, "master", null);
      const revokedKeyIds = await revokeMasterKeys(trx, emit, workspaceId, old);
      return { workspaceId, masterKey: created.key, revokedKeyIds };
    });
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
