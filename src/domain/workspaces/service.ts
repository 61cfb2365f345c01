/** Workspaces: the tenant boundary. Created from the CLI together with their first master key. */
import type { Knex } from "knex";
import { keyDisplayPrefix, keySecretPrefix, type Principal } from "../../auth/principal.js";
import { newId, newSecret, sha256 } from "../../ids.js";
import { apiKeys } from "../keys/repository.js";
import { toIso } from "../time.js";
import { users } from "../users/repository.js";
import { assertCanListPeople } from "./policy.js";

export interface Workspace {
  id: string;
  name: string;
  created_at: string;
}

export async function createWorkspace(db: Knex, name: string): Promise<{ workspace: Workspace; masterKey: string }> {
  const id = newId("ws");
  const masterKey = newSecret(keySecretPrefix("master"));
  return db.transaction(async (trx) => {
    const [row] = await trx("workspaces").insert({ id, name }).returning("*");
    await apiKeys.insert(trx, {
      id: newId("key"),
      workspace_id: id,
      agent_id: null,
      kind: "master",
      name: "master",
      prefix: keyDisplayPrefix(masterKey),
      hash: sha256(masterKey),
      scopes: [],
      created_by: null,
    });
    return { workspace: { id: row.id, name: row.name, created_at: toIso(row.created_at) }, masterKey };
  });
}

export interface WorkspaceMember {
  user_id: number;
  name: string;
  email: string;
  avatar: string | null;
}

export class Workspaces {
  constructor(private readonly db: Knex) {}

  /** The people of a workspace, for choosing whom to add to an agent's team. */
  async team(actor: Principal, workspaceId: string): Promise<WorkspaceMember[]> {
    assertCanListPeople(actor, workspaceId);
    return (await users.all(this.db, workspaceId)).map((u) => ({ user_id: u.id, name: u.name, email: u.email, avatar: u.avatar }));
  }
}
