/** SQL for share links (`share_links`): only the token's SHA-256 is stored. */
import type { Knex } from "knex";
import { int } from "../rows.js";

export interface LiveLink {
  workspace_id: string;
  session_id: string;
  /** The link shows messages up to this seq (the session's length when it was made). */
  max_seq: number;
  expires_at: Date;
}

export const shareLinks = {
  async insert(
    db: Knex,
    link: { id: string; workspace_id: string; session_id: string; token_hash: string; max_seq: number; created_by: number | null; created_at: Date; expires_at: Date },
  ): Promise<void> {
    await db("share_links").insert(link);
  },

  async revokeAll(db: Knex, sessionId: string, at: Date): Promise<void> {
    await db("share_links").where({ session_id: sessionId }).whereNull("revoked_at").update({ revoked_at: at });
  },

  /** The link with this token hash, if it is neither revoked nor expired at `now`. */
  async findLive(db: Knex, tokenHash: string, now: Date): Promise<LiveLink | undefined> {
    const link = await db("share_links")
      .where({ token_hash: tokenHash })
      .whereNull("revoked_at")
      .where("expires_at", ">", now)
      .first("workspace_id", "session_id", "max_seq", "expires_at");
    return link ? { ...link, max_seq: int(link.max_seq) } : undefined;
  },
};
