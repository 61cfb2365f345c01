/**
 * Workspaces: the tenant boundary. Created from the CLI together with their first master key;
 * further master keys, their revocation and rotation: keys/service.ts (`MasterKeys`).
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { newId } from "../../ids.js";
import { insertMasterKey } from "../keys/service.js";
import { Invalid } from "../../errors.js";
import { decodeIdCursor, encodeIdCursor, takePage } from "../pagination.js";
import { toIso } from "../time.js";
import { users } from "../users/repository.js";
import { assertCanListPeople } from "./policy.js";

export interface Workspace {
  id: string;
  name: string;
  created_at: string;
}

export async function createWorkspace(db: Knex, name: string): Promise<{ workspace: Workspace; masterKey: string }> {
  return db.transaction(async (trx) => {
    const [row] = await trx("workspaces").insert({ id: newId("ws"), name }).returning("*");
    const { key } = await insertMasterKey(trx, row.id, "master", null);
    return { workspace: { id: row.id, name: row.name, created_at: toIso(row.created_at) }, masterKey: key };
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
  async team(actor: Principal, workspaceId: string, page: { limit: number; cursor?: string | undefined }): Promise<{ members: WorkspaceMember[]; next_cursor: string | null }> {
    assertCanListPeople(actor, workspaceId);
    const afterId = page.cursor === undefined ? undefined : Number(decodeIdCursor(page.cursor));
    if (afterId !== undefined && !Number.isSafeInteger(afterId)) throw Invalid.field("cursor", "not a cursor this list gave out");
    const rows = await users.page(this.db, workspaceId, afterId, page.limit + 1);
    const { items, next } = takePage(rows, page.limit, (last) => encodeIdCursor(String(last.id)));
    return { members: items.map((u) => ({ user_id: u.id, name: u.name, email: u.email, avatar: u.avatar })), next_cursor: next };
  }
}
