/** Team channels: CRUD, agent subscriptions, broadcasts with per-channel gap-free seqs, history. */
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import type { KeyCache } from "../../auth/key-cache.js";
import { keyIdOf, userIdOf, type Principal } from "../../auth/principal.js";
import { Conflict, NotFound, Unauthorized, isUniqueViolation } from "../../errors.js";
import { newId } from "../../ids.js";
import { canonicalHash } from "../canonical.js";
import { transact, type TxDeps } from "../events.js";
import { apiKeys } from "../keys/repository.js";
import { PAGE_MAX_BYTES, decodeIdCursor, decodeSeqCursor, encodeIdCursor, encodeSeqCursor, jsonBytes, takePage } from "../pagination.js";
import { toIso } from "../time.js";
import {
  assertActsForAgent,
  assertCanCreateChannel,
  assertCanDeleteChannel,
  assertCanPostAsPerson,
  assertCanPublish,
  assertCanReadChannels,
  personPosting,
  loadReadableChannel,
  readableChannelIds,
  subscriptionsReceivedBy,
} from "./policy.js";
import { channelMessages, channels, subscriptions, type Channel, type ChannelAuthor, type ChannelHead, type ChannelMessageView } from "./repository.js";
import type { z } from "zod";
import type { publishSchema } from "../../http/routes/channels/schema.js";

export type { ChannelMessageView };

export interface ChannelView {
  id: string;
  workspaceId: string;
  name: string;
  description: string | null;
  subscribers: string[];
  messageCount: number;
  createdAt: string;
}

/** A broadcast as its schema parses it (routes/channels/schema.ts). */
export type PublishInput = z.output<ReturnType<typeof publishSchema>>;

export interface HistoryQuery {
  /** Only messages created after this time. */
  since?: Date | undefined;
  /** An opaque cursor from a previous page: only messages after it. */
  cursor?: string | undefined;
  limit: number;
}

export const HISTORY_MAX = 200;

export class Channels {
  constructor(
    private readonly deps: TxDeps,
    /** Told of a key the publishing statement found revoked (this node missed its event). */
    private readonly keys?: Pick<KeyCache, "forget">,
  ) {}

