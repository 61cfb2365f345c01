/**
 * SQL for share links (`share_links`): only the token's SHA-256 is stored. A link made with an
 * API key (`created_by_key_id`) lives only while that key does: the liveness of both is read
 * in the one query that finds the link, so a revoked or expired key kills its links at once.
 */
import type { Knex } from "knex";
import { whereKeyLive } from "../keys/repository.js";
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
    link: {
      id: string;
      workspace_id: string;
      session_id: string;
      token_hash: string;
      max_seq: number;
      created_by: number | null;
      /** The API key that made the link (null for users): the link dies with it. */
      created_by_key_id: string | null;
      created_at: Date;
      expires_at: Date;
    },
  ): Promise<void> {
    await db("share_links").insert(link);
  },

  async revokeAll(db: Knex, sessionId: string, at: Date): Promise<void> {
    await db("share_links").where({ session_id: sessionId }).whereNull("revoked_at").update({ revoked_at: at });
  },

  /**
   * The link with this token hash, if it is neither revoked nor expired at `now`, and the key
   * that made it (if a key did) is still live.
   */
  async findLive(db: Knex, tokenHash: string, now: Date): Promise<LiveLink | undefined> {
    const link = await db("share_links as l")
      .where({ "l.token_hash": tokenHash })
      .whereNull("l.revoked_at")
      .where("l.expires_at", ">", now)
      .where((q) =>
        q.whereNull("l.created_by_key_id").orWhereExists(whereKeyLive(db, db("api_keys as k").whereRaw("k.id = l.created_by_key_id"), "k")),
      )
      .first("l.workspace_id", "l.session_id", "l.max_seq", "l.expires_at");
    return link ? { ...link, max_seq: int(link.max_seq) } : undefined;
  },
};
