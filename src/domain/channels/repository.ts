/** SQL for team channels (`team_channels`, `team_channel_subscriptions`, `team_channel_messages`). */
import type { Knex } from "knex";
import { afterMillisecond } from "../pagination.js";
import { preparedRaw } from "../prepared.js";
import { int, intOrNull, json } from "../rows.js";
import { toIso } from "../time.js";

export interface Channel {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  created_by: number | null;
  message_count: number;
  created_at: Date;
}

export interface ChannelMessageView {
  id: string;
  channelId: string;
  /** The agent it was posted as; null when a person posted as themselves (then `userId`, `userName`). */
  agentId: string | null;
  userId?: number;
  userName?: string;
  message: string;
  metadata: Record<string, unknown> | null;
  seq: number;
  createdAt: string;
}

export interface StoredChannelMessage {
  body_hash: string;
  view: ChannelMessageView;
}

/** Who a broadcast is from: an agent (posted by it or for it), or a person as themselves. */
export type ChannelAuthor = { agentId: string } | { userId: number; userName: string };

/** A channel and its last seq, where a subscriber's live stream starts. */
export interface ChannelHead {
  id: string;
  head: number;
}

const toChannel = (row: Record<string, any>): Channel => ({
  id: row.id,
  workspace_id: row.workspace_id,
  name: row.name,
  description: row.description ?? null,
  created_by: intOrNull(row.created_by),
  message_count: int(row.message_count),
  created_at: row.created_at,
});

const toMessage = (row: Record<string, any>): StoredChannelMessage => ({
  body_hash: row.body_hash,
  view: {
    id: row.id,
    channelId: row.channel_id,
    agentId: row.agent_id ?? null,
    ...(row.user_id != null ? { userId: int(row.user_id), userName: row.user_name ?? "" } : {}),
    message: row.message,
    metadata: json<Record<string, unknown> | null>(row.metadata, null),
    seq: int(row.seq),
    createdAt: toIso(row.created_at),
  },
});

