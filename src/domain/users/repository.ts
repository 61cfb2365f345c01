/** SQL for users (`users`): provisioned on first sight of their token, identified by (workspace, sub). */
import type { Knex } from "knex";
import { teams } from "../agents/repository.js";
import { int } from "../rows.js";

export interface User {
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
  /** False when the token says `email_verified: false`: such an email claims no invitation. */
  emailVerified: boolean;
}

const toUser = (row: Record<string, any>): User => ({
  id: int(row.id),
  workspace_id: row.workspace_id,
  sub: row.sub,
  email: row.email,
  name: row.name,
  avatar: row.avatar ?? null,
});

export const users = {
  /**
   * The user for these claims, created the first time (following email, name and avatar
   * changes); undefined when the claims' workspace does not exist.
   */
  async provision(db: Knex, claims: UserClaims): Promise<User | undefined> {
    const existing = await db("users").where({ workspace_id: claims.workspaceId, sub: claims.sub }).first();
    const fields = { email: claims.email, name: claims.name, avatar: claims.avatar, email_verified: claims.emailVerified };
    if (existing) {
      const changed = existing.email !== claims.email || existing.name !== claims.name || existing.avatar !== claims.avatar || existing.email_verified !== claims.emailVerified;
      if (changed) {
        await db("users").where({ id: existing.id }).update({ ...fields, updated_at: db.fn.now() });
        // A new email, or one verified since: the invitations to it become theirs.
        const newlyVerified = claims.emailVerified && (existing.email !== claims.email || existing.email_verified !== true);
        if (newlyVerified) await teams.claimInvites(db, claims.workspaceId, int(existing.id), claims.email);
      }
      return toUser({ ...existing, ...fields });
    }
    if (!(await db("workspaces").where({ id: claims.workspaceId }).first("id"))) return undefined;
    const [row] = await db("users")
      .insert({ workspace_id: claims.workspaceId, sub: claims.sub, ...fields })
      .onConflict(["workspace_id", "sub"])
      .merge(["email", "name", "avatar", "email_verified"])
      .returning("*");
    // First sign-in: the access this email was invited to becomes theirs (a verified email only, as group membership by email).
    if (claims.emailVerified) await teams.claimInvites(db, claims.workspaceId, int(row.id), claims.email);
    return toUser(row);
  },

  async find(db: Knex, workspaceId: string, userId: number): Promise<User | undefined> {
    const row = await db("users").where({ workspace_id: workspaceId, id: userId }).first();
    return row ? toUser(row) : undefined;
  },

  /** Up to `limit` users of the workspace by id, after `afterId`. */
  async page(db: Knex, workspaceId: string, afterId: number | undefined, limit: number): Promise<User[]> {
    const q = db("users").where({ workspace_id: workspaceId }).orderBy("id").limit(limit);
    if (afterId !== undefined) q.andWhere("id", ">", afterId);
    return (await q).map(toUser);
  },

  /** The user with this `sub` in the workspace, if there is one. */
  async bySub(db: Knex, workspaceId: string, sub: string): Promise<User | undefined> {
    const row = await db("users").where({ workspace_id: workspaceId, sub }).first();
    return row ? toUser(row) : undefined;
  },

  /**
   * The workspace's users with this email (any case) as a verified email, at most two: one is an
   * answer, two are ambiguous. A user whose token said `email_verified: false` is not found by
   * it (whoever can mint such a token could claim any address): adding them by email makes a
   * pending invitation instead, which their email claims once it is verified.
   */
  async byEmail(db: Knex, workspaceId: string, email: string): Promise<User[]> {
    return (
      await db("users").where({ workspace_id: workspaceId, email_verified: true }).andWhereRaw("lower(email) = lower(?)", [email]).orderBy("id").limit(2)
    ).map(toUser);
  },

  /** Up to `limit` users of these workspaces by id (the embedded hub's local sign-in lists them). */
  async ofWorkspaces(db: Knex, workspaceIds: string[], limit: number): Promise<User[]> {
    return (await db("users").whereIn("workspace_id", workspaceIds).orderBy("id").limit(limit)).map(toUser);
  },
};
