/** SQL for workspaces (`workspaces`) that is not part of making one (service.ts does that with its first key). */
import type { Knex } from "knex";

export const workspaces = {
  /** Up to `limit` workspaces, the first made first: the embedded hub's local sign-in lists these. */
  async oldest(db: Knex, limit: number): Promise<Array<{ id: string; name: string }>> {
    return db("workspaces").orderBy("created_at").limit(limit).select("id", "name");
  },

  async exists(db: Knex, id: string): Promise<boolean> {
    return (await db("workspaces").where({ id }).first("id")) !== undefined;
  },
};