export const channels = {
  /** Those of these channel ids that exist in the workspace. */
  async existing(db: Knex, workspaceId: string, ids: string[]): Promise<string[]> {
    return db("team_channels").where({ workspace_id: workspaceId }).whereIn("id", [...new Set(ids)]).pluck("id");
  },

  async find(db: Knex, workspaceId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<Channel | undefined> {
    const q = db("team_channels").where({ id, workspace_id: workspaceId });
    if (options.forUpdate) q.forUpdate();
    const row = await q.first();
    return row ? toChannel(row) : undefined;
  },

  /** Up to `limit` channels by name, after `afterName`. */
  async page(db: Knex, workspaceId: string, afterName: string | undefined, limit: number): Promise<Channel[]> {
    const q = db("team_channels").where({ workspace_id: workspaceId }).orderBy("name").limit(limit);
    if (afterName !== undefined) q.andWhere("name", ">", afterName);
    return (await q).map(toChannel);
  },

  async insert(db: Knex, c: { id: string; workspace_id: string; name: string; description: string | null; created_by: number | null }): Promise<Channel> {
    const [row] = await db("team_channels").insert(c).returning("*");
    return toChannel(row);
  },

  async delete(db: Knex, id: string): Promise<void> {
    await db("team_channels").where({ id }).delete();
  },
};

export const subscriptions = {
  /** Each channel's subscribed agents, in the order they subscribed. */
  async agents(db: Knex, channelIds: string[]): Promise<Map<string, string[]>> {
    const byChannel = new Map<string, string[]>(channelIds.map((id) => [id, []]));
    if (!channelIds.length) return byChannel;
    const rows = await db("team_channel_subscriptions").whereIn("channel_id", channelIds).orderBy("subscribed_at").orderBy("agent_id");
    for (const r of rows) byChannel.get(r.channel_id)?.push(r.agent_id);
    return byChannel;
  },

  /** Subscribes (idempotent); true when the subscription is new. */
  async add(db: Knex, workspaceId: string, channelId: string, agentId: string): Promise<boolean> {
    const inserted = await db("team_channel_subscriptions")
      .insert({ channel_id: channelId, workspace_id: workspaceId, agent_id: agentId })
      .onConflict(["channel_id", "agent_id"])
      .ignore()
      .returning("agent_id");
    return inserted.length > 0;
  },

  /** Unsubscribes (idempotent); true when there was a subscription. */
  async remove(db: Knex, channelId: string, agentId: string): Promise<boolean> {
    return (await db("team_channel_subscriptions").where({ channel_id: channelId, agent_id: agentId }).delete()) > 0;
  },

  async exists(db: Knex, channelId: string, agentId: string): Promise<boolean> {
    return !!(await db("team_channel_subscriptions").where({ channel_id: channelId, agent_id: agentId }).first("agent_id"));
  },

  /** The channels an agent is subscribed to, each with its last seq. */
  async headsOf(db: Knex, workspaceId: string, agentId: string): Promise<ChannelHead[]> {
    const rows = await db("team_channel_subscriptions as s")
      .join("team_channels as c", "c.id", "s.channel_id")
      .where({ "s.workspace_id": workspaceId, "s.agent_id": agentId })
      .select("c.id", "c.message_count");
    return rows.map((r) => ({ id: r.id, head: int(r.message_count) }));
  },
};

export const channelMessages = {
  async find(db: Knex, channelId: string, id: string): Promise<StoredChannelMessage | undefined> {
    const row = await db("team_channel_messages").where({ channel_id: channelId, id }).first();
    return row ? toMessage(row) : undefined;
  },

  /**
   * Takes the channel's next seq and inserts the message in ONE statement, in its own implicit
   * transaction: the channel's row lock is held only inside Postgres, never across a round trip
   * to a busy Node process. Seqs stay gap-free: if the insert fails, the increment rolls back
   * with it. With `keyId` (the publishing API key) the same statement checks that the key is
   * still live, so a key authenticated from a node's cache can never publish after it was
   * revoked or expired. Undefined when the channel is not in the workspace or the key is not live.
   */
  async append(
    db: Knex,
    m: { workspaceId: string; channelId: string; id: string; author: ChannelAuthor; message: string; metadata: Record<string, unknown> | null; hash: string; keyId: string | undefined },
  ): Promise<ChannelMessageView | undefined> {
    const keyId = m.keyId ?? null;
    const [row] = await preparedRaw(
      db,
      "agenthub_channel_append_v2",
      `WITH channel AS (
         UPDATE team_channels SET message_count = message_count + 1
         WHERE id = ? AND workspace_id = ?
           AND (?::text IS NULL OR EXISTS (
             SELECT 1 FROM api_keys k WHERE k.id = ? AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())))
         RETURNING id, message_count
       )
       INSERT INTO team_channel_messages (channel_id, seq, id, agent_id, user_id, user_name, message, metadata, body_hash)
       SELECT channel.id, channel.message_count, ?, ?, ?::bigint, ?, ?, ?::jsonb, ? FROM channel
       RETURNING channel_id, seq, id, agent_id, user_id, user_name, message, metadata, body_hash, created_at`,
      [
        m.channelId, m.workspaceId, keyId, keyId, m.id,
        "agentId" in m.author ? m.author.agentId : null,
        "userId" in m.author ? m.author.userId : null,
        "userId" in m.author ? m.author.userName : null,
        m.message, m.metadata === null ? null : JSON.stringify(m.metadata), m.hash],
    );
    return row ? toMessage(row).view : undefined;
  },

  /** Up to `limit` messages with seq > afterSeq (and created after `since`'s millisecond), oldest first. */
  async after(db: Knex, channelId: string, afterSeq: number, limit: number, since?: Date): Promise<ChannelMessageView[]> {
    const q = db("team_channel_messages").where({ channel_id: channelId }).andWhere("seq", ">", afterSeq);
    const rows = await afterMillisecond(q, "created_at", since).orderBy("seq").limit(limit);
    return rows.map((r) => toMessage(r).view);
  },

  /** The latest `limit` messages, oldest first. */
  async latest(db: Knex, channelId: string, limit: number): Promise<ChannelMessageView[]> {
    const rows = await db("team_channel_messages").where({ channel_id: channelId }).orderBy("seq", "desc").limit(limit);
    return rows.reverse().map((r) => toMessage(r).view);
  },

  /** Messages after each channel's head, by channel then seq, at most `limit` in all. */
  async afterHeads(db: Knex, heads: ChannelHead[], limit: number): Promise<ChannelMessageView[]> {
    if (!heads.length) return [];
    const rows = await db("team_channel_messages")
      .where((q) => {
        for (const { id, head } of heads) q.orWhere((c) => c.where("channel_id", id).andWhere("seq", ">", head));
      })
      .orderBy([{ column: "channel_id" }, { column: "seq" }])
      .limit(limit);
    return rows.map((r) => toMessage(r).view);
  },
};
