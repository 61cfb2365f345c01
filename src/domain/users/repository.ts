/** Users: provisioned on first sight of their token, identified by (workspace, sub). */
import type { Knex } from "knex";

export interface UserRow {
  id: number;
  workspace_id: string;
  sub: string;
  email: string;
  name: string;
  avatar: string | null;
}

export interface UserClaims {
  workspaceId: string;
  sub: string;
  email: string;
  name: string;
  avatar: string | null;
}

/** Finds the user for these claims, creating it the first time and following email/name changes. */
export async function provisionUser(db: Knex, claims: UserClaims): Promise<UserRow> {
  const existing: UserRow | undefined = await db("users")
    .where({ workspace_id: claims.workspaceId, sub: claims.sub })
    .first();
  if (existing) {
    if (existing.email !== claims.email || existing.name !== claims.name || existing.avatar !== claims.avatar) {
      await db("users")
        .where({ id: existing.id })
        .update({ email: claims.email, name: claims.name, avatar: claims.avatar, updated_at: db.fn.now() });
    }
    return { ...existing, id: Number(existing.id), email: claims.email, name: claims.name, avatar: claims.avatar };
  }
  const [row] = await db("users")
    .insert({ workspace_id: claims.workspaceId, sub: claims.sub, email: claims.email, name: claims.name, avatar: claims.avatar })
    .onConflict(["workspace_id", "sub"])
    .merge(["email", "name", "avatar"])
    .returning("*");
  return { ...row, id: Number(row.id) };
}

export async function findUser(db: Knex, workspaceId: string, userId: number): Promise<UserRow | undefined> {
  const row = await db("users").where({ workspace_id: workspaceId, id: userId }).first();
  return row ? { ...row, id: Number(row.id) } : undefined;
}