  async create(actor: Principal, input: { name: string; description?: string | null | undefined }): Promise<ChannelView> {
    assertCanCreateChannel(actor);
    try {
      return await transact(this.deps, async (trx, emit) => {
        const channel = await channels.insert(trx, {
          id: newId("ch"),
          workspace_id: actor.workspaceId,
          name: input.name,
          description: input.description ?? null,
          created_by: userIdOf(actor),
        });
        emit({ type: "channel.created", workspaceId: actor.workspaceId, channelId: channel.id });
        return (await this.present(trx, [channel]))[0]!;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`A channel named '${input.name}' already exists in this workspace`);
      throw err;
    }
  }

  /** The workspace's channels by name, a page at a time. */
  async list(actor: Principal, page: { limit: number; cursor?: string | undefined }): Promise<{ channels: ChannelView[]; nextCursor: string | null }> {
    assertCanReadChannels(actor);
    const afterName = page.cursor === undefined ? undefined : decodeIdCursor(page.cursor);
    const rows = await channels.page(this.deps.db, actor.workspaceId, afterName, page.limit + 1);
    const { items, next } = takePage(rows, page.limit, (last) => encodeIdCursor(last.name));
    return { channels: await this.present(this.deps.db, items), nextCursor: next };
  }

  async get(actor: Principal, channelId: string): Promise<ChannelView> {
    return (await this.present(this.deps.db, [await loadReadableChannel(this.deps.db, actor, channelId)]))[0]!;
  }

  async remove(actor: Principal, channelId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const channel = await loadReadableChannel(trx, actor, channelId);
      assertCanDeleteChannel(actor, channel);
      await channels.delete(trx, channelId);
      emit({ type: "channel.deleted", workspaceId: actor.workspaceId, channelId });
    });
  }

  /** Subscribes an agent (idempotent); its sockets join the channel's room on every node. */
  async subscribe(actor: Principal, channelId: string, agentId: string): Promise<ChannelView> {
    return transact(this.deps, async (trx, emit) => {
      await loadReadableChannel(trx, actor, channelId);
      await assertActsForAgent(trx, actor, agentId, "channels:read");
      // Lock the channel row so `head` is exactly the last seq committed before this subscription.
      const channel = (await channels.find(trx, actor.workspaceId, channelId, { forUpdate: true }))!;
      if (await subscriptions.add(trx, actor.workspaceId, channelId, agentId)) {
        emit({ type: "channel.subscribed", workspaceId: actor.workspaceId, channelId, agentId, head: channel.message_count });
      }
      return (await this.present(trx, [channel]))[0]!;
    });
  }

  /** Unsubscribes an agent (idempotent); its sockets leave the channel's room on every node. */
  async unsubscribe(actor: Principal, channelId: string, agentId: string): Promise<ChannelView> {
    return transact(this.deps, async (trx, emit) => {
      const channel = await loadReadableChannel(trx, actor, channelId);
      await assertActsForAgent(trx, actor, agentId, "channels:read");
      if (await subscriptions.remove(trx, channelId, agentId)) {
        emit({ type: "channel.unsubscribed", workspaceId: actor.workspaceId, channelId, agentId });
      }
      return (await this.present(trx, [channel]))[0]!;
    });
  }

  /**
   * Appends a broadcast with the channel's next seq (see channelMessages.append). A retry with
   * the same client-chosen id and body returns the stored message (`created: false`); the
   * event is published after the statement has committed.
   */
  async publish(actor: Principal, channelId: string, input: PublishInput): Promise<{ message: ChannelMessageView; created: boolean }> {
    const { db } = this.deps;
    let author: ChannelAuthor;
    if (input.agentId === undefined) {
      author = personPosting(actor);
      await assertCanPostAsPerson(db, actor, channelId);
    } else {
      author = { agentId: input.agentId };
      await assertCanPublish(db, actor, channelId, input.agentId);
    }
    const metadata = input.metadata ?? null;
    // A person's post hashes as theirs (the name is presentation, not identity).
    const hash = canonicalHash("agentId" in author ? { agentId: author.agentId, message: input.message, metadata } : { userId: author.userId, message: input.message, metadata });
    const replay = async () => {
      const existing = input.id === undefined ? undefined : await channelMessages.find(db, channelId, input.id);
      if (!existing) return undefined;
      if (existing.body_hash !== hash) throw new Conflict(`Message ${input.id} already exists with another body`);
      return { message: existing.view, created: false };
    };
    const earlier = await replay();
    if (earlier) return earlier;
    const keyId = keyIdOf(actor);
    let message: ChannelMessageView | undefined;
    try {
      message = await channelMessages.append(db, {
        keyId,
        workspaceId: actor.workspaceId,
        channelId,
        id: input.id ?? randomUUID(),
        author,
        message: input.message,
        metadata,
        hash,
      });
    } catch (err) {
      // The same client id raced in from another request: answer as its retry would.
      if (isUniqueViolation(err, "team_channel_messages_id_unique")) {
        const raced = await replay();
        if (raced) return raced;
      }
      throw err;
    }
    if (!message) {
      // The statement checked the key too: tell a revoked (or expired) key from a missing channel.
      if (keyId && !(await apiKeys.liveIds(db, [keyId])).has(keyId)) {
        this.keys?.forget(keyId);
        throw new Unauthorized("Unknown or revoked API key");
      }
      throw new NotFound("Channel");
    }
    this.deps.bus.publish({ type: "channel.message", workspaceId: actor.workspaceId, channelId, seq: message.seq, message });
    return { message, created: true };
  }

  async history(actor: Principal, channelId: string, q: HistoryQuery): Promise<{ messages: ChannelMessageView[]; nextCursor: string | null }> {
    const { db } = this.deps;
    await loadReadableChannel(db, actor, channelId);
    const limit = Math.min(Math.max(q.limit, 1), HISTORY_MAX);
    const afterSeq = q.cursor === undefined ? undefined : decodeSeqCursor(q.cursor);
    if (q.since === undefined && afterSeq === undefined) {
      // No starting point: the most recent messages (as many as fit PAGE_MAX_BYTES), oldest first.
      const latest = await channelMessages.latest(db, channelId, limit);
      let bytes = latest.reduce((n, m) => n + jsonBytes(m), 0);
      while (latest.length > 1 && bytes > PAGE_MAX_BYTES) bytes -= jsonBytes(latest.shift());
      return { messages: latest, nextCursor: null };
    }
    const rows = await channelMessages.after(db, channelId, afterSeq ?? 0, limit + 1, q.since);
    const { items, next } = takePage(rows, limit, (last) => encodeSeqCursor(last.seq), PAGE_MAX_BYTES);
    return { messages: items, nextCursor: next };
  }

  // ---- for live delivery (the caller has checked access) -------------------------------------

  /** For watchers: the channel, when the caller may read it. */
  readable(actor: Principal, channelId: string): Promise<Channel> {
    return loadReadableChannel(this.deps.db, actor, channelId);
  }

  /** Which of these channels the caller may read, in one query (a handshake's `auth.since`). */
  readableAmong(actor: Principal, channelIds: string[]): Promise<Set<string>> {
    return readableChannelIds(this.deps.db, actor, channelIds);
  }

  /** For watchers and gap repair: up to `limit` messages with seq > afterSeq, oldest first. */
  after(channelId: string, afterSeq: number, limit: number): Promise<ChannelMessageView[]> {
    return channelMessages.after(this.deps.db, channelId, afterSeq, limit);
  }

  /** The channels whose messages the principal's sockets receive from connect, with their heads. */
  async subscribedHeads(p: Principal): Promise<ChannelHead[]> {
    const agentId = subscriptionsReceivedBy(p);
    return agentId ? subscriptions.headsOf(this.deps.db, p.workspaceId, agentId) : [];
  }

  /** Whether the channel reaches the principal through its agent's subscription. */
  async reachesBySubscription(p: Principal, channelId: string): Promise<boolean> {
    const agentId = subscriptionsReceivedBy(p);
    return !!agentId && subscriptions.exists(this.deps.db, channelId, agentId);
  }

  /** Messages committed after each head, by channel then seq, at most `limit`. */
  afterHeads(heads: ChannelHead[], limit: number): Promise<ChannelMessageView[]> {
    return channelMessages.afterHeads(this.deps.db, heads, limit);
  }

  private async present(db: Knex, list: Channel[]): Promise<ChannelView[]> {
    const subs = await subscriptions.agents(db, list.map((c) => c.id));
    return list.map((c) => ({
      id: c.id,
      workspaceId: c.workspace_id,
      name: c.name,
      description: c.description,
      subscribers: subs.get(c.id) ?? [],
      messageCount: c.message_count,
      createdAt: toIso(c.created_at),
    }));
  }
}
