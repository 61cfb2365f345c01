/** Team channels: CRUD, agent subscriptions, broadcasts with per-channel gap-free seqs, history. */
import type { Knex } from "knex";
import { randomUUID } from "node:crypto";
import type { Principal } from "../../auth/principal.js";
import { Conflict, NotFound, isUniqueViolation } from "../../errors.js";
import { canonicalHash } from "../canonical.js";
import { decodeSeqCursor, encodeSeqCursor } from "../cursors.js";
import { transact, type TxDeps } from "../events.js";
import { newId } from "../../ids.js";
import { toIso } from "../time.js";
import {
  assertActsForAgent,
  assertCanCreateChannel,
  assertCanDeleteChannel,
  assertCanReadChannels,
  loadReadableChannel,
  type ChannelRow,
} from "./policy.js";

export interface ChannelView {
  id: string;
  workspaceId: string;
  name: string;
  description: string | null;
  subscribers: string[];
  messageCount: number;
  createdAt: string;
}

export interface ChannelMessageView {
  id: string;
  channelId: string;
  agentId: string;
  message: string;
  metadata: Record<string, unknown> | null;
  seq: number;
  createdAt: string;
}

export interface PublishInput {
  id?: string | undefined;
  agentId: string;
  message: string;
  metadata?: Record<string, unknown> | null | undefined;
}

export interface HistoryQuery {
  /** Only messages created after this time. */
  since?: Date | undefined;
  /** An opaque cursor from a previous page: only messages after it. */
  cursor?: string | undefined;
  limit: number;
}

export const HISTORY_MAX = 200;

export function presentMessage(row: Record<string, any>): ChannelMessageView {
  return {
    id: row.id,
    channelId: row.channel_id,
    agentId: row.agent_id,
    message: row.message,
    metadata: row.metadata ?? null,
    seq: Number(row.seq),
    createdAt: toIso(row.created_at),
  };
}

/** Messages with seq > afterSeq, oldest first: the replay behind `channel:watch`. */
export async function channelMessagesAfter(db: Knex, channelId: string, afterSeq: number, limit: number): Promise<ChannelMessageView[]> {
  const rows = await db("team_channel_messages")
    .where({ channel_id: channelId })
    .andWhere("seq", ">", afterSeq)
    .orderBy("seq")
    .limit(limit);
  return rows.map(presentMessage);
}

export class Channels {
  constructor(private readonly deps: TxDeps) {}

  async create(actor: Principal, input: { name: string; description?: string | null | undefined }): Promise<ChannelView> {
    assertCanCreateChannel(actor);
    try {
      const [row] = await this.deps.db("team_channels")
        .insert({
          id: newId("ch"),
          workspace_id: actor.workspaceId,
          name: input.name,
          description: input.description ?? null,
          created_by: actor.kind === "user" ? actor.userId : null,
        })
        .returning("*");
      return this.present(this.deps.db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`A channel named '${input.name}' already exists in this workspace`);
      throw err;
    }
  }

  async list(actor: Principal): Promise<ChannelView[]> {
    assertCanReadChannels(actor);
    const rows: ChannelRow[] = await this.deps.db("team_channels").where({ workspace_id: actor.workspaceId }).orderBy("name");
    const subs = await this.subscribers(this.deps.db, rows.map((r) => r.id));
    return rows.map((r) => this.view(r, subs.get(r.id) ?? []));
  }

  async get(actor: Principal, channelId: string): Promise<ChannelView> {
    const row = await loadReadableChannel(this.deps.db, actor, channelId);
    return this.present(this.deps.db, row);
  }

