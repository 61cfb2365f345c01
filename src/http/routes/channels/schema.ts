/**
 * Schemas of the team channels family: what its routes take and answer. The publish body's size
 * limit is the MESSAGE_MAX_BYTES setting, so its schema is made from it (publishSchema).
 */
import { z } from "zod";
import { HISTORY_MAX } from "../../../domain/channels/service.js";
import { channelHistoryQuery } from "../../../schemas.js";
import { Time } from "../agents/schema.js";

export { CreateChannel, PageQuery, Subscription, publishSchema } from "../../../schemas.js";

export const ChannelHistoryQuery = channelHistoryQuery(HISTORY_MAX);

export const Channel = z.object({
  id: z.string(),
  workspaceId: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  subscribers: z.array(z.string()),
  messageCount: z.number().int(),
  createdAt: Time,
});
export const ChannelPage = z.object({ channels: z.array(Channel), nextCursor: z.string().nullable() });
export const ChannelMessage = z.object({
  id: z.string(),
  channelId: z.string(),
  agentId: z.string(),
  message: z.string(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  seq: z.number().int(),
  createdAt: Time,
});
export const ChannelHistory = z.object({ messages: z.array(ChannelMessage), nextCursor: z.string().nullable() });
