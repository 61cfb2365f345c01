/**
 * Team channel rules, in one place for REST, sockets and the event router:
 * - read (list, get, history, watch): users and master keys of the workspace; agent keys with
 *   `channels:read`
 * - create: users and master keys; delete: the creator, admins, master keys
 * - act for an agent (subscribe it, publish as it): a user who may use the agent, the master
 *   key, or the agent's own key (`channels:read` to subscribe, `channels:publish` to publish)
 * - post as oneself (no `agentId`): a person (user token) who may read the channel, that is any
 *   user of the workspace. Keys have no person to post as: an agent key or the master key must
 *   name `agentId` (422), so a post is always credited to who wrote it.
 * - who is told live that channels changed (`channel:updated`: created, deleted, subscribed,
 *   unsubscribed): the sockets of the workspace's users, who may all read its channels.
 * - who receives a channel's messages live: the sockets of every subscribed agent's keys that
 *   hold `channels:read` (from connect, and as subscriptions change on any node), and sockets
 *   that watched it (allowed to read channels when they watched).
 */
import type { Knex } from "knex";
import { hasScope, isWorkspaceAdmin, type Principal, type Scope } from "../../auth/principal.js";
import { Forbidden, Invalid, NotFound } from "../../errors.js";
import { accessLevel } from "../agents/policy.js";
import { agents } from "../agents/repository.js";
import { channels, type Channel } from "./repository.js";

export function assertCanReadChannels(actor: Principal): void {
  if (!hasScope(actor, "channels:read")) throw new Forbidden("This key lacks the channels:read scope");
}

/** A channel of the caller's workspace that the caller may read; anything else is 404. */
export async function loadReadableChannel(db: Knex, actor: Principal, channelId: string, options: { forUpdate?: boolean } = {}): Promise<Channel> {
  const channel = await channels.find(db, actor.workspaceId, channelId, options);
  if (!channel) throw new NotFound("Channel");
  assertCanReadChannels(actor);
  return channel;
}

/** Which of these channels the caller may read (the rule above, for many at once, in one query). */
export async function readableChannelIds(db: Knex, actor: Principal, channelIds: string[]): Promise<Set<string>> {
  if (!channelIds.length || !hasScope(actor, "channels:read")) return new Set();
  return new Set(await channels.existing(db, actor.workspaceId, channelIds));
}

export function assertCanCreateChannel(actor: Principal): void {
  if (actor.kind === "agent") throw new Forbidden("Agent keys may not create channels");
}

export function assertCanDeleteChannel(actor: Principal, channel: Channel): void {
  if (isWorkspaceAdmin(actor)) return;
  if (actor.kind === "user" && channel.created_by === actor.userId) return;
  throw new Forbidden("Only the channel's creator, an admin or the master key may delete it");
}

/** The caller may act for `agentId` in channels (subscribe it with `channels:read`, or publish as it with `channels:publish`). */
export async function assertActsForAgent(db: Knex, actor: Principal, agentId: string, scope: Scope): Promise<void> {
  if (actor.kind === "agent") {
    if (actor.agentId !== agentId) throw new Forbidden("An agent key may only act as its own agent");
    if (!hasScope(actor, scope)) throw new Forbidden(`This key lacks the ${scope} scope`);
    return;
  }
  if (!(await agents.find(db, actor.workspaceId, agentId))) throw Invalid.field("agentId", "no such agent in this workspace");
  if (!(await accessLevel(db, actor, agentId))) throw new Forbidden("You may not act for this agent");
}

/**
 * Who a post without `agentId` is from: the person posting (a user token). A key must name the
 * agent it posts as (422), before the channel is looked at, as a missing body field would be.
 */
export function personPosting(actor: Principal): { userId: number; userName: string } {
  if (actor.kind !== "user") throw Invalid.field("agentId", "required for API keys: a key posts as an agent; only a person (user token) may post as themselves");
  return { userId: actor.userId, userName: actor.name || actor.email };
}

/** A person may post as themselves in a channel they may read; an unknown channel is 404. */
export async function assertCanPostAsPerson(db: Knex, actor: Principal, channelId: string): Promise<void> {
  await loadReadableChannel(db, actor, channelId);
}

/** The sockets told that the workspace's channels changed (`channel:updated`): its people's. */
export function receivesChannelUpdates(p: Principal): boolean {
  return p.kind === "user" && hasScope(p, "channels:read");
}

/**
 * May the caller publish to the channel as `agentId`? An unknown channel answers 404 before the
 * agent is judged. An agent key acts only for itself, so for it the publishing statement (which
 * finds no channel outside the caller's workspace) is check enough: no query on the hot path.
 */
export async function assertCanPublish(db: Knex, actor: Principal, channelId: string, agentId: string): Promise<void> {
  if (actor.kind !== "agent" && !(await channels.find(db, actor.workspaceId, channelId))) throw new NotFound("Channel");
  await assertActsForAgent(db, actor, agentId, "channels:publish");
}

/** The agent whose subscribed channels a principal's sockets receive, if any. */
export function subscriptionsReceivedBy(p: Principal): string | undefined {
  return p.kind === "agent" && hasScope(p, "channels:read") ? p.agentId : undefined;
}