  async remove(actor: Principal, channelId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const row = await loadReadableChannel(trx, actor, channelId);
      assertCanDeleteChannel(actor, row);
      await trx("team_channels").where({ id: channelId }).delete();
      emit({ type: "channel.deleted", workspaceId: actor.workspaceId, channelId });
    });
  }

  /** Subscribes an agent (idempotent); its sockets join the channel's room on every node. */
  async subscribe(actor: Principal, channelId: string, agentId: string): Promise<ChannelView> {
    return transact(this.deps, async (trx, emit) => {
      await loadReadableChannel(trx, actor, channelId);
      await assertActsForAgent(trx, actor, agentId, "channels:read");
      // Lock the channel row so `head` is exactly the last seq committed before this subscription.
      const row: ChannelRow = await trx("team_channels").where({ id: channelId }).forUpdate().first();
      const inserted = await trx("team_channel_subscriptions")
        .insert({ channel_id: channelId, workspace_id: actor.workspaceId, agent_id: agentId })
        .onConflict(["channel_id", "agent_id"])
        .ignore()
        .returning("agent_id");
      if (inserted.length) {
        emit({ type: "channel.subscribed", workspaceId: actor.workspaceId, channelId, agentId, head: Number(row.message_count) });
      }
      return this.present(trx, row);
    });
  }

  /** Unsubscribes an agent (idempotent); its sockets leave the channel's room on every node. */
  async unsubscribe(actor: Principal, channelId: string, agentId: string): Promise<ChannelView> {
    return transact(this.deps, async (trx, emit) => {
      const row = await loadReadableChannel(trx, actor, channelId);
      await assertActsForAgent(trx, actor, agentId, "channels:read");
      const n = await trx("team_channel_subscriptions").where({ channel_id: channelId, agent_id: agentId }).delete();
      if (n) emit({ type: "channel.unsubscribed", workspaceId: actor.workspaceId, channelId, agentId });
      return this.present(trx, row);
    });
  }

  /**
   * Appends a broadcast. The seq is taken and the message inserted by ONE statement that runs
   * in its own implicit transaction: the channel's row lock is held only inside Postgres, never
   * across a round trip to a busy Node process, so publishers on many processes queue for
   * microseconds, not milliseconds. Seqs stay gap-free: if the insert fails, the increment rolls
   * back with it. A retry with the same client-chosen id and body returns the stored message
   * (`created: false`); the event is published after the statement has committed.
   */
  async publish(actor: Principal, channelId: string, input: PublishInput): Promise<{ message: ChannelMessageView; created: boolean }> {
    const { db } = this.deps;
    // Users and master keys name any agent of the workspace: an unknown channel must answer 404
    // before the agent is judged. An agent key acts only for itself, so the statement below
    // (which finds no channel outside the caller's workspace) is check enough on the hot path.
    if (actor.kind !== "agent") {
      const channel = await db("team_channels").where({ id: channelId, workspace_id: actor.workspaceId }).first("id");
      if (!channel) throw new NotFound("Channel");
    }
    await assertActsForAgent(db, actor, input.agentId, "channels:publish");
    const hash = canonicalHash({ agentId: input.agentId, message: input.message, metadata: input.metadata ?? null });
    const replay = async () => {
      const existing = input.id && (await db("team_channel_messages").where({ channel_id: channelId, id: input.id }).first());
      if (!existing) return undefined;
      if (existing.body_hash !== hash) throw new Conflict(`Message ${input.id} already exists with another body`);
      return { message: presentMessage(existing), created: false };
    };
    const earlier = await replay();
    if (earlier) return earlier;
    let row: Record<string, any> | undefined;
    try {
      const result = await db.raw(
        `WITH channel AS (
           UPDATE team_channels SET message_count = message_count + 1
           WHERE id = ? AND workspace_id = ?
           RETURNING id, message_count
         )
         INSERT INTO team_channel_messages (channel_id, seq, id, agent_id, message, metadata, body_hash)
         SELECT channel.id, channel.message_count, ?, ?, ?, ?::jsonb, ? FROM channel
         RETURNING *`,
        [
          channelId,
          actor.workspaceId,
          input.id ?? randomUUID(),
          input.agentId,
          input.message,
          input.metadata == null ? null : JSON.stringify(input.metadata),
          hash,
        ],
      );
      row = result.rows[0];
    } catch (err) {
      // The same client id raced in from another request: answer as its retry would.
      if (isUniqueViolation(err, "team_channel_messages_id_unique")) {
        const raced = await replay();
        if (raced) return raced;
      }
      throw err;
    }
    if (!row) throw new NotFound("Channel");
    const message = presentMessage(row);
    this.deps.bus.publish({ type: "channel.message", workspaceId: actor.workspaceId, channelId, seq: message.seq, message });
    return { message, created: true };
  }

  async history(actor: Principal, channelId: string, q: HistoryQuery): Promise<{ messages: ChannelMessageView[]; nextCursor: string | null }> {
    await loadReadableChannel(this.deps.db, actor, channelId);
    const limit = Math.min(Math.max(q.limit, 1), HISTORY_MAX);
    const query = this.deps.db("team_channel_messages").where({ channel_id: channelId });
    let rows: Record<string, any>[];
    const afterSeq = q.cursor === undefined ? undefined : decodeSeqCursor(q.cursor);
    if (q.since === undefined && afterSeq === undefined) {
      // No starting point: the most recent messages, returned oldest first.
      rows = (await query.orderBy("seq", "desc").limit(limit)).reverse();
      return { messages: rows.map(presentMessage), nextCursor: null };
    }
    if (afterSeq !== undefined) query.andWhere("seq", ">", afterSeq);
    // Times leave the API with millisecond precision; Postgres keeps microseconds. "After t"
    // means after the millisecond t names, so a client that passes back a createdAt gets
    // nothing it already has.
    if (q.since !== undefined) query.andWhere("created_at", ">=", new Date(q.since.getTime() + 1));
    rows = await query.orderBy("seq").limit(limit + 1);
    const more = rows.length > limit;
    const page = rows.slice(0, limit).map(presentMessage);
    return { messages: page, nextCursor: more ? encodeSeqCursor(page[page.length - 1]!.seq) : null };
  }

  private async present(db: Knex, row: ChannelRow): Promise<ChannelView> {
    const subs = await this.subscribers(db, [row.id]);
    return this.view(row, subs.get(row.id) ?? []);
  }

  private view(row: ChannelRow, subscribers: string[]): ChannelView {
    return {
      id: row.id,
      workspaceId: row.workspace_id,
      name: row.name,
      description: row.description ?? null,
      subscribers,
      messageCount: Number(row.message_count),
      createdAt: toIso(row.created_at),
    };
  }

  private async subscribers(db: Knex, channelIds: string[]): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    if (!channelIds.length) return map;
    const rows = await db("team_channel_subscriptions").whereIn("channel_id", channelIds).orderBy("subscribed_at").orderBy("agent_id");
    for (const r of rows) map.set(r.channel_id, [...(map.get(r.channel_id) ?? []), r.agent_id]);
    return map;
  }
}
