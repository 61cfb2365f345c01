/**
 * Team channel rules, in one place for REST and sockets:
 * - read (list, get, history, watch): users and master keys of the workspace; agent keys with
 *   `channels:read`
 * - create: users and master keys; delete: the creator, admins, master keys
 * - act for an agent (subscribe it, publish as it): a user who may use the agent, the master
 *   key, or the agent's own key (`channels:read` to subscribe, `channels:publish` to publish)
 */
import type { Knex } from "knex";
import { hasScope, isWorkspaceAdmin, type Principal, type Scope } from "../../auth/principal.js";
import { Forbidden, Invalid, NotFound } from "../../errors.js";
import { accessLevel } from "../agents/policy.js";

export interface ChannelRow {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  created_by: number | null;
  message_count: number;
  created_at: Date;
}

export function assertCanReadChannels(actor: Principal): void {
  if (!hasScope(actor, "channels:read")) throw new Forbidden("This key lacks the channels:read scope");
}

/** A channel of the caller's workspace that the caller may read; anything else is 404. */
export async function loadReadableChannel(db: Knex, actor: Principal, channelId: string): Promise<ChannelRow> {
  const row: ChannelRow | undefined = await db("team_channels").where({ id: channelId, workspace_id: actor.workspaceId }).first();
  if (!row) throw new NotFound("Channel");
  assertCanReadChannels(actor);
  return row;
}

export function assertCanCreateChannel(actor: Principal): void {
  if (actor.kind === "agent") throw new Forbidden("Agent keys may not create channels");
}

export function assertCanDeleteChannel(actor: Principal, channel: ChannelRow): void {
  if (isWorkspaceAdmin(actor)) return;
  if (actor.kind === "user" && channel.created_by !== null && Number(channel.created_by) === actor.userId) return;
  throw new Forbidden("Only the channel's creator, an admin or the master key may delete it");
}

/** The caller may act for `agentId` in channels (subscribe it, or publish as it with `channels:publish`). */
export async function assertActsForAgent(db: Knex, actor: Principal, agentId: string, scope: Scope): Promise<void> {
  if (actor.kind === "agent") {
    if (actor.agentId !== agentId) throw new Forbidden("An agent key may only act as its own agent");
    if (!hasScope(actor, scope)) throw new Forbidden(`This key lacks the ${scope} scope`);
    return;
  }
  const agent = await db("agents").where({ workspace_id: actor.workspaceId, id: agentId }).first("id");
  if (!agent) throw Invalid.field("agentId", "no such agent in this workspace");
  if (!(await accessLevel(db, actor, agentId))) throw new Forbidden("You may not act for this agent");
}
