/** Workspaces: the tenant boundary. Created from the CLI together with their first master key. */
import type { Knex } from "knex";
import { newId, newSecret, sha256 } from "../../ids.js";
import { keyPrefix } from "../agents/keys.js";
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { toIso } from "../time.js";

export interface Workspace {
  id: string;
  name: string;
  created_at: string;
}

export async function createWorkspace(
  db: Knex,
  name: string,
): Promise<{ workspace: Workspace; masterKey: string }> {
  const id = newId("ws");
  const masterKey = newSecret("g_master_");
  return db.transaction(async (trx) => {
    const [row] = await trx("workspaces").insert({ id, name }).returning("*");
    await trx("api_keys").insert({
      id: newId("key"),
      workspace_id: id,
      kind: "master",
      name: "master",
      prefix: keyPrefix(masterKey),
      hash: sha256(masterKey),
      scopes: JSON.stringify([]),
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
    if (actor.workspaceId !== workspaceId) throw new NotFound("Workspace");
    if (actor.kind === "agent") throw new Forbidden("Agent keys may not list the workspace's people");
    const rows = await this.db("users").where({ workspace_id: workspaceId }).orderBy("id");
    return rows.map((r) => ({ user_id: Number(r.id), name: r.name, email: r.email, avatar: r.avatar ?? null }));
  }
}
